"""Loading an experiment module by path and resolving where its results go."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from bayesopt import Experiment, InvalidExperimentError
from bayesopt.storage import mask_url

#: Where the CLI and the flow keep their files unless told otherwise.
RUNS_DIR = Path("runs")


def load_experiment(path: str | os.PathLike[str]) -> Experiment:
    """Import the Python file at ``path`` and return its ``experiment``.

    The module is imported once per process and file (under a name derived from
    its absolute path), so workers that evaluate many trials do not re-import it.

    Raises:
        InvalidExperimentError: the file is missing or does not export an Experiment.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise InvalidExperimentError(
            f"experiment path: {str(path)!r} is not a file; pass a Python file that defines "
            "`experiment = Experiment(...)`, e.g. experiments/branin.py"
        )
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:12]
    module_name = f"bayesopt_user_{file.stem}_{digest}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise InvalidExperimentError(f"experiment path: cannot import {str(file)!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    experiment = getattr(module, "experiment", None)
    if not isinstance(experiment, Experiment):
        raise InvalidExperimentError(
            f"experiment path: {str(path)!r} must define `experiment = Experiment(...)`; "
            f"found {type(experiment).__name__}"
        )
    return experiment


def default_storage(experiment: Experiment, storage: str | None = None) -> str:
    """The store URL: the one given, else the experiment's, else ``runs/<name>.db``."""
    if storage:
        return storage
    if experiment.storage:
        return experiment.storage
    return f"sqlite:///{RUNS_DIR / (experiment.name + '.db')}"


def default_tracking_uri(tracking_uri: str | None = None) -> str:
    """The MLflow tracking URI: given, else ``MLFLOW_TRACKING_URI``, else ``runs/mlflow.db``."""
    if tracking_uri:
        return tracking_uri
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{RUNS_DIR / 'mlflow.db'}"


#: Environment variables that carry URLs with passwords past Prefect's parameters.
STORAGE_URL_ENV = "BAYESOPT_STORAGE_URL"
TRACKING_URI_ENV = "BAYESOPT_TRACKING_URI"


def hide_secret(url: str | None, env_var: str) -> str | None:
    """The URL to show (as a Prefect parameter, in logs): masked when it has a password.

    The full URL is put in ``env_var`` of this process, where :func:`reveal_secret`
    finds it again; workers elsewhere need the same variable set.
    """
    if url is None or mask_url(url) == url:
        return url
    os.environ[env_var] = url
    return mask_url(url)


def reveal_secret(url: str | None, env_var: str) -> str | None:
    """The full URL for a masked one, from ``env_var``.

    Raises:
        InvalidExperimentError: the URL is masked and ``env_var`` does not hold it.
    """
    if url is None or "***" not in url:
        return url
    real = os.environ.get(env_var)
    if real and mask_url(real) == url:
        return real
    raise InvalidExperimentError(
        f"{env_var}: the URL {url!r} has its password masked; set {env_var} to the full "
        "URL in the environment of the process that runs the flow"
    )

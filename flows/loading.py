"""Loading an experiment module by path and resolving where its results go."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from bayesopt import Experiment, InvalidExperimentError

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

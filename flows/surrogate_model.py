"""The fitted surrogate as an MLflow model: load it later and predict at parameter settings.

Example (after a run; the run id is in the summary and the MLflow UI)::

    import mlflow
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/surrogate")
    model.predict(pd.DataFrame({"x1": [0.0, 2.5], "x2": [5.0, 7.5]}))
    #    x1   x2  y_mean  y_lower  y_upper

The model is a :class:`bayesopt.prediction.FittedSurrogate` pickled with
cloudpickle; functions defined in the experiment file (a NumPyro model) are
pickled by value, so loading needs this project installed but not that file.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import mlflow.pyfunc
import pandas as pd
from mlflow.pyfunc import PythonModel

from bayesopt.prediction import FittedSurrogate

#: Where the model lies among the run's artifacts.
ARTIFACT_PATH = "surrogate"


class SurrogatePyfunc(PythonModel):
    """``predict(DataFrame of parameter settings)`` gives the objective's mean and 95% interval."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["fitted"], "rb") as f:
            self.fitted: FittedSurrogate = cloudpickle.load(f)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        return self.fitted.predict(model_input)


def save_surrogate(fitted: FittedSurrogate, path: Path) -> Path:
    """Write ``fitted`` as an MLflow pyfunc model directory at ``path``."""
    for name, module in list(sys.modules.items()):
        if name.startswith("bayesopt_user_"):  # experiment files: not importable elsewhere
            cloudpickle.register_pickle_by_value(module)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = path.parent / "fitted.pkl"
    with open(blob, "wb") as f:
        cloudpickle.dump(fitted, f)
    example = pd.DataFrame([fitted.space.decode([0.5] * fitted.space.dim)])
    # MLflow checks the input example by loading the model back; its progress bar of
    # that "download" would land in the middle of the run's display.
    with _no_progress_bar():
        mlflow.pyfunc.save_model(
            str(path),
            python_model=str(Path(__file__).with_name("surrogate_pyfunc.py")),
            artifacts={"fitted": str(blob)},
            pip_requirements=_requirements(),
            input_example=example,
            metadata={"surrogate": fitted.surrogate, "n_train": fitted.n_train},
        )
    return path


@contextlib.contextmanager
def _no_progress_bar() -> Iterator[None]:
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("torch", "botorch", "gpytorch", "pyro-ppl", "numpyro", "jax", "pandas"):
        try:
            out.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return out

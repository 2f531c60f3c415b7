"""Tutorial: one run end to end, through the Prefect flow and MLflow.

An experiment file, the ``bayesopt-optimize`` flow run on it (a ``suggest`` task
decides, ``evaluate`` tasks run the trials, every result goes to a SQLite store
as it arrives, MLflow tracks the run), then the best trial and the MLflow run
read back. ``bayesopt run branin.py`` does the same from the command line.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Prefect logs every flow and task run at INFO; keep its warnings only.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from mlflow.tracking import MlflowClient

from bayesopt import Optimizer
from flows.loading import load_experiment
from flows.optimize import optimize

# --8<-- [start:experiment]
# 1. The experiment: a Python module that exports `experiment`.
Path("branin.py").write_text(
    textwrap.dedent(
        """
        import math

        from bayesopt import Experiment, Float, Objective


        def branin(x1: float, x2: float) -> dict[str, float]:
            b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
            return {"y": (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10}


        experiment = Experiment(
            name="branin",
            parameters=[Float("x1", -5.0, 10.0), Float("x2", 0.0, 15.0)],
            objectives=[Objective("y", minimize=True)],
            evaluate=branin,
            budget=12,
            seed=0,
        )
        """
    )
)
# --8<-- [end:experiment]

# --8<-- [start:run]
# 2. Run it: one Prefect flow run. With no PREFECT_API_URL set, Prefect starts a
#    temporary local API for the duration; the store and the MLflow database are
#    SQLite files (the defaults are runs/<name>.db and MLFLOW_TRACKING_URI, else
#    runs/mlflow.db).
store = "sqlite:///runs/branin.db"
tracking = "sqlite:///runs/mlflow.db"
summary = optimize("branin.py", storage=store, tracking_uri=tracking)
for key in ("n_completed", "n_failed", "best_trial", "best_values", "mlflow_run_id", "stopped"):
    print(f"{key:>14}: {summary[key]}")
# --8<-- [end:run]

# --8<-- [start:store]
# 3. The store is the source of truth: read the trials and the best one back.
opt = Optimizer(load_experiment("branin.py"), storage=store)
best = opt.best()
print(f"\nbest: trial {best.id}, y = {best.values['y']:.4f} (the minimum is 0.397887)")
columns = ["id", "status", "x1", "x2", "y", "generator"]
print(opt.trials()[columns].to_string(index=False, float_format="{:.3f}".format))
# --8<-- [end:store]

# --8<-- [start:mlflow]
# 4. The MLflow run: the settings as params, each trial's outcome and the best value
#    so far as metrics (step = trial id), plots and the final surrogate as artifacts.
client = MlflowClient(tracking)
run = client.get_run(summary["mlflow_run_id"])
print(f"\nMLflow run {run.info.run_name!r}: {run.info.status}")
print("params:", {k: run.data.params[k] for k in ("budget", "surrogate", "acquisition", "seed")})
curve = sorted(client.get_metric_history(run.info.run_id, "best_y"), key=lambda m: m.step)
print("best_y by trial:", ", ".join(f"{m.value:.2f}" for m in curve))
print("artifacts:", sorted(a.path for a in client.list_artifacts(run.info.run_id)))
# --8<-- [end:mlflow]

# --8<-- [start:cli]
# 5. The same store from the command line (`bayesopt` is `python -m flows`).
status = subprocess.run(
    [sys.executable, "-m", "flows", "best", "branin.py", "--storage", store],
    capture_output=True,
    text=True,
    check=True,
)
print("\n$ bayesopt best branin.py --storage sqlite:///runs/branin.db")
print(status.stdout)
# --8<-- [end:cli]

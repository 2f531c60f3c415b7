"""Tutorial: a Prefect deployment of an experiment, run by a worker.

The shell session of someone who puts an experiment on a work pool: start a
Prefect server, create a process work pool, register the deployment with
``bayesopt deploy``, start a run, and let a worker pick it up. Each step is run
here as a subprocess and its output printed, as a terminal would show it.
"""

import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

from mlflow.tracking import MlflowClient

from flows.server import free_port, wait_healthy

here = Path.cwd()


def sh(*cmd: str) -> str:
    """Run a command as a shell would; print it and what it printed; stop on failure."""
    print(f"$ {shlex.join(cmd)}", flush=True)
    out = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600
    )
    text = out.stdout.strip()
    if text:
        print(textwrap.indent(text, "  "), flush=True)
    if out.returncode != 0:
        sys.exit(f"{cmd[0]} exited with code {out.returncode}")
    return out.stdout


# --8<-- [start:experiment]
Path("quadratic.py").write_text(
    textwrap.dedent(
        """
        from bayesopt import Experiment, Float, Objective


        def evaluate(x: float, y: float) -> dict[str, float]:
            return {"loss": (x - 0.25) ** 2 + (y - 0.5) ** 2}


        experiment = Experiment(
            name="quadratic",
            parameters=[Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)],
            objectives=[Objective("loss")],
            evaluate=evaluate,
            budget=6,
            seed=0,
        )
        """
    )
)
# --8<-- [end:experiment]

# --8<-- [start:server]
# 1. A Prefect server on 127.0.0.1 (in a terminal of its own: `prefect server start`).
port = free_port()
api = f"http://127.0.0.1:{port}/api"
os.environ["PREFECT_API_URL"] = api  # every command below talks to this server
print(f"$ prefect server start --host 127.0.0.1 --port {port} --no-services &")
server = subprocess.Popen(
    ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-services"],
    stdout=(here / "server.log").open("wb"),
    stderr=subprocess.STDOUT,
)
# --8<-- [end:server]
try:
    wait_healthy(api, server, timeout=300)
    print(f"$ export PREFECT_API_URL={api}")

    # --8<-- [start:deploy]
    # 2. A work pool whose worker runs each flow run in a subprocess, and the deployment.
    sh("prefect", "work-pool", "create", "local", "--type", "process")
    sh(
        "bayesopt", "deploy", "quadratic.py", "--name", "nightly", "--work-pool", "local",
        "--storage", "sqlite:///runs/quadratic.db", "--tracking-uri", "sqlite:///runs/mlflow.db",
    )  # fmt: skip
    # --8<-- [end:deploy]

    # --8<-- [start:run]
    # 3. Start a run (a schedule, `--cron`, would do this too) and let a worker take it.
    #    `--run-once` makes the worker exit when its run is done; a real worker keeps
    #    polling the pool.
    sh("prefect", "deployment", "run", "bayesopt-optimize/nightly")
    sh("prefect", "worker", "start", "--pool", "local", "--run-once")
    # --8<-- [end:run]

    # --8<-- [start:status]
    # 4. The worker's run wrote every trial to the store, and tracked the run in MLflow.
    sh("bayesopt", "status", "quadratic.py", "--storage", "sqlite:///runs/quadratic.db")

    # 5. A second run of the deployment resumes from the store: its budget is spent,
    #    so it evaluates nothing and ends at once.
    sh("prefect", "deployment", "run", "bayesopt-optimize/nightly")
    sh("prefect", "worker", "start", "--pool", "local", "--run-once")

    # One MLflow run per flow run, tagged with the Prefect flow run's id.
    client = MlflowClient("sqlite:///runs/mlflow.db")
    experiment = client.get_experiment_by_name("quadratic")
    assert experiment is not None
    for run in client.search_runs([experiment.experiment_id], order_by=["start_time"]):
        print(
            f"MLflow run {run.info.run_name}: {run.info.status}, flow run "
            f"{run.data.tags['prefect.flow_run_id']}, resumed from "
            f"{run.data.params['resumed_from_trials']} trials"
        )
    # --8<-- [end:status]
finally:
    server.terminate()
    server.wait(timeout=60)

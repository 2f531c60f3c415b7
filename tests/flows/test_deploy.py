"""Deployments on a real `prefect server start` on 127.0.0.1: served, triggered, completed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bayesopt import Optimizer, TrialStatus
from flows.loading import load_experiment
from flows.server import free_port, wait_healthy
from tests.flows.conftest import bayesopt_cmd

PREFECT = str(Path(sys.executable).with_name("prefect"))

EXPERIMENT = """
    from bayesopt import Experiment, Float, Objective

    def evaluate(x: float, y: float):
        return {"loss": (x - 0.25) ** 2 + (y - 0.5) ** 2}

    experiment = Experiment(
        name="deployed", parameters=[Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)],
        objectives=[Objective("loss")], evaluate=evaluate, budget=4, initial_trials=4, seed=0,
    )
"""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def prefect_server(tmp_path: Path, cli_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A real Prefect server (SQLite) on 127.0.0.1; yields the environment that uses it."""
    port = free_port()
    env = {**cli_env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-services"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_healthy(env["PREFECT_API_URL"], server, 180)
        yield env
    finally:
        _stop(server)


@pytest.mark.slow
def test_a_served_deployment_runs_on_a_real_server(
    tmp_path: Path, write_experiment: Callable[[str, str], Path], prefect_server: dict[str, str]
) -> None:
    path = write_experiment("deployed", EXPERIMENT)
    store = f"sqlite:///{tmp_path / 'deployed.db'}"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = prefect_server
    served = subprocess.Popen(
        bayesopt_cmd(
            "deploy", str(path), "--name", "nightly", "--storage", store, "--tracking-uri", tracking
        ),
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        stdout=(tmp_path / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while True:  # the deployment is registered once `serve` is up
            assert served.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            found = subprocess.run(
                [PREFECT, "deployment", "inspect", "bayesopt-optimize/nightly"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if found.returncode == 0:
                break
            assert time.monotonic() < deadline, "the deployment was not registered"
            time.sleep(1)
        run = subprocess.run(
            [
                PREFECT,
                "deployment",
                "run",
                "bayesopt-optimize/nightly",
                "--watch",
                "--watch-timeout",
                "300",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "Completed" in run.stdout + run.stderr
    finally:
        _stop(served)

    opt = Optimizer(load_experiment(path), storage=store)
    trials = opt.all_trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 4
    client = MlflowClient(tracking)
    mlflow_exp = client.get_experiment_by_name("deployed")
    assert mlflow_exp is not None
    (mlflow_run,) = client.search_runs([mlflow_exp.experiment_id])
    assert mlflow_run.info.status == "FINISHED"
    assert mlflow_run.data.tags["prefect.flow_run_id"]


@pytest.mark.slow
def test_deploy_without_a_server_is_a_clear_error(
    tmp_path: Path, write_experiment: Callable[[str, str], Path], cli_env: dict[str, str]
) -> None:
    path = write_experiment("deployed", EXPERIMENT)
    out = subprocess.run(
        bayesopt_cmd("deploy", str(path), "--name", "x"),
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "PREFECT_API_URL: not set" in out.stderr


@pytest.mark.slow
def test_a_work_pool_deployment_runs_on_a_worker(
    tmp_path: Path, write_experiment: Callable[[str, str], Path], prefect_server: dict[str, str]
) -> None:
    path = write_experiment("deployed", EXPERIMENT)
    store = f"sqlite:///{tmp_path / 'pool.db'}"
    env = prefect_server

    def prefect(*args: str) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [PREFECT, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=400
        )
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        return out

    prefect("work-pool", "create", "local-pool", "--type", "process")
    registered = subprocess.run(
        bayesopt_cmd("deploy", str(path), "--name", "pooled", "--work-pool", "local-pool",
                     "--storage", store, "--tracking-uri", f"sqlite:///{tmp_path / 'ml.db'}"),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stdout[-3000:] + registered.stderr[-3000:]
    assert "registered to work pool 'local-pool'" in registered.stdout
    prefect("deployment", "run", "bayesopt-optimize/pooled")
    prefect("worker", "start", "--pool", "local-pool", "--run-once")

    trials = Optimizer(load_experiment(path), storage=store).all_trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 4

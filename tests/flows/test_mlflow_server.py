"""Tracking to a real `mlflow server` on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from flows.optimize import optimize
from flows.server import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
MLFLOW = str(Path(sys.executable).with_name("mlflow"))

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [MLFLOW, "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, 120)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_the_flow_tracks_to_an_mlflow_server(tmp_path: Path, mlflow_server: str) -> None:
    summary = optimize(
        str(ROOT / "experiments" / "branin.py"),
        budget=6,
        storage=f"sqlite:///{tmp_path / 'b.db'}",
        tracking_uri=mlflow_server,
    )
    client = MlflowClient(mlflow_server)
    run = client.get_run(summary["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "y")) == list(range(6))
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {
        "trials.csv",
        "convergence.png",
    }
    assert any((tmp_path / "artifacts").rglob("trials.csv"))  # stored by the server

"""The `bayesopt` command as a user runs it: a separate process, real servers on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from flows.server import free_port
from tests.flows.conftest import bayesopt_cmd


@pytest.mark.slow
def test_a_bad_definition_is_refused_before_any_trial(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    path = tmp_path / "bad.py"
    path.write_text(
        "from bayesopt import Experiment, Float, Objective\n"
        "def f(x):\n    return {'y': x}\n"
        "experiment = Experiment(name='bad', parameters=[Float('x', 0.0, 1.0)],\n"
        "    objectives=[Objective('loss')], evaluate=f)\n"
    )
    out = subprocess.run(
        bayesopt_cmd("run", str(path)),
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "objectives: ['loss'] are not returned by evaluate f()" in out.stderr
    assert not (tmp_path / "runs" / "bad.db").exists()


@pytest.mark.slow
def test_missing_file_is_a_clear_error(tmp_path: Path, cli_env: dict[str, str]) -> None:
    out = subprocess.run(
        bayesopt_cmd("status", "nope.py"),
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "error: experiment path: 'nope.py' is not a file" in out.stderr


def _start_ui(
    tmp_path: Path, cli_env: dict[str, str], port: int
) -> tuple[subprocess.Popen[bytes], httpx.Response]:
    """``bayesopt ui`` on ``port``, once it answers; and its answer to a search."""
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking).create_experiment("seen-in-ui")
    proc = subprocess.Popen(
        bayesopt_cmd("ui", "--tracking-uri", tracking, "--port", str(port)),
        env=cli_env,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, "the UI exited"
        try:
            response = httpx.post(
                f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search",
                json={"max_results": 10},
                timeout=5,
            )
            if response.status_code == 200:
                return proc, response
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the UI did not answer within 120 s"
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ui_stops_its_server_on_sigint_and_sigterm(
    tmp_path: Path, cli_env: dict[str, str], sig: signal.Signals
) -> None:
    port = free_port()
    proc, _ = _start_ui(tmp_path, cli_env, port)
    try:
        proc.send_signal(sig)  # to the command only, as a process manager or `kill` does
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while True:  # the port is free again: nothing of the server is left
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    break
            assert time.monotonic() < deadline, "MLflow's server outlived `bayesopt ui`"
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_ui_serves_the_tracking_store_on_loopback(tmp_path: Path, cli_env: dict[str, str]) -> None:
    port = free_port()
    proc, response = _start_ui(tmp_path, cli_env, port)
    try:
        names = [e["name"] for e in response.json()["experiments"]]
        assert "seen-in-ui" in names
        with socket.socket() as s:  # bound to loopback only
            other = socket.gethostbyname(socket.gethostname())
            if not other.startswith("127."):
                assert s.connect_ex((other, port)) != 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_docs_serves_the_site_and_stops_with_the_command(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        bayesopt_cmd("docs", "--port", str(port)),
        env={**cli_env, "BAYESOPT_DOCS_TUTORIALS": "skip"},  # a preview: tutorials left out
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, "bayesopt docs exited"
            with contextlib.suppress(httpx.HTTPError):
                page = httpx.get(f"http://127.0.0.1:{port}/getting-started/", timeout=5)
                if page.status_code == 200:
                    break
            assert time.monotonic() < deadline, "the docs were not served within 300 s"
            time.sleep(1)
        assert "bayesopt init" in page.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        with socket.socket() as s:  # nothing listens on the port any more
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
            s.bind(("127.0.0.1", port))
            s.listen()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

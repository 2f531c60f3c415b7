"""Stopping a run at any moment and running it again: nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bayesopt import Optimizer, TrialStatus
from flows.loading import load_experiment
from tests.flows.conftest import bayesopt_cmd

SLOW_EXPERIMENT = """
    import time
    from bayesopt import Experiment, Float, Objective

    def evaluate(x1: float, x2: float):
        time.sleep(1.5)  # long enough that the run is interrupted mid-way
        return {"y": (x1 - 0.2) ** 2 + (x2 - 0.7) ** 2}

    experiment = Experiment(
        name="slow", parameters=[Float("x1", 0.0, 1.0), Float("x2", 0.0, 1.0)],
        objectives=[Objective("y")], evaluate=evaluate, budget=10, batch_size=2,
        initial_trials=4, seed=3,
    )
"""


def _completed(path: Path, store: str) -> int:
    try:
        return len(
            Optimizer(load_experiment(path), storage=store).all_trials(TrialStatus.COMPLETED)
        )
    except Exception:
        return 0


def _interrupt_then_resume(
    tmp_path: Path, path: Path, env: dict[str, str], sig: signal.Signals
) -> Optimizer:
    store = f"sqlite:///{tmp_path / 'slow.db'}"
    args = bayesopt_cmd(
        "run",
        str(path),
        "--storage",
        store,
        "--tracking-uri",
        f"sqlite:///{tmp_path / 'mlflow.db'}",
    )
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 240
    while _completed(path, store) < 3:
        assert proc.poll() is None, proc.communicate()[0].decode()[-3000:]
        assert time.monotonic() < deadline, "the first run made no progress"
        time.sleep(0.2)
    os.killpg(proc.pid, sig)  # the whole session: the CLI and Prefect's server process
    output = proc.communicate(timeout=60)[0].decode()
    opt = Optimizer(load_experiment(path), storage=store)
    before = {t.id: t for t in opt.all_trials(TrialStatus.COMPLETED)}
    assert 3 <= len(before) < 10, f"exit {proc.returncode}:\n{output[-3000:]}"

    rerun = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, timeout=400)
    assert rerun.returncode == 0, rerun.stdout.decode()[-3000:] + rerun.stderr.decode()[-3000:]
    after = opt.all_trials()
    completed = [t for t in after if t.status == TrialStatus.COMPLETED]
    assert len(completed) == 10
    for tid, trial in before.items():  # every completed trial kept as it was
        assert opt.get(tid).values == trial.values and opt.get(tid).status == trial.status
    points = [tuple(sorted(t.params.items())) for t in completed]
    assert len(set(points)) == len(points), "a point was evaluated twice"
    assert not [t for t in after if t.status.is_active]
    return opt


@pytest.mark.slow
def test_kill_9_mid_run_then_resume(
    tmp_path: Path, write_experiment: Callable[[str, str], Path], cli_env: dict[str, str]
) -> None:
    path = write_experiment("slow", SLOW_EXPERIMENT)
    opt = _interrupt_then_resume(tmp_path, path, cli_env, signal.SIGKILL)
    abandoned = opt.all_trials(TrialStatus.ABANDONED)
    # Trials that were running when the process died are abandoned with the reason,
    # and their points re-queued as new trials that then completed.
    for t in abandoned:
        assert t.failure_reason and "stopped during the evaluation" in t.failure_reason
    requeued = [t for t in opt.all_trials() if "requeued_from" in t.metadata]
    assert {t.metadata["requeued_from"] for t in requeued} == {t.id for t in abandoned}


@pytest.mark.slow
def test_ctrl_c_then_resume(
    tmp_path: Path, write_experiment: Callable[[str, str], Path], cli_env: dict[str, str]
) -> None:
    path = write_experiment("slow", SLOW_EXPERIMENT)
    _interrupt_then_resume(tmp_path, path, cli_env, signal.SIGINT)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_kill_9_of_a_run_leaves_no_server_behind(
    tmp_path: Path, write_experiment: Callable[[str, str], Path], cli_env: dict[str, str]
) -> None:
    path = write_experiment("slow", SLOW_EXPERIMENT)
    store = f"sqlite:///{tmp_path / 'slow.db'}"
    args = bayesopt_cmd(
        "run", str(path), "--storage", store, "--tracking-uri", f"sqlite:///{tmp_path / 'ml.db'}"
    )
    proc = subprocess.Popen(args, env=cli_env, cwd=tmp_path, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while _completed(path, store) < 1:  # the flow runs, so its API server is up
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    servers = [
        pid
        for pid in _children(proc.pid)
        if "uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    ]
    assert servers, "the run's Prefect API server was not found among its children"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in servers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in servers), "the API server outlived a kill -9"

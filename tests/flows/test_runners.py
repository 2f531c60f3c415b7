"""Parallel evaluation through Prefect's task runners: the thread pool and a local Dask cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bayesopt import Optimizer, TrialStatus
from flows.loading import load_experiment
from flows.optimize import optimize
from flows.runners import make_task_runner

pytestmark = pytest.mark.usefixtures("prefect_api")

TIMED_EXPERIMENT = """
    import json, os, time
    from pathlib import Path
    from bayesopt import Experiment, Float, Objective

    LOG = Path(__file__).with_suffix(".jsonl")

    def evaluate(x: float):
        start = time.time()
        time.sleep(1.5)
        with LOG.open("a") as f:
            f.write(json.dumps({"start": start, "end": time.time(), "pid": os.getpid()}) + "\\n")
        return {"y": (x - 0.4) ** 2}

    experiment = Experiment(
        name="timed", parameters=[Float("x", 0.0, 1.0)], objectives=[Objective("y")],
        evaluate=evaluate, budget=2, batch_size=2, initial_trials=2, seed=0,
    )
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["thread", "dask"])
def test_a_batch_is_evaluated_in_parallel(
    kind: str, tmp_path: Path, write_experiment: Callable[[str, str], Path]
) -> None:
    path = write_experiment("timed", TIMED_EXPERIMENT)
    store = f"sqlite:///{tmp_path / 'timed.db'}"
    runner = make_task_runner(kind, workers=2)
    optimize.with_options(task_runner=runner)(
        str(path), storage=store, tracking_uri=f"sqlite:///{tmp_path / 'ml.db'}"
    )
    trials = Optimizer(load_experiment(path), storage=store).all_trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2
    first, second = (
        json.loads(line) for line in path.with_suffix(".jsonl").read_text().splitlines()
    )
    overlap = min(first["end"], second["end"]) - max(first["start"], second["start"])
    assert overlap > 0.5, f"the two evaluations did not overlap: {first}, {second}"
    if kind == "dask":  # each on a worker process of the local cluster
        assert first["pid"] != second["pid"]


def test_runner_options_are_checked() -> None:
    with pytest.raises(ValueError, match="valid runners are 'thread' and 'dask'"):
        make_task_runner("ray")
    with pytest.raises(ValueError, match="applies to --task-runner dask only"):
        make_task_runner("thread", address="tcp://127.0.0.1:8786")

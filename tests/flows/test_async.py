"""Asynchronous workers and stopping rules in the flow: real Prefect API, SQLite store, MLflow."""

from __future__ import annotations

import itertools
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from bayesopt import Experiment, Float, Objective, Optimizer, TrialStatus
from flows.cli import app
from flows.loading import load_experiment
from flows.optimize import _Heartbeat, optimize
from tests.flows.conftest import bayesopt_cmd

with_prefect = pytest.mark.usefixtures("prefect_api")

#: Evaluations that take 0.05 to 0.6 s, depending on the point.
UNEVEN_EXPERIMENT = """
    import time
    from bayesopt import Experiment, Float, Objective

    def evaluate(x1: float, x2: float):
        time.sleep(0.05 + 0.55 * x1)
        return {"y": (x1 - 0.2) ** 2 + (x2 - 0.7) ** 2}

    experiment = Experiment(
        name="uneven", parameters=[Float("x1", 0.0, 1.0), Float("x2", 0.0, 1.0)],
        objectives=[Objective("y")], evaluate=evaluate, budget=9, batch_size=3,
        initial_trials=4, cv_folds=0, seed=2,
    )
"""

FAULTY_EXPERIMENT = """
    import math, time
    from bayesopt import Experiment, Float, Objective

    def evaluate(x: float):
        bucket = int(x * 1000) % 4
        if bucket == 0:
            raise RuntimeError("instrument offline")
        if bucket == 1:
            return {"y": math.nan}
        if bucket == 2:
            time.sleep(2)
        return (x - 0.3) ** 2

    experiment = Experiment(
        name="faulty", parameters=[Float("x", 0.0, 1.0)], objectives=[Objective("y")],
        evaluate=evaluate, budget=10, batch_size=3, timeout=0.5, retries=0,
        initial_trials=10, seed=1,
    )
"""

#: Sobol points only (no model), so that a stop, not a fit, is what the test waits for.
STOPPING_EXPERIMENT = """
    from bayesopt import Experiment, Float, Objective
    from bayesopt.stopping import {rule_class}

    def evaluate(x: float):
        return {{"y": {expression}}}

    experiment = Experiment(
        name="stopping", parameters=[Float("x", 0.0, 1.0)], objectives=[Objective("y")],
        evaluate=evaluate, budget=12, batch_size=2, initial_trials={initial}, seed=0,
        stopping=[{rule}],
    )
"""


def _uris(tmp_path: Path, name: str) -> tuple[str, str]:
    return f"sqlite:///{tmp_path / f'{name}.db'}", f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_the_heartbeat_follows_the_trials_in_flight(tmp_path: Path) -> None:
    exp = Experiment(name="beat", parameters=[Float("x", 0.0, 1.0)], objectives=[Objective("y")])
    opt = Optimizer(exp, storage=f"sqlite:///{tmp_path / 'beat.db'}")
    first, second = opt.suggest(2, claim=True)

    def last_beat(trial_id: int) -> object:
        return opt.get(trial_id).heartbeat_at

    claimed = last_beat(second.id)  # claiming is the first beat
    with _Heartbeat(opt, [first], interval=0.05) as heartbeat:
        time.sleep(0.3)
        assert last_beat(first.id) != claimed and last_beat(second.id) == claimed
        heartbeat.add(second)
        heartbeat.discard(first)
        time.sleep(0.3)
        stopped_at = last_beat(first.id)
        time.sleep(0.3)
        assert last_beat(first.id) == stopped_at, "a finished trial still beats"
        assert last_beat(second.id) != claimed


@with_prefect
@pytest.mark.slow
def test_async_run_keeps_the_workers_busy(
    tmp_path: Path, write_experiment: Callable[[str, str], Path]
) -> None:
    path = write_experiment("uneven", UNEVEN_EXPERIMENT)
    store, tracking = _uris(tmp_path, "uneven")
    summary = optimize(str(path), storage=store, tracking_uri=tracking, asynchronous=True)

    trials = Optimizer(load_experiment(path), storage=store).all_trials()
    assert len(trials) == 9 and all(t.status == TrialStatus.COMPLETED for t in trials)
    assert summary["n_completed"] == 9 and summary["stopped"] is None
    points = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(points)) == len(points), "a point was evaluated twice"
    # Each model-based trial was decided while the other two were still running.
    decided = [t for t in trials if t.generator != "sobol"]
    assert decided and max(t.metadata["n_pending"] for t in decided) >= 1
    # Results arrived in the order the evaluations ended, not the order they started.
    by_end = [t.id for t in sorted(trials, key=lambda t: t.finished_at)]  # type: ignore[arg-type, return-value]
    assert by_end != sorted(by_end), by_end
    # A new trial started while trials suggested before it were still running.
    assert any(
        later.created_at < earlier.finished_at  # type: ignore[operator]
        for earlier, later in itertools.combinations(trials, 2)
        if later.metadata.get("n_pending")
    )

    (run,) = MlflowClient(tracking).search_runs([summary["mlflow_experiment_id"]])
    assert run.info.status == "FINISHED" and run.data.params["asynchronous"] == "True"


@with_prefect
@pytest.mark.slow
def test_async_failures_become_failed_trials(
    tmp_path: Path, write_experiment: Callable[[str, str], Path]
) -> None:
    path = write_experiment("faulty", FAULTY_EXPERIMENT)
    store, tracking = _uris(tmp_path, "faulty")
    summary = optimize(str(path), storage=store, tracking_uri=tracking, asynchronous=True)

    trials = Optimizer(load_experiment(path), storage=store).all_trials()
    assert len(trials) == 10 and all(t.status.is_finished for t in trials)
    expected = {0: "RuntimeError: instrument offline", 1: "not a finite number", 2: "timed out"}
    for t in trials:
        bucket = int(t.params["x"] * 1000) % 4
        assert (t.status == TrialStatus.COMPLETED) == (bucket == 3)
        if bucket in expected:
            assert t.failure_reason and expected[bucket] in t.failure_reason
    assert summary["n_failed"] == sum(t.status == TrialStatus.FAILED for t in trials) >= 3


@with_prefect
@pytest.mark.slow
def test_async_run_claims_requeued_and_pending_trials_first(
    tmp_path: Path, write_experiment: Callable[[str, str], Path]
) -> None:
    """A trial this process left running is re-queued, and it and a point added by hand
    are evaluated before any new suggestion; the budget is not overshot."""
    path = write_experiment("uneven", UNEVEN_EXPERIMENT)
    store, tracking = _uris(tmp_path, "uneven")
    opt = Optimizer(load_experiment(path), storage=store)
    (orphan,) = opt.suggest(1, claim=True)  # running in this process, as after a kill
    manual = opt.attach({"x1": 0.2, "x2": 0.7})
    optimize(str(path), budget=4, storage=store, tracking_uri=tracking, asynchronous=True)

    trials = opt.all_trials()
    assert opt.get(orphan.id).status == TrialStatus.ABANDONED
    (requeued,) = [t for t in trials if t.metadata.get("requeued_from") == orphan.id]
    assert requeued.params == orphan.params and requeued.status == TrialStatus.COMPLETED
    assert opt.get(manual.id).status == TrialStatus.COMPLETED
    counted = [t for t in trials if t.status != TrialStatus.ABANDONED]
    assert len(counted) == 4 and all(t.status == TrialStatus.COMPLETED for t in counted)


@with_prefect
@pytest.mark.slow
@pytest.mark.parametrize(
    ("asynchronous", "rule_class", "rule", "expression"),
    [
        (False, "NoImprovement", "NoImprovement(trials=3)", "1.0"),
        (True, "NoImprovement", "NoImprovement(trials=3)", "1.0"),
        (True, "TargetValue", "TargetValue(0.05)", "(x - 0.5) ** 2"),
    ],
    ids=["sync-no-improvement", "async-no-improvement", "async-target"],
)
def test_a_stopping_rule_ends_the_run_early(
    asynchronous: bool,
    rule_class: str,
    rule: str,
    expression: str,
    tmp_path: Path,
    write_experiment: Callable[[str, str], Path],
) -> None:
    initial = 2 if rule_class == "NoImprovement" else 12
    source = STOPPING_EXPERIMENT.format(
        rule_class=rule_class, rule=rule, expression=expression, initial=initial
    )
    path = write_experiment("stopping", source)
    store, tracking = _uris(tmp_path, "stopping")
    summary = optimize(str(path), storage=store, tracking_uri=tracking, asynchronous=asynchronous)

    opt = Optimizer(load_experiment(path), storage=store)
    trials = opt.all_trials()
    assert len(trials) < 12, "the run went on to its budget"
    assert all(t.status == TrialStatus.COMPLETED for t in trials), "in-flight trials finish"
    stored = opt.stop_record()
    assert stored is not None and summary["stopped"] == stored
    assert stored["rule"] == ("target" if rule_class == "TargetValue" else "no_improvement")
    # No trial started after the rule fired: at most those in flight (batch_size - 1) followed.
    assert stored["n_finished"] <= len(trials) <= stored["n_finished"] + 1
    if rule_class == "NoImprovement":  # 2 design trials, then 3 without improvement
        # (in batches of 2 the rule is asked after 2, 4 and 6 trials)
        assert stored["n_finished"] in ((5, 6) if asynchronous else (6,))

    run = MlflowClient(tracking).get_run(summary["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["stop.rule"] == stored["rule"]
    assert run.data.tags["stop.reason"] == stored["reason"]
    assert run.data.metrics["stopped_at_trials"] == stored["n_finished"]

    out = CliRunner().invoke(app, ["status", str(path), "--storage", store])
    assert out.exit_code == 0, out.output
    assert f"stopped early ({stored['rule']})" in out.output


@with_prefect
@pytest.mark.slow
def test_cli_async_flag(
    tmp_path: Path, write_experiment: Callable[[str, str], Path], cli_env: dict[str, str]
) -> None:
    source = STOPPING_EXPERIMENT.format(
        rule_class="NoImprovement", rule="NoImprovement(trials=3)", expression="1.0", initial=2
    )
    path = write_experiment("stopping", source)
    store, tracking = _uris(tmp_path, "stopping")
    args = ["run", str(path), "--batch-size", "3", "--async"]
    out = subprocess.run(
        bayesopt_cmd(*args, "--storage", store, "--tracking-uri", tracking),
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    stopped = re.search(
        r"stopped early \(no_improvement\) after (\d+) finished trials: no ", out.stdout
    )
    assert stopped, out.stdout[-3000:]
    # Evaluations that finish together are recorded together, then the rule is asked.
    n_finished = int(stopped.group(1))
    assert 5 <= n_finished <= 7
    opt = Optimizer(load_experiment(path), storage=store)
    assert n_finished <= len(opt.all_trials(TrialStatus.COMPLETED)) <= n_finished + 2
    run = MlflowClient(tracking).search_runs(
        [MlflowClient(tracking).get_experiment_by_name("stopping").experiment_id]  # type: ignore[union-attr]
    )[0]
    assert run.data.params["asynchronous"] == "True" and run.data.params["batch_size"] == "3"

"""The ask/tell optimizer over a real SQLite file: contract, warm start, seeds, recovery."""

from __future__ import annotations

import math
import socket
import subprocess
import sys

import pytest

from bayesopt import (
    Experiment,
    Float,
    InvalidOutcomeError,
    InvalidSpaceError,
    Objective,
    Optimizer,
    TrialStateError,
    TrialStatus,
)
from bayesopt.storage import worker_id


def test_suggest_observe_best_trials(open_optimizer, quad, evaluate_quad) -> None:
    opt = open_optimizer(quad)
    batch = opt.suggest(2)
    assert [t.id for t in batch] == [0, 1]
    assert all(t.status == TrialStatus.PENDING and t.values is None for t in batch)
    assert all(quad.space.validate(t.params) == t.params for t in batch)
    (third,) = opt.suggest()
    assert third.id == 2

    done = opt.observe(batch[0], {"f": evaluate_quad(batch[0].params), "aux": 1})
    assert done.status == TrialStatus.COMPLETED
    assert done.values == {"f": evaluate_quad(batch[0].params), "aux": 1.0}
    assert opt.observe(1, evaluate_quad(batch[1].params)).values == {
        "f": evaluate_quad(batch[1].params)
    }
    assert opt.get(1).status == TrialStatus.COMPLETED
    assert opt.n_finished == 2

    best_value = min(evaluate_quad(t.params) for t in batch)
    assert opt.best().values["f"] == best_value

    df = opt.trials()
    assert list(df.columns[:5]) == ["id", "status", "x", "y", "f"]
    assert {"generator", "failure_reason", "created_at", "finished_at"} <= set(df.columns)
    assert df["id"].tolist() == [0, 1, 2]
    assert df["status"].tolist() == ["completed", "completed", "pending"]
    assert df["x"].tolist() == [t.params["x"] for t in [*batch, third]]
    assert df["generator"].tolist() == ["sobol"] * 3
    assert math.isnan(df["f"].iloc[2])


def test_trials_of_an_empty_experiment_has_the_columns(open_optimizer, quad) -> None:
    df = open_optimizer(quad).trials()
    assert df.empty
    assert list(df.columns) == ["id", "status", "x", "y", "f"]


@pytest.mark.parametrize("minimize, expected", [(True, 1), (False, 2)])
def test_best_follows_the_direction_and_prefers_the_first_on_ties(
    open_optimizer, minimize: bool, expected: int
) -> None:
    exp = Experiment(
        name="dir", parameters=[Float("x", 0, 1)], objectives=[Objective("y", minimize)]
    )
    opt = open_optimizer(exp)
    for x, y in [(0.1, 0.5), (0.2, 0.1), (0.3, 0.9), (0.4, 0.1), (0.5, 0.9)]:
        opt.attach({"x": x}, {"y": y})
    assert opt.best().id == expected


def test_best_without_a_completed_trial_raises(open_optimizer, quad) -> None:
    opt = open_optimizer(quad)
    with pytest.raises(TrialStateError, match="'quad' has no completed trial yet"):
        opt.best()
    (t,) = opt.suggest()
    opt.fail(t, "crashed")
    with pytest.raises(TrialStateError):
        opt.best()


def test_observe_with_nan_raises_and_leaves_the_trial_pending(open_optimizer, quad) -> None:
    opt = open_optimizer(quad)
    (t,) = opt.suggest()
    for bad in [{"f": math.nan}, math.inf, {"g": 1.0}, {"f": "x"}]:
        with pytest.raises(InvalidOutcomeError):
            opt.observe(t, bad)
        stored = opt.get(t)
        assert stored.status == TrialStatus.PENDING
        assert stored.values is None
    assert opt.observe(t, 0.5).status == TrialStatus.COMPLETED


def test_observe_of_an_unknown_or_finished_trial_raises(open_optimizer, quad) -> None:
    opt = open_optimizer(quad)
    (t,) = opt.suggest()
    with pytest.raises(TrialStateError, match="trial 5: no such trial"):
        opt.observe(5, 1.0)
    opt.observe(t, 1.0)
    stored = opt.get(t)
    with pytest.raises(TrialStateError, match="trial 0: is completed"):
        opt.observe(t, 2.0)
    with pytest.raises(TrialStateError, match="is completed"):
        opt.fail(t, "late")
    assert opt.get(t) == stored
    with pytest.raises(TrialStateError, match="expected a Trial or a trial id"):
        opt.observe("0", 1.0)


def test_fail_and_abandon_record_the_reason(open_optimizer, quad) -> None:
    opt = open_optimizer(quad)
    a, b, c = opt.suggest(3)
    opt.start(a)
    failed = opt.fail(a, "ValueError: boom")
    abandoned = opt.abandon(b, "cancelled by the user")
    default = opt.abandon(c)
    assert failed.status == TrialStatus.FAILED
    assert opt.get(a).failure_reason == "ValueError: boom"
    assert abandoned.status == TrialStatus.ABANDONED
    assert opt.get(b).failure_reason == "cancelled by the user"
    assert default.failure_reason == "abandoned"
    assert opt.n_finished == 1  # failed counts toward the budget, abandoned does not
    assert opt.trials()["failure_reason"].tolist() == [
        "ValueError: boom",
        "cancelled by the user",
        "abandoned",
    ]


def test_start_claims_a_pending_trial_once(open_optimizer, quad) -> None:
    opt = open_optimizer(quad)
    (t,) = opt.suggest()
    running = opt.start(t)
    assert running.status == TrialStatus.RUNNING
    assert running.worker == worker_id()
    with pytest.raises(TrialStateError, match="is running"):
        opt.start(t)
    assert opt.observe(t, 1.0).status == TrialStatus.COMPLETED


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_suggest_refuses_a_bad_count(open_optimizer, quad, n) -> None:
    with pytest.raises(ValueError, match="n: got"):
        open_optimizer(quad).suggest(n)


# ----------------------------------------------------------------- attach
def test_attach_with_values_warm_starts_the_model(open_optimizer, quad, evaluate_quad) -> None:
    opt = open_optimizer(quad)
    points = [{"x": 0.1, "y": 0.2}, {"x": 0.5, "y": 0.9}, {"x": 0.9, "y": 0.4}]
    for p in points:
        t = opt.attach(p, {"f": evaluate_quad(p)})
        assert t.status == TrialStatus.COMPLETED
        assert t.generator == "manual"
        assert t.values == {"f": evaluate_quad(p)}
    pending = opt.attach({"x": 0.3, "y": 0.3})
    assert pending.status == TrialStatus.PENDING and pending.values is None
    opt.abandon(pending)
    # The three manual trials fill the Sobol design: the next step is model-based.
    (t,) = opt.suggest()
    assert t.generator == "gp+qLogNEI"
    assert t.metadata["n_train"] == 3
    assert "fallback" not in t.metadata


@pytest.mark.parametrize(
    "point, fragment",
    [
        ({"x": 1.5, "y": 0.1}, "outside [0.0, 1.0]"),
        ({"x": 0.5}, "missing parameter 'y'"),
        ({"x": 0.5, "y": 0.1, "z": 0}, "unknown parameter(s) ['z']"),
        ({"x": "a", "y": 0.1}, "expected a number"),
    ],
)
def test_attach_an_invalid_point_raises_and_stores_nothing(
    open_optimizer, quad, point, fragment
) -> None:
    opt = open_optimizer(quad)
    with pytest.raises(InvalidSpaceError) as info:
        opt.attach(point, {"f": 1.0})
    assert fragment in str(info.value)
    assert opt.all_trials() == []


def test_attach_invalid_values_raises_and_stores_nothing(open_optimizer, quad) -> None:
    opt = open_optimizer(quad)
    with pytest.raises(InvalidOutcomeError):
        opt.attach({"x": 0.5, "y": 0.5}, {"f": math.nan})
    assert opt.all_trials() == []


# ------------------------------------------------------------------- seeds
def test_the_seed_is_stored_and_reused_on_reopen(open_optimizer, quad, db_url) -> None:
    first = open_optimizer(quad, seed=None)
    assert isinstance(first.seed, int)
    points = [t.params for t in first.suggest(2)]
    first.store.close()

    again = open_optimizer(quad, seed=None)
    assert again.seed == first.seed
    # A fresh store with the same seed draws the same Sobol points.
    fresh = open_optimizer(quad, seed=first.seed, storage=db_url.replace("trials", "fresh"))
    assert [t.params for t in fresh.suggest(2)] == points
    # The experiment's own seed is used when no seed is passed.
    seeded = open_optimizer(quad.replace(seed=1234), seed=None, storage=db_url + ".seeded")
    assert seeded.seed == 1234


def test_different_seeds_give_different_sobol_points(open_optimizer, quad, tmp_path) -> None:
    a = open_optimizer(quad, seed=1, storage=f"sqlite:///{tmp_path / 'a.db'}").suggest(2)
    b = open_optimizer(quad, seed=2, storage=f"sqlite:///{tmp_path / 'b.db'}").suggest(2)
    assert [t.params for t in a] != [t.params for t in b]


def test_same_seed_same_decisions_in_separate_stores_and_after_reopening(
    open_optimizer, quad, evaluate_quad, tmp_path
) -> None:
    """Store A runs uninterrupted; store B is closed and reopened before every step."""
    url_a, url_b = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db"))
    opt_a = open_optimizer(quad, seed=7, storage=url_a)
    opt_b = open_optimizer(quad, seed=7, storage=url_b)
    history_a, history_b = [], []
    for _ in range(quad.n_initial + 3):  # three model steps, each warm-started from the last
        (ta,) = opt_a.suggest()
        opt_a.observe(ta, evaluate_quad(ta.params))
        history_a.append(ta)

        opt_b.store.close()
        opt_b = open_optimizer(quad, seed=None, storage=url_b)  # the stored seed, 7
        (tb,) = opt_b.suggest()
        opt_b.observe(tb, evaluate_quad(tb.params))
        history_b.append(tb)

    assert [t.generator for t in history_a] == ["sobol"] * 3 + ["gp+qLogNEI"] * 3
    assert [t.generator for t in history_b] == [t.generator for t in history_a]
    assert all("gp_state" in t.metadata for t in history_b[3:])  # read back after reopening
    for ta, tb in zip(history_a, history_b, strict=True):
        assert tb.params == pytest.approx(ta.params, abs=1e-9)
    model_a, model_b = history_a[-1].metadata, history_b[-1].metadata
    assert model_b["acq_value"] == pytest.approx(model_a["acq_value"], rel=1e-6)


# ---------------------------------------------------------------- recovery
def _run_trial_as(opt: Optimizer, trial_id: int, worker: str) -> None:
    exp_id = opt.store.experiment(opt.experiment.name, opt.experiment.definition(), 0).id
    opt.store.transition(
        exp_id, trial_id, allowed=[TrialStatus.PENDING], status=TrialStatus.RUNNING, worker=worker
    )


@pytest.fixture
def live_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_recover_requeues_trials_of_dead_workers_only(open_optimizer, quad, live_process) -> None:
    opt = open_optimizer(quad)
    dead, live, mine, remote, pending = opt.suggest(5)
    host = socket.gethostname()
    _run_trial_as(opt, dead.id, f"{host}:999999")
    _run_trial_as(opt, live.id, f"{host}:{live_process.pid}")
    opt.start(mine)  # this very process
    _run_trial_as(opt, remote.id, "some-other-host:999999")

    (requeued,) = opt.recover()
    assert requeued.id == 5
    assert requeued.status == TrialStatus.PENDING
    assert requeued.params == dead.params
    assert requeued.generator == dead.generator
    assert requeued.metadata == {**dead.metadata, "requeued_from": dead.id}
    old = opt.get(dead)
    assert old.status == TrialStatus.ABANDONED
    assert f"{host}:999999" in old.failure_reason
    assert "re-queued" in old.failure_reason
    for t in (live, mine, remote):
        assert opt.get(t).status == TrialStatus.RUNNING
    assert opt.get(pending).status == TrialStatus.PENDING
    assert opt.recover() == []  # nothing left to re-queue

    live_process.kill()
    live_process.wait()
    (again,) = opt.recover()
    assert again.params == live.params
    assert opt.get(live).status == TrialStatus.ABANDONED
    assert len(opt.all_trials(TrialStatus.PENDING)) == 3

"""Ax's own strategy as the decider: the store's trials made known to an ``ax.api.Client``
(completed, failed, pending; replayed after a restart), the space and goals in Ax's
terms, and Ax's points back in this project's names and types."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import math
from typing import Any

import pytest

from bayesopt import (
    Choice,
    Experiment,
    Fixed,
    Float,
    Int,
    LinearConstraint,
    Objective,
    Optimizer,
)
from bayesopt.ax_strategy import (
    AxDecider,
    SearchSpaceExhaustedError,
    ax_available,
    ax_generator_name,
    require_ax,
)
from bayesopt.errors import InvalidExperimentError, InvalidSpaceError
from bayesopt.trial import Trial, TrialStatus

pytestmark = pytest.mark.skipif(not ax_available(), reason="ax-platform is not installed")


def quad(params: dict[str, Any]) -> float:
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2


@pytest.fixture
def square() -> Experiment:
    """Minimize ``quad`` over the unit square."""
    return Experiment(
        name="square",
        parameters=[Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)],
        objectives=[Objective("f")],
    )


def completed(i: int, params: dict[str, Any], **values: float) -> Trial:
    return Trial(id=i, params=params, status=TrialStatus.COMPLETED, values=values)


def complete_all(points: list[dict[str, Any]], start: int = 0) -> list[Trial]:
    return [completed(start + i, p, f=quad(p)) for i, p in enumerate(points)]


def ax_experiment(decider: AxDecider) -> Any:
    """The Ax experiment of the decider's client (untyped: Ax's own types are loose)."""
    return decider.client._experiment


def ax_status(decider: AxDecider, trial_id: int) -> str:
    index = decider.trial_indices[trial_id]
    return str(ax_experiment(decider).trials[index].status.name)


def in_square(p: dict[str, Any]) -> bool:
    return 0.0 <= p["x"] <= 1.0 and 0.0 <= p["y"] <= 1.0


# ------------------------------------------------------------------ availability
def test_ax_available_and_require_ax(monkeypatch):
    assert ax_available()
    require_ax()

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert not ax_available()
    with pytest.raises(InvalidExperimentError, match=r"^strategy: 'ax' needs the ax-platform"):
        require_ax()


# ------------------------------------------------------------------ suggest loop
def test_suggest_complete_suggest_again(square):
    decider = AxDecider(square, seed=0)
    first = decider.propose([], 3)
    assert [s.node for s in first] == ["CenterOfSearchSpace", "Sobol", "Sobol"]
    assert first[0].generator == "ax:CenterOfSearchSpace"
    assert first[0].params == {"x": 0.5, "y": 0.5}
    points = [s.params for s in first]
    assert all(in_square(p) and isinstance(p["x"], float) for p in points)

    trials = complete_all(points)
    second = decider.suggest(trials, 2)
    assert len(second) == 2
    assert all(in_square(p) for p in second)
    assert all(p not in points for p in second)
    # The suggestions were claimed by the store's trials, not attached again.
    ax_trials = ax_experiment(decider).trials
    assert len(ax_trials) == 5
    assert sorted(decider.trial_indices) == [0, 1, 2]
    assert [ax_status(decider, i) for i in range(3)] == ["COMPLETED"] * 3
    assert ax_generator_name(decider.client, decider.trial_indices[1]) == "Sobol"


def test_replay_after_restart_continues_where_ax_stood(square):
    live = AxDecider(square, seed=3)
    points = live.suggest([], 3)
    trials = complete_all(points)
    trials.append(Trial(id=3, params=live.suggest(trials, 1)[0], status=TrialStatus.RUNNING))
    after_live = live.suggest(trials, 2)

    restarted = AxDecider(square, seed=3)  # a new process: no client, the store replayed
    after_restart = restarted.suggest(trials, 2)
    experiment = ax_experiment(restarted)
    assert len(experiment.trials) == len(trials) + 2
    assert [ax_status(restarted, t.id) for t in trials] == ["COMPLETED"] * 3 + ["RUNNING"]
    assert ax_generator_name(restarted.client, 0) == "Manual"  # attached from the store
    # Ax's seeded Sobol design continues: the same points as without the restart.
    for a, b in zip(after_live, after_restart, strict=True):
        assert a == pytest.approx(b)
    assert all(p not in points for p in after_restart)


def test_failed_pending_and_abandoned_trials(square):
    decider = AxDecider(square, seed=0)
    points = decider.suggest([], 5)
    trials = [
        completed(0, points[0], f=quad(points[0])),
        Trial(id=1, params=points[1], status=TrialStatus.FAILED, failure_reason="crashed"),
        Trial(id=2, params=points[2], status=TrialStatus.PENDING),
        Trial(id=3, params=points[3], status=TrialStatus.RUNNING),
        Trial(id=4, params=points[4], status=TrialStatus.ABANDONED),
    ]
    decider.suggest(trials, 1)  # its suggestion is never stored: given up by the next call
    assert [ax_status(decider, i) for i in range(5)] == [
        "COMPLETED",
        "FAILED",
        "RUNNING",
        "RUNNING",
        "ABANDONED",
    ]
    experiment = ax_experiment(decider)
    assert experiment.trials[5].status.name == "RUNNING"

    # Later: the pending trial completed, the running one failed.
    trials[2] = completed(2, points[2], f=quad(points[2]))
    trials[3] = Trial(id=3, params=points[3], status=TrialStatus.FAILED)
    decider.suggest(trials, 1)
    assert ax_status(decider, 2) == "COMPLETED"
    assert ax_status(decider, 3) == "FAILED"
    assert experiment.trials[5].status.name == "ABANDONED"
    data = experiment.lookup_data().df
    assert sorted(data["trial_index"].unique()) == [0, 2]

    # A fresh client sees the same: abandoned trials left out, the rest as they are.
    fresh = AxDecider(square, seed=0)
    fresh.suggest(trials, 1)
    assert sorted(fresh.trial_indices) == [0, 1, 2, 3]
    assert [ax_status(fresh, i) for i in range(4)] == ["COMPLETED", "FAILED", "COMPLETED", "FAILED"]


def test_known_standard_errors_are_passed(square):
    decider = AxDecider(square, seed=0)
    p = {"x": 0.2, "y": 0.9}
    trial = Trial(id=0, params=p, status=TrialStatus.COMPLETED, values={"f": 1.5}, sems={"f": 0.1})
    decider.suggest([trial], 1)
    row = ax_experiment(decider).lookup_data().df.iloc[0]
    assert (row["mean"], row["sem"]) == (1.5, 0.1)
    assert ax_experiment(decider).trials[0].arm.parameters == p


def test_trials_from_a_real_store(square, tmp_path):
    opt = Optimizer(square, storage=f"sqlite:///{tmp_path / 's.db'}", seed=0, device="cpu")
    try:
        for p in ({"x": 0.1, "y": 0.2}, {"x": 0.7, "y": 0.4}):
            opt.attach(p, {"f": quad(p)})
        opt.attach({"x": 0.4, "y": 0.4})  # pending
        decider = AxDecider(square, seed=0)
        (point,) = decider.suggest(opt.all_trials(), 1)
        assert in_square(point)
        assert [ax_status(decider, t.id) for t in opt.all_trials()] == [
            "COMPLETED",
            "COMPLETED",
            "RUNNING",
        ]
    finally:
        opt.store.close()


# ------------------------------------------------------------------ space and goals
def test_choice_int_log_float_and_fixed_round_trip():
    exp = Experiment(
        name="types",
        parameters=[
            Float("lr", 1e-4, 1e-1, log=True),
            Int("depth", 1, 64, log=True),
            Int("width", 2, 9),
            Choice("act", ["relu", "tanh", "gelu"]),
            Choice("scale", [1, 2.5, 4]),
            Choice("mixed", [2, "two", True]),
            Choice("flag", [True, False]),
            Choice("level", [1, 2, 3], ordered=True),
            Fixed("mode", "fast"),
            Fixed("k", 3),
        ],
        objectives=[Objective("loss")],
    )
    decider = AxDecider(exp, seed=1)
    points = decider.suggest([], 4)
    assert len(points) == 4
    for p in points:
        assert list(p) == list(exp.space.names)
        assert exp.space.validate(p) == p
        assert isinstance(p["lr"], float) and 1e-4 <= p["lr"] <= 1e-1
        assert type(p["depth"]) is int and type(p["width"]) is int
        assert p["act"] in ("relu", "tanh", "gelu")
        assert p["scale"] in (1, 2.5, 4)
        assert type(p["scale"]) is (float if p["scale"] == 2.5 else int)
        assert p["mixed"] in (2, "two", True) and type(p["mixed"]) in (int, str, bool)
        assert type(p["flag"]) is bool
        assert (p["mode"], p["k"]) == ("fast", 3)
        assert decider.from_ax(decider.to_ax(p)) == p
    # Mixed values keep their own types through Ax.
    for value in (2, "two", True):
        q = {**points[0], "mixed": value, "scale": 4}
        back = decider.from_ax(decider.to_ax(q))
        assert back["mixed"] == value and type(back["mixed"]) is type(value)
        assert type(back["scale"]) is int
    # The store's trials with these types are accepted by Ax.
    trials = [completed(i, p, loss=float(i)) for i, p in enumerate(points)]
    assert len(decider.suggest(trials, 1)) == 1
    ax_params = ax_experiment(decider).search_space.parameters
    assert type(ax_params["mode"]).__name__ == "FixedParameter"
    assert ax_params["lr"].log_scale and ax_params["depth"].log_scale
    assert not ax_params["act"].is_ordered and ax_params["level"].is_ordered


def test_several_objectives_thresholds_outcome_constraints_and_awkward_names():
    exp = Experiment(
        name="multi",
        parameters=[Float("beta", 0.0, 1.0), Float("x", 0.0, 2.0)],
        objectives=[
            Objective("cost", minimize=True, threshold=10.0),
            Objective("yield", minimize=False, threshold=0.25),
            Objective("val-loss"),
        ],
        constraints=["beta + x <= 2.5", "purity >= 0.95", "cost <= 8", "beta >= 0.05"],
    )
    decider = AxDecider(exp, seed=0)
    config = ax_experiment(decider).optimization_config
    thresholds = {str(t) for t in config.objective_thresholds}
    assert thresholds == {"OutcomeConstraint(cost <= 10)", "OutcomeConstraint(bo_m1 >= 0.25)"}
    constraints = {str(c) for c in config.outcome_constraints}
    assert "OutcomeConstraint(purity >= 0.95)" in constraints
    assert len(constraints) == 2  # the one on 'cost' goes to a copy of its metric

    points = decider.suggest([], 3)
    assert all(p["beta"] + p["x"] <= 2.5 + 1e-9 and p["beta"] >= 0.05 - 1e-9 for p in points)
    trials = [
        completed(i, p, cost=1.0 + i, **{"yield": 0.5, "val-loss": 0.1 * i, "purity": 0.97})
        for i, p in enumerate(points)
    ]
    assert len(decider.suggest(trials, 2)) == 2
    data = ax_experiment(decider).lookup_data().df
    assert set(data["metric_name"]) == {"cost", "bo_m1", "bo_m2", "purity", "bo_m4"}
    assert (data[data["metric_name"] == "bo_m4"]["mean"].to_numpy() == [1.0, 2.0, 3.0]).all()


def test_single_objective_with_a_constraint_on_it(square):
    exp = Experiment(
        name="capped",
        parameters=square.parameters,
        objectives=[Objective("f", minimize=False)],
        constraints=["f <= 0.9"],
    )
    decider = AxDecider(exp, seed=0)
    config = ax_experiment(decider).optimization_config
    assert str(config.objective) == 'Objective(expression="f")'
    assert len(config.outcome_constraints) == 1
    assert len(decider.suggest([], 2)) == 2


def test_linear_constraint_with_a_fixed_parameter():
    exp = Experiment(
        name="budgeted",
        parameters=[Float("a", 0.0, 1.0), Int("b", 0, 10), Fixed("c", 2.0)],
        objectives=[Objective("y")],
        constraints=[LinearConstraint({"a": 1.0, "b": 0.1, "c": 1.0}, "<=", 2.6)],
    )
    decider = AxDecider(exp, seed=0)
    (constraint,) = ax_experiment(decider).search_space.parameter_constraints
    assert constraint.bound == pytest.approx(0.6)
    points = decider.suggest([], 4)
    assert all(p["a"] + 0.1 * p["b"] + 2.0 <= 2.6 + 1e-9 for p in points)
    assert all(p["c"] == 2.0 for p in points)
    # A stored point that breaks the constraint (imported unchecked) is still attached.
    outside = completed(0, {"a": 1.0, "b": 10, "c": 2.0}, y=1.0)
    assert len(decider.suggest([outside], 1)) == 1
    assert ax_status(decider, 0) == "COMPLETED"


def test_equality_constraint_is_refused():
    exp = Experiment(
        name="mixture",
        parameters=[Float("a", 0.0, 1.0), Float("b", 0.0, 1.0), Float("c", 0.0, 1.0)],
        objectives=[Objective("y")],
        constraints=["a + b + c == 1"],
    )
    with pytest.raises(InvalidExperimentError, match=r"^constraints: '1\*a \+ 1\*b \+ 1\*c == 1'"):
        AxDecider(exp, seed=0)


def test_used_up_discrete_space_is_reported_at_once():
    exp = Experiment(
        name="tiny",
        parameters=[Int("a", 1, 2), Choice("b", ["u", "v"]), Int("c", 0, 1)],
        objectives=[Objective("y")],
        constraints=["a + c <= 2"],
    )
    decider = AxDecider(exp, seed=0)
    points = decider.suggest([], 10)  # 6 points satisfy the constraint
    assert len(points) == 6
    assert len({tuple(p.values()) for p in points}) == 6
    trials = [completed(i, p, y=float(i)) for i, p in enumerate(points)]
    with pytest.raises(SearchSpaceExhaustedError, match="every point"):
        decider.suggest(trials, 1)
    with pytest.raises(SearchSpaceExhaustedError, match=r"with \{'b': 'v'\}"):
        decider.suggest(trials, 1, fixed={"b": "v"})


def test_unsupported_parameter_kind_is_refused():
    fidelity = getattr(importlib.import_module("bayesopt.space"), "Fidelity", None)
    if fidelity is None:
        pytest.skip("no Fidelity parameter in this version")
    exp = Experiment(
        name="fid",
        parameters=[Float("x", 0.0, 1.0), fidelity("epochs", 1, 10, integer=True)],
        objectives=[Objective("y")],
    )
    with pytest.raises(InvalidExperimentError, match=r"^parameters: 'epochs' is a Fidelity"):
        AxDecider(exp, seed=0)


def test_fixed_context(square):
    decider = AxDecider(square, seed=0)
    first = decider.propose([], 3, fixed={"x": 0.25})
    assert [s.params["x"] for s in first] == [0.25] * 3
    # Ax's centre ignores the context: its trial is given up, the stored point attached.
    assert first[0].node == "CenterOfSearchSpace"
    trials = complete_all([s.params for s in first])
    decider.suggest(trials, 1, fixed={"x": 0.75})
    experiment = ax_experiment(decider)
    assert experiment.trials[first[0].ax_index].status.name == "ABANDONED"
    assert experiment.trials[decider.trial_indices[0]].arm.parameters == {"x": 0.25, "y": 0.5}
    assert [ax_status(decider, i) for i in range(3)] == ["COMPLETED"] * 3
    with pytest.raises(InvalidSpaceError, match="outside"):
        decider.suggest([], 1, fixed={"x": 2.0})


def test_ax_is_quiet_while_deciding(square):
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    ax_root = logging.getLogger("ax")
    keep = Keep(level=logging.DEBUG)
    ax_root.addHandler(keep)
    try:
        decider = AxDecider(square, seed=0)
        points = decider.suggest([], 2)
        decider.suggest(complete_all(points), 1)
    finally:
        ax_root.removeHandler(keep)
    assert [r.getMessage() for r in records if r.levelno < logging.WARNING] == []
    assert keep.level == logging.DEBUG
    assert logging.getLogger("ax.api.client").level == logging.INFO


def test_reaches_the_model_phase(square):
    decider = AxDecider(square, seed=0)
    trials: list[Trial] = []
    while len(trials) < 6:
        for p in decider.suggest(trials, 2):
            trials.append(completed(len(trials), p, f=quad(p)))
    (suggestion,) = decider.propose(trials, 1)
    assert suggestion.node == "MBM"
    assert in_square(suggestion.params)
    assert all(not math.isclose(suggestion.params["x"], t.params["x"]) for t in trials)

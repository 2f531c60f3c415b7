"""Regimes of a run (a hidden Markov model of the trace) and drift of a reference point:
the signals, recovery of known regimes, the Stalled stopping rule, the switch of strategy
step, drift detection, and bad input refused."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from bayesopt import Experiment, Float, Objective, Optimizer, Stalled
from bayesopt.analysis import regimes
from bayesopt.analysis.regimes import (
    ACQ_FLOOR,
    FLOOR_DECADES,
    detect_drift,
    fit_regimes,
    fit_signals,
    synthetic_signals,
    trace_signals,
)
from bayesopt.errors import InvalidAnalysisError, InvalidExperimentError
from bayesopt.steps import BO, Sobol, TrustRegion
from bayesopt.stopping import Progress

from .conftest import OpenOptimizer

X = [Float("x", 0.0, 1.0)]


def synthetic(regimes: list[str], seed: int) -> np.ndarray:
    """A trace whose regimes are known (:func:`bayesopt.analysis.regimes.synthetic_signals`)."""
    return synthetic_signals(regimes, np.random.default_rng(seed))


# -------------------------------------------------------------------- the model
def test_known_regimes_are_recovered_from_a_synthetic_trace() -> None:
    truth = ["improving"] * 12 + ["refining"] * 12 + ["stalled"] * 12 + ["improving"] * 8
    found = fit_signals(synthetic(truth, seed=3))
    assert found.states == ("improving", "refining", "stalled")
    assert found.probabilities.shape == (len(truth), 3)
    assert np.allclose(found.probabilities.sum(1), 1.0)
    share = np.mean([a == b for a, b in zip(found.most_probable(), truth, strict=True)])
    assert share >= 0.85, found.most_probable()
    assert found.p("stalled")[26:35].min() > 0.9
    assert found.p("stalled")[:10].max() < 0.1
    assert found.seconds > 0
    assert np.array(found.params["transition"]).shape == (3, 3)
    means = np.array(found.params["means"])  # ordered: improving > refining > stalled
    assert means[0, 0] > means[1, 0] > means[2, 0] and means[0, 1] > means[1, 1] > means[2, 1]
    improves = found.params["improves"]  # how often a trial improves, in each state
    assert improves[0] > improves[1] > improves[2] and improves[2] < 0.05


def test_the_fit_is_deterministic_and_masks_missing_signals() -> None:
    trace = synthetic(["improving"] * 8 + ["stalled"] * 8, seed=1)
    trace[:4, 1:] = np.nan  # a design: no acquisition, no surprise
    a = fit_signals(trace, states=2)
    regimes._FITS.clear()  # no memoized fit: the same trace is fitted again
    b = fit_signals(trace, states=2)
    assert a.states == ("improving", "stalled")
    assert np.array_equal(a.probabilities, b.probabilities)
    assert np.isfinite(a.log_joint) and np.isfinite(a.probabilities).all()
    assert a.most_probable()[-1] == "stalled" and a.most_probable()[5] == "improving"
    assert a.latest()["state"] == "stalled" and set(a.latest()) >= {"p_improving", "p_stalled"}


def test_signals_of_a_minimized_trace() -> None:
    progress = Progress(
        best=[5.0, 5.0, 4.0, 4.0],
        ei_rel=[],
        minimize=True,
        multi_objective=False,
        last_trial=3,
        n_finished=5,
        values=[5.0, 9.0, 4.0, 6.0],
        surprise=[None, None, 2.0, -50.0],
        metadata=[{}, {}, {"ei_rel": 0.01}, {"ei_rel": 0.0}],
    )
    x = trace_signals(progress)
    assert np.isnan(x[0]).all()  # the first trial: nothing before it, no model
    assert x[1, 0] == 0.0  # worse: no improvement
    assert x[2, 0] == pytest.approx(math.log10(1 / 5) + FLOOR_DECADES)  # gain 1, range 5
    assert x[3, 0] == 0.0
    assert np.isnan(x[1, 1]) and x[2, 1] == pytest.approx(-2.0) and x[3, 1] == ACQ_FLOOR
    assert x[2, 2] == 2.0 and x[3, 2] == -10.0  # clipped


def test_signals_of_a_multi_objective_trace_follow_the_hypervolume() -> None:
    progress = Progress(
        best=[0.0, 2.0, 2.0, 2.5],
        ei_rel=[],
        minimize=False,
        multi_objective=True,
        last_trial=3,
        n_finished=4,
        values=[1.0, 2.0, 0.0, 3.0],
        metadata=[{}] * 4,
    )
    x = trace_signals(progress)
    assert x[1, 0] == pytest.approx(FLOOR_DECADES)  # from 0 to 2: all of the hypervolume
    assert x[2, 0] == 0.0
    assert x[3, 0] == pytest.approx(math.log10(0.5 / 2.5) + FLOOR_DECADES)


def test_signals_from_a_run_skip_failures_and_mark_design_points_missing(
    open_optimizer: OpenOptimizer,
) -> None:
    exp = Experiment(
        name="signals", parameters=X, objectives=[Objective("y", minimize=False)], initial_trials=3
    )
    opt = open_optimizer(exp)
    for i in range(6):
        (trial,) = opt.suggest(1)
        if i == 1:
            opt.fail(trial, "broken")
            continue
        opt.observe(trial, {"y": -((trial.params["x"] - 0.4) ** 2)})
    progress = opt.progress()
    x = trace_signals(progress)
    assert len(x) == 5 and len(progress.trial_ids) == 5 and 1 not in progress.trial_ids
    design = [t.metadata.get("step") == "sobol" for t in opt.all_trials() if t.id != 1]
    for row, is_design in zip(x, design, strict=True):
        assert np.isnan(row[1]) == is_design and np.isnan(row[2]) == is_design
    model = [i for i, d in enumerate(design) if not d]
    assert model and all(progress.surprise[i] is not None for i in model)
    found = opt.regimes()
    assert found.probabilities.shape == (5, 3) and found.trial_ids == tuple(progress.trial_ids)


# ------------------------------------------------------------------- the rule
def test_stalled_stops_a_flat_run_before_its_budget_and_records_why(
    open_optimizer: OpenOptimizer, db_url: str
) -> None:
    budget = 25
    exp = Experiment(
        name="flat",
        parameters=X,
        objectives=[Objective("y")],
        initial_trials=4,
        budget=budget,
        stopping=[Stalled(trials=4)],
    )
    opt = open_optimizer(exp)
    stop = None
    while opt.n_finished < budget and (stop := opt.should_stop()) is None:
        (trial,) = opt.suggest(1)
        opt.observe(trial, {"y": 1.0})
    assert stop is not None and stop.rule == "stalled"
    assert opt.n_finished < budget
    assert "stalled" in stop.reason and "last 4 completed trials" in stop.reason
    assert len(stop.details["p_stalled"]) == 4 and min(stop.details["p_stalled"]) > 0.9
    again = Optimizer(exp, storage=db_url, seed=0, device="cpu")  # readable later
    record = again.stop_record()
    again.store.close()
    assert record is not None and record["rule"] == "stalled"
    assert record["details"]["regime"]["state"] == "stalled"


def test_stalled_does_not_stop_a_run_that_keeps_improving(open_optimizer: OpenOptimizer) -> None:
    exp = Experiment(
        name="improving",
        parameters=X,
        objectives=[Objective("y")],
        initial_trials=3,
        stopping=[Stalled(trials=3)],
    )
    opt = open_optimizer(exp)
    for i in range(14):
        assert opt.should_stop() is None, i
        (trial,) = opt.suggest(1)
        opt.observe(trial, {"y": -(float(i) ** 1.5) - trial.params["x"]})  # each one better
    found = opt.regimes()
    assert found.p("stalled")[-5:].max() < 0.5


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"threshold": 0.0}, ["threshold=0.0", "between 0 and 1"]),
        ({"threshold": 1.0}, ["threshold=1.0", "between 0 and 1"]),
        ({"threshold": 1.5}, ["threshold=1.5"]),
        ({"threshold": "high"}, ["threshold='high'", "finite number"]),
        ({"trials": 0}, ["trials=0", "integer >= 1"]),
        ({"trials": 2.5}, ["trials=2.5", "integer >= 1"]),
        ({"states": 4}, ["states=4", "expected 2", "or 3"]),
        ({"states": True}, ["states=True"]),
    ],
)
def test_bad_stalled_options_are_refused_naming_the_field(
    kwargs: dict[str, object], words: list[str]
) -> None:
    with pytest.raises(InvalidExperimentError) as err:
        Stalled(**kwargs)  # type: ignore[arg-type]
    for word in ["stopping Stalled", *words]:
        assert word in str(err.value)


def test_stalled_needs_a_goal_that_improves() -> None:
    with pytest.raises(InvalidExperimentError, match="stopping Stalled: goal 'learn'"):
        Experiment(
            name="learn",
            parameters=X,
            objectives=[Objective("y")],
            goal="learn",
            stopping=[Stalled()],
        )


# ---------------------------------------------------------------- the switch
def test_a_trust_region_takes_over_when_the_run_stalls(open_optimizer: OpenOptimizer) -> None:
    exp = Experiment(
        name="switch",
        parameters=[Float("x", 0.0, 1.0), Float("z", 0.0, 1.0)],
        objectives=[Objective("y")],
        strategy=[Sobol(4), BO(), {"step": "trust_region", "after_regime": "stalled"}],
    )
    assert exp.strategy[2] == TrustRegion(after_regime="stalled")
    opt = open_optimizer(exp)
    for _ in range(16):
        (trial,) = opt.suggest(1)
        opt.observe(trial, {"y": 2.0})
        if trial.metadata.get("step") == "trust_region":
            break
    trials = opt.all_trials()
    steps = [t.metadata.get("step") for t in trials]
    assert steps[-1] == "trust_region", steps
    assert steps[:4] == ["sobol"] * 4 and steps.count("bo") >= 3  # 3 trials of BO at least
    regime = trials[-1].metadata["regime"]
    assert regime["state"] == "stalled" and regime["p_stalled"] > 0.5
    assert regime["wanted"] == "stalled" and regime["trial"] == trials[-2].id
    before = [t for t in trials if t.metadata.get("step") == "bo"]
    assert all(t.metadata["regime"]["state"] != "stalled" for t in before[3:])


@pytest.mark.parametrize(
    ("step", "words"),
    [
        (TrustRegion(after_regime="stuck"), ["after_regime='stuck'", "'refining', 'stalled'"]),
        (TrustRegion(after_regime="stalled", after_stall=5), ["one condition per step"]),
        ({"step": "trust_region", "after_regime": 3}, ["after_regime=3", "valid regimes"]),
    ],
)
def test_bad_regime_conditions_are_refused_naming_the_field(step: object, words: list[str]) -> None:
    with pytest.raises(InvalidExperimentError) as err:
        Experiment(name="bad", parameters=X, objectives=[Objective("y")], strategy=[Sobol(3), step])
    for word in ["strategy TrustRegion", *words]:
        assert word in str(err.value)


def test_bad_regime_analysis_input_is_refused() -> None:
    with pytest.raises(InvalidAnalysisError, match=r"states=5; expected 2 or 3"):
        fit_signals(np.zeros((4, 3)), states=5)
    with pytest.raises(InvalidAnalysisError, match=r"shape \(4, 2\)"):
        fit_signals(np.zeros((4, 2)))
    with pytest.raises(InvalidAnalysisError, match=r"state='bored'; this model's states"):
        fit_signals(np.zeros((4, 3)), states=2).p("bored")


# --------------------------------------------------------------------- drift
def test_drift_is_found_where_a_shift_was_injected() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(1.0, 0.05, 15), rng.normal(1.3, 0.05, 10)])
    found = detect_drift(list(range(25)), values.tolist())
    assert found.change_at in (14, 15, 16)
    assert found.latest > 0.99 and found.probability[:12].max() < 0.05
    assert found.shift == pytest.approx(0.3, abs=0.05)
    false_alarms = 0  # the same noise without a shift, 40 series
    for seed in range(40):
        steady = np.random.default_rng([7, seed]).normal(1.0, 0.05, 25)
        false_alarms += detect_drift(list(range(25)), steady.tolist()).latest > 0.9
    assert false_alarms <= 2


def test_the_optimizer_warns_when_its_reference_point_drifts(
    open_optimizer: OpenOptimizer, caplog: pytest.LogCaptureFixture
) -> None:
    opt = open_optimizer(Experiment(name="drift", parameters=X, objectives=[Objective("y")]))
    rng = np.random.default_rng(1)
    with caplog.at_level(logging.WARNING, logger="bayesopt"):
        for _ in range(10):
            opt.attach({"x": 0.5}, {"y": float(rng.normal(2.0, 0.01))}, generator="reference")
        assert not [r for r in caplog.records if "drifted" in r.message]
        for _ in range(6):
            opt.attach({"x": 0.5}, {"y": float(rng.normal(2.2, 0.01))}, generator="reference")
    warned = [r.message for r in caplog.records if "drifted" in r.message]
    assert warned and "P(drift) = 1.00" in warned[-1] and "from measurement 11 on" in warned[-1]
    found = opt.drift({"x": 0.5})
    assert found.change_at == 10 and found.latest > 0.99


def test_bad_drift_input_is_refused(open_optimizer: OpenOptimizer) -> None:
    with pytest.raises(InvalidAnalysisError, match=r"times has 2 entries and values 3"):
        detect_drift([0, 1], [1.0, 2.0, 3.0])
    with pytest.raises(InvalidAnalysisError, match=r"values\[1\]=nan; expected a finite number"):
        detect_drift([0, 1, 2], [1.0, math.nan, 3.0])
    opt = open_optimizer(Experiment(name="bad-drift", parameters=X, objectives=[Objective("y")]))
    with pytest.raises(InvalidAnalysisError, match=r"threshold=2; expected a probability"):
        opt.drift(threshold=2)
    with pytest.raises(InvalidAnalysisError, match=r"outcome='z'; expected one of \['y'\]"):
        opt.drift(outcome="z")


def test_fit_regimes_reads_a_progress_with_the_design() -> None:
    progress = Progress(
        best=[3.0, 2.0, 2.0],
        ei_rel=[],
        minimize=True,
        multi_objective=False,
        last_trial=2,
        n_finished=3,
        n_design=2,
        values=[3.0, 2.0, 5.0],
        trial_ids=[0, 1, 2],
    )
    found = fit_regimes(progress, states=2)
    assert found.trial_ids == (0, 1, 2) and found.n_design == 2


def test_a_more_exploratory_bo_step_takes_over_when_the_run_stalls(
    open_optimizer: OpenOptimizer,
) -> None:
    exp = Experiment(
        name="switch-bo",
        parameters=[Float("x", 0.0, 1.0), Float("z", 0.0, 1.0)],
        objectives=[Objective("y")],
        strategy=[Sobol(4), BO(), {"step": "bo", "acquisition": "qUCB", "after_regime": "stalled"}],
    )
    assert exp.strategy[2] == BO(acquisition="qUCB", after_regime="stalled")
    assert "after_regime='stalled'" in exp.settings()["strategy"]
    assert exp.strategy[2].condition == "once the run is stalled"
    opt = open_optimizer(exp)
    for _ in range(16):
        (trial,) = opt.suggest(1)
        opt.observe(trial, {"y": 2.0})
        if trial.metadata.get("step_index") == 2:
            break
    last = opt.all_trials()[-1]
    assert last.metadata["step_index"] == 2 and last.metadata["acquisition"] == "qUCB"
    assert last.metadata["regime"]["state"] == "stalled"


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"strategy": [Sobol(4), BO(), BO(after_regime="stuck")]}, ["BO: after_regime='stuck'"]),
        (
            {"strategy": [Sobol(4), BO(), BO(after_regime="stalled", after_trials=9)]},
            ["one condition per step"],
        ),
        (
            {"goal": "learn", "strategy": [Sobol(4), BO(), BO(after_regime="stalled")]},
            ["goal='learn' learns rather than improves"],
        ),
    ],
)
def test_bad_bo_regime_conditions_are_refused_naming_the_field(kw: dict, words: list[str]) -> None:
    with pytest.raises(InvalidExperimentError) as info:
        Experiment(name="bad-bo", parameters=X, objectives=[Objective("y")], **kw)
    for word in words:
        assert word in str(info.value)

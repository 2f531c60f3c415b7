"""The analyses' switch and cadence (Experiment(analyses=...)): monitored results stored
with the trial that completed when they ran, decisions that read an analysis refitting it
at its cadence only, and bad settings refused naming the field."""

from __future__ import annotations

import math

import pytest

from bayesopt import Experiment, Float, Objective, Optimizer, Stalled
from bayesopt.errors import InvalidExperimentError
from bayesopt.steps import BO, Sobol

from .conftest import OpenOptimizer

X = [Float("x", 0.0, 1.0), Float("z", 0.0, 1.0)]


def two_wells(x: float, z: float) -> float:
    return -math.exp(-40 * ((x - 0.2) ** 2 + (z - 0.3) ** 2)) - 0.8 * math.exp(
        -40 * ((x - 0.8) ** 2 + (z - 0.7) ** 2)
    )


@pytest.mark.parametrize(
    ("analyses", "words"),
    [
        ("regimes", ["analyses: got 'regimes'", "{'regimes': 5, 'basins': 10}"]),
        ({"hmm": 3}, ["unknown analysis 'hmm'", "['regimes', 'basins']"]),
        ({"regimes": 0}, ["analyses['regimes']: got 0", "integer >= 1"]),
        ({"basins": True}, ["analyses['basins']: got True"]),
        ({"basins": 2.5}, ["analyses['basins']: got 2.5"]),
    ],
)
def test_bad_analyses_are_refused_naming_the_field(analyses: object, words: list[str]) -> None:
    with pytest.raises(InvalidExperimentError) as info:
        Experiment(name="bad", parameters=X, objectives=[Objective("y")], analyses=analyses)  # type: ignore[arg-type]
    for word in words:
        assert word in str(info.value)


def test_monitored_analyses_are_stored_with_the_trial_that_completed_when_they_ran(
    open_optimizer: OpenOptimizer,
) -> None:
    exp = Experiment(
        name="monitored",
        parameters=X,
        objectives=[Objective("y")],
        initial_trials=4,
        analyses={"regimes": 4, "basins": 3},
    )
    assert exp.settings()["analyses"] == "regimes every 4; basins every 3"
    opt = open_optimizer(exp)
    returned = {}
    for _ in range(12):
        (trial,) = opt.suggest(1)
        returned[trial.id] = opt.observe(trial, {"y": two_wells(**trial.params)})
    trials = opt.all_trials()
    for n, t in enumerate(trials, start=1):  # sequential: the n-th trial completes n-th
        regimes, basins = t.metadata.get("analysis.regimes"), t.metadata.get("analysis.basins")
        assert (regimes is not None) == (n % 4 == 0 and n > 4), (n, t.metadata)
        assert (basins is not None) == (n % 3 == 0 and n >= 4), (n, t.metadata)
        assert returned[t.id].metadata == t.metadata  # observe returns the stored record
        assert t.values == {"y": two_wells(**t.params)}  # the result itself unchanged
        if regimes is not None:
            assert set(regimes) >= {"p_improving", "p_refining", "p_stalled", "state"}
            assert regimes["trial"] == t.id and regimes["n_trials"] == n
        if basins is not None:
            assert basins["n_basins"] >= 1 and basins["n_trials"] == n
            assert set(basins["best_trials"]) <= {u.id for u in trials[:n]}


def test_a_spread_batch_refits_its_basins_at_the_cadence(open_optimizer: OpenOptimizer) -> None:
    exp = Experiment(
        name="spread-cadence",
        parameters=X,
        objectives=[Objective("y")],
        strategy=[Sobol(6), BO(spread="basins")],
        analyses={"basins": 4},
    )
    opt = open_optimizer(exp)
    for _ in range(5):
        batch = opt.suggest(2)
        for trial in batch:
            opt.observe(trial, {"y": two_wells(**trial.params)})
    decided = [t for t in opt.all_trials() if t.metadata.get("step") == "bo"]
    assert decided
    for t in decided:  # the basins were found on the first 4 * floor(n / 4) trials
        n_before = sum(1 for u in opt.all_trials() if u.id < t.id and u.values)
        assert t.metadata["basins"]["n_points"] <= 4 * (n_before // 4)


def test_stalled_checks_at_the_cadence_only(open_optimizer: OpenOptimizer) -> None:
    exp = Experiment(
        name="stalled-cadence",
        parameters=X,
        objectives=[Objective("y")],
        initial_trials=4,
        budget=30,
        stopping=[Stalled(trials=4)],
        analyses={"regimes": 5},
    )
    opt = open_optimizer(exp)
    stop = None
    while opt.n_finished < exp.budget and (stop := opt.should_stop()) is None:
        (trial,) = opt.suggest(1)
        opt.observe(trial, {"y": 1.0})
    assert stop is not None and stop.rule == "stalled"
    assert stop.n_finished % 5 == 0  # checked when the 5th, 10th, ... trial completed


def test_no_analyses_by_default_and_nothing_added(open_optimizer: OpenOptimizer) -> None:
    exp = Experiment(name="plain", parameters=X, objectives=[Objective("y")], initial_trials=3)
    assert exp.analyses == {} and exp.settings()["analyses"] == "none"
    opt = open_optimizer(exp)
    for _ in range(5):
        (trial,) = opt.suggest(1)
        opt.observe(trial, {"y": two_wells(**trial.params)})
    assert not any(k.startswith("analysis.") for t in opt.all_trials() for k in t.metadata)


def test_a_resumed_run_sees_the_same_analyses(db_url: str) -> None:
    exp = Experiment(
        name="resume-cadence",
        parameters=X,
        objectives=[Objective("y")],
        initial_trials=4,
        analyses={"regimes": 3},
    )
    first = Optimizer(exp, storage=db_url, seed=0, device="cpu")
    for _ in range(7):
        (trial,) = first.suggest(1)
        first.observe(trial, {"y": two_wells(**trial.params)})
    first.store.close()
    again = Optimizer(exp, storage=db_url, seed=0, device="cpu")
    for _ in range(3):
        (trial,) = again.suggest(1)
        again.observe(trial, {"y": two_wells(**trial.params)})
    stored = [t.metadata.get("analysis.regimes") for t in again.all_trials()]
    again.store.close()
    assert [i for i, r in enumerate(stored, start=1) if r] == [6, 9]

"""Real campaigns through the ask/tell optimizer: several objectives, outcome constraints,
measured noise, context and stopping rules, each on a real SQLite store."""

from __future__ import annotations

import itertools
import math

import pytest
import sqlalchemy as sa
import torch
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood

from bayesopt import (
    Experiment,
    Float,
    InvalidOutcomeError,
    InvalidSpaceError,
    Objective,
    Optimizer,
    TrialStateError,
)
from bayesopt.pareto import pareto_mask, signed_objectives
from bayesopt.stopping import LowExpectedImprovement, NoImprovement, TargetValue
from bayesopt.storage import Store

XY = [Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)]


def two_objectives(p: dict) -> dict[str, float]:
    """A trade-off: ``f0`` wants x near 0, ``f1`` wants x near 1; y hurts both."""
    return {"f0": p["x"] ** 2 + p["y"], "f1": (1 - p["x"]) ** 2 + p["y"], "aux": 1.0}


def run(opt: Optimizer, fn, n: int) -> None:
    for _ in range(n):
        (t,) = opt.suggest(1)
        opt.observe(t, fn(t.params))


# ----------------------------------------------------------- several objectives
@pytest.mark.slow
def test_two_objectives_give_a_pareto_front_and_a_growing_hypervolume(open_optimizer) -> None:
    exp = Experiment(
        name="mo",
        parameters=XY,
        objectives=[Objective("f0", threshold=1.5), Objective("f1", threshold=1.5)],
        initial_trials=4,
    )
    opt = open_optimizer(exp)
    run(opt, two_objectives, 10)
    trials = opt.all_trials()
    assert {t.generator for t in trials[4:]} == {"gp+qLogNEHVI"}
    front = opt.pareto()
    done = opt.all_trials()
    # Exactly the non-dominated trials, checked by brute force.
    dominated = {
        a.id
        for a in done
        for b in done
        if all(b.values[k] <= a.values[k] for k in ("f0", "f1"))  # type: ignore[index]
        and any(b.values[k] < a.values[k] for k in ("f0", "f1"))  # type: ignore[index]
    }
    assert {t.id for t in front} == {t.id for t in done} - dominated
    # The model steps push towards y = 0, where the front lies.
    assert min(t.params["y"] for t in trials[4:]) < 0.1
    hv = opt.progress().best
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(hv))
    assert hv[-1] == pytest.approx(opt.hypervolume()) and hv[-1] > hv[3]
    with pytest.raises(TrialStateError, match=r"2 objectives .* use pareto\(\)"):
        opt.best()


def test_qlognparego_and_many_objectives(open_optimizer) -> None:
    exp = Experiment(
        name="parego",
        parameters=XY,
        objectives=[Objective("f0"), Objective("f1"), Objective("f2"), Objective("f3")],
        initial_trials=3,
    )
    assert exp.acquisition == "qLogNParEGO"
    opt = open_optimizer(exp)

    def four(p: dict) -> dict[str, float]:
        return {**two_objectives(p), "f2": p["y"], "f3": abs(p["x"] - 0.5)}

    run(opt, four, 5)
    assert opt.all_trials()[-1].generator == "gp+qLogNParEGO"
    front = opt.pareto()
    assert bool(pareto_mask(signed_objectives(exp, front)).all())


def test_inferred_reference_point_with_a_maximized_objective(open_optimizer) -> None:
    exp = Experiment(
        name="mixed-senses",
        parameters=XY,
        objectives=[Objective("f0"), Objective("g", minimize=False)],
        initial_trials=3,
    )
    opt = open_optimizer(exp)
    run(opt, lambda p: {"f0": p["x"] + p["y"], "g": p["x"] - p["y"]}, 5)
    assert opt.hypervolume() > 0
    assert all(t.values["g"] >= -1 for t in opt.pareto())  # type: ignore[index]


# ---------------------------------------------------------- outcome constraints
def constrained(p: dict) -> dict[str, float]:
    """Minimize ``(x - 0.8)^2 + y``, feasible only where ``x <= 0.5``: the answer is x = 0.5."""
    return {"f": (p["x"] - 0.8) ** 2 + p["y"], "c": p["x"]}


def test_outcome_constraints_keep_the_best_feasible(open_optimizer) -> None:
    exp = Experiment(
        name="con",
        parameters=XY,
        objectives=[Objective("f")],
        constraints=["c <= 0.5"],
        initial_trials=4,
    )
    opt = open_optimizer(exp)
    run(opt, constrained, 12)
    best = opt.best()
    assert best.values["c"] <= 0.5  # type: ignore[index]
    feasible = [t for t in opt.all_trials() if t.values["c"] <= 0.5]  # type: ignore[index]
    assert best.values["f"] == min(t.values["f"] for t in feasible)  # type: ignore[index]
    model_steps = opt.all_trials()[4:]
    assert sum(t.values["c"] <= 0.55 for t in model_steps) >= len(model_steps) // 2  # type: ignore[index]
    assert best.params["x"] > 0.3  # pushed against the constraint, towards x = 0.5
    df = opt.trials()
    assert list(df["feasible"]) == [t.values["c"] <= 0.5 for t in opt.all_trials()]  # type: ignore[index]
    pred = opt.predict({"x": 0.45, "y": 0.0})
    assert list(pred.columns[2:]) == [f"{n}_{k}" for n in "fc" for k in ("mean", "lower", "upper")]
    assert pred["c_lower"].iloc[0] < 0.45 < pred["c_upper"].iloc[0]
    assert opt.fitted("c") is opt.fitted("c")  # reused until a trial completes
    with pytest.raises(KeyError, match="'zz' is not modelled"):
        opt.fitted("zz")


def test_no_feasible_trial_yet_is_said(open_optimizer) -> None:
    exp = Experiment(
        name="none-feasible",
        parameters=XY,
        objectives=[Objective("f"), Objective("g")],
        constraints=["c >= 2"],
    )
    opt = open_optimizer(exp)
    run(opt, lambda p: {"f": p["x"], "g": p["y"], "c": 0.0}, 3)
    with pytest.raises(TrialStateError, match=r"none of the 3 completed trials .* feasible"):
        opt.pareto()
    assert opt.hypervolume() == 0.0
    assert opt.progress().best == [0.0, 0.0, 0.0]


# ----------------------------------------------------------------- measured noise
def test_measured_noise_is_kept_and_used_by_the_gp(open_optimizer, db_url) -> None:
    exp = Experiment(name="sem", parameters=XY, objectives=[Objective("v")], initial_trials=3)
    opt = open_optimizer(exp)
    for i in range(5):
        (t,) = opt.suggest(1)
        opt.observe(t, {"v": (t.params["x"] + 0.1 * i, 0.05)})
    again = Optimizer(exp, storage=db_url)
    assert all(t.sems == {"v": 0.05} for t in again.all_trials())
    df = again.trials()
    assert list(df["v_sem"]) == [0.05] * 5
    fitted = opt.fitted()
    assert fitted.info.get("known_noise") is True
    likelihood = fitted.model.likelihood
    assert isinstance(likelihood, FixedNoiseGaussianLikelihood)
    # The known variances, in the model's standardized units: sem^2 / std(y)^2.
    y = torch.tensor([t.values["v"] for t in again.all_trials()], dtype=torch.float64)  # type: ignore[index]
    expected = 0.05**2 / y.std() ** 2
    assert torch.allclose(likelihood.noise, expected.expand(5), rtol=1e-6)
    # The next decision is model-based and records the known noise.
    (t,) = opt.suggest(1)
    assert t.generator == "gp+qLogNEI" and t.metadata["known_noise"] is True


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"y": (0.5, -0.1)}, "sem -0.1"),
        ({"y": (0.5, math.inf)}, "sem inf"),
        ({"y": (math.nan, 0.1)}, "nan"),
    ],
)
def test_bad_measured_noise_leaves_the_store_unchanged(
    open_optimizer, quad, values, fragment
) -> None:
    opt = open_optimizer(quad)
    (t,) = opt.suggest(1)
    before = opt.all_trials()
    with pytest.raises(InvalidOutcomeError, match=fragment):
        opt.observe(t, {"f": values["y"]})
    assert opt.all_trials() == before


def test_a_store_made_before_the_noise_column_is_brought_up_to_date(tmp_path, quad) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    opt = Optimizer(quad, storage=url, seed=0)
    (t,) = opt.suggest(1)
    opt.observe(t, {"f": 1.5})
    opt.store.close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE bayesopt_trials DROP COLUMN sems")
        conn.exec_driver_sql("ALTER TABLE bayesopt_experiments DROP COLUMN stop")
    engine.dispose()
    store = Store(url)
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("bayesopt_trials")}
    assert "sems" in columns
    reopened = Optimizer(quad, storage=url)
    (kept,) = reopened.all_trials()
    assert kept.values == {"f": 1.5} and kept.sems is None
    (t2,) = reopened.suggest(1)
    assert reopened.observe(t2, {"f": (1.0, 0.1)}).sems == {"f": 0.1}


# ------------------------------------------------------------------------ context
def test_fixed_context_holds_a_parameter_in_design_and_model_steps(open_optimizer) -> None:
    exp = Experiment(
        name="context",
        parameters=[Float("temperature", 10.0, 40.0), Float("x", 0.0, 1.0)],
        objectives=[Objective("f")],
        initial_trials=3,
    )
    opt = open_optimizer(exp)
    for i in range(6):
        (t,) = opt.suggest(1, fixed={"temperature": 21.5 + i})
        assert t.params["temperature"] == pytest.approx(21.5 + i)
        assert t.metadata["fixed"] == {"temperature": pytest.approx(21.5 + i)}
        opt.observe(t, {"f": (t.params["x"] - 0.3) ** 2 + 0.01 * t.params["temperature"]})
    assert opt.all_trials()[-1].generator == "gp+qLogNEI"


@pytest.mark.parametrize(
    "fixed, fragments",
    [
        ({"pressure": 1.0}, ["fixed", "'pressure'", "temperature"]),
        ({"temperature": 99.0}, ["fixed", "'temperature'", "99", "[10.0, 40.0]"]),
    ],
)
def test_bad_context_is_refused_and_nothing_is_recorded(open_optimizer, fixed, fragments) -> None:
    exp = Experiment(
        name="bad-context",
        parameters=[Float("temperature", 10.0, 40.0), Float("x", 0.0, 1.0)],
        objectives=[Objective("f")],
    )
    opt = open_optimizer(exp)
    with pytest.raises(InvalidSpaceError) as info:
        opt.suggest(1, fixed=fixed)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert opt.all_trials() == []


# ----------------------------------------------------------------- stopping rules
def test_target_value_stops_and_the_stop_is_stored(open_optimizer, db_url) -> None:
    exp = Experiment(
        name="target",
        parameters=XY,
        objectives=[Objective("f")],
        stopping=[TargetValue(0.25)],
        initial_trials=3,
    )
    opt = open_optimizer(exp)
    n = 0
    while opt.should_stop() is None:
        n += 1
        assert n < 30, "the target should be reached"
        (t,) = opt.suggest(1)
        opt.observe(t, {"f": t.params["x"] + t.params["y"]})
    record = Optimizer(exp, storage=db_url).stop_record()
    assert record is not None and record["rule"] == "target"
    assert "target reached" in record["reason"] and record["n_finished"] == n
    assert opt.best().values["f"] <= 0.25  # type: ignore[index]


def test_no_improvement_stops_a_flat_run(open_optimizer) -> None:
    exp = Experiment(
        name="flat",
        parameters=XY,
        objectives=[Objective("f")],
        stopping=[NoImprovement(trials=4, tolerance=1e-9)],
        initial_trials=3,
    )
    opt = open_optimizer(exp)
    stops = []
    for _ in range(8):
        stops.append(opt.should_stop())
        (t,) = opt.suggest(1)
        opt.observe(t, {"f": 1.0})
    # The 3 design trials do not count: the window starts at the best value after them.
    assert stops[:7] == [None] * 7
    assert stops[7] is not None and stops[7].rule == "no_improvement"
    assert "over the last 4 completed trials" in stops[7].reason


def test_low_expected_improvement_reads_the_decisions(open_optimizer) -> None:
    exp = Experiment(
        name="converged",
        parameters=[Float("x", 0.0, 1.0)],
        objectives=[Objective("f")],
        stopping=[LowExpectedImprovement(threshold=0.5, trials=2)],
        initial_trials=4,
    )
    opt = open_optimizer(exp)
    run(opt, lambda p: {"f": (p["x"] - 0.5) ** 2}, 8)
    rel = opt.progress().ei_rel
    assert len(rel) == 4 and all(r >= 0 for r in rel)
    assert [t.metadata.get("ei_rel") for t in opt.all_trials()[4:]] == rel
    stop = opt.should_stop()
    assert stop is not None and stop.rule == "low_expected_improvement"
    assert stop.details["ei_rel"] == rel[-1]


def test_no_improvement_follows_the_hypervolume(open_optimizer) -> None:
    exp = Experiment(
        name="mo-stop",
        parameters=XY,
        objectives=[Objective("f0"), Objective("f1")],
        stopping=[NoImprovement(trials=3)],
        initial_trials=3,
    )
    opt = open_optimizer(exp)
    for _ in range(5):
        (t,) = opt.suggest(1)
        opt.observe(t, {"f0": 1.0, "f1": 1.0})
    assert opt.should_stop() is None  # 3 design trials + 2: the window is not full yet
    (t,) = opt.suggest(1)
    opt.observe(t, {"f0": 1.0, "f1": 1.0})
    stop = opt.should_stop()
    assert stop is not None and "hypervolume" in stop.reason


# ---------------------------------------------------------------- imported history
def test_an_exported_campaign_imports_into_a_fresh_store(open_optimizer, tmp_path) -> None:
    exp = Experiment(
        name="export",
        parameters=XY,
        objectives=[Objective("f")],
        constraints=["c <= 0.5"],
        initial_trials=3,
    )
    first = open_optimizer(exp)
    for _ in range(4):
        (t,) = first.suggest(1)
        first.observe(t, {"f": (t.params["x"], 0.02), "c": t.params["y"]})
    path = tmp_path / "trials.csv"
    first.trials().to_csv(path, index=False)
    fresh = open_optimizer(exp, storage=f"sqlite:///{tmp_path / 'fresh.db'}")
    imported = fresh.import_trials(path)
    assert [t.values for t in imported] == [t.values for t in first.all_trials()]
    assert all(t.sems == {"f": 0.02} for t in imported)
    assert fresh.best().id == first.best().id

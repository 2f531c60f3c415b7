"""Cheap fidelities: the Fidelity parameter, the cost model, cost-aware decisions, and
results that count at the target fidelity only (real SQLite store, real MLflow store)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from bayesopt import (
    Experiment,
    Fidelity,
    Float,
    InvalidExperimentError,
    InvalidSpaceError,
    Objective,
    Space,
    Trial,
    TrialStateError,
    TrialStatus,
)
from bayesopt.fidelity import (
    AffineCost,
    MultiFidelityGP,
    choose_fidelity,
    cost_model,
    default_cost,
    measured_cost,
)


def cheap_cost(s: float) -> float:
    """A low fidelity that costs a tenth of the target."""
    return 0.1 + 0.9 * s


def shifted_quad(x: float, y: float, s: float) -> float:
    """A quadratic whose cheap fidelities are biased but keep the shape."""
    return (x - 0.3) ** 2 + (y - 0.6) ** 2 + 0.3 * (1.0 - s) * (1.0 + x)


def fidelity_experiment(**overrides: object) -> Experiment:
    settings: dict[str, object] = {
        "name": "mf",
        "parameters": [Float("x", 0.0, 1.0), Float("y", 0.0, 1.0), Fidelity("s", 0.0, 1.0)],
        "objectives": [Objective("f")],
        "initial_trials": 5,
        "cost": cheap_cost,
        "cv_folds": 0,
    }
    settings.update(overrides)
    return Experiment(**settings)  # type: ignore[arg-type]


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"low": 1.0, "high": 1.0}, "low=1.0 must be below high=1.0"),
        ({"low": 0.0, "high": 1.0, "target": 2.0}, r"target=2.0 is outside \[0.0, 1.0\]"),
        ({"low": 0.0, "high": 1.0, "target": "max"}, "target='max' is not a finite number"),
        ({"low": 0.0, "high": 1.0, "target": math.nan}, "target=nan is not a finite number"),
        ({"low": 1, "high": 10, "target": 2.5, "integer": True}, "target=2.5 is not an integer"),
        ({"low": 0.5, "high": 10, "integer": True}, "low=0.5 is not an integer"),
        ({"low": 0.0, "high": 1.0, "log": True}, "log=True needs low > 0"),
    ],
)
def test_fidelity_refuses_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidSpaceError, match=message) as info:
        Fidelity("s", **kwargs)
    assert "fidelity 's'" in str(info.value) or "parameter 's'" in str(info.value)


def test_fidelity_target_defaults_to_high_and_encodes_like_a_number() -> None:
    epochs = Fidelity("epochs", 1, 100, integer=True)
    assert epochs.target == 100 and epochs.target_unit == 1.0
    assert Fidelity("frac", 0.1, 1.0, target=0.5, log=True).target == 0.5
    space = Space([Float("lr", 1e-4, 1e-1, log=True), epochs])
    assert space.fidelity is epochs
    assert space.fidelity_column == 1 and space.fidelity_target == 1.0
    assert space.discrete_dims == {1: epochs.grid()}
    assert space.decode(space.encode({"lr": 0.01, "epochs": 37}))["epochs"] == 37
    assert space.describe()["parameters"]["epochs"] == {
        "type": "fidelity",
        "low": 1,
        "high": 100,
        "target": 100,
        "log": False,
        "integer": True,
    }
    # The target decodes exactly, also on a log scale, so that best() finds it.
    frac = Fidelity("frac", 0.1, 1.0, target=0.3, log=True)
    assert frac.from_unit(frac.target_unit) == 0.3
    assert Space([Float("x", 0.0, 1.0)]).fidelity_column is None


def test_space_refuses_two_fidelities_a_lone_fidelity_and_constraints_on_it() -> None:
    with pytest.raises(InvalidSpaceError, match=r"2 Fidelity parameters \['a', 'b'\]"):
        Space([Float("x", 0.0, 1.0), Fidelity("a", 0.0, 1.0), Fidelity("b", 0.0, 1.0)])
    with pytest.raises(InvalidSpaceError, match="only the Fidelity 's' is searched"):
        Space([Fidelity("s", 0.0, 1.0)])
    with pytest.raises(InvalidSpaceError, match="'s' is the Fidelity"):
        Experiment(
            name="c",
            parameters=[Float("x", 0.0, 1.0), Fidelity("s", 0.0, 1.0)],
            objectives=[Objective("f")],
            constraints=["x + s <= 1"],
        )
    space = Space([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0), Fidelity("s", 0.0, 1.0)])
    with pytest.raises(InvalidSpaceError, match="'s' is the Fidelity, which the strategy chooses"):
        space.fixed_columns({"s": 0.5})


def test_experiment_refuses_a_cost_it_cannot_use() -> None:
    plain = [Float("x", 0.0, 1.0)]
    with pytest.raises(InvalidExperimentError, match=r"cost: got .* no Fidelity parameter"):
        Experiment(name="e", parameters=plain, objectives=[Objective("f")], cost=cheap_cost)
    with pytest.raises(InvalidExperimentError, match=r"cost: got 'timed'; valid: a function"):
        fidelity_experiment(cost="timed")
    with pytest.raises(InvalidExperimentError, match=r"cost: calling it at s=0.0 failed .*> 0"):
        fidelity_experiment(cost=lambda s: s)
    with pytest.raises(InvalidExperimentError, match=r"cost: calling it at s=0.0 .*ZeroDivision"):
        fidelity_experiment(cost=lambda s: 1 / s)
    with pytest.raises(InvalidExperimentError, match=r"default cost .* needs a fidelity >= 0"):
        fidelity_experiment(parameters=[Float("x", 0.0, 1.0), Fidelity("s", -1.0, 1.0)], cost=None)
    with pytest.raises(InvalidExperimentError, match="surrogate: got 'saas', but the Fidelity"):
        fidelity_experiment(surrogate="saas")
    with pytest.raises(InvalidExperimentError, match=r"goal: got 'learn'.* a Fidelity parameter"):
        fidelity_experiment(goal="learn")


# ------------------------------------------------------------------ cost model
def test_default_cost_is_affine_with_a_fifth_fixed() -> None:
    cost = default_cost(Fidelity("epochs", 0, 100, integer=True))
    assert cost(100) == pytest.approx(125.0)
    assert cost(0) == pytest.approx(cost(100) / 5)
    exp = fidelity_experiment(cost=None)
    assert cost_model(exp)(1.0) == pytest.approx(1.25)
    assert exp.settings()["cost"] == "default: 0.25 + s"
    assert exp.settings()["fidelity"] == "s in [0, 1], target 1"


def _timed(i: int, s: float, seconds: float) -> Trial:
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=i)
    return Trial(
        id=i,
        params={"x": 0.5, "s": s},
        status=TrialStatus.COMPLETED,
        values={"f": 0.0},
        created_at=start - timedelta(seconds=5),
        started_at=start,
        finished_at=start + timedelta(seconds=seconds),
    )


def test_measured_cost_fits_seconds_against_fidelity() -> None:
    fidelity = Fidelity("s", 0.0, 1.0)
    assert measured_cost(fidelity, []).weight == 0.0  # nothing timed: all fidelities equal
    trials = [_timed(i, s, 2.0 + 10.0 * s) for i, s in enumerate([0.0, 0.25, 0.5, 1.0])]
    attached = Trial(id=9, params={"x": 0.1, "s": 0.1}, status=TrialStatus.COMPLETED)
    cost = measured_cost(fidelity, [*trials, attached])
    assert isinstance(cost, AffineCost) and cost.source == "measured: 4 trials"
    assert cost(0.0) == pytest.approx(2.0) and cost(1.0) == pytest.approx(12.0)
    # A slope that comes out negative (noise) is taken as flat, never as a cheaper target.
    noisy = [_timed(0, 0.0, 5.0), _timed(1, 1.0, 4.0)]
    assert measured_cost(fidelity, noisy)(0.0) == measured_cost(fidelity, noisy)(1.0)


# --------------------------------------------------------------------- a run
def test_short_run_goes_cheap_and_best_counts_only_the_target(open_optimizer) -> None:
    exp = fidelity_experiment()
    opt = open_optimizer(exp)
    for _ in range(exp.n_initial):
        (trial,) = opt.suggest()
        opt.observe(trial, shifted_quad(**trial.params))
    # The design spreads over fidelities; none is at the target, so nothing counts yet.
    with pytest.raises(TrialStateError, match=r"none of the 5 completed .* target fidelity s=1"):
        opt.best()
    # A target-fidelity trial counts even though cheaper ones look better.
    target_trial = opt.attach({"x": 0.9, "y": 0.1, "s": 1.0}, 5.0)
    assert opt.best().id == target_trial.id
    assert target_trial.metadata["cost"] == pytest.approx(1.0)
    # With the optimum known at the target, no point is expected to beat it there, so
    # each fidelity is chosen by variance reduction per cost.
    optimum = opt.attach({"x": 0.3, "y": 0.6, "s": 1.0}, 0.0)

    made = []
    for _ in range(5):
        (trial,) = opt.suggest()
        made.append(trial)
        opt.observe(trial, shifted_quad(**trial.params))
    assert all(t.generator == "gp+qLogNEI+fidelity" for t in made)
    fidelities = [t.params["s"] for t in made]
    assert min(fidelities) < 1.0, f"a cheap fidelity is worth trying: {fidelities}"
    for t in opt.all_trials():
        assert t.metadata["cost"] == pytest.approx(cheap_cost(t.params["s"]))
    meta = next(t.metadata for t in made if t.params["s"] < 1.0)
    assert meta["fidelity_rule"] == "variance reduction per cost"
    assert 0.0 <= meta["fidelity_information"] <= 1.0
    assert meta["fidelity_cost_share"] == pytest.approx(
        cheap_cost(next(t.params["s"] for t in made if t.params["s"] < 1.0))
    )

    best = opt.best()
    assert best.params["s"] == 1.0 and best.id == optimum.id
    at_target = [t for t in opt.all_trials() if t.params["s"] == 1.0]
    assert best.values["f"] == min(t.values["f"] for t in at_target if t.values)

    df = opt.trials()
    assert df["at_target"].tolist() == [t.params["s"] == 1.0 for t in opt.all_trials()]
    assert np.allclose(df["evaluation_cost"], [cheap_cost(s) for s in df["s"]])
    progress = opt.progress()  # what the stopping rules see: the best at the target
    assert progress.best[-1] == best.values["f"]

    # Predictions are made at the target fidelity unless another is given.
    pred = opt.predict([{"x": 0.3, "y": 0.6}, {"x": 0.3, "y": 0.6, "s": 0.0}])
    assert pred["s"].tolist() == [1.0, 0.0]
    assert pred["f_lower"].iloc[0] <= pred["f_mean"].iloc[0] <= pred["f_upper"].iloc[0]
    fitted = opt.fitted()
    assert type(fitted.model).__name__ == "SingleTaskMultiFidelityGP"


def test_an_export_of_a_fidelity_run_imports_into_another_store(open_optimizer, tmp_path) -> None:
    exp = fidelity_experiment()
    opt = open_optimizer(exp)
    for point in ({"x": 0.1, "y": 0.2, "s": 0.0}, {"x": 0.4, "y": 0.5, "s": 1.0}):
        opt.attach(point, shifted_quad(**point))
    other = open_optimizer(exp, storage=f"sqlite:///{tmp_path / 'other.db'}")
    table = opt.trials().drop(columns=["step"], errors="ignore")  # another change's column
    imported = other.import_trials(table)  # with its at_target and evaluation_cost columns
    assert [t.params for t in imported] == [t.params for t in opt.all_trials()]
    assert other.best().params == {"x": 0.4, "y": 0.5, "s": 1.0}


def test_multi_fidelity_gp_models_the_fidelity_column() -> None:
    import torch

    from bayesopt.device import DTYPE
    from surrogates import FitSpec

    X = torch.rand(12, 3, dtype=DTYPE, generator=torch.Generator().manual_seed(0))
    Y = (X[:, :1] - 0.3).pow(2) + 0.2 * (1 - X[:, 2:])
    spec = FitSpec(bounds=torch.stack([torch.zeros(3), torch.ones(3)]).to(DTYPE))
    model = MultiFidelityGP(fidelity_column=2).fit(X, Y, spec)
    assert type(model).__name__ == "SingleTaskMultiFidelityGP"
    assert model.posterior(X[:2]).mean.shape == (2, 1)


def test_a_point_expected_to_beat_the_best_at_the_target_is_evaluated_there() -> None:
    import torch

    from bayesopt.device import DTYPE
    from surrogates import FitSpec

    space = fidelity_experiment().space
    X = torch.rand(12, 3, dtype=DTYPE, generator=torch.Generator().manual_seed(1))
    Y = -torch.tensor([shifted_quad(*map(float, row)) for row in X], dtype=DTYPE).unsqueeze(-1)
    spec = FitSpec(bounds=torch.stack([torch.zeros(3), torch.ones(3)]).to(DTYPE))
    model = MultiFidelityGP(fidelity_column=2).fit(X, Y, spec)
    x = torch.tensor([0.3, 0.6, 0.0], dtype=DTYPE)
    first = choose_fidelity([model], x, space, cheap_cost, incumbent=None)
    assert (first.value, first.reason) == (1.0, "no trial at the target yet")
    better = choose_fidelity([model], x, space, cheap_cost, incumbent=-10.0)
    assert (better.value, better.reason) == (1.0, "beats the best")
    cheap = choose_fidelity([model], x, space, cheap_cost, incumbent=10.0)
    assert cheap.reason == "variance reduction per cost"
    assert cheap.value < 1.0 and cheap.information > cheap.cost_share  # worth its cost
    assert cheap.cost == pytest.approx(cheap_cost(cheap.value))


# ---------------------------------------------------------------------- MLflow
def test_mlflow_params_and_metrics_of_a_fidelity_run(open_optimizer, tmp_path: Path) -> None:
    from flows.tracking import RunTracker

    exp = fidelity_experiment(initial_trials=4)
    opt = open_optimizer(exp)
    tracker = RunTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", exp)
    tracker.start("mf-run", params=exp.settings(), tags={})
    low = opt.attach({"x": 0.3, "y": 0.6, "s": 0.0}, -1.0)  # looks best, but not at target
    tracker.record(low)
    for _ in range(exp.n_initial + 1):
        (trial,) = opt.suggest()
        done = opt.observe(trial, shifted_quad(**trial.params))
        tracker.record(done)
    high = opt.attach({"x": 0.5, "y": 0.5, "s": 1.0}, shifted_quad(0.5, 0.5, 1.0))
    tracker.record(high)
    tracker.finish(opt)

    client = MlflowClient(tracker.tracking_uri)
    run = client.get_run(tracker.run_id or "")
    assert run.data.params["fidelity"] == "s in [0, 1], target 1"
    assert run.data.params["cost"].endswith("cheap_cost")
    costs = client.get_metric_history(run.info.run_id, "cost")
    assert len(costs) == len(opt.all_trials())
    best_curve = sorted(client.get_metric_history(run.info.run_id, "best_f"), key=lambda m: m.step)
    at_target = {t.id for t in opt.all_trials() if t.params["s"] == 1.0}
    # The best so far starts at the first target trial: `low` never counts.
    assert high.id in at_target and best_curve[0].step == min(at_target)
    assert best_curve[-1].value == opt.best().values["f"]
    best = opt.best()
    assert best.id in at_target and best.id != low.id
    assert run.data.tags["best_trial"] == str(best.id)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"trials.csv", "convergence.png", "surrogate"} <= artifacts
    assert "surrogate.error" not in run.data.tags

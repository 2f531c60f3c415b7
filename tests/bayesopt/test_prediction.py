"""Optimizer.predict and the fits behind it: units, signs, validation, and which surrogate."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import pandas as pd
import pytest

from bayesopt import (
    Choice,
    Experiment,
    Float,
    InvalidExperimentError,
    InvalidSpaceError,
    Objective,
    Optimizer,
    TrialStateError,
)


def quadratic(x: float, kind: str = "a") -> float:
    return 10.0 * (x - 0.3) ** 2 + (0.0 if kind == "a" else 1.0)


def experiment(minimize: bool = True, **kw) -> Experiment:
    return Experiment(
        name="predict",
        parameters=[Float("x", 0.0, 1.0), Choice("kind", ["a", "b"])],
        objectives=[Objective("y", minimize=minimize)],
        initial_trials=6,
        **kw,
    )


def run(opt: Optimizer, n: int, sign: float = 1.0) -> None:
    for _ in range(n):
        (t,) = opt.suggest(1)
        opt.observe(t, {"y": sign * quadratic(**t.params)})


@pytest.mark.parametrize("minimize", [True, False])
def test_predictions_are_in_the_objectives_units(minimize: bool) -> None:
    sign = 1.0 if minimize else -1.0
    opt = Optimizer(experiment(minimize=minimize), seed=0)
    run(opt, 10, sign)
    points = [{"x": 0.3, "kind": "a"}, {"x": 1.0, "kind": "b"}]
    df = opt.predict(points)
    assert list(df.columns) == ["x", "kind", "y_mean", "y_lower", "y_upper"]
    assert df[["x", "kind"]].to_dict("records") == points
    truth = [sign * quadratic(**p) for p in points]
    for row in df.itertuples():
        assert row.y_lower < row.y_mean < row.y_upper
    # near the data, accurate; at the far corner (the worst value anywhere, beyond every
    # observation), the deciding model's warp compresses the bad tail, so only its side
    assert abs(df["y_mean"][0] - truth[0]) < 1.5, (df, truth)
    assert abs(df["y_mean"][1]) > 3.0 and math.copysign(1.0, df["y_mean"][1]) == sign
    # The model was fitted on sign-flipped values when maximizing: the order must survive.
    assert (df["y_mean"][0] < df["y_mean"][1]) == minimize


def test_predict_accepts_a_dataframe_and_one_dict() -> None:
    opt = Optimizer(experiment(), seed=1)
    run(opt, 8)
    one = opt.predict({"x": 0.5, "kind": "a"})
    frame = opt.predict(pd.DataFrame({"x": [0.5], "kind": ["a"], "note": ["ignored"]}))
    pd.testing.assert_frame_equal(one, frame)
    assert len(one) == 1


def test_predict_refuses_bad_points_naming_the_field() -> None:
    opt = Optimizer(experiment(), seed=2)
    run(opt, 7)
    with pytest.raises(InvalidSpaceError, match=r"parameter 'x'.*1.5"):
        opt.predict({"x": 1.5, "kind": "a"})
    with pytest.raises(InvalidSpaceError, match="missing parameter 'kind'"):
        opt.predict({"x": 0.5})
    with pytest.raises(InvalidSpaceError, match="points: got no points"):
        opt.predict([])
    with pytest.raises(InvalidSpaceError, match="points: got 'x'"):
        opt.predict("x")  # type: ignore[arg-type]


def test_predict_needs_two_completed_trials() -> None:
    opt = Optimizer(experiment(), seed=3)
    with pytest.raises(TrialStateError, match="0 completed trial"):
        opt.predict({"x": 0.5, "kind": "a"})


def test_the_fit_of_the_last_decision_is_reused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    opt = Optimizer(experiment(), storage=url, seed=4)
    run(opt, 8)
    (t,) = opt.suggest(1)  # a model step on the 8 completed trials
    assert t.generator == "gp+qLogNEI"
    decided = opt.strategy.last_fit
    assert decided is not None and decided.n_train == 8
    assert opt.fitted() is decided
    before = opt.predict({"x": 0.2, "kind": "b"})
    # A new process sees only the store: it refits the same surrogate, seeded, to the
    # same trials, and predicts the same.
    again = Optimizer(experiment(), storage=url, seed=4)
    assert again.strategy.last_fit is None
    # (rtol: the refit starts from the stored, converged state; L-BFGS stops within 1e-5)
    pd.testing.assert_frame_equal(again.predict({"x": 0.2, "kind": "b"}), before, rtol=1e-4)
    # Once more trials complete, the fit is made again on all of them.
    opt.observe(t, {"y": quadratic(**t.params)})
    assert opt.fitted().n_train == 9


def test_each_decision_records_its_surrogate_and_held_out_scores() -> None:
    opt = Optimizer(experiment(), seed=5)
    run(opt, 9)
    model_trials = [t for t in opt.all_trials() if t.generator != "sobol"]
    assert len(model_trials) == 3
    for t in model_trials:
        meta = t.metadata
        assert meta["surrogate"] == "gp" and meta["cv_method"] == "loo"
        assert meta["n_train"] == t.id
        for key in ("cv_rmse", "cv_nlpd", "cv_picp", "cv_mpiw", "fit_seconds"):
            assert math.isfinite(meta[key]), key
        assert 0.0 <= meta["cv_picp"] <= 1.0


def test_auto_records_its_choice_and_predict_uses_it(tmp_path: Path) -> None:
    exp = experiment(surrogate="auto", surrogate_options={"candidates": ["gp"], "folds": 3})
    url = f"sqlite:///{tmp_path / 's.db'}"
    opt = Optimizer(exp, storage=url, seed=6)
    run(opt, 8)
    last = opt.all_trials()[-1]
    assert last.generator == "auto:gp+qLogNEI"
    assert (
        last.metadata["auto_choice"] == "gp"
        and "lowest 3-fold NLPD" in last.metadata["auto_reason"]
    )
    assert last.metadata["cv_method"] == "3-fold"
    # A fresh optimizer fits the surrogate that auto chose, not auto again.
    fitted = Optimizer(exp, storage=url, seed=6).fitted()
    assert fitted.surrogate == "gp"


def test_the_fitted_surrogate_pickles() -> None:
    opt = Optimizer(experiment(), seed=7)
    run(opt, 8)
    fitted = opt.fitted()
    copy = pickle.loads(pickle.dumps(fitted))
    point = {"x": 0.4, "kind": "a"}
    pd.testing.assert_frame_equal(copy.predict(point), fitted.predict(point))


def test_surrogate_options_are_checked_when_the_experiment_is_built() -> None:
    with pytest.raises(
        InvalidExperimentError, match=r"\['depth'\] are not options of surrogate 'gp'"
    ):
        experiment(surrogate_options={"depth": 3})
    with pytest.raises(InvalidExperimentError, match="valid options are"):
        experiment(surrogate="auto", surrogate_options={"nope": 1})
    with pytest.raises(InvalidExperimentError, match="surrogate_options: got 3"):
        experiment(surrogate_options=3)
    with pytest.raises(InvalidExperimentError, match="cv_folds: got 1"):
        experiment(cv_folds=1)
    exp = experiment(surrogate_options={"max_attempts": 2}, cv_folds=0)
    assert exp.settings()["surrogate.max_attempts"] == 2 and exp.settings()["cv_folds"] == 0


def well(x: float, z: float) -> float:
    """A flat plateau at 1000 with one deep, narrow well: heavy-tailed values."""
    return 1000.0 - 300.0 * math.exp(-30.0 * ((x - 0.3) ** 2 + (z - 0.6) ** 2))


def test_decisions_use_warped_outcomes_and_everything_recorded_is_in_their_units() -> None:
    exp = Experiment(
        name="warped",
        parameters=[Float("x", 0.0, 1.0), Float("z", 0.0, 1.0)],
        objectives=[Objective("y")],
        initial_trials=6,
    )
    opt = Optimizer(exp, seed=0)
    for _ in range(12):
        (t,) = opt.suggest(1)
        opt.observe(t, {"y": well(**t.params)})
    decided = [t for t in opt.all_trials() if t.metadata.get("step") == "bo"]
    assert decided and all(t.metadata["warp"] in (0, 1) for t in decided)
    assert "warp_loo_gain" in decided[0].metadata  # chosen at the first fit
    assert any(t.metadata["warp"] for t in decided)  # one deep well: warped
    for t in decided:  # what the deciding model expected, in the objective's units
        assert 500.0 < t.metadata["pred_mean"] < 1200.0, t.metadata
        assert t.metadata["pred_sd"] > 0
    done = [t for t in opt.all_trials() if t.values]
    df = opt.predict([t.params for t in done])
    observed = [t.values["y"] for t in done]
    assert max(abs(a - b) for a, b in zip(df["y_mean"], observed, strict=True)) < 10.0


@pytest.mark.parametrize(
    "kw",
    [
        {"objectives": [Objective("y"), Objective("y2", minimize=False)]},
        {"objectives": [Objective("y")], "goal": "learn"},
        {"objectives": [Objective("y")], "surrogate_options": {"warp": False}},
    ],
    ids=["several objectives", "learning", "turned off"],
)
def test_no_warp_where_the_values_themselves_matter(kw: dict) -> None:
    exp = Experiment(
        name="unwarped",
        parameters=[Float("x", 0.0, 1.0), Float("z", 0.0, 1.0)],
        initial_trials=6,
        **kw,
    )
    opt = Optimizer(exp, seed=0)
    for _ in range(8):
        (t,) = opt.suggest(1)
        y = well(**t.params)
        opt.observe(t, {"y": y, "y2": -y + 5.0 * t.params["x"]})
    decided = [t for t in opt.all_trials() if t.metadata.get("step") not in (None, "sobol")]
    assert decided and not any("warp" in t.metadata for t in decided)

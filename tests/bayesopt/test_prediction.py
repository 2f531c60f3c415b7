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
    for row, y in zip(df.itertuples(), truth, strict=True):
        assert row.y_lower < row.y_mean < row.y_upper
        assert abs(row.y_mean - y) < 1.5, (row, y)
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
    pd.testing.assert_frame_equal(again.predict({"x": 0.2, "kind": "b"}), before, rtol=1e-6)
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

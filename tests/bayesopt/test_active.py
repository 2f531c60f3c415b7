"""Active learning: goal "learn" and level goals, their acquisitions, scores and rule."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance
from mlflow.tracking import MlflowClient

from bayesopt import (
    Choice,
    Experiment,
    Float,
    Int,
    InvalidExperimentError,
    InvalidImportError,
    LowExpectedImprovement,
    LowIntegratedVariance,
    Objective,
    TrialStateError,
)
from bayesopt.active import (
    holdout_scores,
    integrated_variance,
    integrated_variance_acquisition,
    level_region,
    qLevelSetVariance,
    sobol_points,
)
from bayesopt.device import DTYPE
from bayesopt.stopping import Progress
from surrogates import FitSpec
from surrogates.gp import ExactGP


def wave(x: float) -> float:
    return math.sin(6.0 * x) + 0.5 * x


def plane(x1: float, x2: float) -> float:
    return x1 + x2


def square(**kw: object) -> Experiment:
    settings: dict = {
        "name": "learn2d",
        "parameters": [Float("x1", 0.0, 1.0), Float("x2", 0.0, 1.0)],
        "objectives": [Objective("f")],
        "initial_trials": 4,
        "goal": "learn",
    }
    settings.update(kw)
    return Experiment(**settings)


def line(**kw: object) -> Experiment:
    settings: dict = {
        "name": "learn1d",
        "parameters": [Float("x", 0.0, 1.0)],
        "objectives": [Objective("y")],
        "initial_trials": 3,
        "goal": "learn",
    }
    settings.update(kw)
    return Experiment(**settings)


def fitted_gp(n: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, object]:
    X = torch.as_tensor(sobol_points(2, n, seed), dtype=DTYPE)
    Y = (X[:, :1] + X[:, 1:]).sin()
    spec = FitSpec(bounds=torch.stack([torch.zeros(2), torch.ones(2)]).to(DTYPE))
    return X, Y, ExactGP().fit(X, Y, spec)


# ------------------------------------------------------------- acquisitions
def test_closed_form_matches_botorch_qnipv_with_pending_points() -> None:
    _, _, model = fitted_gp()
    mc = torch.as_tensor(sobol_points(2, 128, 1), dtype=DTYPE)
    pending = torch.tensor([[0.2, 0.9], [0.6, 0.1]], dtype=DTYPE)
    ours = integrated_variance_acquisition(model, 2, mc_points=mc, X_pending=pending)
    theirs = qNegIntegratedPosteriorVariance(model, mc, X_pending=pending)
    X = torch.rand(4, 3, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ours(X), theirs(X), rtol=1e-8, atol=1e-10)
    # Observing more can only lower the integrated variance.
    assert float(ours(X).detach().max()) >= -float(ours.current())
    assert integrated_variance(model, mc) == pytest.approx(float(ours.current()), rel=1e-6)


def test_level_acquisition_prefers_the_contour_and_is_sign_symmetric() -> None:
    X, Y, model = fitted_gp(12)
    mc = torch.as_tensor(sobol_points(2, 256, 2), dtype=DTYPE)
    level = float(Y.median())
    acqf = qLevelSetVariance(model, mc, level)
    near = torch.tensor([[[0.5, 0.5]]], dtype=DTYPE)  # sin(x1 + x2) crosses its median there
    far = torch.tensor([[[0.0, 0.0]]], dtype=DTYPE)
    assert float(acqf(near).detach()) > float(acqf(far).detach())
    # A model of -f with the level of -f gives the same weights (the sign is handled).
    spec = FitSpec(bounds=torch.stack([torch.zeros(2), torch.ones(2)]).to(DTYPE), signs=(-1.0,))
    negated = ExactGP().fit(X, -Y, spec)
    flipped = qLevelSetVariance(negated, mc, level, sign=-1.0)
    assert float(flipped(near).detach()) == pytest.approx(float(acqf(near).detach()), rel=1e-3)
    estimate = level_region(negated, mc, level, sign=-1.0)
    assert estimate.share == pytest.approx(level_region(model, mc, level).share, abs=0.02)


def test_holdout_scores_rmse_nlpd_and_coverage() -> None:
    def predict(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return X[:, 0], np.full(len(X), 0.5)

    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    scores = holdout_scores(predict, X, np.array([0.0, 1.0, 2.0, 5.0]))
    assert scores["rmse"] == pytest.approx(1.0)
    assert scores["picp"] == pytest.approx(0.75)  # |5 - 3| > 1.96 * 0.5
    expected = np.mean(0.5 * np.log(2 * np.pi * 0.25) + 0.5 * (np.array([0, 0, 0, 2]) / 0.5) ** 2)
    assert scores["nlpd"] == pytest.approx(expected)


# ---------------------------------------------------------------- learning
def test_learn_spreads_its_points_and_lowers_the_integrated_variance(open_optimizer) -> None:
    opt = open_optimizer(square())
    for _ in range(10):
        (trial,) = opt.suggest()
        opt.observe(trial, plane(**trial.params) ** 2)
    trials = opt.all_trials()
    learned = [t for t in trials if t.generator == "gp+variation"]
    assert len(learned) == 6
    ivs = [t.metadata["integrated_variance"] for t in learned]
    assert ivs[-1] < ivs[0]
    assert all(0 < t.metadata["iv_rel"] < 1 for t in learned)
    points = np.array([[t.params["x1"], t.params["x2"]] for t in trials])
    for i in range(4, len(points)):  # each new point keeps away from the ones before it
        gap = np.linalg.norm(points[:i] - points[i], axis=1).min()
        assert gap > 0.1, (i, gap)
    assert opt.progress().iv_rel == [t.metadata["iv_rel"] for t in learned]


def test_learn_on_a_curve_lowers_the_holdout_rmse(open_optimizer) -> None:
    grid = np.linspace(0.0, 1.0, 41)
    test = pd.DataFrame({"x": grid, "y": [wave(x) for x in grid]})
    opt = open_optimizer(line(holdout=test))
    assert opt.test_set is not None and len(opt.test_set) == 41
    for _ in range(10):
        (trial,) = opt.suggest()
        opt.observe(trial, wave(trial.params["x"]))
    scored = [t for t in opt.all_trials() if "holdout_rmse" in t.metadata]
    assert len(scored) == 7
    first, last = scored[0].metadata["holdout_rmse"], opt.holdout_scores()["rmse"]
    assert last < 0.5 * first, (first, last)
    assert last < 0.05
    scores = opt.holdout_scores()
    assert set(scores) == {"rmse", "nlpd", "picp", "n"} and scores["n"] == 41
    assert 0.0 <= scores["picp"] <= 1.0


def test_level_goal_finds_the_region_share(open_optimizer) -> None:
    exp = square(name="level2d", goal=("level", "f", 1.0), initial_trials=5)
    assert exp.acquisition == "level"
    opt = open_optimizer(exp)
    for _ in range(15):
        (trial,) = opt.suggest()
        opt.observe(trial, plane(**trial.params))
    decided = [t for t in opt.all_trials() if t.generator == "gp+level"]
    assert len(decided) == 10 and all("misclassified" in t.metadata for t in decided)
    assert decided[-1].metadata["misclassified"] < decided[0].metadata["misclassified"]
    region, share = opt.level_region(n=512)
    assert share == pytest.approx(0.5, abs=0.15)
    assert list(region.columns) == ["x1", "x2", "probability", "inside"]
    truth = region["x1"] + region["x2"] >= 1.0
    assert (region["inside"] == truth).mean() > 0.9
    assert region.attrs["outcome"] == "f" and region.attrs["level"] == 1.0
    # The chosen points straddle the line x1 + x2 = 1.
    sums = [plane(**t.params) for t in decided]
    assert np.median(np.abs(np.array(sums) - 1.0)) < 0.3


def test_a_maximized_level_outcome_is_signed_right(open_optimizer) -> None:
    exp = square(
        name="level-max",
        objectives=[Objective("f", minimize=False)],
        goal=["level", "f", 1.0],
        initial_trials=8,
    )
    opt = open_optimizer(exp)
    for _ in range(9):
        (trial,) = opt.suggest()
        opt.observe(trial, plane(**trial.params))
    region, share = opt.level_region(n=256)
    inside = region[region["inside"]]
    assert share == pytest.approx(0.5, abs=0.2)
    assert (inside["x1"] + inside["x2"]).mean() > 1.0  # the region is where f >= 1


def test_a_batch_spreads_and_pending_points_count(open_optimizer) -> None:
    exp = square(name="batch", batch_size=3)
    opt = open_optimizer(exp)
    for trial in opt.suggest(4):
        opt.observe(trial, plane(**trial.params))
    batch = opt.suggest(3)
    assert [t.generator for t in batch] == ["gp+variation"] * 3
    pts = np.array([[t.params["x1"], t.params["x2"]] for t in batch])
    gaps = [np.linalg.norm(pts[i] - pts[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 0.1, gaps
    (after,) = opt.suggest(1)  # the batch is still pending: it is not proposed again
    assert after.metadata["n_pending"] == 3
    gap = np.linalg.norm(pts - np.array([after.params["x1"], after.params["x2"]]), axis=1)
    assert gap.min() > 0.1


def test_learn_in_a_mixed_constrained_space_with_two_objectives(open_optimizer) -> None:
    exp = Experiment(
        name="mixed",
        parameters=[Float("x", 0.0, 1.0), Int("k", 1, 4), Choice("c", ["a", "b"])],
        objectives=[Objective("f"), Objective("g", minimize=False)],
        constraints=["x + k <= 4"],
        initial_trials=5,
        goal="learn",
    )
    opt = open_optimizer(exp)
    for trial in opt.suggest(5):
        p = trial.params
        opt.observe(trial, {"f": p["x"] * p["k"], "g": (p["c"] == "a") + p["x"] ** 2})
    batch = opt.suggest(2)
    assert [t.generator for t in batch] == ["gp+variation"] * 2
    for t in batch:
        assert t.params["x"] + t.params["k"] <= 4 + 1e-9
        assert {"integrated_variance", "integrated_variance.g", "iv_rel"} <= set(t.metadata)
    assert batch[0].params != batch[1].params


def test_variation_weights_favour_where_the_response_varies(open_optimizer) -> None:
    """Flat on the left half, steep on the right: the weights of the "variation"
    acquisition are larger on the right, and at least 1 everywhere; the plain qNIPV
    (uniform weights) places its points by position only."""
    import torch

    from bayesopt.active import mc_size, sobol_points, variation_weights

    def cliff(x1: float, x2: float) -> float:
        return 0.0 if x1 < 0.5 else 20.0 * (x1 - 0.5) ** 2 + 5.0 * math.sin(12 * x2)

    opt = open_optimizer(square(name="cliff", initial_trials=12))
    for trial in opt.suggest(12):
        opt.observe(trial, cliff(**trial.params))
    fitted = opt.fitted()
    model = fitted.model
    y = torch.as_tensor([t.values["f"] for t in opt.all_trials()], dtype=torch.float64)
    mc = torch.as_tensor(sobol_points(2, mc_size(2), 0), dtype=torch.float64)
    w = variation_weights(model, mc, y)
    assert w.shape == (mc.shape[0],) and bool((w >= 1.0).all())
    right = mc[:, 0] > 0.6
    left = mc[:, 0] < 0.4
    assert float(w[right].mean()) > 2 * float(w[left].mean())
    (trial,) = opt.suggest()
    assert trial.generator == "gp+variation"


# ------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "changes, fragments",
    [
        ({"goal": "explore"}, ["goal: got 'explore'", "'optimize'", "'learn'", "('level'"]),
        ({"goal": ("level", "g", 1.0)}, ["goal:", "'g'", "not among the objectives ['f']"]),
        ({"goal": ("level", "f", math.nan)}, ["goal:", "level nan", "finite number"]),
        ({"goal": ("level", "f")}, ["goal: got ('level', 'f')", "expected"]),
        (
            {"acquisition": "qLogNEI"},
            ["acquisition: got 'qLogNEI'", "improvement", "goal 'learn'", "['variation', 'qNIPV']"],
        ),
        ({"acquisition": "qUCB"}, ["acquisition: got 'qUCB'", "['variation', 'qNIPV']"]),
        (
            {"goal": ("level", "f", 1.0), "acquisition": "qLogEI"},
            ["acquisition: got 'qLogEI'", "goal 'level'", "['level', 'variation', 'qNIPV']"],
        ),
        ({"surrogate": "bnn"}, ["surrogate: got 'bnn'", "['gp', 'saas']"]),
        ({"constraints": ["cost <= 3"]}, ["constraints:", "cost <= 3", "goal 'learn'"]),
        (
            {"stopping": [LowExpectedImprovement()]},
            ["stopping LowExpectedImprovement", "goal 'learn'", "LowIntegratedVariance"],
        ),
        (
            {"goal": ("level", "f", 1.0), "stopping": [LowIntegratedVariance()]},
            ["stopping LowIntegratedVariance", "goal=", "'learn'"],
        ),
        (
            {"goal": "optimize", "stopping": [LowIntegratedVariance()]},
            ["stopping LowIntegratedVariance", "'optimize'"],
        ),
        ({"goal": "optimize", "acquisition": "qNIPV"}, ["acquisition: got 'qNIPV'"]),
    ],
)
def test_bad_learning_settings_are_refused(changes: dict, fragments: list[str]) -> None:
    with pytest.raises(InvalidExperimentError) as info:
        square(**changes)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_learning_defaults_and_settings() -> None:
    exp = square()
    assert (exp.goal, exp.acquisition, exp.learns, exp.level) == ("learn", "variation", True, None)
    assert square(acquisition="qNIPV").acquisition == "qNIPV"
    level = square(goal=["level", "f", 2])
    assert level.goal == ("level", "f", 2.0) and level.level == ("f", 2.0)
    assert level.settings()["goal"] == "level: f >= 2"
    assert square(goal=("level", "f", 2.0), acquisition="qNIPV").acquisition == "qNIPV"
    plain = square(goal="optimize")
    assert plain.acquisition == "qLogNEI" and not plain.learns and "goal" not in plain.settings()
    assert square(stopping=[LowIntegratedVariance(0.05, trials=2)]).stopping
    with pytest.raises(InvalidExperimentError, match="threshold=-1"):
        LowIntegratedVariance(threshold=-1)


# ---------------------------------------------------------------- stopping
def test_low_integrated_variance_fires_after_k_low_decisions(open_optimizer) -> None:
    rule = LowIntegratedVariance(threshold=0.1, trials=2)
    progress = Progress(
        best=[1.0], ei_rel=[], minimize=True, multi_objective=False, last_trial=1, n_finished=5
    )
    assert rule.check(progress) is None
    assert rule.check(Progress(**{**progress.__dict__, "iv_rel": [0.3, 0.05, 0.2]})) is None
    fired = rule.check(Progress(**{**progress.__dict__, "iv_rel": [0.3, 0.05, 0.04]}))
    assert fired is not None and "low integrated variance" in fired[0]
    assert fired[1]["iv_rel"] == 0.04

    opt = open_optimizer(line(name="stop1d", stopping=[LowIntegratedVariance(0.5, trials=2)]))
    steps = 0
    while opt.should_stop() is None and steps < 10:
        (trial,) = opt.suggest()
        opt.observe(trial, wave(trial.params["x"]))
        steps += 1
    stop = opt.stop_record()
    assert stop is not None and stop["rule"] == "low_integrated_variance"
    # It fired at the first two decisions in a row whose iv_rel was below 0.5, not before.
    rel = [t.metadata["iv_rel"] for t in opt.all_trials() if "iv_rel" in t.metadata]
    first = next(i for i in range(1, len(rel)) if rel[i - 1] < 0.5 and rel[i] < 0.5)
    assert len(rel) == first + 1 and steps == 3 + len(rel)  # 3 design points first


# ----------------------------------------------------------------- holdout
def test_holdout_with_bad_rows_is_refused_with_the_row(open_optimizer, tmp_path: Path) -> None:
    opt = open_optimizer(line(name="holdout-bad"))
    bad = pd.DataFrame({"x": [0.1, 1.5, 0.3], "y": [0.0, 1.0, 2.0]})
    with pytest.raises(InvalidImportError, match=r"holdout: row 2, parameter 'x'"):
        opt.holdout(bad)
    with pytest.raises(InvalidExperimentError, match=r"holdout: row 2, parameter 'x'"):
        line(name="holdout-bad", holdout=bad)
    nan = pd.DataFrame({"x": [0.1, 0.2], "y": [0.0, math.inf]})
    with pytest.raises(InvalidImportError, match=r"holdout: row 2, outcome 'y'.*not a finite"):
        opt.holdout(nan)
    with pytest.raises(InvalidImportError, match=r"missing column\(s\) \['y'\]"):
        opt.holdout(pd.DataFrame({"x": [0.1]}))
    with pytest.raises(InvalidImportError, match=r"unknown column\(s\) \['z'\]"):
        opt.holdout(pd.DataFrame({"x": [0.1], "y": [1.0], "z": [2.0]}))
    path = tmp_path / "test.csv"
    path.write_text("x,y\n0.1,1.0\n0.2,oops\n")
    with pytest.raises(InvalidImportError, match=r"row 2 \(test.csv line 3\), outcome 'y'"):
        opt.holdout(path)
    with pytest.raises(TrialStateError, match="no test set"):
        opt.holdout_scores()
    path.write_text("x,y\n0.1,1.0\n0.1,1.1\n")  # replicates are fine in a test set
    assert len(opt.holdout(str(path))) == 2


def test_level_region_needs_a_level_goal(open_optimizer) -> None:
    opt = open_optimizer(line(name="no-level"))
    with pytest.raises(TrialStateError, match="goal=\\('level', outcome, value\\)"):
        opt.level_region()


# ------------------------------------------------------------------ MLflow
@pytest.mark.slow
def test_mlflow_logs_the_learning_metrics(open_optimizer, tmp_path: Path) -> None:
    from flows.tracking import RunTracker

    grid = np.linspace(0.0, 1.0, 11)
    exp = line(name="learn-mlflow", holdout=pd.DataFrame({"x": grid, "y": np.sin(6 * grid)}))
    opt = open_optimizer(exp)
    tracker = RunTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", exp)
    tracker.start("learn-run", params=exp.settings(), tags={})
    for _ in range(5):
        (trial,) = opt.suggest()
        tracker.record(opt.observe(trial, math.sin(6 * trial.params["x"])))
    tracker.finish(opt)
    client = MlflowClient(tracker.tracking_uri)
    run = client.get_run(tracker.run_id or "")
    assert run.data.params["goal"] == "learn"
    assert run.data.params["holdout"] == "DataFrame (11 rows)"
    for key in ("integrated_variance", "iv_rel", "holdout_rmse", "holdout_nlpd", "holdout_picp"):
        history = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in history] == [3, 4], key  # the two model-based trials
    assert "final_holdout_rmse" in run.data.metrics

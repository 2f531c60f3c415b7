"""The strategy: a seeded Sobol design, then GP + acquisition, with pending points and
constraints respected, and a Sobol fallback when the model step fails."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from scipy.stats import spearmanr

from bayesopt import (
    Choice,
    Experiment,
    Float,
    Int,
    LinearConstraint,
    Objective,
)
from bayesopt.acquisition import optimize
from bayesopt.strategy import History, Strategy
from surrogates import ExactGP, FitSpec, SurrogateRegistry
from surrogates.base import warn_fallback


def run_steps(opt, evaluate, n_steps: int, batch: int = 1) -> list:
    trials = []
    for _ in range(n_steps):
        for t in opt.suggest(batch):
            opt.observe(t, evaluate(t.params))
            trials.append(t)
    return trials


# ------------------------------------------------------------------- phases
def test_sobol_for_the_initial_trials_then_the_model(open_optimizer, quad, evaluate_quad) -> None:
    opt = open_optimizer(quad)
    trials = run_steps(opt, evaluate_quad, quad.n_initial + 1)
    assert [t.generator for t in trials] == ["sobol"] * 3 + ["gp+qLogNEI"]
    assert [t.metadata["sobol_index"] for t in trials[:3]] == [0, 1, 2]
    meta = trials[-1].metadata
    assert meta["surrogate"] == "gp" and meta["acquisition"] == "qLogNEI"
    assert meta["n_train"] == 3 and meta["n_pending"] == 0
    assert np.isfinite(meta["acq_value"])
    assert meta["device"] == "cpu"
    assert "fallback" not in meta
    assert all(quad.space.validate(t.params) == t.params for t in trials)


def test_qlognei_is_analytic_for_one_point_and_monte_carlo_otherwise() -> None:
    from botorch.acquisition.analytic import LogExpectedImprovement

    from bayesopt.acquisition import AcquisitionOptions, build_acquisition, outcome_constraint

    gen = torch.Generator().manual_seed(0)
    X = torch.rand(8, 2, generator=gen, dtype=torch.float64)
    Y = -((X - 0.4) ** 2).sum(-1, keepdim=True)
    spec = FitSpec(bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64))
    model = ExactGP().fit(X, Y, spec)
    opts = AcquisitionOptions()

    def build(**kw):
        args = {"X_pending": None, "q": 1, "options": opts, **kw}
        return build_acquisition("qLogNEI", model, X, Y, args.pop("X_pending"), **args)

    single = build()
    assert isinstance(single, LogExpectedImprovement)
    # the incumbent is the best posterior mean at the observed points, not a noisy value
    with torch.no_grad():
        assert float(single.best_f) == pytest.approx(float(model.posterior(X).mean.max()))
        # and it ranks points as the Monte Carlo form does (whose far tail is floored)
        mc = build(options=AcquisitionOptions(analytic_single=False))
        grid = torch.rand(64, 1, 2, generator=gen, dtype=torch.float64)
        a, b = single(grid), mc(grid)
    assert int(a.argmax()) == int(b.argmax())
    assert spearmanr(a.numpy(), b.numpy()).statistic > 0.9
    for kw in (
        {"q": 2},
        {"X_pending": X[:1]},
        {"constraints": [outcome_constraint(0, 1.0, "<=", 0.0)]},
        {"options": AcquisitionOptions(analytic_single=False)},
    ):
        assert isinstance(build(**kw), qLogNoisyExpectedImprovement), kw


def test_the_trial_says_when_the_acquisition_was_analytic(
    open_optimizer, quad, evaluate_quad
) -> None:
    opt = open_optimizer(quad)
    run_steps(opt, evaluate_quad, quad.n_initial)
    (one,) = opt.suggest(1)
    assert one.metadata["acquisition"] == "qLogNEI"
    assert one.metadata["acquisition_form"] == "analytic"
    batch = opt.suggest(2)
    assert all("acquisition_form" not in t.metadata for t in batch)  # Monte Carlo


def test_a_batch_across_the_switch_holds_its_sobol_points_pending(
    open_optimizer, quad, evaluate_quad
) -> None:
    opt = open_optimizer(quad)
    run_steps(opt, evaluate_quad, 1, batch=2)
    sobol, model = opt.suggest(2)
    assert (sobol.generator, model.generator) == ("sobol", "gp+qLogNEI")
    assert sobol.metadata["sobol_index"] == 2
    assert model.metadata["n_train"] == 2
    assert model.metadata["n_pending"] == 1  # the Sobol point of the same batch


def test_pending_points_spread_the_batches(open_optimizer, quad, evaluate_quad) -> None:
    opt = open_optimizer(quad)
    run_steps(opt, evaluate_quad, quad.n_initial)
    first = opt.suggest(3)
    assert [t.generator for t in first] == ["gp+qLogNEI"] * 3
    X_first = np.array([quad.space.encode(t.params) for t in first])
    assert len({tuple(np.round(x, 6)) for x in X_first}) == 3

    second = opt.suggest(2)
    assert all(t.metadata["n_pending"] == 3 for t in second)
    for t in second:
        x = quad.space.encode(t.params)
        assert np.min(np.linalg.norm(X_first - x, axis=1)) > 1e-3


def test_mixed_spaces_give_valid_integer_and_categorical_values(open_optimizer) -> None:
    exp = Experiment(
        name="mixed",
        parameters=[
            Int("layers", 1, 4),
            Choice("act", ["relu", "tanh"]),
            Choice("width", [16, 32, 64], ordered=True),
            Float("dropout", 0.0, 0.5),
        ],
        objectives=[Objective("loss")],
        initial_trials=3,
    )

    def evaluate(p: dict) -> float:
        return (p["layers"] - 3) ** 2 + (p["act"] != "tanh") + p["width"] / 64 + p["dropout"]

    opt = open_optimizer(exp)
    trials = run_steps(opt, evaluate, 1, batch=3) + opt.suggest(2)
    assert [t.generator for t in trials] == ["sobol"] * 3 + ["gp+qLogNEI"] * 2
    assert "fallback" not in trials[-1].metadata
    for t in trials:
        assert exp.space.validate(t.params) == t.params
        assert type(t.params["layers"]) is int
        assert t.params["act"] in ("relu", "tanh")
        assert t.params["width"] in (16, 32, 64)
    # Both model points are on the grid of the discrete columns.
    for t in trials[3:]:
        u = exp.space.encode(t.params)
        np.testing.assert_allclose(exp.space.snap(u), u[None, :])


# --------------------------------------------------------------- constraints
SUM_AT_MOST_ONE = LinearConstraint({"x1": 1.0, "x2": 1.0}, "<=", 1.0)


def constrained(initial_trials: int, *constraints: LinearConstraint) -> Experiment:
    return Experiment(
        name="constrained",
        parameters=[Float("x1", 0.0, 1.0), Float("x2", 0.0, 1.0)],
        objectives=[Objective("y")],
        constraints=constraints or (SUM_AT_MOST_ONE,),
        initial_trials=initial_trials,
    )


def pull_to_the_corner(p: dict) -> float:
    # The unconstrained optimum (1, 1) is infeasible: the model steps press on x1 + x2 = 1.
    return (p["x1"] - 1.0) ** 2 + (p["x2"] - 1.0) ** 2


def test_model_steps_satisfy_a_linear_constraint(open_optimizer) -> None:
    exp = constrained(0)
    opt = open_optimizer(exp)
    for p in [{"x1": 0.1, "x2": 0.2}, {"x1": 0.6, "x2": 0.1}, {"x1": 0.2, "x2": 0.7}]:
        opt.attach(p, pull_to_the_corner(p))
    trials = opt.suggest(2)
    assert [t.generator for t in trials] == ["gp+qLogNEI"] * 2
    for t in trials:
        assert SUM_AT_MOST_ONE.holds(t.params), t.params
        # What the next suggest() does with every stored point: encode it, constraints included.
        assert exp.space.validate(t.params) == t.params


@pytest.mark.parametrize(
    "parameters, constraints",
    [
        (None, [SUM_AT_MOST_ONE]),
        (None, [LinearConstraint({"x1": 1.0, "x2": 1.0}, ">=", 1.99)]),
    ],
    ids=["half-of-the-square", "thin-corner"],
)
def test_sobol_steps_satisfy_linear_constraints(open_optimizer, parameters, constraints) -> None:
    exp = Experiment(
        name="constrained",
        parameters=parameters or [Float("x1", 0.0, 1.0), Float("x2", 0.0, 1.0)],
        objectives=[Objective("y")],
        constraints=constraints,
        initial_trials=8,
    )
    trials = open_optimizer(exp).suggest(8)
    assert [t.generator for t in trials] == ["sobol"] * 8
    for t in trials:
        assert all(c.holds(t.params) for c in constraints), t.params
        assert exp.space.validate(t.params) == t.params


def test_thin_regions_with_integers_stay_feasible_after_rounding(open_optimizer) -> None:
    # Feasible: k = 10 and 0.95 <= x <= 0.99; 9 of the 4096 Sobol points draw it, so 12
    # points need the polytope sampler, whose continuous k must be rounded to 10 with care.
    constraints = [
        LinearConstraint({"k": 1.0, "x": 1.0}, ">=", 10.95),
        LinearConstraint({"k": 1.0, "x": 1.0}, "<=", 10.99),
    ]
    exp = Experiment(
        name="thin",
        parameters=[Int("k", 0, 10), Float("x", 0.0, 1.0)],
        objectives=[Objective("y")],
        constraints=constraints,
        initial_trials=12,
    )
    trials = open_optimizer(exp).suggest(12)
    for t in trials:
        assert all(c.holds(t.params) for c in constraints), t.params


def test_sobol_falls_back_to_polytope_sampling(quad) -> None:
    # A constraint that every point meets keeps space.snap from raising (see the bug above);
    # asking past the 2**12 points drawn for rejection then forces the polytope branch.
    exp = quad.replace(constraints=[LinearConstraint({"x": 1.0, "y": 1.0}, "<=", 2.0)])
    strategy = Strategy(exp, seed=0, device=torch.device("cpu"))
    pts = strategy.sobol(2**12, 3)
    assert pts.shape == (3, 2)
    assert ((pts >= 0) & (pts <= 1)).all()
    assert exp.space.is_feasible(pts).all()
    np.testing.assert_array_equal(pts, strategy.sobol(2**12, 3))


# ------------------------------------------------------------------- Sobol
def test_sobol_is_seeded_and_sliceable(quad) -> None:
    a = Strategy(quad, seed=3, device=torch.device("cpu"))
    b = Strategy(quad, seed=3, device=torch.device("cpu"))
    c = Strategy(quad, seed=4, device=torch.device("cpu"))
    np.testing.assert_array_equal(a.sobol(0, 6), b.sobol(0, 6))
    np.testing.assert_array_equal(a.sobol(2, 3), a.sobol(0, 5)[2:])
    assert not np.allclose(a.sobol(0, 4), c.sobol(0, 4))
    assert a.sobol(0, 8).shape == (8, 2)
    assert ((a.sobol(0, 8) >= 0) & (a.sobol(0, 8) <= 1)).all()


# ---------------------------------------------------------------- fallback
class BrokenSurrogate:
    name = "gp"

    def fit(self, train_X, train_Y, spec):
        raise RuntimeError("cholesky exploded")


class WarningSurrogate:
    """A real GP fit that reports a fallback through the warning channel."""

    name = "gp"

    def fit(self, train_X, train_Y, spec):
        model = ExactGP().fit(train_X, train_Y, spec)
        warn_fallback("gp: used a fallback noise level")
        return model


def registry_with(factory) -> SurrogateRegistry:
    registry = SurrogateRegistry()
    registry.register("gp", factory)
    return registry


def history_of(exp: Experiment, n_done: int, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    X = rng.random((n_done, exp.space.dim))
    return History(
        X=X,
        Y=X.sum(axis=1),
        X_pending=np.empty((0, exp.space.dim)),
        n_trials=n_done,
        n_sobol=n_done,
    )


def test_a_failing_surrogate_falls_back_to_sobol(quad, fast_options) -> None:
    strategy = Strategy(
        quad,
        seed=0,
        device=torch.device("cpu"),
        registry=registry_with(BrokenSurrogate),
        options=fast_options,
    )
    cands = strategy.generate(history_of(quad, 4), 2)
    assert [c.generator for c in cands] == ["sobol", "sobol"]
    assert [c.metadata["sobol_index"] for c in cands] == [4, 5]
    for c in cands:
        assert "gp+qLogNEI failed (RuntimeError: cholesky exploded)" in c.metadata["fallback"]
        assert quad.space.validate(c.params) == c.params
    # The fallback points are the Sobol points that come next in the sequence.
    expected = [quad.space.decode(u) for u in strategy.sobol(4, 2)]
    assert [c.params for c in cands] == expected


def test_the_optimizer_records_the_fallback(open_optimizer, quad, evaluate_quad) -> None:
    opt = open_optimizer(quad)
    opt.strategy.registry = registry_with(BrokenSurrogate)
    run_steps(opt, evaluate_quad, quad.n_initial)
    (t,) = opt.suggest()
    stored = opt.get(t)
    assert stored.generator == "sobol"
    assert "RuntimeError: cholesky exploded" in stored.metadata["fallback"]
    assert stored.metadata["sobol_index"] == 3


@pytest.mark.parametrize("n_done", [0, 1])
def test_too_few_completed_trials_fall_back_to_sobol(quad, n_done: int) -> None:
    exp = quad.replace(initial_trials=0)
    strategy = Strategy(exp, seed=0, device=torch.device("cpu"))
    (cand,) = strategy.generate(history_of(exp, n_done), 1)
    assert cand.generator == "sobol"
    assert cand.metadata["fallback"] == f"{n_done} completed trial(s); the model needs at least 2"


def test_a_surrogate_fallback_warning_is_recorded_not_raised(quad, fast_options) -> None:
    strategy = Strategy(
        quad,
        seed=0,
        device=torch.device("cpu"),
        registry=registry_with(WarningSurrogate),
        options=fast_options,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (cand,) = strategy.generate(history_of(quad, 4), 1)
    assert cand.generator == "gp+qLogNEI"
    assert cand.metadata["fallback"] == "gp: used a fallback noise level"


# ------------------------------------------------- equalities and the context
def mixture(initial_trials: int = 6, *extra: str, integer: bool = False) -> Experiment:
    """a + b + c == 1 over three fractions, written as a user writes it."""
    parameters: list = [Float("a", 0.0, 1.0), Float("b", 0.0, 1.0), Float("c", 0.0, 1.0)]
    if integer:
        parameters.append(Int("k", 0, 4))
    return Experiment(
        name="mixture",
        parameters=parameters,
        objectives=[Objective("y")],
        constraints=["a + b + c == 1", *extra],
        initial_trials=initial_trials,
    )


def assert_mixture(params: dict) -> None:
    assert abs(params["a"] + params["b"] + params["c"] - 1.0) <= 1e-6, params
    assert all(0.0 <= params[n] <= 1.0 for n in "abc"), params


def test_mixture_design_points_sum_to_one_lie_in_bounds_and_spread() -> None:
    exp = mixture()
    pts = Strategy(exp, seed=0, device=torch.device("cpu")).sobol(0, 16)
    assert pts.shape == (16, 3)
    assert exp.space.is_feasible(pts).all()
    for u in pts:
        params = exp.space.decode(u)
        assert_mixture(params)
        assert exp.space.validate(params) == params
    assert len(np.unique(pts.round(6), axis=0)) == 16
    assert (pts.std(axis=0) > 0.1).all()  # spread over the simplex, not stuck in a corner
    # Every part of the simplex is visited: each fraction is the largest somewhere.
    assert set(pts.argmax(axis=1)) == {0, 1, 2}


def test_mixture_design_is_seeded_and_prefix_stable() -> None:
    exp = mixture()
    a = Strategy(exp, seed=3, device=torch.device("cpu"))
    full = a.sobol(0, 40)  # past the first block of the polytope stream
    for start, n in [(0, 1), (0, 5), (5, 7), (30, 5), (31, 9)]:
        np.testing.assert_array_equal(a.sobol(start, n), full[start : start + n])
    np.testing.assert_array_equal(
        Strategy(exp, seed=3, device=torch.device("cpu")).sobol(0, 4), full[:4]
    )
    assert not np.allclose(Strategy(exp, seed=4, device=torch.device("cpu")).sobol(0, 4), full[:4])


def test_a_mixture_with_an_inequality_and_an_integer_stays_feasible_after_rounding() -> None:
    exp = mixture(6, "a - b <= 0.1", "k + 4*a <= 3", integer=True)
    strategy = Strategy(exp, seed=0, device=torch.device("cpu"))
    pts = strategy.sobol(0, 12)
    for u in pts:
        params = exp.space.decode(u)
        assert_mixture(params)
        assert params["a"] - params["b"] <= 0.1 + 1e-9
        assert params["k"] + 4 * params["a"] <= 3 + 1e-9
        assert type(params["k"]) is int
        assert exp.space.validate(params) == params
    np.testing.assert_array_equal(strategy.sobol(4, 8), pts[4:])


def test_inequality_designs_stay_prefix_stable_across_the_polytope_fallback() -> None:
    # x1 + x2 >= 1.99: a handful of the 4096 Sobol points are feasible, then the polytope.
    exp = constrained(8, LinearConstraint({"x1": 1.0, "x2": 1.0}, ">=", 1.99))
    strategy = Strategy(exp, seed=0, device=torch.device("cpu"))
    full = strategy.sobol(0, 12)
    assert exp.space.is_feasible(full).all()
    assert len(np.unique(full, axis=0)) == 12
    for start, n in [(0, 2), (2, 6), (7, 5)]:
        np.testing.assert_array_equal(strategy.sobol(start, n), full[start : start + n])


@pytest.mark.parametrize(
    "exp, fixed",
    [
        (
            Experiment(
                name="quad",
                parameters=[Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)],
                objectives=[Objective("f")],
            ),
            {"x": 0.25},
        ),
        (constrained(4), {"x1": 0.75}),
        (mixture(), {"a": 0.2}),
        (mixture(6, "a - b <= 0.1", "k + 4*a <= 3", integer=True), {"k": 1}),
    ],
    ids=["unconstrained", "inequality", "mixture", "mixture-integer-context"],
)
def test_fixed_design_points_keep_the_fixed_value(exp: Experiment, fixed: dict) -> None:
    space = exp.space
    columns = space.fixed_columns(fixed)
    strategy = Strategy(exp, seed=0, device=torch.device("cpu"))
    pts = strategy.sobol(0, 8, fixed=columns)
    assert space.is_feasible(pts).all()
    for i, v in columns.items():
        assert (pts[:, i] == v).all()
    free = [i for i in range(space.dim) if i not in columns]
    assert (pts[:, free].std(axis=0) > 0.01).all()  # the other columns still vary
    for u in pts:
        params = space.decode(u)
        assert {k: params[k] for k in fixed} == fixed
        assert space.validate(params) == params
        if "c" in params:
            assert_mixture(params)
    np.testing.assert_array_equal(strategy.sobol(3, 5, fixed=columns), pts[3:])


def test_a_context_that_thins_the_region_falls_back_to_the_polytope() -> None:
    # With x1 = 0.5005 held, x1 + x2 >= 1.5 leaves x2 >= 0.9995: ~2 of the 4096 Sobol points.
    exp = constrained(4, LinearConstraint({"x1": 1.0, "x2": 1.0}, ">=", 1.5))
    columns = exp.space.fixed_columns({"x1": 0.5005})
    pts = Strategy(exp, seed=0, device=torch.device("cpu")).sobol(0, 10, fixed=columns)
    assert (pts[:, 0] == 0.5005).all()
    assert exp.space.is_feasible(pts).all()
    assert len(np.unique(pts, axis=0)) == 10


# ------------------------------------------------ the acquisition optimizer
def fitted_acquisition(exp: Experiment, n: int = 6):
    """qLogNEI on an exact GP fitted to ``n`` design points of ``exp``."""
    space = exp.space
    X = torch.as_tensor(Strategy(exp, seed=0, device=torch.device("cpu")).sobol(0, n))
    Y = -((X - 0.3) ** 2).sum(dim=-1, keepdim=True)
    bounds = torch.stack([torch.zeros(space.dim), torch.ones(space.dim)]).to(X)
    model = ExactGP().fit(X, Y, FitSpec(bounds=bounds, cat_dims=tuple(space.cat_dims), seed=0))
    return qLogNoisyExpectedImprovement(model, X_baseline=X, prune_baseline=True)


@pytest.mark.parametrize("integer", [False, True], ids=["continuous", "mixed"])
def test_acquisition_candidates_satisfy_equality_and_inequality_constraints(
    fast_options, integer: bool
) -> None:
    exp = mixture(6, "a - b <= 0.1", *(["k + 4*a <= 3"] if integer else []), integer=integer)
    torch.manual_seed(0)
    X, value = optimize(
        fitted_acquisition(exp), exp.space, 2, fast_options, device=torch.device("cpu")
    )
    assert X.shape == (2, exp.space.dim)
    assert torch.isfinite(value).all()
    for u in X.numpy():
        params = exp.space.decode(u)
        assert_mixture(params)
        assert params["a"] - params["b"] <= 0.1 + 1e-6
        assert exp.space.validate(params) == params


@pytest.mark.parametrize(
    "exp, fixed",
    [
        (constrained(4), {"x1": 0.75}),
        (mixture(), {"a": 0.2}),
        (mixture(6, "k + 4*a <= 3", integer=True), {"k": 2}),
    ],
    ids=["inequality", "mixture", "mixed-integer-context"],
)
def test_optimize_with_a_context_keeps_the_fixed_column(
    fast_options, exp: Experiment, fixed: dict
) -> None:
    columns = exp.space.fixed_columns(fixed)
    torch.manual_seed(0)
    X, _ = optimize(
        fitted_acquisition(exp),
        exp.space,
        2,
        fast_options,
        device=torch.device("cpu"),
        fixed=columns,
    )
    for i, v in columns.items():
        assert (X[:, i] == v).all()
    for u in X.numpy():
        params = exp.space.decode(u)
        assert {k: params[k] for k in fixed} == fixed
        assert exp.space.validate(params) == params


def test_a_mixture_run_keeps_every_trial_on_the_simplex(open_optimizer) -> None:
    exp = mixture(4)
    opt = open_optimizer(exp)
    trials = run_steps(opt, lambda p: (p["a"] - 0.6) ** 2 + (p["b"] - 0.1) ** 2, 6)
    assert [t.generator for t in trials] == ["sobol"] * 4 + ["gp+qLogNEI"] * 2
    for t in trials:
        assert_mixture(t.params)

"""The Bayesian neural network: fit quality, calibration, shapes, BoTorch use, seeding,
Pyro's parameter store, NUTS, bad data and fallbacks."""

from __future__ import annotations

import math
import pickle
import random
import warnings

import numpy as np
import pyro
import pytest
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.optim import optimize_acqf
from botorch.posteriors.ensemble import EnsemblePosterior

from surrogates import FitSpec, SurrogateError, SurrogateFallbackWarning, predictive
from surrogates.base import fit_info
from surrogates.bnn import BayesianNN, BNNEnsembleModel

DTYPE = torch.float64
#: Small settings that keep every fit to a second or two on one thread.
FAST = {"hidden": (16,), "steps": 200, "lr": 0.03, "num_samples": 32}
TINY = {"hidden": (8,), "steps": 40, "num_samples": 8}


def spec(d: int, **kwargs) -> FitSpec:
    return FitSpec(bounds=torch.stack([torch.zeros(d), torch.ones(d)]).to(DTYPE), **kwargs)


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)


def noise(n: int, scale: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, 1, generator=gen, dtype=DTYPE)


def f1(X: torch.Tensor) -> torch.Tensor:
    return torch.sin(6 * X[:, :1])


def f5(X: torch.Tensor) -> torch.Tensor:
    return 4 * ((X - 0.5) ** 2).sum(-1, keepdim=True) + torch.sin(3 * X[:, :1])


def rmse(pred: torch.Tensor, Y: torch.Tensor) -> float:
    return float(((pred - Y) ** 2).mean().sqrt())


def buffers(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return dict(model.named_buffers())


def assert_same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    ba, bb = buffers(a), buffers(b)
    assert ba.keys() == bb.keys()
    for key in ba:
        torch.testing.assert_close(ba[key], bb[key], rtol=0, atol=0)


@pytest.fixture(scope="module")
def fitted_1d() -> tuple[BNNEnsembleModel, torch.Tensor, torch.Tensor]:
    X = rand(30, 1, seed=1)
    Y = f1(X) + noise(30, 0.1, seed=2)
    model = BayesianNN(**FAST).fit(X, Y, spec(1, seed=0))
    assert isinstance(model, BNNEnsembleModel)
    return model, X, Y


@pytest.fixture(scope="module")
def fitted_5d() -> tuple[BNNEnsembleModel, torch.Tensor, torch.Tensor]:
    X = rand(60, 5, seed=3)
    Y = f5(X) + noise(60, 0.05, seed=4)
    # SiLU suits this bowl-shaped function better than tanh, at these few steps.
    model = BayesianNN(**FAST, activation="silu").fit(X, Y, spec(5, seed=0))
    assert isinstance(model, BNNEnsembleModel)
    return model, X, Y


def test_fits_a_1d_function_with_calibrated_intervals(fitted_1d) -> None:
    model, _, Y = fitted_1d
    assert not model.training
    test_X = rand(200, 1, seed=5)
    test_Y = f1(test_X) + noise(200, 0.1, seed=6)
    pred = predictive(model, test_X)
    assert rmse(pred.mean, test_Y) < 0.6 * rmse(Y.mean().expand_as(test_Y), test_Y)
    lower, upper = pred.interval(0.95)
    coverage = float(((lower <= test_Y) & (test_Y <= upper)).double().mean())
    assert coverage >= 0.75
    # The noise is learned in the units of the data: of the order of the true 0.1.
    assert 0.02 < float(model.noise_std.mean()) < 0.5
    info = fit_info(model)
    assert info["inference"] == "svi"
    assert info["steps"] == FAST["steps"]
    assert info["num_samples"] == FAST["num_samples"]
    assert info["hidden"] == "16"
    assert math.isfinite(float(info["elbo_loss"]))


def test_fits_a_5d_function(fitted_5d) -> None:
    model, _, Y = fitted_5d
    test_X = rand(200, 5, seed=7)
    test_Y = f5(test_X) + noise(200, 0.05, seed=8)
    pred = predictive(model, test_X)
    assert rmse(pred.mean, test_Y) < 0.8 * rmse(Y.mean().expand_as(test_Y), test_Y)
    lower, upper = pred.interval(0.95)
    assert float(((lower <= test_Y) & (test_Y <= upper)).double().mean()) >= 0.75


def test_posterior_shapes_for_q_batches(fitted_5d) -> None:
    model, _, _ = fitted_5d
    s = FAST["num_samples"]
    assert model.ensemble_size == s and model.num_outputs == 1
    for shape in [(7, 5), (4, 3, 5), (2, 4, 3, 5)]:
        post = model.posterior(rand(*shape, seed=9))
        assert isinstance(post, EnsemblePosterior)
        assert post.ensemble_size == s
        assert post.values.shape == (*shape[:-2], s, shape[-2], 1)
        assert post.mean.shape == (*shape[:-1], 1)
        assert post.variance.shape == (*shape[:-1], 1)
    assert model.members(rand(4, 3, 5, seed=10)).shape == (4, s, 3, 1)


def test_members_are_differentiable_in_x(fitted_5d) -> None:
    model, _, _ = fitted_5d
    X = rand(3, 2, 5, seed=11).requires_grad_(True)
    model.posterior(X).mean.sum().backward()
    assert X.grad is not None
    assert torch.isfinite(X.grad).all() and X.grad.abs().sum() > 0


def test_optimize_acqf_with_qlognei(fitted_5d) -> None:
    model, X, _ = fitted_5d
    acqf = qLogNoisyExpectedImprovement(model, X_baseline=X)
    bounds = spec(5).bounds
    candidates, value = optimize_acqf(
        acqf, bounds=bounds, q=2, num_restarts=2, raw_samples=32, options={"maxiter": 20}
    )
    assert candidates.shape == (2, 5)
    assert ((candidates >= 0) & (candidates <= 1)).all()
    assert torch.isfinite(value).all()


def test_several_outcomes_and_minibatches() -> None:
    X = rand(100, 3, seed=12)
    Y = torch.cat([X.sum(-1, keepdim=True), (X**2).sum(-1, keepdim=True)], dim=-1)
    model = BayesianNN(**TINY, batch_size=32).fit(X, Y, spec(3))
    assert model.num_outputs == 2
    assert model.noise_std.shape == (TINY["num_samples"], 2)
    assert model.posterior(rand(4, 2, 3, seed=13)).mean.shape == (4, 2, 2)
    # Member outputs are in the units of the data, not standardized.
    means = model.posterior(X).mean.mean(0)
    torch.testing.assert_close(means, Y.mean(0), atol=0.5, rtol=0)


def test_fitted_model_pickles(fitted_1d) -> None:
    model = fitted_1d[0]
    copy = pickle.loads(pickle.dumps(model))
    X = rand(5, 1, seed=14)
    torch.testing.assert_close(copy.posterior(X).mean, model.posterior(X).mean, rtol=0, atol=0)
    assert fit_info(copy) == fit_info(model)


def test_seeded_fits_are_reproducible_and_leave_the_callers_rng_alone() -> None:
    X = rand(12, 2, seed=15)
    Y = torch.cos(4 * X).sum(-1, keepdim=True)
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    a = BayesianNN(**TINY).fit(X, Y, spec(2, seed=7))
    b = BayesianNN(**TINY).fit(X, Y, spec(2, seed=7))
    assert torch.equal(torch.get_rng_state(), states[0])
    assert random.getstate() == states[1]
    assert np.array_equal(np.random.get_state()[1], states[2])
    assert_same(a, b)
    test_X = rand(6, 2, seed=16)
    torch.testing.assert_close(a.posterior(test_X).mean, b.posterior(test_X).mean, rtol=0, atol=0)
    c = BayesianNN(**TINY).fit(X, Y, spec(2, seed=8))
    assert not torch.equal(a.weight_0, c.weight_0)
    # No seed means seed 0.
    assert_same(
        BayesianNN(**TINY).fit(X, Y, spec(2)), BayesianNN(**TINY).fit(X, Y, spec(2, seed=0))
    )


def test_no_state_leaks_through_pyros_param_store() -> None:
    X = rand(10, 1, seed=17)
    Y = f1(X)
    store = pyro.get_param_store()
    store.clear()
    try:
        alone = BayesianNN(**TINY).fit(X, Y, spec(1, seed=3))
        assert list(store.keys()) == []
        # A user's params survive a fit, even one whose name the guide also uses.
        pyro.param("user_scale", torch.tensor(2.5))
        pyro.param("AutoNormal.locs.layers.0.weight", torch.full((8, 1), 99.0))
        first = BayesianNN(**TINY).fit(X, Y, spec(1, seed=3))
        second = BayesianNN(**TINY).fit(X, Y, spec(1, seed=3))
        assert sorted(store.keys()) == ["AutoNormal.locs.layers.0.weight", "user_scale"]
        assert float(pyro.param("user_scale").detach()) == 2.5
        assert (pyro.param("AutoNormal.locs.layers.0.weight") == 99.0).all()
        # Neither the user's params nor an earlier fit change a fit.
        assert_same(alone, first)
        assert_same(first, second)
    finally:
        store.clear()


def test_nuts_on_a_tiny_network_records_diagnostics() -> None:
    X = torch.linspace(0, 1, 8, dtype=DTYPE).unsqueeze(-1)
    Y = torch.sin(3 * X) + noise(8, 0.05, seed=18)
    bnn = BayesianNN(
        hidden=(3,),
        inference="nuts",
        warmup_steps=30,
        mcmc_samples=30,
        num_samples=16,
        max_tree_depth=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurrogateFallbackWarning)
        model = bnn.fit(X, Y, spec(1, seed=0))
    info = fit_info(model)
    assert info["inference"] == "nuts"
    assert model.ensemble_size == 16
    for key in ("r_hat_max", "ess_bulk_min", "divergences"):
        assert key in info and math.isfinite(float(info[key]))
    assert info["divergences"] >= 0 and info["ess_bulk_min"] > 0
    assert model.posterior(rand(4, 2, 1, seed=19)).mean.shape == (4, 2, 1)
    assert list(pyro.get_param_store().keys()) == []


@pytest.mark.parametrize(
    "X, Y, fragment",
    [
        (rand(5, 2), torch.tensor([[0.1], [math.nan], [0.3], [0.2], [0.0]], dtype=DTYPE), "NaN"),
        (torch.tensor([[0.1, math.inf], [0.5, 0.5]], dtype=DTYPE), rand(2, 1), "infinite"),
        (rand(1, 2), rand(1, 1), "1 observation(s); this surrogate needs at least 2"),
        (rand(5, 3), rand(5, 1), "bounds: expected shape (2, 3)"),
        (rand(5, 2), rand(4, 1), "expected train_X of shape n x d"),
    ],
    ids=["nan-y", "inf-x", "one-point", "bounds", "mismatch"],
)
def test_unusable_data_raises_surrogate_error(X, Y, fragment: str) -> None:
    with pytest.raises(SurrogateError) as info:
        BayesianNN(**TINY).fit(X, Y, spec(2))
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"hidden": ()}, "hidden"),
        ({"hidden": (8, 0)}, "hidden"),
        ({"activation": "relu6"}, "activation"),
        ({"inference": "hmc"}, "inference"),
        ({"guide": "flow"}, "guide"),
        ({"steps": 0}, "steps"),
        ({"prior_scale": -1.0}, "prior_scale"),
        ({"kl_warmup": 1.5}, "kl_warmup"),
    ],
)
def test_bad_options_raise_surrogate_error(options, fragment: str) -> None:
    with pytest.raises(SurrogateError, match=fragment):
        BayesianNN(**options)


def test_constant_outcomes_predict_the_constant() -> None:
    X = rand(10, 2, seed=20)
    Y = torch.full((10, 1), 3.0, dtype=DTYPE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurrogateFallbackWarning)
        model = BayesianNN(**FAST).fit(X, Y, spec(2))
    # Without a spread to standardize by, the outcomes are only centred (as BoTorch's
    # Standardize does): the fit is exact at the data, and uncertain of order one away.
    torch.testing.assert_close(model.posterior(X).mean, Y, atol=0.2, rtol=0)
    pred = predictive(model, rand(5, 2, seed=21))
    lower, upper = pred.interval(0.95)
    assert torch.isfinite(pred.mean).all() and torch.isfinite(upper - lower).all()
    assert ((lower < 3.0) & (upper > 3.0)).all()


def test_svi_failure_is_retried_then_falls_back_to_the_mean(monkeypatch) -> None:
    calls: list[float] = []

    def diverge(self, x, y, lr):
        calls.append(lr)
        raise FloatingPointError("the ELBO loss became nan")

    monkeypatch.setattr(BayesianNN, "_svi", diverge)
    X = rand(6, 1, seed=22)
    Y = 2.0 + f1(X)
    with pytest.warns(SurrogateFallbackWarning) as record:
        model = BayesianNN(**TINY).fit(X, Y, spec(1))
    assert calls == [TINY.get("lr", 0.01), TINY.get("lr", 0.01) / 10]
    messages = " ".join(str(w.message) for w in record)
    assert "retrying with lr / 10" in messages and "mean of the outcomes" in messages
    assert fit_info(model)["inference"] == "constant (fit failed)"
    pred = predictive(model, rand(3, 1, seed=23))
    torch.testing.assert_close(pred.mean, Y.mean().expand(3, 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(model.noise_std, Y.std(0, keepdim=True), rtol=0, atol=1e-12)
    assert list(pyro.get_param_store().keys()) == []


def test_nuts_failure_falls_back_to_svi(monkeypatch) -> None:
    def broken(self, x, y):
        raise RuntimeError("no valid initial point")

    monkeypatch.setattr(BayesianNN, "_nuts", broken)
    X = rand(6, 1, seed=24)
    with pytest.warns(SurrogateFallbackWarning, match="NUTS failed"):
        model = BayesianNN(**TINY, inference="nuts").fit(X, f1(X), spec(1))
    assert fit_info(model)["inference"] == "svi (nuts failed)"
    assert model.ensemble_size == TINY["num_samples"]


@pytest.mark.parametrize("guide", ["diagonal", "lowrank"])
def test_other_guides(guide: str) -> None:
    X = rand(10, 2, seed=25)
    model = BayesianNN(**TINY, guide=guide, rank=2).fit(X, X.sum(-1, keepdim=True), spec(2))
    assert model.posterior(rand(3, 2, seed=26)).mean.shape == (3, 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fits_on_cuda() -> None:
    X, Y = rand(20, 2, seed=27).cuda(), rand(20, 1, seed=28).cuda()
    bounds = spec(2).bounds.cuda()
    model = BayesianNN(**TINY).fit(X, Y, FitSpec(bounds=bounds, seed=0))
    assert model.noise_std.device.type == "cuda"
    assert model.posterior(X[:3]).mean.device.type == "cuda"

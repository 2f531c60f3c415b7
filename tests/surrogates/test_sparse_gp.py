"""The sparse variational GP: fits, calibration, q-batch shapes, acquisition, seeds, failures."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models import SingleTaskGP, SingleTaskVariationalGP
from botorch.optim import optimize_acqf

import surrogates.sparse_gp as sparse_gp_module
from surrogates import FitSpec, SurrogateError, SurrogateFallbackWarning, predictive
from surrogates.base import fit_info
from surrogates.sparse_gp import SparseGP

DTYPE = torch.float64
# Small settings for the tests that go through minibatch training (n > init_points).
FAST = {"num_inducing": 48, "batch_size": 256, "min_steps": 60}


def spec(d: int, **kwargs) -> FitSpec:
    return FitSpec(bounds=torch.stack([torch.zeros(d), torch.ones(d)]).to(DTYPE), **kwargs)


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)


def bowl(X: torch.Tensor) -> torch.Tensor:
    """A smooth 5-D function with its maximum at 0.3 in every coordinate."""
    return -((X - 0.3) ** 2).sum(-1, keepdim=True) + 0.2 * torch.sin(4 * X[:, :1])


@pytest.fixture(scope="module")
def bowl_data() -> tuple[torch.Tensor, torch.Tensor]:
    X = rand(400, 5, seed=1)
    return X, bowl(X) + 0.05 * randn(400, 1, seed=2)


@pytest.fixture(scope="module")
def bowl_model(bowl_data):
    """Fitted once through all four stages (400 points > init_points)."""
    X, Y = bowl_data
    return SparseGP(**FAST).fit(X, Y, spec(5, seed=0))


def test_fits_a_1d_function() -> None:
    X = torch.linspace(0, 1, 12, dtype=DTYPE).unsqueeze(-1)
    Y = torch.sin(6 * X)
    model = SparseGP().fit(X, Y, spec(1, seed=0))
    assert isinstance(model, SingleTaskVariationalGP)
    assert not model.training
    post = model.posterior(X)
    assert post.mean.shape == (12, 1)
    torch.testing.assert_close(post.mean, Y, atol=0.05, rtol=0)
    mid = torch.tensor([[0.5 / 11]], dtype=DTYPE)
    assert abs(model.posterior(mid).mean.item() - math.sin(6 * 0.5 / 11)) < 0.1
    info = fit_info(model)
    assert info["num_inducing"] <= 12 and info["steps"] == 0  # the exact GP saw all the data
    assert math.isfinite(float(info["elbo"]))


def test_fits_a_noisy_1d_function_with_minibatches() -> None:
    X = rand(600, 1, seed=3)
    Y = torch.sin(6 * X) + 0.1 * randn(600, 1, seed=4)
    model = SparseGP(**FAST).fit(X, Y, spec(1, seed=0))
    info = fit_info(model)
    assert info["steps"] >= FAST["min_steps"] and info["epochs"] == 5
    assert info["num_inducing"] <= FAST["num_inducing"]
    test_X = torch.linspace(0.05, 0.95, 19, dtype=DTYPE).unsqueeze(-1)
    torch.testing.assert_close(
        model.posterior(test_X).mean, torch.sin(6 * test_X), atol=0.1, rtol=0
    )
    # The learned noise (in the data's units) is near the true 0.1^2.
    noise = model.likelihood.noise.item() * model.outcome_transform.stdvs.item() ** 2
    assert 0.005 < noise < 0.02


def test_fits_a_5d_function(bowl_model) -> None:
    assert isinstance(bowl_model, SingleTaskVariationalGP)
    info = fit_info(bowl_model)
    assert info["num_inducing"] == FAST["num_inducing"] and info["init_points"] == 256
    assert info["steps"] == FAST["min_steps"]
    test_X = rand(200, 5, seed=5)
    rmse = (bowl_model.posterior(test_X).mean - bowl(test_X)).pow(2).mean().sqrt()
    assert rmse < 0.05  # the function's own spread is about 0.2
    means = bowl_model.posterior(torch.tensor([[0.3] * 5, [1.0] * 5], dtype=DTYPE)).mean
    assert means[0] > means[1]


def test_predictive_intervals_cover_held_out_points(bowl_model) -> None:
    test_X = rand(300, 5, seed=6)
    test_Y = bowl(test_X) + 0.05 * randn(300, 1, seed=7)
    lower, upper = predictive(bowl_model, test_X).interval(0.95)
    assert lower.shape == upper.shape == (300, 1)
    coverage = ((test_Y >= lower) & (test_Y <= upper)).to(DTYPE).mean().item()
    assert coverage >= 0.8
    # ... without being uselessly wide: the mean width is a few noise standard deviations.
    assert (upper - lower).mean().item() < 8 * 0.05


def test_q_batch_posterior_shapes(bowl_model) -> None:
    for shape in [(7, 5), (4, 3, 5), (2, 4, 3, 5)]:
        post = bowl_model.posterior(rand(*shape, seed=8))
        assert post.mean.shape == (*shape[:-1], 1)
        assert post.variance.shape == (*shape[:-1], 1)
        assert (post.variance > 0).all()
    joint = bowl_model.posterior(rand(4, 3, 5, seed=9))
    assert joint.mvn.covariance_matrix.shape == (4, 3, 3)
    noisy = bowl_model.posterior(rand(4, 3, 5, seed=9), observation_noise=True)
    assert (noisy.variance > joint.variance).all()


def test_optimize_acqf_with_qlognei(bowl_model, bowl_data) -> None:
    X, _ = bowl_data
    torch.manual_seed(0)
    acqf = qLogNoisyExpectedImprovement(bowl_model, X_baseline=X[:100])
    bounds = spec(5).bounds
    candidates, value = optimize_acqf(acqf, bounds=bounds, q=2, num_restarts=2, raw_samples=32)
    assert candidates.shape == (2, 5)
    assert ((candidates >= bounds[0]) & (candidates <= bounds[1])).all()
    assert torch.isfinite(value).all()


def test_seeded_fits_are_reproducible_and_leave_the_global_rng_alone(bowl_data) -> None:
    X, Y = bowl_data
    options = {**FAST, "min_steps": 20}
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    fits = [SparseGP(**options).fit(X[:300], Y[:300], spec(5, seed=7)) for _ in range(2)]
    assert torch.equal(torch.random.get_rng_state(), before)
    test_X = rand(6, 5, seed=10)
    means = [fit.posterior(test_X).mean for fit in fits]
    torch.testing.assert_close(means[0], means[1], rtol=0, atol=0)
    state = [dict(fit.state_dict()) for fit in fits]
    for key in state[0]:
        torch.testing.assert_close(state[0][key], state[1][key], rtol=0, atol=0)
    other = SparseGP(**options).fit(X[:300], Y[:300], spec(5, seed=8))
    assert not torch.equal(other.posterior(test_X).mean, means[0])


@pytest.mark.parametrize(
    "X, Y, fragment",
    [
        (rand(5, 2), torch.tensor([[0.1], [math.nan], [0.3], [0.2], [0.0]], dtype=DTYPE), "NaN"),
        (torch.tensor([[0.1, math.inf], [0.5, 0.5]], dtype=DTYPE), rand(2, 1), "infinite"),
        (rand(1, 2), rand(1, 1), "1 observation(s); this surrogate needs at least 2"),
        (torch.empty(0, 2, dtype=DTYPE), torch.empty(0, 1, dtype=DTYPE), "0 observation(s)"),
        (rand(5, 3), rand(5, 1), "bounds: expected shape (2, 3)"),
        (rand(5, 2), rand(4, 1), "expected train_X of shape n x d"),
    ],
    ids=["nan-y", "inf-x", "one-point", "no-point", "bounds", "shapes"],
)
def test_unusable_data_raises_surrogate_error(X, Y, fragment: str) -> None:
    with pytest.raises(SurrogateError) as info:
        SparseGP().fit(X, Y, spec(2))
    assert fragment in str(info.value)


@pytest.mark.parametrize("option", ["num_inducing", "batch_size", "lr", "init_points"])
def test_bad_options_raise_surrogate_error(option: str) -> None:
    with pytest.raises(SurrogateError, match=f"{option} must be positive"):
        SparseGP(**{option: 0}).fit(rand(10, 2), rand(10, 1), spec(2))


@pytest.mark.parametrize("n", [50, 300], ids=["exact-init-only", "minibatches"])
def test_constant_outputs_give_a_usable_model(n: int) -> None:
    X = rand(n, 3, seed=11)
    Y = torch.full((n, 1), 3.0, dtype=DTYPE)
    model = SparseGP(**FAST).fit(X, Y, spec(3))
    pred = predictive(model, rand(20, 3, seed=12))
    torch.testing.assert_close(pred.mean, torch.full((20, 1), 3.0, dtype=DTYPE))
    lower, upper = pred.interval(0.95)
    assert (lower < 3.0).all() and (upper > 3.0).all() and (upper - lower).max() < 0.2


def test_larger_n_uses_few_inducing_points() -> None:
    n = 3000
    X = rand(n, 4, seed=13)
    f = torch.sin(3 * X).sum(-1, keepdim=True)
    model = SparseGP(num_inducing=64, min_steps=30).fit(X, f + 0.05 * randn(n, 1), spec(4))
    info = fit_info(model)
    assert info["num_inducing"] == 64
    assert info["steps"] == 30  # 5 epochs of 3 minibatches are fewer than min_steps
    assert model.model.variational_strategy.inducing_points.shape == (64, 4)
    test_X = rand(200, 4, seed=14)
    rmse = (model.posterior(test_X).mean - torch.sin(3 * test_X).sum(-1, keepdim=True)).pow(2)
    assert rmse.mean().sqrt() < 0.05


def test_fixed_inducing_points_stay_at_observed_inputs(bowl_data) -> None:
    X, Y = bowl_data
    model = SparseGP(**{**FAST, "min_steps": 10}, learn_inducing=False).fit(X, Y, spec(5))
    inducing = model.model.variational_strategy.inducing_points
    assert inducing.shape == (FAST["num_inducing"], 5)
    # Every inducing point is one of the (normalized = unit-cube) training inputs.
    assert torch.cdist(inducing, X).min(-1).values.max() < 1e-6


def test_several_outcomes_and_categorical_columns() -> None:
    X = rand(40, 3, seed=15)
    X[:, 2] = (X[:, 2] > 0.5).to(DTYPE)  # a categorical column, treated as continuous
    Y = torch.cat([X[:, :1] + X[:, 2:], (X[:, 1:2] - 0.5) ** 2], dim=-1)
    model = SparseGP().fit(X, Y, spec(3, cat_dims=(2,)))
    assert model.num_outputs == 2
    assert model.posterior(rand(4, 2, 3, seed=16)).mean.shape == (4, 2, 2)
    pred = predictive(model, X[:5])
    torch.testing.assert_close(pred.mean, Y[:5], atol=0.05, rtol=0)
    assert pred.interval(0.95)[0].shape == (5, 2)


def test_diverged_training_keeps_the_initial_fit(monkeypatch, bowl_data) -> None:
    def diverge(*args, **kwargs):
        raise sparse_gp_module._Diverged("loss nan at step 3")

    monkeypatch.setattr(SparseGP, "_train_minibatches", diverge)
    X, Y = bowl_data
    with pytest.warns(SurrogateFallbackWarning, match="diverged .*loss nan at step 3"):
        model = SparseGP(**FAST).fit(X, Y, spec(5))
    assert isinstance(model, SingleTaskVariationalGP)
    assert fit_info(model)["steps"] == 0
    test_X = rand(50, 5, seed=17)
    assert (model.posterior(test_X).mean - bowl(test_X)).abs().mean() < 0.1


def test_failed_fit_falls_back_to_an_exact_gp_on_a_subset(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(SparseGP, "_fit", fail)
    X = rand(30, 2, seed=18)
    with pytest.warns(SurrogateFallbackWarning, match="fit failed .*boom.*exact GP"):
        model = SparseGP().fit(X, X.sum(-1, keepdim=True), spec(2))
    assert isinstance(model, SingleTaskGP)
    assert "exact GP on 30 of 30" in str(fit_info(model)["sparse_gp_fallback"])
    assert model.posterior(rand(3, 2)).mean.shape == (3, 1)

"""The SAAS GP: fits by NUTS, finds the active inputs, diagnostics, seeds, failures.

NUTS runs with tiny settings (32 warmup steps, 32 draws) and the fits are shared by
module-scoped fixtures: the time goes to JAX compiling, about 15 CPU seconds for each new
data shape and 4 for each further fit, so the file has 5 NUTS fits on 2 data shapes.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.fit import fit_fully_bayesian_model_nuts
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.fully_bayesian import SaasFullyBayesianSingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf

from surrogates.base import FitSpec, SurrogateError, SurrogateFallbackWarning, fit_info
from surrogates.predictive import GaussianMixture, predictive
from surrogates.saas import SaasGP

#: NUTS fits, seconds each: the full tier runs these.
pytestmark = pytest.mark.slow

DTYPE = torch.float64
TINY = {"warmup_steps": 32, "num_samples": 32, "thinning": 4}  # 8 draws kept
ACTIVE = (0, 1)


def spec(d: int, **kwargs) -> FitSpec:
    return FitSpec(bounds=torch.stack([torch.zeros(d), torch.ones(d)]).to(DTYPE), **kwargs)


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)


def f5(X: torch.Tensor) -> torch.Tensor:
    """Depends on inputs 0 and 1 only."""
    return (torch.sin(6 * X[:, 0]) + 4 * (X[:, 1] - 0.5) ** 2).unsqueeze(-1)


def coverage(model, X: torch.Tensor, Y: torch.Tensor) -> float:
    lower, upper = predictive(model, X).interval(0.95)
    return ((lower <= Y) & (upper >= Y)).to(DTYPE).mean().item()


TEST_X = rand(6, 5, seed=9)


def fresh_means(model) -> torch.Tensor:
    """Posterior means at ``TEST_X`` from a model's first posterior call.

    GPyTorch caches its solves at the first call, and later calls in other contexts
    (gradients, batch shapes) may differ in the last bits, so bitwise comparisons use this.
    """
    return model.posterior(TEST_X).mean.detach()


@pytest.fixture(scope="module")
def data5():
    X = rand(20, 5)
    return X, f5(X)


@pytest.fixture(scope="module")
def fit5(data5):
    X, Y = data5
    model = SaasGP(**TINY).fit(X, Y, spec(5))  # seed None means 0
    return model, fresh_means(model)


@pytest.fixture(scope="module")
def model5(fit5):
    return fit5[0]


@pytest.fixture(scope="module")
def fit5x2(data5):
    """Two outcomes, seed 0: outcome 0 is the first one's data, so a second fit of it."""
    X, Y = data5
    model = SaasGP(**TINY).fit(X, torch.cat([Y, X[:, 2:3] - X[:, 3:4]], dim=-1), spec(5, seed=0))
    return model, fresh_means(model.models[0])


def test_fits_a_1d_function() -> None:
    X = torch.linspace(0, 1, 10, dtype=DTYPE).unsqueeze(-1)
    Y = torch.sin(6 * X)
    saas = SaasGP(warmup_steps=32, num_samples=40, thinning=8)
    model = saas.fit(X, Y, spec(1, seed=1))
    assert isinstance(model, SaasFullyBayesianSingleTaskGP)
    assert not model.training
    # The settings are honoured: 40 draws thinned by 8 leave 5 in the model.
    assert model.num_mcmc_samples == 5
    info = fit_info(model)
    assert info["num_mcmc_draws"] == 5
    assert (info["warmup_steps"], info["num_samples"], info["thinning"]) == (32, 40, 8)
    assert (info["max_tree_depth"], info["num_chains"], info["seed"]) == (6, 1, 1)
    post = model.posterior(X)
    assert post.mean.shape == (5, 10, 1)  # one GP per MCMC draw
    torch.testing.assert_close(post.mixture_mean, Y, atol=0.1, rtol=0)
    test_X = torch.linspace(0.02, 0.98, 25, dtype=DTYPE).unsqueeze(-1)
    assert coverage(model, test_X, torch.sin(6 * test_X)) >= 0.8


def test_5d_finds_the_active_inputs_and_covers_held_out_points(model5) -> None:
    assert isinstance(model5, SaasFullyBayesianSingleTaskGP)
    lengthscale = model5.median_lengthscale.detach()
    assert lengthscale.shape == (5,)
    inactive = [i for i in range(5) if i not in ACTIVE]
    assert lengthscale[list(ACTIVE)].max() < lengthscale[inactive].min()
    test_X = rand(50, 5, seed=1)
    assert coverage(model5, test_X, f5(test_X)) >= 0.7


def test_predictive_is_a_mixture_over_draws(model5) -> None:
    pred = predictive(model5, rand(7, 5, seed=2))
    assert isinstance(pred, GaussianMixture)
    assert pred.locs.shape == (8, 7, 1)
    lower, upper = pred.interval(0.95)
    assert (lower < pred.mean).all() and (pred.mean < upper).all()


def test_q_batch_posterior_shapes(model5) -> None:
    for shape in [(7, 5), (4, 3, 5), (2, 4, 3, 5)]:
        post = model5.posterior(rand(*shape, seed=3))
        # The MCMC dimension is inserted before q.
        assert post.mean.shape == (*shape[:-2], 8, shape[-2], 1)
        assert post.mixture_mean.shape == (*shape[:-1], 1)
        assert (post.variance > 0).all()
    joint = model5.posterior(rand(4, 3, 5, seed=4))
    assert joint.mvn.covariance_matrix.shape == (4, 8, 3, 3)


def test_optimize_acqf_with_qlognei(model5, data5) -> None:
    X, _ = data5
    acqf = qLogNoisyExpectedImprovement(model5, X_baseline=X, prune_baseline=False)
    candidates, value = optimize_acqf(
        acqf, bounds=spec(5).bounds, q=2, num_restarts=2, raw_samples=32
    )
    assert candidates.shape == (2, 5)
    assert ((candidates >= 0) & (candidates <= 1)).all()
    assert torch.isfinite(value).all()


def test_diagnostics_are_recorded(model5) -> None:
    info = fit_info(model5)
    for key in ("r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences", "fit_seconds"):
        assert isinstance(info[key], float) and math.isfinite(info[key]), key
    assert info["r_hat_max"] > 0.5 and info["ess_bulk_min"] > 0
    assert 0 <= info["divergences"] <= TINY["num_samples"]
    assert info["num_mcmc_draws"] == TINY["num_samples"] // TINY["thinning"] == 8
    assert info["seed"] == 0


def assert_same_state(a, b) -> None:
    state_a, state_b = dict(a.state_dict()), dict(b.state_dict())
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        torch.testing.assert_close(state_a[key], state_b[key], rtol=0, atol=0)


def test_seeded_fits_are_bitwise_reproducible(fit5, fit5x2) -> None:
    (model5, means5), (model5x2, means_again) = fit5, fit5x2
    # Outcome 0 of the two-outcome fit is sampled with the same key (seed None is 0).
    again = model5x2.models[0]
    assert_same_state(again, model5)
    torch.testing.assert_close(means_again, means5, rtol=0, atol=0)


def test_matches_botorchs_own_nuts_fit(fit5, data5) -> None:
    X, Y = data5
    direct = SaasFullyBayesianSingleTaskGP(
        X,
        Y,
        input_transform=Normalize(d=5, bounds=spec(5).bounds),
        outcome_transform=Standardize(m=1),
    )
    fit_fully_bayesian_model_nuts(
        direct, warmup_steps=32, num_samples=32, thinning=4, disable_progbar=True, seed=0
    )
    assert_same_state(direct, fit5[0])
    torch.testing.assert_close(fresh_means(direct), fit5[1], rtol=0, atol=0)


def test_several_outcomes_give_a_model_list(fit5x2) -> None:
    model = fit5x2[0]
    assert isinstance(model, ModelListGP)
    assert all(isinstance(m, SaasFullyBayesianSingleTaskGP) for m in model.models)
    assert model.num_outputs == 2
    assert model.posterior(rand(4, 3, 5, seed=5)).mean.shape == (4, 8, 3, 2)
    pred = predictive(model, rand(3, 5, seed=6))
    assert isinstance(pred, GaussianMixture) and pred.locs.shape == (8, 3, 2)
    info = fit_info(model)
    per_outcome = [fit_info(m) for m in model.models]
    assert info["num_mcmc_draws"] == 8
    assert info["divergences"] == sum(i["divergences"] for i in per_outcome)
    assert info["r_hat_max"] == max(i["r_hat_max"] for i in per_outcome)
    assert info["ess_bulk_min"] == min(i["ess_bulk_min"] for i in per_outcome)
    # Outcome 1 has its own key: different draws from outcome 0's.
    ls = [m.covar_module.base_kernel.lengthscale for m in model.models]
    assert not torch.equal(ls[0], ls[1])


def test_failed_nuts_falls_back_to_the_exact_gp(monkeypatch, data5) -> None:
    from numpyro.infer import MCMC

    def broken(self, *args, **kwargs):
        raise RuntimeError("cholesky failed")

    monkeypatch.setattr(MCMC, "run", broken)
    X, Y = data5
    with pytest.warns(SurrogateFallbackWarning, match=r"saas: NUTS failed.*cholesky failed"):
        model = SaasGP(**TINY).fit(X, Y, spec(5, seed=2))
    assert isinstance(model, SingleTaskGP) and not model.training
    info = fit_info(model)
    assert info["fallback"] == "gp" and "cholesky failed" in str(info["fallback_reason"])
    assert model.posterior(rand(3, 5, seed=8)).mean.shape == (3, 1)


@pytest.mark.parametrize(
    "X, Y, fragment",
    [
        (rand(5, 2), torch.tensor([[0.1], [math.nan], [0.3], [0.2], [0.0]], dtype=DTYPE), "NaN"),
        (torch.tensor([[0.1, math.inf], [0.5, 0.5]], dtype=DTYPE), rand(2, 1), "infinite"),
        (rand(1, 2), rand(1, 1), "1 observation(s); this surrogate needs at least 2"),
        (rand(5, 3), rand(5, 1), "bounds: expected shape (2, 3)"),
        (rand(5, 2), rand(4, 1), "expected train_X of shape n x d"),
    ],
    ids=["nan-y", "inf-x", "one-point", "bounds", "rows"],
)
def test_unusable_data_raises_surrogate_error(X, Y, fragment: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurrogateFallbackWarning)  # must raise, not fall back
        with pytest.raises(SurrogateError) as info:
            SaasGP(**TINY).fit(X, Y, spec(2))
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "options", [{"num_samples": 0}, {"thinning": 0}, {"warmup_steps": -1}, {"num_chains": 1.5}]
)
def test_invalid_options_raise_surrogate_error(options) -> None:
    with pytest.raises(SurrogateError, match=r"saas: .* must be an integer"):
        SaasGP(**options)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_builds_on_the_device_of_the_data(data5) -> None:
    X, Y = (t.cuda() for t in data5)
    model = SaasGP(**TINY).fit(X, Y, FitSpec(bounds=spec(5).bounds.cuda()))
    post = model.posterior(X[:3])
    assert post.mean.device.type == "cuda" and post.mean.dtype == DTYPE

"""Predictive distributions: Gaussian mixtures, sampled predictives and ``predictive(model, X)``.

Every number is checked against an independent computation (SciPy, NumPy, BoTorch's
own posterior), never against the module's output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from scipy.optimize import brentq
from scipy.special import logsumexp
from scipy.stats import norm

from surrogates import ExactGP, FitSpec, GaussianMixture, SampledPredictive, predictive

DTYPE = torch.float64


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=DTYPE)


def two_components() -> GaussianMixture:
    """Two points, one outcome: a bimodal mixture and a skewed one."""
    locs = t([[[0.0], [1.0]], [[3.0], [1.5]]])
    scales = t([[[1.0], [0.2]], [[0.5], [2.0]]])
    return GaussianMixture(locs, scales)


def scipy_mixture_cdf(y: float, locs: np.ndarray, scales: np.ndarray) -> float:
    return float(np.mean(norm.cdf(y, locs, scales)))


def scipy_mixture_quantile(p: float, locs: np.ndarray, scales: np.ndarray) -> float:
    return brentq(
        lambda y: scipy_mixture_cdf(y, locs, scales) - p, -100.0, 100.0, xtol=1e-14, rtol=1e-14
    )


# --- GaussianMixture ----------------------------------------------------------------------


def test_one_component_interval_is_mean_plus_minus_1_96_sd() -> None:
    locs = t([[[0.0, 10.0], [-2.0, 0.5]]])
    scales = t([[[1.0, 3.0], [0.1, 2.0]]])
    lower, upper = GaussianMixture(locs, scales).interval(0.95)
    torch.testing.assert_close(lower, locs[0] - 1.959964 * scales[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(upper, locs[0] + 1.959964 * scales[0], atol=1e-6, rtol=0)
    lower, upper = GaussianMixture(locs, scales).interval(0.5)
    torch.testing.assert_close(upper, locs[0] + norm.ppf(0.75) * scales[0], atol=1e-6, rtol=0)
    assert lower.shape == upper.shape == (2, 2)


def test_one_component_quantile_is_accurate_in_float64_and_in_the_tails() -> None:
    mixture = GaussianMixture(torch.zeros(1, 1, 1, dtype=DTYPE), torch.ones(1, 1, 1, dtype=DTYPE))
    for p in [0.025, 0.3, 1e-6, 1e-8, 1 - 1e-6]:
        assert abs(mixture.quantile(p).item() - norm.ppf(p)) < 1e-10, p


def test_two_component_quantile_inverts_the_cdf_and_matches_scipy() -> None:
    mixture = two_components()
    locs, scales = mixture.locs.numpy(), mixture.scales.numpy()
    for p in [0.025, 0.3, 0.5, 0.9, 0.975]:
        q = mixture.quantile(p)
        assert q.shape == (2, 1)
        assert (mixture.cdf(q) - p).abs().max() < 1e-8
        for i in range(2):
            expected = scipy_mixture_quantile(p, locs[:, i, 0], scales[:, i, 0])
            assert abs(q[i, 0].item() - expected) < 1e-7
    # The bimodal point's 95% interval is not the one of a Gaussian with the same moments.
    lower, upper = mixture.interval(0.95)
    expected_lower = scipy_mixture_quantile(0.025, locs[:, 0, 0], scales[:, 0, 0])
    expected_upper = scipy_mixture_quantile(0.975, locs[:, 0, 0], scales[:, 0, 0])
    assert abs(lower[0, 0].item() - expected_lower) < 1e-7
    assert abs(upper[0, 0].item() - expected_upper) < 1e-7
    moment_upper = 1.5 + 1.959964 * math.sqrt(mixture.variance[0, 0].item())
    assert abs(upper[0, 0].item() - moment_upper) > 0.05


def test_mixture_quantile_matches_monte_carlo() -> None:
    mixture = two_components()
    gen = torch.Generator().manual_seed(0)
    s = 200_000
    first = torch.rand(s, 2, 1, generator=gen) < 0.5
    (loc0, loc1), (scale0, scale1) = mixture.locs, mixture.scales
    noise = torch.randn(s, 2, 1, generator=gen, dtype=DTYPE)
    draws = torch.where(first, loc0, loc1) + torch.where(first, scale0, scale1) * noise
    for p in [0.1, 0.5, 0.9]:
        # The share of draws below the quantile is p, up to 4 binomial standard errors.
        share = (draws <= mixture.quantile(p)).double().mean(0)
        assert (share - p).abs().max() < 4 * math.sqrt(p * (1 - p) / s)


def test_cdf_and_log_prob_match_scipy() -> None:
    mixture = two_components()
    locs, scales = mixture.locs.numpy(), mixture.scales.numpy()
    Y = t([[0.7], [-3.0]])
    expected_cdf = norm.cdf(Y.numpy()[None], locs, scales).mean(0)
    expected_logp = np.log(norm.pdf(Y.numpy()[None], locs, scales).mean(0))
    np.testing.assert_allclose(mixture.cdf(Y).numpy(), expected_cdf, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mixture.log_prob(Y).numpy(), expected_logp, rtol=1e-12)
    # Far in the tails the density underflows; the log density must not.
    far = t([[40.0], [-60.0]])
    expected_far = logsumexp(norm.logpdf(far.numpy()[None], locs, scales), axis=0) - math.log(2)
    np.testing.assert_allclose(mixture.log_prob(far).numpy(), expected_far, rtol=1e-10)


def test_mean_and_variance_follow_the_law_of_total_variance() -> None:
    mixture = two_components()
    locs, scales = mixture.locs.numpy(), mixture.scales.numpy()
    mean = locs.mean(0)
    second_moment = (scales**2 + locs**2).mean(0)
    np.testing.assert_allclose(mixture.mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(mixture.variance.numpy(), second_moment - mean**2, rtol=1e-12)
    # For the first point: 0.5 * (1 + 0.25) + Var{0, 3} = 0.625 + 2.25.
    assert abs(mixture.variance[0, 0].item() - 2.875) < 1e-12


@pytest.mark.parametrize(
    ("locs_shape", "scales_shape"),
    [((2, 3), (2, 3)), ((2, 3, 1), (2, 3, 2)), ((1, 2, 3, 1), (1, 2, 3, 1)), ((3, 1), (1, 3, 1))],
)
def test_mixture_shape_errors(locs_shape, scales_shape) -> None:
    with pytest.raises(ValueError, match="s x n x m"):
        GaussianMixture(torch.zeros(locs_shape), torch.ones(scales_shape))


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5])
def test_interval_level_must_be_strictly_between_0_and_1(level: float) -> None:
    mixture = two_components()
    sampled = SampledPredictive(torch.zeros(10, 2, 1, dtype=DTYPE), lambda Y: Y)
    with pytest.raises(ValueError, match="level"):
        mixture.interval(level)
    with pytest.raises(ValueError, match="level"):
        sampled.interval(level)


# --- SampledPredictive --------------------------------------------------------------------


def sampled() -> tuple[SampledPredictive, np.ndarray]:
    rng = np.random.default_rng(1)
    draws = rng.gamma(2.0, size=(501, 3, 2))  # skewed, so mean and median differ
    return SampledPredictive(torch.from_numpy(draws), lambda Y: -(Y**2)), draws


def test_sampled_interval_is_the_empirical_quantiles() -> None:
    pred, draws = sampled()
    for level in [0.95, 0.5, 0.8]:
        lower, upper = pred.interval(level)
        tail = (1 - level) / 2
        np.testing.assert_allclose(lower.numpy(), np.quantile(draws, tail, axis=0), rtol=1e-12)
        np.testing.assert_allclose(upper.numpy(), np.quantile(draws, 1 - tail, axis=0), rtol=1e-12)
    # With 501 draws, the 2.5% quantile is the 13th smallest draw (NumPy's linear rule: 12.5).
    lower, _ = pred.interval(0.95)
    ordered = np.sort(draws, axis=0)
    np.testing.assert_allclose(lower.numpy(), ordered[12] + 0.5 * (ordered[13] - ordered[12]))


def test_sampled_cdf_mean_and_log_prob() -> None:
    pred, draws = sampled()
    Y = torch.from_numpy(np.median(draws, axis=0))
    # Half of 501 draws lie at or below the median: 251 of them.
    np.testing.assert_allclose(pred.cdf(Y).numpy(), np.full((3, 2), 251 / 501))
    Y = torch.from_numpy(draws[7])  # a draw itself counts as below-or-equal
    expected = (draws <= draws[7][None]).mean(0)
    np.testing.assert_allclose(pred.cdf(Y).numpy(), expected)
    assert pred.cdf(torch.full((3, 2), -1.0, dtype=DTYPE)).eq(0).all()
    assert pred.cdf(torch.full((3, 2), 1e9, dtype=DTYPE)).eq(1).all()
    np.testing.assert_allclose(pred.mean.numpy(), draws.mean(0), rtol=1e-12)
    torch.testing.assert_close(pred.log_prob(t([[1.0, 2.0]] * 3)), -t([[1.0, 4.0]] * 3))


# --- predictive(model, X) -----------------------------------------------------------------


def fitted_gp() -> tuple[SingleTaskGP, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(10, 2, generator=gen, dtype=DTYPE)
    Y = 3.0 + 2.0 * torch.sin(4 * X).sum(-1, keepdim=True)
    Y = Y + 0.1 * torch.randn(10, 1, generator=gen, dtype=DTYPE)
    spec = FitSpec(bounds=torch.stack([torch.zeros(2), torch.ones(2)]).to(DTYPE), seed=0)
    model = ExactGP().fit(X, Y, spec)
    assert isinstance(model, SingleTaskGP)
    return model, torch.rand(5, 2, generator=gen, dtype=DTYPE)


def test_predictive_of_a_gp_is_the_posterior_with_observation_noise() -> None:
    model, X = fitted_gp()
    pred = predictive(model, X)
    assert isinstance(pred, GaussianMixture)
    assert pred.locs.shape == (1, 5, 1)
    with torch.no_grad():
        noisy = model.posterior(X, observation_noise=True)
        noiseless = model.posterior(X)
    torch.testing.assert_close(pred.mean, noisy.mean)
    torch.testing.assert_close(pred.variance, noisy.variance)
    # The noise is the likelihood's, in the units of the data (Standardize scales it back).
    transform = model.outcome_transform
    assert isinstance(transform, Standardize)
    noise = model.likelihood.noise.item() * transform.stdvs.item() ** 2
    torch.testing.assert_close(pred.variance - noiseless.variance, torch.full_like(X[:, :1], noise))
    lower, upper = pred.interval(0.95)
    sd = noisy.variance.sqrt()
    torch.testing.assert_close(lower, noisy.mean - norm.ppf(0.975) * sd, atol=1e-6, rtol=0)
    torch.testing.assert_close(upper, noisy.mean + norm.ppf(0.975) * sd, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(5,), (1, 5, 2), (2, 3, 5, 2)])
def test_predictive_refuses_x_that_is_not_n_x_d(shape) -> None:
    model, _ = fitted_gp()
    with pytest.raises(ValueError, match="n x d"):
        predictive(model, torch.rand(*shape, dtype=DTYPE))


def test_predictive_uses_a_model_s_own_predictive() -> None:
    expected = SampledPredictive(torch.zeros(4, 3, 1), lambda Y: Y)
    seen: list[torch.Tensor] = []

    class OwnPredictive:
        def predictive(self, X: torch.Tensor) -> SampledPredictive:
            seen.append(X)
            return expected

    X = torch.rand(3, 2)
    assert predictive(OwnPredictive(), X) is expected  # type: ignore[arg-type]
    assert len(seen) == 1 and seen[0] is X


def saas_draws() -> dict[str, torch.Tensor]:
    return {
        "mean": t([0.0, 0.3, -0.2]),
        "outputscale": t([1.0, 2.0, 0.5]),
        "lengthscale": t([[0.5, 1.0], [1.0, 3.0], [0.3, 0.7]]),
        "noise": t([1e-3, 1e-2, 1e-4]),
    }


def saas_model(draws: dict[str, torch.Tensor]):
    from botorch.models.fully_bayesian import SaasFullyBayesianSingleTaskGP

    gen = torch.Generator().manual_seed(3)
    X = torch.rand(8, 2, generator=gen, dtype=DTYPE)
    Y = 5.0 + torch.sin(3 * X.sum(-1, keepdim=True))
    model = SaasFullyBayesianSingleTaskGP(X, Y, outcome_transform=Standardize(m=1))
    model.load_mcmc_samples(draws)
    model.eval()
    return model


def test_predictive_of_a_fully_bayesian_gp_has_one_component_per_draw() -> None:
    draws = saas_draws()
    model = saas_model(draws)
    X = torch.rand(4, 2, generator=torch.Generator().manual_seed(4), dtype=DTYPE)
    pred = predictive(model, X)
    assert isinstance(pred, GaussianMixture)
    assert pred.locs.shape == (3, 4, 1)
    with torch.no_grad():
        post = model.posterior(X, observation_noise=True)
        torch.testing.assert_close(pred.mean, post.mixture_mean)
        torch.testing.assert_close(pred.variance, post.mixture_variance)
        # Component j is the GP with the j-th draw's hyperparameters alone.
        for j in range(3):
            single = saas_model({k: v[j : j + 1] for k, v in draws.items()})
            one = single.posterior(X, observation_noise=True)
            torch.testing.assert_close(pred.locs[j], one.mean[0])
            torch.testing.assert_close(pred.scales[j] ** 2, one.variance[0])
    # The draws disagree, so the mixture is wider than its average component.
    assert (pred.variance > (pred.scales**2).mean(0)).all()

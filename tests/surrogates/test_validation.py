"""Held-out predictions: closed-form exact-GP LOO, k-fold cross-validation and their scores.

The closed-form LOO is checked against brute force (a GP conditioned on ``n - 1`` points
with the same hyperparameters and outcome standardization), the scores against hand
computations.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.transforms.outcome import Log, Standardize
from scipy.stats import norm

from surrogates import ExactGP, FitSpec, GaussianMixture, SurrogateError
from surrogates.validation import HeldOut, cross_validate, exact_gp_loo

DTYPE = torch.float64

# Sub-models on standardized subsets of the data are not exactly standardized.
pytestmark = pytest.mark.filterwarnings("ignore::botorch.exceptions.InputDataWarning")


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=DTYPE)


def box(d: int, low: float = 0.0, high: float = 1.0, **kwargs) -> FitSpec:
    bounds = torch.tensor([[low] * d, [high] * d], dtype=DTYPE)
    return FitSpec(bounds=bounds, **kwargs)


def noisy_data(n: int, d: int, low: float, high: float, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    X = low + (high - low) * torch.rand(n, d, generator=gen, dtype=DTYPE)
    Y = 10.0 + 3.0 * torch.sin(X).sum(-1, keepdim=True)
    return X, Y + 0.3 * torch.randn(n, 1, generator=gen, dtype=DTYPE)


# --- exact_gp_loo -------------------------------------------------------------------------


def brute_force_loo(model: SingleTaskGP, X: torch.Tensor, Y: torch.Tensor, spec: FitSpec):
    """Mean and variance at each ``X[i]`` of the GP on the other ``n - 1`` points, with the
    fitted hyperparameters and the full data's outcome standardization."""
    transform = model.outcome_transform
    assert isinstance(transform, Standardize)
    # Standardize uses the full data's mean and (unbiased) standard deviation.
    torch.testing.assert_close(transform.means.reshape(()), Y.mean())
    torch.testing.assert_close(transform.stdvs.reshape(()), Y.std())
    low, high = spec.bounds
    Xn = (X - low) / (high - low)
    Ys = (Y - Y.mean()) / Y.std()
    means, variances = [], []
    for i in range(len(X)):
        keep = torch.arange(len(X)) != i
        sub = SingleTaskGP(
            Xn[keep],
            Ys[keep],
            likelihood=copy.deepcopy(model.likelihood),
            covar_module=copy.deepcopy(model.covar_module),
            outcome_transform=None,
        )
        sub.mean_module.load_state_dict(model.mean_module.state_dict())
        sub.eval()
        with torch.no_grad():
            post = sub.posterior(Xn[i : i + 1], observation_noise=True)
        means.append(post.mean.item() * Y.std().item() + Y.mean().item())
        variances.append(post.variance.item() * Y.var().item())
    return t(means).unsqueeze(-1), t(variances).unsqueeze(-1)


def test_exact_gp_loo_equals_brute_force_leave_one_out() -> None:
    X, Y = noisy_data(12, 2, low=-2.0, high=3.0)
    spec = box(2, -2.0, 3.0, seed=0)
    model = ExactGP().fit(X, Y, spec)
    held = exact_gp_loo(model)
    assert held is not None
    assert held.method == "loo" and held.complete and held.seconds >= 0
    assert held.observed.shape == held.mean.shape == held.pit.shape == (12, 1)
    torch.testing.assert_close(held.observed, Y)
    mean, var = brute_force_loo(model, X, Y, spec)
    torch.testing.assert_close(held.mean, mean, atol=1e-6, rtol=1e-6)
    sd = var.sqrt()
    torch.testing.assert_close(held.upper - held.lower, 2 * norm.ppf(0.975) * sd, atol=1e-5, rtol=0)
    torch.testing.assert_close((held.upper + held.lower) / 2, mean, atol=1e-6, rtol=1e-6)
    expected_logp = torch.from_numpy(norm.logpdf(Y.numpy(), mean.numpy(), sd.numpy()))
    torch.testing.assert_close(held.log_density, expected_logp, atol=1e-6, rtol=1e-6)
    expected_pit = torch.from_numpy(norm.cdf(Y.numpy(), mean.numpy(), sd.numpy()))
    torch.testing.assert_close(held.pit, expected_pit, atol=1e-6, rtol=1e-6)
    # LOO predictions are not the in-sample fit: held-out points are predicted worse.
    with torch.no_grad():
        in_sample = model.posterior(X).mean
    assert ((held.mean - Y) ** 2).sum() > ((in_sample - Y) ** 2).sum()


def test_exact_gp_loo_with_fixed_hyperparameters_and_a_mean_far_from_zero() -> None:
    X, Y = noisy_data(9, 1, low=0.0, high=1.0, seed=1)
    model = SingleTaskGP(X, Y, outcome_transform=Standardize(m=1))
    model.covar_module.lengthscale = 0.3
    model.likelihood.noise = 0.05
    model.mean_module.constant.data.fill_(0.7)
    held = exact_gp_loo(model)
    assert held is not None
    mean, var = brute_force_loo(model, X, Y, box(1))
    torch.testing.assert_close(held.mean, mean, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(
        held.log_density,
        torch.from_numpy(norm.logpdf(Y.numpy(), mean.numpy(), var.sqrt().numpy())),
        atol=1e-6,
        rtol=1e-6,
    )


def kernel_loo(model: SingleTaskGP, X: torch.Tensor, Y: torch.Tensor, noise: torch.Tensor):
    """Brute-force LOO by conditioning the kernel matrix on the other ``n - 1`` points, with
    ``noise`` the per-point noise variance in standardized units."""
    model.eval()
    with torch.no_grad():
        Xt = model.transform_inputs(X)
        K = model.covar_module(Xt).to_dense().numpy() + np.diag(noise.numpy())
        mu = model.mean_module(Xt).numpy()
    ys = ((Y - Y.mean()) / Y.std()).reshape(-1).numpy()
    means, variances = [], []
    for i in range(len(ys)):
        rest = np.arange(len(ys)) != i
        w = np.linalg.solve(K[np.ix_(rest, rest)], K[rest, i])
        means.append(mu[i] + w @ (ys[rest] - mu[rest]))
        variances.append(K[i, i] - w @ K[rest, i])
    std = Y.std().item()
    return t(means).unsqueeze(-1) * std + Y.mean(), t(variances).unsqueeze(-1) * std**2


def test_exact_gp_loo_of_a_mixed_gp_with_a_categorical_column() -> None:
    gen = torch.Generator().manual_seed(2)
    X = torch.cat(
        [
            torch.rand(12, 1, generator=gen, dtype=DTYPE),
            torch.randint(0, 3, (12, 1), generator=gen),
        ],
        dim=-1,
    ).to(DTYPE)
    Y = torch.sin(4 * X[:, :1]) + X[:, 1:] + 0.1 * torch.randn(12, 1, generator=gen, dtype=DTYPE)
    spec = FitSpec(bounds=t([[0.0, 0.0], [1.0, 2.0]]), cat_dims=[1], seed=0)
    model = ExactGP().fit(X, Y, spec)
    assert isinstance(model, MixedSingleTaskGP)
    held = exact_gp_loo(model)
    assert held is not None
    noise = model.likelihood.noise.detach().reshape(()).expand(12)
    mean, var = kernel_loo(model, X, Y, noise)
    torch.testing.assert_close(held.mean, mean, atol=1e-6, rtol=1e-6)
    expected_logp = norm.logpdf(Y.numpy(), mean.numpy(), var.sqrt().numpy())
    torch.testing.assert_close(held.log_density, torch.from_numpy(expected_logp), atol=1e-6, rtol=0)


def test_exact_gp_loo_with_known_noise_uses_each_point_s_own_noise() -> None:
    X, Y = noisy_data(10, 1, low=0.0, high=1.0, seed=4)
    Yvar = torch.linspace(0.01, 0.5, 10, dtype=DTYPE).unsqueeze(-1)
    model = SingleTaskGP(X, Y, train_Yvar=Yvar, outcome_transform=Standardize(m=1))
    model.covar_module.lengthscale = 0.4
    held = exact_gp_loo(model)
    assert held is not None
    mean, var = kernel_loo(model, X, Y, (Yvar / Y.var()).reshape(-1))
    torch.testing.assert_close(held.mean, mean, atol=1e-6, rtol=1e-6)
    expected_logp = norm.logpdf(Y.numpy(), mean.numpy(), var.sqrt().numpy())
    torch.testing.assert_close(held.log_density, torch.from_numpy(expected_logp), atol=1e-6, rtol=0)


def test_exact_gp_loo_is_none_where_it_does_not_apply() -> None:
    X, Y = noisy_data(8, 2, low=0.0, high=1.0)
    deterministic = GenericDeterministicModel(lambda X: X.sum(-1, keepdim=True))
    assert exact_gp_loo(deterministic) is None
    two_outputs = SingleTaskGP(X, torch.cat([Y, -Y], dim=-1))
    assert two_outputs.num_outputs == 2
    assert exact_gp_loo(two_outputs) is None
    log_outcome = SingleTaskGP(X, Y, outcome_transform=Log())
    assert exact_gp_loo(log_outcome) is None
    batched = SingleTaskGP(X.expand(3, 8, 2), Y.expand(3, 8, 1))
    assert exact_gp_loo(batched) is None


# --- cross_validate -----------------------------------------------------------------------


class Constant:
    """A stand-in fitted model: every prediction is ``N(mean of its training Y, sd^2)``."""

    def __init__(self, train_Y: torch.Tensor, sd: float) -> None:
        self.loc, self.sd = train_Y.mean(0), sd

    def predictive(self, X: torch.Tensor) -> GaussianMixture:
        locs = self.loc.expand(1, X.shape[0], -1).clone()
        return GaussianMixture(locs, torch.full_like(locs, self.sd))


@dataclass
class Recording:
    """A surrogate that records what each fit was given; its fits may sleep."""

    name: str = "recording"
    sd: float = 1.0
    sleep: float = 0.0
    fits: list[torch.Tensor] = field(default_factory=list)

    def fit(self, train_X: torch.Tensor, train_Y: torch.Tensor, spec: FitSpec) -> Constant:
        self.fits.append(train_Y.clone())
        time.sleep(self.sleep)
        return Constant(train_Y, self.sd)


def distinct_data(n: int, m: int = 1):
    X = torch.rand(n, 2, generator=torch.Generator().manual_seed(n), dtype=DTYPE)
    Y = torch.arange(1.0, n * m + 1, dtype=DTYPE).reshape(n, m) ** 1.5
    return X, Y


def same_rows(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether ``a`` and ``b`` hold the same rows, in any order."""
    return a.shape == b.shape and torch.equal(a[a[:, 0].argsort()], b[b[:, 0].argsort()])


@pytest.mark.parametrize(("n", "folds", "m"), [(10, 5, 1), (11, 3, 1), (4, 10, 1), (7, 7, 2)])
def test_cross_validate_holds_out_every_point_exactly_once(n: int, folds: int, m: int) -> None:
    X, Y = distinct_data(n, m)
    surrogate = Recording()
    held = cross_validate(surrogate, X, Y, box(2, seed=3), folds=folds)
    k = min(folds, n)
    assert held.method == f"{k}-fold" and held.complete
    assert len(surrogate.fits) == k
    assert held.observed.shape == (n, m)
    assert same_rows(held.observed, Y)
    # Each fold's model saw exactly the other points, and predicted its held-out points.
    sizes = [len(c) for c in torch.arange(n).tensor_split(k)]
    for fold_obs, fold_mean, train in zip(
        held.observed.split(sizes), held.mean.split(sizes), surrogate.fits, strict=True
    ):
        assert same_rows(torch.cat([fold_obs, train]), Y)
        torch.testing.assert_close(fold_mean, train.mean(0).expand_as(fold_mean))


def test_cross_validate_scores_with_the_fold_predictive() -> None:
    X, Y = distinct_data(10)
    held = cross_validate(Recording(sd=2.0), X, Y, box(2, seed=0), folds=5)
    mean, obs = held.mean.numpy(), held.observed.numpy()
    torch.testing.assert_close(held.log_density, torch.from_numpy(norm.logpdf(obs, mean, 2.0)))
    torch.testing.assert_close(held.pit, torch.from_numpy(norm.cdf(obs, mean, 2.0)))
    half = norm.ppf(0.975) * 2.0
    torch.testing.assert_close(held.lower, held.mean - half, atol=1e-6, rtol=0)
    torch.testing.assert_close(held.upper, held.mean + half, atol=1e-6, rtol=0)


def test_cross_validate_is_reproducible_for_a_seed() -> None:
    X, Y = distinct_data(20)
    first = cross_validate(Recording(), X, Y, box(2, seed=7))
    again = cross_validate(Recording(), X, Y, box(2, seed=7))
    other = cross_validate(Recording(), X, Y, box(2, seed=8))
    torch.testing.assert_close(first.observed, again.observed)
    torch.testing.assert_close(first.mean, again.mean)
    assert not torch.equal(first.observed, other.observed)
    # No seed is the same as seed 0.
    unseeded = cross_validate(Recording(), X, Y, box(2))
    torch.testing.assert_close(
        unseeded.observed, cross_validate(Recording(), X, Y, box(2, seed=0)).observed
    )


def test_cross_validate_stops_at_the_time_limit() -> None:
    X, Y = distinct_data(10)
    slow = Recording(sleep=0.15)
    held = cross_validate(slow, X, Y, box(2, seed=0), folds=5, time_limit=0.2)
    assert not held.complete
    # The first fold is always scored; the limit was passed before the last one.
    assert 1 <= len(slow.fits) < 5
    assert held.observed.shape == (2 * len(slow.fits), 1)
    assert held.method == "5-fold"
    assert held.seconds >= 0.15 * len(slow.fits)
    unlimited = cross_validate(Recording(), X, Y, box(2, seed=0), folds=5, time_limit=60.0)
    assert unlimited.complete and unlimited.observed.shape == (10, 1)


def test_cross_validate_needs_two_folds() -> None:
    X, Y = distinct_data(1)
    with pytest.raises(SurrogateError, match="need 2"):
        cross_validate(Recording(), X, Y, box(2))
    X, Y = distinct_data(5)
    with pytest.raises(SurrogateError):
        cross_validate(Recording(), X, Y, box(2), folds=1)


def test_cross_validate_of_the_exact_gp() -> None:
    X, Y = noisy_data(15, 1, low=0.0, high=6.0)
    held = cross_validate(ExactGP(), X, Y, box(1, 0.0, 6.0, seed=0), folds=5)
    assert held.method == "5-fold" and held.complete
    assert same_rows(held.observed, Y)
    scores = held.scores()
    assert scores["r2"] > 0.5
    assert (held.lower < held.mean).all() and (held.mean < held.upper).all()
    assert ((held.pit > 0) & (held.pit < 1)).all()


# --- HeldOut ------------------------------------------------------------------------------


def hand_made() -> HeldOut:
    return HeldOut(
        observed=t([[1.0], [2.0], [3.0], [4.0]]),
        mean=t([[1.5], [2.0], [2.0], [5.0]]),
        lower=t([[0.0], [2.0], [2.5], [4.5]]),  # 2.0 on its lower end counts as inside
        upper=t([[2.0], [3.0], [3.5], [6.5]]),  # 4.0 is below its interval
        log_density=t([[-1.0], [-0.5], [-2.0], [-3.5]]),
        pit=t([[0.3], [0.5], [0.9], [0.01]]),
        method="4-fold",
        seconds=0.1,
    )


def test_scores_of_hand_made_predictions() -> None:
    scores = hand_made().scores()
    # Errors 0.5, 0, -1, 1: SSE 2.25; the observations' mean is 2.5, SST = 5.
    assert scores["rmse"] == pytest.approx(math.sqrt(2.25 / 4))
    assert scores["r2"] == pytest.approx(1 - 2.25 / 5)
    assert scores["nlpd"] == pytest.approx(7.0 / 4)
    assert scores["picp"] == pytest.approx(3 / 4)
    assert scores["mpiw"] == pytest.approx((2.0 + 1.0 + 1.0 + 2.0) / 4)
    assert set(scores) == {"rmse", "r2", "nlpd", "picp", "mpiw"}


def test_r2_is_nan_for_constant_observations() -> None:
    held = hand_made()
    constant = HeldOut(
        torch.ones(4, 1, dtype=DTYPE),
        held.mean,
        held.lower,
        held.upper,
        held.log_density,
        held.pit,
        held.method,
        held.seconds,
    )
    assert math.isnan(constant.scores()["r2"])


def with_pit(pit: torch.Tensor) -> HeldOut:
    zeros = torch.zeros_like(pit)
    return HeldOut(zeros, zeros, zeros, zeros, zeros, pit, "loo", 0.0)


def test_coverage_of_a_uniform_pit_is_the_level() -> None:
    n = 1000
    pit = ((torch.arange(n, dtype=DTYPE) + 0.5) / n).reshape(n, 1)
    levels = t([0.1, 0.5, 0.8, 0.95, 0.99])
    coverage = with_pit(pit).coverage(levels)
    assert coverage.shape == levels.shape
    torch.testing.assert_close(coverage, levels, atol=2.0 / n, rtol=0)


def test_coverage_of_a_pit_at_the_ends_is_zero() -> None:
    pit = t([[0.0], [1.0], [0.001], [0.999]] * 25)
    levels = t([0.1, 0.5, 0.95, 0.99])
    torch.testing.assert_close(with_pit(pit).coverage(levels), torch.zeros_like(levels))
    # A PIT concentrated at 1/2 (overdispersed predictions) is covered by every interval.
    torch.testing.assert_close(
        with_pit(torch.full((50, 1), 0.5, dtype=DTYPE)).coverage(levels), torch.ones_like(levels)
    )


def test_coverage_at_95_percent_agrees_with_picp_for_gaussian_predictions() -> None:
    gen = torch.Generator().manual_seed(0)
    y = 1.3 * torch.randn(400, 1, generator=gen, dtype=DTYPE)
    mean, sd = torch.zeros_like(y), torch.ones_like(y)
    z = norm.ppf(0.975)
    held = HeldOut(
        y,
        mean,
        mean - z * sd,
        mean + z * sd,
        torch.from_numpy(norm.logpdf(y.numpy())),
        torch.from_numpy(norm.cdf(y.numpy())),
        "loo",
        0.0,
    )
    assert held.coverage(t([0.95])).item() == pytest.approx(held.scores()["picp"], abs=1e-9)
    # Too narrow predictions (sd 1 for data of sd 1.3) cover less than they claim.
    assert held.scores()["picp"] < 0.93


def test_signed_minus_one_reports_the_negated_outcome() -> None:
    held = hand_made()
    flipped = held.signed(-1)
    torch.testing.assert_close(flipped.observed, -held.observed)
    torch.testing.assert_close(flipped.mean, -held.mean)
    torch.testing.assert_close(flipped.lower, -held.upper)
    torch.testing.assert_close(flipped.upper, -held.lower)
    assert (flipped.lower <= flipped.upper).all()
    torch.testing.assert_close(flipped.pit, 1 - held.pit)
    torch.testing.assert_close(flipped.log_density, held.log_density)
    assert (flipped.method, flipped.seconds, flipped.complete) == ("4-fold", 0.1, True)
    before, after = held.scores(), flipped.scores()
    for key in ["rmse", "r2", "nlpd", "picp", "mpiw"]:
        assert after[key] == pytest.approx(before[key]), key
    levels = t([0.2, 0.5, 0.9])
    torch.testing.assert_close(flipped.coverage(levels), held.coverage(levels))
    assert held.signed(1) is held
    assert held.signed(-1).signed(-1).observed.equal(held.observed)

"""The Yeo-Johnson outcome warp of the exact GP (surrogates.warp)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from surrogates import ExactGP, FitSpec, SurrogateError
from surrogates.predictive import GaussianMixture, predictive
from surrogates.validation import exact_gp_loo
from surrogates.warp import LAMBDA_RANGE, OutcomeWarp, WarpedGaussian

D = torch.float64


def _warp(lam: float, center: float = 0.3, scale: float = 2.0) -> OutcomeWarp:
    t = lambda v: torch.tensor([v], dtype=D)  # noqa: E731
    return OutcomeWarp(t(center), t(scale), t(lam))


@pytest.mark.parametrize("lam", [0.0, 0.4, 1.0, 1.7, 2.0])
def test_inverse_undoes_the_warp_and_the_derivative_is_its_slope(lam: float) -> None:
    warp = _warp(lam)
    y = torch.linspace(-30.0, 30.0, 121, dtype=D).reshape(-1, 1)
    z = warp.forward(y)
    assert torch.allclose(warp.inverse(z), y, atol=1e-8, rtol=1e-8)
    assert bool((z[1:] > z[:-1]).all())  # monotone: the order of outcomes is kept
    h = 1e-5
    slope = (warp.forward(y + h) - warp.forward(y - h)) / (2 * h)
    assert torch.allclose(warp.log_derivative(y), slope.log(), atol=1e-5)
    # scipy's transform of the standardized values, the same function
    expected = stats.yeojohnson(((y - 0.3) / 2.0).numpy().ravel(), lmbda=lam)
    assert np.allclose(z.numpy().ravel(), expected, atol=1e-9)


def test_the_fitted_warp_makes_heavy_tailed_values_closer_to_gaussian() -> None:
    rng = np.random.default_rng(0)
    heavy = torch.tensor(-np.exp(rng.standard_normal(200)), dtype=D).reshape(-1, 1)
    warp = OutcomeWarp.fit(heavy)
    assert warp is not None
    lam = float(warp.lam)
    assert LAMBDA_RANGE[0] <= lam <= LAMBDA_RANGE[1]
    before = abs(stats.skew(heavy.numpy().ravel()))
    after = abs(stats.skew(warp.forward(heavy).numpy().ravel()))
    assert after < before / 3


@pytest.mark.parametrize(
    "Y",
    [
        torch.ones(5, 1, dtype=D),  # constant: nothing to warp
        torch.tensor([[1.0], [2.0]], dtype=D),  # too few values
        torch.tensor([[1.0], [math.nan], [2.0]], dtype=D),
    ],
)
def test_no_warp_for_values_it_cannot_be_fitted_to(Y: torch.Tensor) -> None:
    assert OutcomeWarp.fit(Y) is None


def test_the_warped_gaussian_in_the_outcomes_units_matches_sampling() -> None:
    warp = _warp(0.3)
    locs = torch.tensor([[[0.5], [-1.0]]], dtype=D)  # 1 component x 2 points x 1 outcome
    scales = torch.tensor([[[0.7], [0.2]]], dtype=D)
    pred = WarpedGaussian(GaussianMixture(locs, scales), warp)
    draws = warp.inverse(locs[0] + scales[0] * torch.randn(200_000, 2, 1, dtype=D))
    assert torch.allclose(pred.mean, draws.mean(0), rtol=2e-2)
    assert torch.allclose(pred.sd, draws.std(0), rtol=2e-2)
    lower, upper = pred.interval(0.9)
    inside = ((draws >= lower) & (draws <= upper)).double().mean(0)
    assert torch.allclose(inside, torch.full_like(inside, 0.9), atol=5e-3)
    assert torch.allclose(pred.cdf(upper), torch.full_like(upper, 0.95), atol=1e-9)
    # the density integrates to one in the outcome's units
    grid = torch.linspace(-40.0, 60.0, 200_001, dtype=D).reshape(-1, 1, 1).expand(-1, 2, 1)
    mass = torch.trapezoid(pred.log_prob(grid).exp(), grid, dim=0)
    assert torch.allclose(mass, torch.ones_like(mass), atol=1e-3)


def _spec(**kw: object) -> FitSpec:
    return FitSpec(bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=D), **kw)  # type: ignore[arg-type]


def _heavy_tailed(n: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.rand(n, 2, dtype=D, generator=torch.Generator().manual_seed(1))
    # a flat landscape with one deep well, signed so that larger is better
    Y = 3.0 * torch.exp(-20.0 * ((X - 0.3) ** 2).sum(-1, keepdim=True))
    return X, Y


def test_the_gp_decides_on_the_warped_scale_and_predicts_in_the_outcomes_units() -> None:
    X, Y = _heavy_tailed()
    model = ExactGP(warp=True).fit(X, Y, _spec(warp=True))
    warp = model.outcome_warp
    assert isinstance(warp, OutcomeWarp)
    assert "warp_lambda" in model.fit_info  # type: ignore[operator]
    # the model's own posterior is on the warped scale ...
    with torch.no_grad():
        warped_mean = model.posterior(X).mean
    assert torch.allclose(warped_mean, warp.forward(Y), atol=0.05)
    # ... its predictions in the outcome's units: interpolating the noiseless data
    pred = predictive(model, X)
    assert torch.allclose(pred.mean, Y, atol=0.05)
    lower, upper = pred.interval(0.95)
    assert bool(((lower <= Y + 1e-6) & (upper >= Y - 1e-6)).all())
    held = exact_gp_loo(model)
    assert held is not None
    assert torch.allclose(held.observed, Y)  # leave-one-out scored in the outcome's units


@pytest.mark.parametrize(
    "gp, spec",
    [
        (ExactGP(), _spec()),  # the strategy did not allow it (not an objective)
        (ExactGP(warp=False), _spec(warp=True)),  # turned off
        (ExactGP(), _spec(warp=True, train_Yvar=torch.full((24, 1), 1e-2, dtype=D))),
    ],
)
def test_no_warp_unless_allowed_and_the_noise_is_inferred(gp: ExactGP, spec: FitSpec) -> None:
    X, Y = _heavy_tailed()
    model = gp.fit(X, Y, spec)
    assert getattr(model, "outcome_warp", None) is None
    assert isinstance(predictive(model, X), GaussianMixture)


def test_a_warm_started_warped_fit_matches_a_cold_one() -> None:
    X, Y = _heavy_tailed()
    first = ExactGP(warp=True).fit(X[:-1], Y[:-1], _spec(warp=True))
    state = {n: p.detach().reshape(-1).tolist() for n, p in first.named_parameters()}
    warm = ExactGP(warp=True).fit(X, Y, dataclasses.replace(_spec(warp=True), warm_start=state))
    cold = ExactGP(warp=True).fit(X, Y, _spec(warp=True))
    assert torch.allclose(predictive(warm, X).mean, predictive(cold, X).mean, atol=0.05)


@pytest.mark.parametrize("lam", [-0.7, 2.6])
def test_values_beyond_a_bounded_warp_map_back_to_finite_extremes(lam: float) -> None:
    warp = _warp(lam)
    y = torch.linspace(-50.0, 50.0, 101, dtype=D).reshape(-1, 1)
    z = warp.forward(y)
    assert torch.allclose(warp.inverse(z), y, atol=1e-6, rtol=1e-6)
    beyond = torch.tensor([[-1e3], [1e3]], dtype=D)  # past the transform's range on one side
    back = warp.inverse(beyond)
    assert bool(torch.isfinite(back).all()) and float(back[0]) < float(back[1])


def test_auto_chooses_by_held_out_density_and_keeps_its_choice_for_a_while() -> None:
    X, Y = _heavy_tailed(30)
    gp = ExactGP(warp="auto")
    first = gp.fit(X[:-2], Y[:-2], _spec(warp=True))
    info = first.fit_info  # type: ignore[attr-defined]
    assert info["warp"] in (0, 1) and "warp_loo_gain" in info
    assert (getattr(first, "outcome_warp", None) is not None) == bool(info["warp"])
    state = json.loads(info["gp_state"])
    again = gp.fit(X, Y, dataclasses.replace(_spec(warp=True), warm_start=state))
    kept = again.fit_info  # type: ignore[attr-defined]
    assert kept["warp"] == info["warp"] and "warp_loo_gain" not in kept  # not re-chosen
    with pytest.raises(SurrogateError, match="warp='sometimes'"):
        ExactGP(warp="sometimes")


def test_predictions_are_given_back_within_a_range_beyond_the_data() -> None:
    Y = torch.tensor([[0.0], [0.1], [0.2], [0.5], [3.0]], dtype=D)
    warp = OutcomeWarp.fit(Y)
    assert warp is not None
    back = warp.inverse(torch.tensor([[-1e6], [1e6]], dtype=D))
    assert torch.allclose(back, torch.tensor([[-3.0], [6.0]], dtype=D))  # min/max -/+ range
    assert torch.allclose(warp.inverse(warp.forward(Y)), Y, atol=1e-9)


# ------------------------------------------------------------ declustered power
def test_the_weighted_power_with_equal_weights_is_scipys() -> None:
    from surrogates.warp import _weighted_power

    rng = np.random.default_rng(3)
    for z in (rng.standard_exponential(40), -np.exp(rng.standard_normal(60))):
        z = (z - z.mean()) / z.std()
        assert _weighted_power(z, np.ones_like(z)) == pytest.approx(
            float(stats.yeojohnson_normmax(z)), abs=1e-4
        )


def test_a_crowd_of_points_weighs_about_as_one() -> None:
    from surrogates.warp import decluster_weights

    rng = np.random.default_rng(0)
    spread = stats.qmc.Sobol(2, scramble=True, seed=0).random(16)
    crowd = 0.5 + 1e-4 * rng.random((16, 2))
    w = decluster_weights(np.vstack([spread, crowd]))
    assert w.sum() == pytest.approx(32.0)
    assert w[16:].sum() / np.median(w[:16]) == pytest.approx(1.0, abs=0.35)
    assert w[16:].max() < np.median(w[:16]) / 5
    even = decluster_weights(spread)
    assert even.max() / even.min() < 3  # a space-filling design stays about even


def test_trials_sampled_again_and_again_do_not_drive_the_power() -> None:
    """A search that keeps sampling near its best point piles values at the top; counted
    once each they pull the power up, declustered the power stays near that of the
    values over the space."""
    rng = np.random.default_rng(1)
    X_spread = stats.qmc.Sobol(2, scramble=True, seed=1).random(16)
    y_spread = -((X_spread - 0.3) ** 2).sum(1) * 10.0
    X_crowd = X_spread[np.argmax(y_spread)] + 1e-3 * rng.random((24, 2))
    y_crowd = y_spread.max() + 0.05 * rng.standard_normal(24)
    X = torch.tensor(np.vstack([X_spread, X_crowd]), dtype=D)
    Y = torch.tensor(np.concatenate([y_spread, y_crowd]), dtype=D).reshape(-1, 1)
    alone = OutcomeWarp.fit(Y[:16])
    counted, declustered = OutcomeWarp.fit(Y), OutcomeWarp.fit(Y, X)
    assert alone is not None and counted is not None and declustered is not None
    lam_alone, lam_counted, lam_declustered = (float(w.lam) for w in (alone, counted, declustered))
    assert lam_counted > lam_alone + 1.0
    assert abs(lam_declustered - lam_alone) < abs(lam_counted - lam_alone) / 2


def test_the_gp_declusters_only_when_told_to() -> None:
    X = torch.rand(12, 2, dtype=D, generator=torch.Generator().manual_seed(0))
    X[6:] = X[0] + 1e-3 * X[6:]
    Y = -((X - 0.3) ** 2).sum(-1, keepdim=True)
    spec = FitSpec(bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=D), warp=True)
    default = ExactGP(warp=True).fit(X, Y, spec)
    on = ExactGP(warp=True, decluster=True).fit(X, Y, spec)
    plain = OutcomeWarp.fit(Y)
    assert plain is not None
    assert float(default.outcome_warp.lam) == pytest.approx(float(plain.lam), abs=1e-9)
    assert float(on.outcome_warp.lam) != pytest.approx(float(plain.lam), abs=1e-3)

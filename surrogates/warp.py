"""A monotone warp of the outcome before the GP (Yeo-Johnson), and predictions back in
the outcome's units.

Many objectives are far from Gaussian in their values: a flat landscape with a few deep
wells (Hartmann), values spanning orders of magnitude (Rosenbrock), a long tail of bad
configurations. A stationary GP fitted to such values standardizes them by their mean
and spread, which the tail dominates: its prior then says that an unexplored region is
almost surely no better than the bulk, expected improvement away from the incumbent
vanishes, and the search refines one basin to the last digit while a better one is never
tried. The Yeo-Johnson transform (Yeo & Johnson 2000), with its power ``lambda`` fitted by
maximum likelihood to the standardized values, makes their distribution close to
Gaussian; the GP is fitted and the acquisition maximized on that scale, where improvement
over the incumbent is measured against a spread the tail no longer inflates. HEBO
(Cowen-Rivers et al. 2022) uses the same warp for the same reason.

The warp is monotone, so the order of the outcomes, the incumbent and the feasible set
are unchanged. Predictions go back exactly: a Gaussian ``N(m, s^2)`` on the warped scale
is, in the outcome's units, the distribution of ``g^-1(m + s Z)``; its quantiles are the
inverse-warped quantiles, its density ``N(g(y); m, s^2) g'(y)``, its mean and standard
deviation are computed by Gauss-Hermite quadrature (:class:`WarpedGaussian`).

``lambda`` is kept in ``[-3, 5]`` (a guard against a degenerate fit to few values).
Outside ``[0, 2]`` one branch of the transform is bounded (above for ``lambda < 0``,
squashing the best values together; below for ``lambda > 2``, the worst); a value on the
warped scale beyond that bound, where a GP's tail can reach, maps back to the most
extreme finite value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from torch import Tensor

from surrogates.predictive import GaussianMixture

#: The range ``lambda`` is kept in.
LAMBDA_RANGE = (-3.0, 5.0)
#: Gauss-Hermite nodes for the mean and standard deviation in the outcome's units.
QUADRATURE_NODES = 32
_EPS = 1e-9


def _yeo_johnson(x: Tensor, lam: Tensor) -> Tensor:
    pos = x >= 0
    lam_p, lam_n = lam.expand_as(x), (2.0 - lam).expand_as(x)
    xp, xn = x.clamp_min(0.0), (-x).clamp_min(0.0)
    small_p, small_n = lam_p.abs() < _EPS, lam_n.abs() < _EPS
    safe_p = torch.where(small_p, torch.ones_like(lam_p), lam_p)
    safe_n = torch.where(small_n, torch.ones_like(lam_n), lam_n)
    up = torch.where(small_p, torch.log1p(xp), torch.expm1(safe_p * torch.log1p(xp)) / safe_p)
    down = torch.where(small_n, torch.log1p(xn), torch.expm1(safe_n * torch.log1p(xn)) / safe_n)
    return torch.where(pos, up, -down)


def _image_bounds(lam: Tensor) -> tuple[Tensor, Tensor]:
    """The range of the transform: ``(1 / (2 - lambda), -1 / lambda)`` where a branch is
    bounded (``lambda > 2`` below, ``lambda < 0`` above), infinite otherwise."""
    inf = torch.full_like(lam, math.inf)
    low = torch.where(lam > 2.0, 1.0 / (2.0 - lam).clamp_max(-_EPS), -inf)
    high = torch.where(lam < 0.0, -1.0 / lam.clamp_max(-_EPS), inf)
    return low, high


def _yeo_johnson_inverse(z: Tensor, lam: Tensor) -> Tensor:
    low, high = _image_bounds(lam)
    # a value beyond the transform's range (a GP's tail can reach there) maps to the
    # most extreme finite value rather than to nan
    span = 1e-9
    z = torch.minimum(z, torch.where(torch.isfinite(high), high * (1 - span), high).expand_as(z))
    z = torch.maximum(z, torch.where(torch.isfinite(low), low * (1 - span), low).expand_as(z))
    pos = z >= 0
    lam_p, lam_n = lam.expand_as(z), (2.0 - lam).expand_as(z)
    zp, zn = z.clamp_min(0.0), (-z).clamp_min(0.0)
    small_p, small_n = lam_p.abs() < _EPS, lam_n.abs() < _EPS
    safe_p = torch.where(small_p, torch.ones_like(lam_p), lam_p)
    safe_n = torch.where(small_n, torch.ones_like(lam_n), lam_n)
    up = torch.where(small_p, torch.expm1(zp), torch.expm1(torch.log1p(safe_p * zp) / safe_p))
    down = torch.where(small_n, torch.expm1(zn), torch.expm1(torch.log1p(safe_n * zn) / safe_n))
    return torch.where(pos, up, -down)


def _log_derivative(x: Tensor, lam: Tensor) -> Tensor:
    """``log g'(x)`` of the Yeo-Johnson transform: ``(lambda - 1) log(1 + x)`` for
    ``x >= 0``, ``(1 - lambda) log(1 - x)`` below."""
    return torch.where(
        x >= 0,
        (lam - 1.0) * torch.log1p(x.clamp_min(0.0)),
        (1.0 - lam) * torch.log1p((-x).clamp_min(0.0)),
    )


def decluster_weights(X: np.ndarray) -> np.ndarray:
    """Weights of ``n`` points in the unit cube (``n x d``) that sum to ``n``: each point's
    is the inverse of the number of points around it, ``sum_j exp(-|x_i - x_j|^2 / (2
    h^2))`` with ``h = n^(-1/d) / 2``, half the spacing of ``n`` points spread evenly
    over the cube. Points spread out weigh about 1 each; a cluster of ``k`` coincident
    points weighs about 1 in all."""
    n, d = X.shape
    h = 0.5 * n ** (-1.0 / max(d, 1))
    sq = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    counts = np.exp(-sq / (2.0 * h * h)).sum(1)
    weights = 1.0 / counts
    return weights * (n / weights.sum())


def _weighted_power(z: np.ndarray, w: np.ndarray) -> float:
    """The Yeo-Johnson power maximizing the weighted normal log likelihood of ``z``:
    ``-W/2 log var_w(YJ(z)) + (lambda - 1) sum_i w_i sign(z_i) log(1 + |z_i|)``, ``W`` the
    weights' sum (scipy's ``yeojohnson_llf`` with each value counted ``w_i`` times)."""
    from scipy.optimize import minimize_scalar

    total = w.sum()
    jac = (np.sign(z) * np.log1p(np.abs(z)) * w).sum()
    zt = torch.as_tensor(z)

    def negative(lam: float) -> float:
        t = _yeo_johnson(zt, torch.tensor(lam, dtype=zt.dtype)).numpy()
        mean = (w * t).sum() / total
        var = (w * (t - mean) ** 2).sum() / total
        if not var > 0 or not math.isfinite(var):
            return math.inf
        return float(0.5 * total * math.log(var) - (lam - 1.0) * jac)

    # scipy's own search for the unweighted power brackets [-2, 2] first; searched here
    # over the whole range the power is kept in
    found = minimize_scalar(negative, bounds=LAMBDA_RANGE, method="bounded")
    return float(found.x)


@dataclass(frozen=True)
class OutcomeWarp:
    """``g(y) = YJ((y - center) / scale; lambda)`` per outcome column.

    Attributes:
        center: Per column, the mean of the values the warp was fitted to.
        scale: Per column, their standard deviation (> 0).
        lam: Per column, the fitted power, in :data:`LAMBDA_RANGE`.
        low: Per column, the lowest value predictions are given back as: the values
            fitted to, extended below by their range (a GP's tail on the warped scale
            can reach far beyond them, to the transform's bound where it has one).
        high: The same above.
    """

    center: Tensor
    scale: Tensor
    lam: Tensor
    low: float | Tensor = -math.inf
    high: float | Tensor = math.inf

    @classmethod
    def fit(cls, Y: Tensor, X: Tensor | None = None) -> OutcomeWarp | None:
        """The warp fitted to ``n x m`` outcomes; ``None`` when a column is constant,
        has fewer than 3 values, or is not finite (nothing to warp).

        Args:
            X: The ``n x d`` inputs of the outcomes, scaled to the unit cube. Given, the
                power is fitted with each outcome weighted by :func:`decluster_weights`,
                so that many trials close together (a search refining one spot, or
                sampling it again under noise) count about as one: the warp describes the
                values over the space, not where the search has been.
        """
        if Y.dim() != 2 or Y.shape[0] < 3 or not bool(torch.isfinite(Y).all()):
            return None
        values = Y.detach().cpu().double().numpy()
        center, scale = values.mean(axis=0), values.std(axis=0)
        if not np.all(scale > 0):
            return None
        weights = None if X is None else decluster_weights(X.detach().cpu().double().numpy())
        lams = []
        for j in range(values.shape[1]):
            z = (values[:, j] - center[j]) / scale[j]
            try:
                lam = (
                    float(stats.yeojohnson_normmax(z))
                    if weights is None
                    else _weighted_power(z, weights)
                )
            except (ValueError, FloatingPointError, RuntimeError):
                lam = 1.0
            lam = lam if math.isfinite(lam) else 1.0
            lams.append(min(max(lam, LAMBDA_RANGE[0]), LAMBDA_RANGE[1]))

        def tensor(values: object) -> Tensor:
            return torch.tensor(values, dtype=Y.dtype, device=Y.device)

        spread = values.max(axis=0) - values.min(axis=0)
        low, high = values.min(axis=0) - spread, values.max(axis=0) + spread
        return cls(tensor(center), tensor(scale), tensor(lams), tensor(low), tensor(high))

    def forward(self, Y: Tensor) -> Tensor:
        """Outcomes (``... x m``) to the warped scale."""
        return _yeo_johnson((Y - self.center) / self.scale, self.lam)

    def inverse(self, Z: Tensor) -> Tensor:
        """Warped values (``... x m``) back to the outcome's units, within
        ``[low, high]``."""
        Y = _yeo_johnson_inverse(Z, self.lam) * self.scale + self.center
        low, high = (
            torch.as_tensor(self.low, dtype=Y.dtype),
            torch.as_tensor(self.high, dtype=Y.dtype),
        )
        return torch.minimum(torch.maximum(Y, low.to(Y.device)), high.to(Y.device))

    def log_derivative(self, Y: Tensor) -> Tensor:
        """``log g'(y)`` (``... x m``), the change of density between the two scales."""
        return _log_derivative((Y - self.center) / self.scale, self.lam) - torch.log(self.scale)

    def describe(self) -> dict[str, float]:
        """The fitted power of the first column, for the fit's record."""
        return {"warp_lambda": round(float(self.lam.reshape(-1)[0]), 6)}

    def predictive(self, warped: GaussianMixture) -> WarpedGaussian:
        """The distribution in the outcome's units of a Gaussian on the warped scale."""
        return WarpedGaussian(warped, self)


@dataclass(frozen=True)
class WarpedGaussian:
    """``g^-1(W)`` for ``W`` a one-component :class:`GaussianMixture` on the warped scale
    (a :class:`surrogates.predictive.Predictive`)."""

    warped: GaussianMixture
    warp: OutcomeWarp

    def _nodes(self) -> tuple[Tensor, Tensor]:
        x, w = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
        loc, scale = self.warped.locs[0], self.warped.scales[0]  # n x m
        nodes = torch.as_tensor(x, dtype=loc.dtype, device=loc.device)
        weights = torch.as_tensor(w / w.sum(), dtype=loc.dtype, device=loc.device)
        values = self.warp.inverse(loc.unsqueeze(0) + scale.unsqueeze(0) * nodes.reshape(-1, 1, 1))
        return values, weights.reshape(-1, 1, 1)

    @property
    def mean(self) -> Tensor:
        values, weights = self._nodes()
        return (values * weights).sum(0)

    @property
    def sd(self) -> Tensor:
        """A ``n x m``-dim tensor of predictive standard deviations."""
        values, weights = self._nodes()
        mean = (values * weights).sum(0)
        return ((values - mean).square() * weights).sum(0).clamp_min(0.0).sqrt()

    def interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        lower, upper = self.warped.interval(level)
        return self.warp.inverse(lower), self.warp.inverse(upper)

    def log_prob(self, Y: Tensor) -> Tensor:
        return self.warped.log_prob(self.warp.forward(Y)) + self.warp.log_derivative(Y)

    def cdf(self, Y: Tensor) -> Tensor:
        return self.warped.cdf(self.warp.forward(Y))

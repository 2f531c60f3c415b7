"""Posterior predictive distributions of fitted surrogates, in the units of the data.

Every surrogate's predictive distribution at ``n`` points for ``m`` outcomes is a
finite mixture: one Gaussian for an exact or sparse GP, one Gaussian per MCMC
draw for a fully Bayesian GP, one per sampled network for a Bayesian neural
network, or a set of posterior predictive draws for a user's NumPyro model.
:func:`predictive` gives it for any fitted BoTorch model, so held-out scores
(NLPD, interval coverage) are computed the same way for all of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from botorch.models.model import Model
from torch import Tensor


@runtime_checkable
class Predictive(Protocol):
    """The posterior predictive distribution of new observations at ``n`` points."""

    @property
    def mean(self) -> Tensor:
        """A ``n x m``-dim tensor of predictive means."""
        ...

    def interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        """The central ``level`` interval: two ``n x m``-dim tensors, lower and upper."""
        ...

    def log_prob(self, Y: Tensor) -> Tensor:
        """A ``n x m``-dim tensor of log predictive densities of observations ``Y``."""
        ...

    def cdf(self, Y: Tensor) -> Tensor:
        """A ``n x m``-dim tensor of ``P(new observation <= Y)`` (the PIT of ``Y``)."""
        ...


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: got {level!r}; expected a probability strictly between 0 and 1")


@dataclass(frozen=True)
class GaussianMixture:
    """An equally weighted mixture of ``s`` Gaussians at each of ``n`` points.

    Attributes:
        locs: A ``s x n x m``-dim tensor of component means.
        scales: A ``s x n x m``-dim tensor of component standard deviations (> 0).
    """

    locs: Tensor
    scales: Tensor

    def __post_init__(self) -> None:
        if self.locs.dim() != 3 or self.locs.shape != self.scales.shape:
            raise ValueError(
                "GaussianMixture: locs and scales must both be s x n x m, got "
                f"{tuple(self.locs.shape)} and {tuple(self.scales.shape)}"
            )

    @property
    def mean(self) -> Tensor:
        return self.locs.mean(0)

    @property
    def variance(self) -> Tensor:
        """Law of total variance: mean of the variances plus variance of the means."""
        return (self.scales**2).mean(0) + self.locs.var(0, unbiased=False)

    def cdf(self, y: Tensor) -> Tensor:
        """``P(Y <= y)`` for a ``n x m``-dim tensor ``y``."""
        z = (y.unsqueeze(0) - self.locs) / self.scales
        return torch.special.ndtr(z).mean(0)

    def interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        _check_level(level)
        tail = (1.0 - level) / 2.0
        return self.quantile(tail), self.quantile(1.0 - tail)

    def quantile(self, p: float) -> Tensor:
        """The ``p``-quantile at each point: exact for one component, else by bisection."""
        z = torch.special.ndtri(torch.tensor(p, dtype=torch.float64)).item()
        if self.locs.shape[0] == 1:
            return (self.locs + z * self.scales)[0]
        # The mixture quantile lies between the extreme component quantiles.
        comp = self.locs + z * self.scales
        lo, hi = comp.min(0).values, comp.max(0).values
        for _ in range(60):
            mid = (lo + hi) / 2
            below = self.cdf(mid) < p
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        return (lo + hi) / 2

    def log_prob(self, Y: Tensor) -> Tensor:
        comp = torch.distributions.Normal(self.locs, self.scales).log_prob(Y.unsqueeze(0))
        return torch.logsumexp(comp, dim=0) - math.log(self.locs.shape[0])


@dataclass(frozen=True)
class SampledPredictive:
    """Posterior predictive draws, with the log density computed by the model.

    Attributes:
        draws: A ``S x n x m``-dim tensor of draws of new observations.
        log_prob_fn: Maps a ``n x m``-dim tensor ``Y`` to its ``n x m`` log predictive
            density under the model (averaged over the posterior, not over ``draws``).
    """

    draws: Tensor
    log_prob_fn: Callable[[Tensor], Tensor]

    @property
    def mean(self) -> Tensor:
        return self.draws.mean(0)

    def interval(self, level: float = 0.95) -> tuple[Tensor, Tensor]:
        _check_level(level)
        tail = (1.0 - level) / 2.0
        q = torch.tensor([tail, 1.0 - tail], dtype=self.draws.dtype, device=self.draws.device)
        lower, upper = torch.quantile(self.draws, q, dim=0)
        return lower, upper

    def log_prob(self, Y: Tensor) -> Tensor:
        return self.log_prob_fn(Y)

    def cdf(self, Y: Tensor) -> Tensor:
        return (self.draws <= Y.unsqueeze(0)).to(self.draws.dtype).mean(0)


def predictive(model: Model, X: Tensor) -> Predictive:
    """The posterior predictive distribution of new observations at ``X``.

    Models that know their own (a sampled ensemble, a NumPyro model) expose a
    ``predictive(X)`` method; for GPyTorch models it is the posterior with the
    likelihood's noise added, and one mixture component per MCMC draw for fully
    Bayesian models.

    Args:
        model: A fitted model from a surrogate.
        X: A ``n x d``-dim tensor of inputs.

    Returns:
        A :class:`Predictive` over ``n`` points and the model's outcomes.

    Examples:
        >>> import torch
        >>> from botorch.models import SingleTaskGP
        >>> X = torch.linspace(0, 1, 6, dtype=torch.float64).unsqueeze(-1)
        >>> pred = predictive(SingleTaskGP(X, torch.sin(6 * X)), X[:2])
        >>> lower, upper = pred.interval(0.95)
        >>> bool((lower < pred.mean).all() and (pred.mean < upper).all())
        True
    """
    if X.dim() != 2:
        raise ValueError(f"X: expected a n x d tensor, got shape {tuple(X.shape)}")
    own = getattr(model, "predictive", None)
    if callable(own):
        result: Predictive = own(X)
        return result
    model.eval()
    with torch.no_grad():
        post: Any = model.posterior(X, observation_noise=True)
        mean, var = post.mean, post.variance
    if getattr(model, "_is_fully_bayesian", False) and mean.dim() == 3:
        locs, variances = mean, var  # one component per MCMC draw
    else:
        locs, variances = mean.unsqueeze(0), var.unsqueeze(0)
    mixture = GaussianMixture(locs, variances.clamp_min(1e-12).sqrt())
    warp = getattr(model, "outcome_warp", None)  # a GP fitted on warped outcomes
    if warp is not None and locs.shape[0] == 1:
        warped: Predictive = warp.predictive(mixture)
        return warped
    return mixture

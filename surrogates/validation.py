"""Held-out predictive quality of a surrogate: k-fold cross-validation and exact-GP LOO.

For each observation ``y_i``, the model fitted without it (its fold) predicts a
distribution ``p_{-i}``; the scores are

- RMSE ``= sqrt(mean_i (E[p_{-i}] - y_i)^2)`` and ``R^2 = 1 - SSE / SST``;
- NLPD ``= -mean_i log p_{-i}(y_i)`` (lower is better; it rewards calibrated spread);
- PICP, the share of ``y_i`` inside the central 95% interval of ``p_{-i}`` (ideally
  0.95), and MPIW, the mean width of those intervals (narrower is better at equal PICP).

For the exact GP the leave-one-out predictive distributions have a closed form for
fixed hyperparameters (Rasmussen & Williams 2006, eqs. 5.10-5.12):
``mu_{-i} = y_i - [K^{-1} y]_i / [K^{-1}]_{ii}`` and ``var_{-i} = 1 / [K^{-1}]_{ii}``,
with ``K`` the kernel matrix plus noise, so they cost one Cholesky factorization.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import torch
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.outcome import Standardize
from torch import Tensor

from surrogates.base import FitSpec, Surrogate, SurrogateError, SurrogateFallbackWarning
from surrogates.predictive import GaussianMixture, Predictive, predictive

#: Central interval used for PICP and MPIW.
LEVEL = 0.95


@dataclass(frozen=True)
class HeldOut:
    """Held-out predictions: for each scored observation, what a model fitted without it said.

    Attributes:
        observed: A ``k x m``-dim tensor of the scored observations.
        mean: A ``k x m``-dim tensor of held-out predictive means.
        lower: A ``k x m``-dim tensor of lower ends of the 95% predictive intervals.
        upper: A ``k x m``-dim tensor of upper ends.
        log_density: A ``k x m``-dim tensor of held-out log predictive densities.
        pit: A ``k x m``-dim tensor of probability integral transforms ``P(Y <= y)``
            under each held-out predictive; uniform on ``[0, 1]`` when calibrated.
        method: ``"loo"`` (closed form) or ``"<k>-fold"``.
        seconds: Wall time of the cross-validation.
        complete: False when a time limit stopped it before every fold was scored.
    """

    observed: Tensor
    mean: Tensor
    lower: Tensor
    upper: Tensor
    log_density: Tensor
    pit: Tensor
    method: str
    seconds: float
    complete: bool = True

    def scores(self) -> dict[str, float]:
        """``rmse``, ``r2``, ``nlpd``, ``picp`` and ``mpiw`` over all scored observations."""
        y, mu = self.observed, self.mean
        sse = float(((mu - y) ** 2).sum())
        sst = float(((y - y.mean(0)) ** 2).sum())
        inside = (self.lower <= y) & (y <= self.upper)
        return {
            "rmse": math.sqrt(sse / y.numel()),
            "r2": 1.0 - sse / sst if sst > 0 else float("nan"),
            "nlpd": float(-self.log_density.mean()),
            "picp": float(inside.double().mean()),
            "mpiw": float((self.upper - self.lower).mean()),
        }

    def coverage(self, levels: Tensor) -> Tensor:
        """Observed share of held-out points inside each central ``level`` interval.

        Computed from the PIT: ``y`` is inside the central ``p`` interval when
        ``|PIT - 1/2| <= p / 2``. A calibrated model gives ``coverage(p) = p``.
        """
        dist = (self.pit - 0.5).abs().reshape(-1)
        return (dist.unsqueeze(0) <= levels.unsqueeze(-1) / 2).to(levels.dtype).mean(-1)

    def signed(self, sign: float) -> HeldOut:
        """The same predictions for ``sign * y`` (to report a minimized outcome as measured)."""
        if sign > 0:
            return self
        return HeldOut(
            observed=-self.observed,
            mean=-self.mean,
            lower=-self.upper,
            upper=-self.lower,
            log_density=self.log_density,
            pit=1.0 - self.pit,
            method=self.method,
            seconds=self.seconds,
            complete=self.complete,
        )


def attach_held_out(model: Model, held_out: HeldOut) -> None:
    """Keep held-out predictions made while choosing ``model`` (``"auto"`` does this)."""
    model.held_out = held_out  # type: ignore[assignment]


def held_out_of(model: Model) -> HeldOut | None:
    """Held-out predictions attached to ``model``, if any."""
    found = getattr(model, "held_out", None)
    return found if isinstance(found, HeldOut) else None


def _collect(
    parts: list[tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]],
    method: str,
    t0: float,
    complete: bool,
) -> HeldOut:
    observed, mean, lower, upper, logp, pit = (torch.cat(p) for p in zip(*parts, strict=True))
    seconds = time.perf_counter() - t0
    return HeldOut(observed, mean, lower, upper, logp, pit, method, seconds, complete=complete)


def exact_gp_loo(model: Model) -> HeldOut | None:
    """Closed-form leave-one-out predictions of a fitted single-outcome exact GP.

    Returns ``None`` for models it does not apply to (other families, several
    outcomes, outcome transforms other than ``Standardize``).
    """
    if not isinstance(model, SingleTaskGP) or model.num_outputs != 1:
        return None
    transform = getattr(model, "outcome_transform", None)
    if transform is not None and not isinstance(transform, Standardize):
        return None
    t0 = time.perf_counter()
    model.eval()
    with torch.no_grad():
        X = model.train_inputs[0]
        y = model.train_targets
        if X.dim() != 2 or y.dim() != 1:
            return None
        noise = model.likelihood.noise.reshape(-1).expand(y.shape[0])
        K = model.covar_module(X).to_dense() + torch.diag(noise)
        mu = model.mean_module(X)
        L = torch.linalg.cholesky(K + 1e-9 * torch.eye(len(y), dtype=K.dtype, device=K.device))
        K_inv = torch.cholesky_inverse(L)
        diag = K_inv.diagonal()
        loo_mean = y - (K_inv @ (y - mu)) / diag
        loo_var = 1.0 / diag
        if transform is not None:
            means, stdvs = transform.means.reshape(-1), transform.stdvs.reshape(-1)
            y, loo_mean = y * stdvs + means, loo_mean * stdvs + means
            loo_var = loo_var * stdvs**2
        mixture: Predictive = GaussianMixture(
            loo_mean.reshape(1, -1, 1), loo_var.clamp_min(1e-12).sqrt().reshape(1, -1, 1)
        )
        obs = y.reshape(-1, 1)
        warp = getattr(model, "outcome_warp", None)
        if warp is not None:  # fitted on warped outcomes: score in the outcome's units
            assert isinstance(mixture, GaussianMixture)
            mixture, obs = warp.predictive(mixture), warp.inverse(obs)
        lower, upper = mixture.interval(LEVEL)
        part = (obs, mixture.mean, lower, upper, mixture.log_prob(obs), mixture.cdf(obs))
    return _collect([part], "loo", t0, complete=True)


def cross_validate(
    surrogate: Surrogate,
    train_X: Tensor,
    train_Y: Tensor,
    spec: FitSpec,
    *,
    folds: int = 5,
    time_limit: float | None = None,
) -> HeldOut:
    """K-fold cross-validation of ``surrogate`` on ``(train_X, train_Y)``.

    The folds are a seeded random partition (``spec.seed``); each fold's model is
    fitted with the same surrogate and spec on the other folds. Fallback warnings
    of the fold fits are silenced (the full fit reports its own).

    Args:
        folds: Number of folds, at most ``n`` (``folds = n`` is leave-one-out).
        time_limit: Seconds after which no further fold is started; the result then
            covers the folds scored so far (``complete=False``).

    Raises:
        SurrogateError: Fewer than 2 folds are possible, or no fold could be scored.
    """
    n = train_X.shape[0]
    k = min(folds, n)
    if k < 2:
        raise SurrogateError(f"cross-validation: {n} observation(s) and folds={folds}; need 2+")
    gen = torch.Generator().manual_seed(0 if spec.seed is None else spec.seed)
    order = torch.randperm(n, generator=gen).to(train_X.device)
    t0 = time.perf_counter()
    parts: list[tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]] = []
    complete = True
    for fold in order.tensor_split(k):
        if time_limit is not None and parts and time.perf_counter() - t0 > time_limit:
            complete = False
            break
        keep = torch.ones(n, dtype=torch.bool, device=train_X.device)
        keep[fold] = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SurrogateFallbackWarning)
            model = surrogate.fit(train_X[keep], train_Y[keep], spec)
        pred = predictive(model, train_X[fold])
        lower, upper = pred.interval(LEVEL)
        obs = train_Y[fold]
        parts.append((obs, pred.mean, lower, upper, pred.log_prob(obs), pred.cdf(obs)))
    return _collect(parts, f"{k}-fold", t0, complete)

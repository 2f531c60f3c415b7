"""Active learning: learn the response everywhere, or where it crosses a level.

An experiment with ``goal="learn"`` chooses points that make the model good
everywhere, and one with ``goal=("level", outcome, value)`` points that tell where
``outcome`` lies above ``value`` (a level set, such as the region of a process
window where purity exceeds 0.95). Both acquisitions integrate the posterior
variance the model would have once the batch (with the points still being
evaluated) is observed, over a scrambled Sobol sample of the space:

- ``"qNIPV"``: the negative integrated posterior variance,
  ``-1/M sum_m Var[f(x_m) | D, X]`` (Seo et al. 2000; Chen & Zhou 2014; BoTorch's
  ``qNegIntegratedPosteriorVariance``).
- ``"level"``: the same integral weighted towards the level (the targeted IMSE of
  Picheny et al., "Adaptive designs of experiments for accurate approximation of a
  target region", J. Mech. Des. 2010): each point counts with the posterior density
  of ``f(x)`` at the level, ``w(x) = phi((mu(x) - T) / s(x)) / s(x)`` with
  ``s(x)^2 = sigma(x)^2 + noise``, so the batch goes where the sign of
  ``f(x) - T`` is still uncertain, and where it reduces that uncertainty most.

For a Gaussian process the variance after observing ``X`` does not depend on the
values observed: ``Var[f(x) | D, X] = k_D(x, x) - k_D(x, X) (k_D(X, X) + noise I)^{-1}
k_D(X, x)``, with ``k_D`` the posterior covariance given the data ``D``. Both
acquisitions compute that closed form from the fitted kernel (no fantasy model):
the value equals BoTorch's ``qNegIntegratedPosteriorVariance``, at a fraction of its
cost (BoTorch conditions a fantasy model and evaluates it at every Sobol point, tens
of seconds per decision even in two dimensions on a CPU). A batch is chosen jointly:
two copies of one point reduce the variance less than two points apart, so the
batch spreads, and points pending evaluation count as already observed.

The scores a learning run is judged by live here too: :func:`integrated_variance`
(recorded with each decision), :func:`level_region` (the estimated region and the
probability mass misclassified) and :func:`holdout_scores` (RMSE, NLPD and the
coverage of the 95% interval on a held-out test set, see :class:`Holdout`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.models.model import Model, ModelList
from botorch.utils.transforms import match_batch_shape
from gpytorch.models import ExactGP
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor
from torch.quasirandom import SobolEngine

from bayesopt.device import DTYPE
from bayesopt.errors import BayesoptError, InvalidImportError, describe
from surrogates.predictive import GaussianMixture, SampledPredictive, predictive

if TYPE_CHECKING:
    from bayesopt.experiment import Experiment
    from bayesopt.prediction import FittedSurrogate

#: Two-sided 95% normal quantile: the interval of ``picp`` and the straddle's width.
Z95 = 1.959963984540054
#: Surrogates whose posterior covariance the learning acquisitions read.
LEARN_SURROGATES = ("gp", "saas")

HoldoutSource = pd.DataFrame | str | os.PathLike[str]


# --------------------------------------------------------------- the space
def mc_size(dim: int) -> int:
    """Sobol points that integrate over a ``dim``-dimensional space: ``256 d``
    rounded up to a power of two (balanced Sobol nets), between 512 and 4096."""
    return int(min(4096, max(512, 2 ** math.ceil(math.log2(256 * max(dim, 1))))))


def sobol_points(dim: int, n: int, seed: int) -> np.ndarray:
    """``n`` points of the scrambled, seeded Sobol sequence in ``[0, 1]^dim``."""
    return SobolEngine(dim, scramble=True, seed=seed).draw(n, dtype=DTYPE).numpy()


_POINTS_CACHE: dict[tuple[str, int, int], np.ndarray] = {}


def space_points(experiment: Experiment, n: int, seed: int) -> np.ndarray:
    """``n`` encoded points spread over the experiment's space, for integrals over it.

    Without constraints, the scrambled Sobol points (rounded onto the values of
    integer and categorical columns); with linear constraints, the feasible design
    stream of :meth:`bayesopt.strategy.Strategy.sobol` (Sobol points that satisfy
    them, or hit-and-run points of the polytope), seeded with ``seed``.

    Returns:
        A ``n x d`` array (cached per space, size and seed).
    """
    space = experiment.space
    key = (json.dumps(space.describe(), sort_keys=True, default=str), n, seed)
    cached = _POINTS_CACHE.get(key)
    if cached is not None:
        return cached
    if space.constraints:
        from bayesopt.strategy import Strategy

        strategy = Strategy(experiment, seed=seed, device=torch.device("cpu"))
        points = strategy.sobol(0, n)
    else:
        points = sobol_points(space.dim, n, seed)
        if space.discrete_dims or space.cat_dims:
            points = space.snap(points)
    if len(_POINTS_CACHE) >= 16:
        _POINTS_CACHE.pop(next(iter(_POINTS_CACHE)))
    _POINTS_CACHE[key] = points
    return points


# ----------------------------------------------------- closed-form variance
class _ExactParts:
    """What the closed-form posterior covariance of a fitted exact GP needs.

    The posterior covariance given the training data ``D`` is
    ``k_D(a, b) = k(a, b) - v_a^T v_b`` with ``v_x = L^{-1} k(X_D, x)`` and
    ``L L^T = k(X_D, X_D) + noise``, in the model's standardized units; ``scale``
    brings variances back to the outcome's units. A fully Bayesian model (SAAS) has
    one of each per MCMC draw, in a leading batch dimension.
    """

    def __init__(self, model: Model) -> None:
        if not isinstance(model, ExactGP) or getattr(model, "num_outputs", 1) != 1:
            raise BayesoptError(
                f"learning acquisition: {type(model).__name__} is not a single-output exact "
                f"Gaussian process; goals 'learn' and 'level' need one of the surrogates "
                f"{list(LEARN_SURROGATES)}"
            )
        model.eval()
        self.model = model
        self.batched = bool(getattr(model, "_is_fully_bayesian", False))
        with torch.no_grad():
            train = model.train_inputs[0]
            noise = model.likelihood.noise
            K = model.covar_module(train).to_dense()
            diag = noise.expand(K.shape[:-1]) if noise.shape[-1] in (1, K.shape[-1]) else noise
            self.L = psd_safe_cholesky(K + torch.diag_embed(diag))
            self.train = train
            #: Noise variance of a new observation (the training mean for known noise).
            self.noise = noise.mean(-1)
            transform = getattr(model, "outcome_transform", None)
            stdvs = getattr(transform, "stdvs", None)
            self.scale = (
                (stdvs.reshape(-1)[0] ** 2).to(K) if stdvs is not None else torch.ones((), **_kw(K))
            )

    def inputs(self, X: Tensor) -> Tensor:
        """``X`` as the kernel sees it (input transforms applied, MCMC dimension added)."""
        Xt = self.model.transform_inputs(X)
        return Xt.unsqueeze(-3) if self.batched else Xt

    def kernel(self, A: Tensor, B: Tensor) -> Tensor:
        return self.model.covar_module(A, B).to_dense()

    def whiten(self, A: Tensor) -> Tensor:
        """``L^{-1} k(X_D, A)`` for transformed inputs ``A`` (``... x n x N``)."""
        batch = torch.broadcast_shapes(A.shape[:-2], self.train.shape[:-2])
        cross = self.kernel(self.train.expand(*batch, *self.train.shape[-2:]), A)
        L = self.L.expand(*cross.shape[:-2], *self.L.shape[-2:])
        return torch.linalg.solve_triangular(L, cross, upper=False)

    def variance(self, A: Tensor) -> Tensor:
        """Latent posterior variance at transformed inputs ``A`` (standardized units)."""
        V = self.whiten(A)
        prior = self.model.covar_module(A, diag=True)
        prior = prior.to_dense() if hasattr(prior, "to_dense") else prior
        return (prior - (V**2).sum(-2)).clamp_min(0.0)


def _kw(t: Tensor) -> dict[str, Any]:
    return {"dtype": t.dtype, "device": t.device}


class qNegIntegratedVariance(AcquisitionFunction):
    """The (weighted) integrated posterior variance after observing a batch, negated.

    ``alpha(X) = -sum_m w_m Var[f(x_m) | D, X u X_pending]`` over fixed points ``x_m``
    with weights ``w_m`` summing to one (uniform: BoTorch's
    ``qNegIntegratedPosteriorVariance``, same values), in the outcome's units squared;
    computed in closed form for exact Gaussian processes (see the module docstring).
    With several single-output models (a ``ModelList``), the sum over outputs of each
    output's value times its ``output_weights`` entry.

    Args:
        model: A fitted exact GP (``SingleTaskGP``, ``MixedSingleTaskGP``, a fully
            Bayesian SAAS GP) or a ``ModelList`` of them.
        mc_points: A ``M x d``-dim tensor of points to integrate over.
        weights: ``M`` non-negative weights of the points (uniform when ``None``); for
            a ``ModelList``, one such tensor per model, or ``None``.
        output_weights: With a ``ModelList``, the weight of each output (1 when ``None``).
        X_pending: A ``p x d``-dim tensor of points being evaluated.
    """

    def __init__(
        self,
        model: Model,
        mc_points: Tensor,
        weights: Tensor | Sequence[Tensor | None] | None = None,
        output_weights: Sequence[float] | None = None,
        X_pending: Tensor | None = None,
    ) -> None:
        super().__init__(model=model)
        models: list[Model] = (
            [cast(Model, m) for m in model.models] if isinstance(model, ModelList) else [model]
        )
        self._parts = [_ExactParts(m) for m in models]
        per_model = list(weights) if isinstance(weights, Sequence) else [weights] * len(models)
        outputs = list(output_weights) if output_weights is not None else [1.0] * len(models)
        if len(per_model) != len(models) or len(outputs) != len(models):
            raise ValueError(
                f"weights: expected one entry per model ({len(models)}), got "
                f"{len(per_model)} weights and {len(outputs)} output weights"
            )
        self.register_buffer("mc_points", mc_points)
        self._points = mc_points
        M = mc_points.shape[-2]
        self._mc: list[tuple[Tensor, Tensor, Tensor, Tensor, float]] = []
        with torch.no_grad():
            for parts, w, out in zip(self._parts, per_model, outputs, strict=True):
                mt = parts.inputs(mc_points)
                V = parts.whiten(mt)
                w_m = torch.full((M,), 1.0 / M, **_kw(mc_points)) if w is None else w.to(mc_points)
                w_m = w_m / w_m.sum().clamp_min(1e-300)
                var = (parts.variance(mt) * w_m).sum(-1)  # weighted, standardized units
                self._mc.append((mt, V, w_m, var, float(out)))
        self.set_X_pending(X_pending)

    def current(self) -> Tensor:
        """The weighted integrated variance before the batch (outcome units squared)."""
        total = torch.zeros((), **_kw(self._points))
        for parts, (_, _, _, var, out) in zip(self._parts, self._mc, strict=True):
            total = total + out * (parts.scale * var).mean()
        return total

    def forward(self, X: Tensor) -> Tensor:
        """Evaluate on a ``b x q x d``-dim tensor (a ``q x d`` one is a batch of one),
        with the pending points appended to each batch; returns ``b`` values."""
        if X.dim() == 2:
            X = X.unsqueeze(0)
        pending = self.X_pending
        if isinstance(pending, Tensor) and pending.numel():
            X = torch.cat([X, match_batch_shape(pending, X)], dim=-2)
        value = torch.zeros(X.shape[:-2], **_kw(X))
        for parts, (mt, V, w_m, var, out) in zip(self._parts, self._mc, strict=True):
            value = value - out * self._after(parts, X, mt, V, w_m, var)
        return value

    @staticmethod
    def _after(
        parts: _ExactParts, X: Tensor, mt: Tensor, V: Tensor, w_m: Tensor, var: Tensor
    ) -> Tensor:
        """Weighted integrated variance once ``X`` (``b x q x d``) is observed."""
        Xt = parts.inputs(X)  # b x [s x] q x d
        q = Xt.shape[-2]
        Vq = parts.whiten(Xt)  # b x [s x] n x q
        Cqq = parts.kernel(Xt, Xt) - Vq.transpose(-1, -2) @ Vq
        eye = torch.eye(q, **_kw(Cqq))
        Cqq = Cqq + parts.noise.unsqueeze(-1).unsqueeze(-1) * eye
        mt_b = mt.expand(*Xt.shape[:-2], *mt.shape[-2:])
        Cmq = parts.kernel(mt_b, Xt) - V.transpose(-1, -2) @ Vq  # b x [s x] M x q
        Lq = psd_safe_cholesky(Cqq)
        A = torch.linalg.solve_triangular(Lq, Cmq.transpose(-1, -2), upper=False)
        reduction = ((A**2).sum(-2) * w_m).sum(-1)  # b x [s]
        after = parts.scale * (var - reduction)
        return after.mean(-1) if parts.batched else after


class qLevelSetVariance(qNegIntegratedVariance):
    """The targeted integrated variance around a level, negated (Picheny et al. 2010).

    Each integration point counts with the posterior density of ``f(x)`` at the level,
    ``w(x) = phi((mu(x) - T) / s(x)) / s(x)``, ``s(x)^2 = sigma(x)^2 + noise`` (the
    model's noise variance, the tolerance of the target band), so the batch reduces the
    variance where the side of the level is still uncertain.

    Args:
        model: A fitted single-output exact GP of ``sign * outcome``.
        mc_points: A ``M x d``-dim tensor of points to integrate over.
        level: The level ``T`` in the outcome's units.
        sign: The sign the model sees the outcome with (``Strategy.outcome_sign``).
        X_pending: A ``p x d``-dim tensor of points being evaluated.
    """

    def __init__(
        self,
        model: Model,
        mc_points: Tensor,
        level: float,
        sign: float = 1.0,
        X_pending: Tensor | None = None,
    ) -> None:
        weights = level_weights(model, mc_points, level, sign)
        super().__init__(model, mc_points, weights=weights, X_pending=X_pending)
        self.level = float(level)
        self.sign = float(sign)


def level_weights(model: Model, X: Tensor, level: float, sign: float = 1.0) -> Tensor:
    """Posterior density of ``f(x)`` at the level (tIMSE weights), at ``n x d`` points.

    The model sees ``sign * outcome``, so the level is compared as ``sign * level``
    (the density is symmetric, so this is the same as comparing in the outcome's units).
    """
    locs, scales = latent_moments(model, X)
    parts = _ExactParts(model)
    noise = (parts.noise * parts.scale).reshape(-1, 1).to(scales)  # per mixture component
    s = (scales**2 + noise).sqrt().clamp_min(1e-12)
    z = (locs - sign * float(level)) / s
    return (torch.exp(-0.5 * z**2) / s).mean(0)


#: How strongly the ``"variation"`` acquisition favours regions where the response
#: varies (see :func:`variation_weights`); chosen with ``benchmarks/active_learning.py``
#: (a sweep of 1, 4, 16 and this value is in the README's active-learning section).
VARIATION_STRENGTH = 8.0


def variation_weights(
    model: Model, mc_points: Tensor, train_y: Tensor, strength: float = VARIATION_STRENGTH
) -> Tensor:
    """Weights of the integration points for the ``"variation"`` acquisition.

    A stationary GP's posterior variance depends only on where the points are, so the
    plain integrated variance (qNIPV) is a space-filling design in the model's metric:
    it spends as many points where the response is flat as where it changes fast, and
    the error of the fit lives in the latter. Following the expected improvement for
    global fit (EIGF; Lam 2008), the discrepancy between the posterior mean at ``x``
    and the value observed at the training point nearest to ``x``,
    ``e(x) = mu(x) - y(x_nn)``, marks where the response varies between the points
    already seen. Each integration point counts with
    ``w(x) = 1 + strength * (e(x) / sd(y))^2``, so the batch reduces the variance where
    the response changes most, and still everywhere (``w >= 1``).

    Args:
        model: The fitted exact GP of ``sign * outcome``.
        mc_points: A ``M x d``-dim tensor of integration points (encoded space).
        train_y: The model's ``n`` training outputs, in its units, in the order of its
            training inputs.
        strength: The factor on the squared standardized discrepancy.
    """
    locs, _ = latent_moments(model, mc_points)
    mu = locs.mean(0)
    train = cast(Tensor, cast(Any, model).train_inputs[0])
    train = train.reshape(-1, *train.shape[-2:])[0]  # a fully Bayesian model: one copy
    y = train_y.reshape(-1).to(mu)
    if len(y) != train.shape[-2] or len(y) < 2:
        return torch.ones_like(mu)
    nearest = torch.cdist(model.transform_inputs(mc_points).reshape(mc_points.shape), train)
    discrepancy = mu - y[nearest.argmin(-1)]
    return 1.0 + float(strength) * (discrepancy / y.std().clamp_min(1e-12)) ** 2


# ------------------------------------------------------------- factories
def integrated_variance_acquisition(
    model: Model,
    space_dim: int,
    n_mc: int | None = None,
    seed: int = 0,
    X_pending: Tensor | None = None,
    device: torch.device | None = None,
    *,
    mc_points: Tensor | None = None,
    output_weights: Sequence[float] | None = None,
    weights: Tensor | Sequence[Tensor | None] | None = None,
) -> qNegIntegratedVariance:
    """The negative integrated posterior variance (qNIPV) over the unit cube.

    Args:
        model: A fitted exact GP (or a ``ModelList`` of them).
        space_dim: Columns of the encoded space.
        n_mc: Scrambled Sobol points to integrate over; ``None``: :func:`mc_size`.
        seed: Seed of the Sobol points.
        X_pending: A ``p x d``-dim tensor of points being evaluated.
        device: Where the points go (the model's device).
        mc_points: Points to integrate over instead (e.g. the feasible part of a
            constrained space, from :func:`space_points`).
        output_weights: With a ``ModelList``, each output's weight.
        weights: Weights of the integration points (uniform when ``None``; one tensor
            per model of a ``ModelList``), e.g. :func:`variation_weights`.

    Returns:
        A :class:`qNegIntegratedVariance`; unweighted, with the values of BoTorch's
        ``qNegIntegratedPosteriorVariance``.
    """
    if mc_points is None:
        n = n_mc if n_mc is not None else mc_size(space_dim)
        mc_points = torch.as_tensor(sobol_points(space_dim, n, seed), dtype=DTYPE)
    mc_points = mc_points.to(device=device or mc_points.device, dtype=DTYPE)
    return qNegIntegratedVariance(
        model, mc_points, weights=weights, output_weights=output_weights, X_pending=X_pending
    )


def level_set_acquisition(
    model: Model,
    mc_points: Tensor,
    level: float,
    sign: float = 1.0,
    X_pending: Tensor | None = None,
) -> qLevelSetVariance:
    """The targeted integrated variance around ``level`` (see :class:`qLevelSetVariance`)."""
    return qLevelSetVariance(model, mc_points, level, sign, X_pending=X_pending)


# ----------------------------------------------------------------- scores
def latent_moments(model: Model, X: Tensor, chunk: int = 512) -> tuple[Tensor, Tensor]:
    """Posterior means and standard deviations of the latent ``f`` at ``n x d`` points.

    Returns:
        Two ``s x n``-dim tensors, one row per mixture component (``s = 1`` except for
        a fully Bayesian model, which has one per MCMC draw), in the model's units
        (``sign * outcome``). Computed in chunks, so no ``n x n`` covariance is formed.
    """
    model.eval()
    locs, scales = [], []
    with torch.no_grad():
        for start in range(0, X.shape[-2], chunk):
            post: Any = model.posterior(X[start : start + chunk])
            mean, var = post.mean[..., 0], post.variance[..., 0]
            locs.append(mean.reshape(-1, mean.shape[-1]))
            scales.append(var.clamp_min(0.0).sqrt().reshape(-1, var.shape[-1]))
    return torch.cat(locs, -1), torch.cat(scales, -1)


def integrated_variance(model: Model, mc_points: Tensor) -> float:
    """Mean posterior variance of the latent ``f`` over ``mc_points``, in the outcome's
    units squared (a mixture's variance includes the spread of its components)."""
    locs, scales = latent_moments(model, mc_points)
    var = (scales**2).mean(0) + locs.var(0, unbiased=False)
    return float(var.mean())


@dataclass(frozen=True)
class LevelEstimate:
    """Where the model puts ``f(x) >= level`` at a set of points.

    Attributes:
        probability: ``P(f(x) >= level)`` at each point (a ``n`` array).
        share: Share of the points where that probability exceeds 0.5 (the estimated
            region's share of the space).
        misclassified: Mean of ``min(p, 1 - p)``: the share of the space expected to be
            on the wrong side of the level under the posterior.
    """

    probability: np.ndarray
    share: float
    misclassified: float


def level_region(model: Model, X: Tensor, level: float, sign: float = 1.0) -> LevelEstimate:
    """The estimated region ``{x: P(f(x) >= level) > 0.5}`` at points ``X`` (``n x d``).

    Args:
        model: A fitted model of ``sign * outcome``.
        level: The level, in the outcome's units.
        sign: The sign the model sees the outcome with.
    """
    locs, scales = latent_moments(model, X)
    mean = sign * locs  # the outcome's units
    z = (mean - float(level)) / scales.clamp_min(1e-12)
    p = torch.special.ndtr(z).mean(0).cpu().numpy()
    return LevelEstimate(
        probability=p,
        share=float((p > 0.5).mean()),
        misclassified=float(np.minimum(p, 1.0 - p).mean()),
    )


def holdout_scores(
    predict_mean_std: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    X: np.ndarray,
    y: np.ndarray,
) -> dict[str, float]:
    """Scores of predictions on a held-out test set.

    Args:
        predict_mean_std: Maps ``n x d`` encoded points to the predictive mean and
            standard deviation of a new observation there (two ``n`` arrays, in the
            outcome's units).
        X: A ``n x d`` array of encoded test points.
        y: Their ``n`` observed values.

    Returns:
        ``rmse``; ``nlpd``, the mean negative log density of ``y`` under the Gaussian
        with that mean and standard deviation; ``picp``, the share of ``y`` inside the
        central 95% interval; and ``n``.
    """
    mean, std = predict_mean_std(np.asarray(X, dtype=np.float64))
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    std = np.maximum(np.asarray(std, dtype=np.float64).reshape(-1), 1e-12)
    obs = np.asarray(y, dtype=np.float64).reshape(-1)
    err = obs - mean
    nlpd = 0.5 * np.log(2.0 * np.pi * std**2) + 0.5 * (err / std) ** 2
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "nlpd": float(np.mean(nlpd)),
        "picp": float(np.mean(np.abs(err) <= Z95 * std)),
        "n": float(len(obs)),
    }


def mean_std(fitted: FittedSurrogate) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The predictive mean and standard deviation of a new observation of a fitted
    surrogate's outcome, in its units, as :func:`holdout_scores` takes them."""

    def _predict(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        device = next((p.device for p in fitted.model.parameters()), torch.device("cpu"))
        Xt = torch.as_tensor(X, dtype=DTYPE, device=device)
        pred = predictive(fitted.model, Xt)
        if isinstance(pred, GaussianMixture):
            mean, var = pred.mean[:, 0], pred.variance[:, 0]
        elif isinstance(pred, SampledPredictive):
            mean, var = pred.draws.mean(0)[:, 0], pred.draws.var(0)[:, 0]
        else:  # any other predictive: the interval's width as four standard deviations
            lower, upper = pred.interval(0.95)
            mean, var = pred.mean[:, 0], ((upper - lower)[:, 0] / (2 * Z95)) ** 2
        sign = fitted.objective.sign()
        return (
            (sign * mean).detach().cpu().numpy(),
            var.clamp_min(0.0).sqrt().detach().cpu().numpy(),
        )

    return _predict


# ---------------------------------------------------------------- holdout
@dataclass(frozen=True)
class Holdout:
    """A held-out test set: encoded points and every modelled outcome measured there.

    Attributes:
        X: A ``n x d`` array of encoded points.
        Y: A ``n x k`` array, one column per name of ``outcomes``.
        outcomes: The modelled outcomes, in the experiment's order.
        source: The file name, or ``"DataFrame"``.
    """

    X: np.ndarray
    Y: np.ndarray
    outcomes: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.X)

    def values(self, outcome: str) -> np.ndarray:
        return self.Y[:, self.outcomes.index(outcome)]


def read_holdout(
    experiment: Experiment,
    source: HoldoutSource,
    error: type[BayesoptError] = InvalidImportError,
) -> Holdout:
    """Read and check a held-out test set, as :meth:`Optimizer.import_trials` checks rows.

    Every tunable parameter and every modelled outcome must be a column; ``Fixed``
    parameters, ``<outcome>_sem`` columns and the bookkeeping columns of
    ``Optimizer.trials()`` may be there (with ``status``, only completed rows count),
    any other column is refused. Each row must lie in the space (bounds, integers,
    categories, linear constraints) and carry finite outcomes; repeated points are
    kept (replicates are fine in a test set).

    Args:
        experiment: The experiment whose space and outcomes the rows must fit.
        source: A pandas DataFrame, or the path of a CSV file.
        error: The error to raise (``InvalidImportError``, or
            ``InvalidExperimentError`` for ``Experiment(holdout=...)``).

    Raises:
        error: a column is missing or unknown, or a row does not fit; the message
            starts with ``holdout:`` and names the row (and for a file its line), the
            column and the value.
    """
    from bayesopt import importing as imp

    try:
        name, header, records = imp._read(source)
        layout = _holdout_layout(experiment, header, name)
        rows: list[np.ndarray] = []
        values: list[list[float]] = []
        outcomes = experiment.modelled_outcomes
        for record in records:
            if layout.status and not imp._is_completed(record):
                continue
            params = imp._params(experiment, layout, record)
            measured, _ = imp._outcomes(experiment, layout, record)
            rows.append(experiment.space.encode(params))
            values.append([measured[o] for o in outcomes])
    except InvalidImportError as exc:
        raise error(_holdout_message(str(exc))) from None
    if not rows:
        raise error(
            f"holdout: {name} has no completed rows; a test set needs at least one row with "
            f"every parameter {list(experiment.space.names)} and outcome {list(outcomes)}"
        )
    X = np.stack(rows)
    Y = np.asarray(values, dtype=np.float64).reshape(len(rows), len(outcomes))
    return Holdout(X, Y, tuple(outcomes), name)


def _holdout_message(text: str) -> str:
    text = text.removeprefix("import: ")
    return "holdout: " + text.replace("every imported", "every held-out").replace(
        "imported point", "held-out point"
    )


def _holdout_layout(experiment: Experiment, header: Sequence[str], source: str) -> Any:
    from bayesopt import importing as imp

    space = experiment.space
    outcomes = list(experiment.modelled_outcomes)
    tunable = [p.name for p in space.tunable]
    missing = [c for c in [*tunable, *outcomes] if c not in header]
    if missing:
        raise InvalidImportError(
            f"holdout: {source}: missing column(s) {missing}; a test set has one column per "
            f"parameter {tunable} and per modelled outcome {outcomes} (it has {list(header)})"
        )
    sems: dict[str, str] = {}
    unknown: list[str] = []
    for column in header:
        if column in space.names or column in outcomes:
            continue
        base = column[: -len(imp.SEM_SUFFIX)]
        if column.endswith(imp.SEM_SUFFIX) and base in outcomes:
            sems[base] = column
        elif column not in imp.BOOKKEEPING_COLUMNS:
            unknown.append(column)
    if unknown:
        raise InvalidImportError(
            f"holdout: {source}: unknown column(s) {unknown}; the columns are the parameters "
            f"{list(space.names)}, the outcomes {outcomes}, their standard errors "
            f"'<outcome>{imp.SEM_SUFFIX}' and the bookkeeping columns of trials()"
        )
    params = tuple(p for p in space.parameters if p.name in header)
    return imp._Layout(params, tuple(outcomes), sems, "status" in header)


def describe_holdout(source: object) -> str:
    """A short name of a holdout source for settings and messages."""
    if isinstance(source, pd.DataFrame):
        return f"DataFrame ({len(source)} rows)"
    return describe(str(source))


# ------------------------------------------------------------- a decision
def learning_step(
    experiment: Experiment,
    models: Mapping[str, Model],
    signs: Mapping[str, float],
    train_Y: Tensor,
    X_pending: Tensor | None,
    seed: int,
    device: torch.device,
) -> tuple[AcquisitionFunction, dict[str, Any]]:
    """The acquisition of a learning goal, and what to record about the current model.

    Args:
        experiment: An experiment with goal ``"learn"`` or ``("level", outcome, value)``.
        models: The fitted model of each modelled outcome, by name.
        signs: The sign each outcome's model sees it with.
        train_Y: A ``n x k`` tensor of the models' training outputs (``sign * outcome``).
        X_pending: A ``p x d``-dim tensor of points being evaluated, or ``None``.
        seed: Seeds the integration points (the strategy's seed).
        device: Where the integration points go.

    Returns:
        The acquisition function, and the metadata of the decision: for ``"learn"``,
        ``integrated_variance`` (the first objective's, in its units squared; the
        others' as ``integrated_variance.<name>``) and ``iv_rel``, the largest over the
        objectives of ``sqrt(integrated variance) / observed range``; for a level,
        ``misclassified`` (the posterior probability mass on the wrong side of the
        level) and ``level_share`` (the estimated region's share of the space).
    """
    space = experiment.space
    mc = space_points(experiment, mc_size(space.dim), seed + 7919)
    mc_t = torch.as_tensor(mc, dtype=DTYPE, device=device)
    meta: dict[str, Any] = {}
    level = experiment.level
    if experiment.acquisition == "level" and level is not None:
        outcome, value = level
        model = models[outcome]
        sign = signs[outcome]
        estimate = level_region(model, mc_t, value, sign)
        meta.update(
            misclassified=round(estimate.misclassified, 9),
            level_share=round(estimate.share, 9),
        )
        return level_set_acquisition(model, mc_t, value, sign, X_pending), meta
    names = [o.name for o in experiment.objectives]
    spans: list[float] = []
    rel: list[float] = []
    for i, name in enumerate(names):
        iv = integrated_variance(models[name], mc_t)
        column = train_Y[:, i]
        span = float(column.max() - column.min()) if len(column) else 0.0
        spans.append(span)
        key = "integrated_variance" if i == 0 else f"integrated_variance.{name}"
        meta[key] = round(iv, 12)
        if span > 0:
            rel.append(math.sqrt(iv) / span)
    if rel:
        meta["iv_rel"] = round(max(rel), 9)
    # Each output's variance relative to its observed range squared, so that outcomes
    # in different units count alike.
    weights = [1.0 / s**2 if s > 0 else 1.0 for s in spans]
    model = models[names[0]] if len(names) == 1 else ModelList(*[models[name] for name in names])
    point_weights: list[Tensor | None] | None = None
    if experiment.acquisition == "variation":
        point_weights = [
            variation_weights(models[name], mc_t, train_Y[:, i]) for i, name in enumerate(names)
        ]
    acqf = integrated_variance_acquisition(
        model,
        space.dim,
        X_pending=X_pending,
        device=device,
        mc_points=mc_t,
        output_weights=weights if len(names) > 1 else None,
        weights=point_weights if point_weights is None or len(names) > 1 else point_weights[0],
    )
    return acqf, meta

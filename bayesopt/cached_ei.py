"""Analytic LogEI of an exact GP on a cached Cholesky factor.

BoTorch's ``LogExpectedImprovement`` asks the model for its posterior at every point the
acquisition optimizer tries: each call goes through GPyTorch's prediction machinery
(input and outcome transforms, lazily evaluated kernels, the prediction strategy's
caches, device checks), about 2.5 ms at any ``n`` up to a few hundred on one CPU thread,
which made up most of a decision's time (``benchmarks/results/decision_breakdown.md``).
For the default's model, a ``SingleTaskGP`` with a scaled Matern-5/2 kernel, a constant
mean, Gaussian noise and the ``Normalize`` / ``Standardize`` transforms, the posterior
of ``f`` at ``x`` is, in the standardized units, with ``L`` the Cholesky factor of
``K + Sigma`` on the ``n`` training inputs (Rasmussen & Williams 2006, eqs. 2.25-2.26):

    ``mean(x) = c + k(x)^T (K + Sigma)^{-1} (y - c)``,
    ``var(x) = s^2 - |L^{-1} k(x)|^2``,

which :class:`CachedLogEI` computes from ``L`` and ``(K + Sigma)^{-1} (y - c)`` factored
once when the acquisition is built, then maps back to the outcome's units and hands to
BoTorch's own LogEI formula (its ``forward`` is unchanged; only ``_mean_and_sigma`` is).

:func:`cached_log_ei` builds it only for that model, and checks it against the model's
own posterior at a few points before it is used: where the two disagree by more than a
relative 1e-6 (a model this module does not know), it returns ``None`` and the caller
keeps BoTorch's ``LogExpectedImprovement``.
"""

from __future__ import annotations

import math

import torch
from botorch.acquisition.analytic import LogExpectedImprovement
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood
from gpytorch.means import ConstantMean
from torch import Tensor

#: Largest relative difference to the model's own posterior that the check accepts.
TOLERANCE = 1e-6


class CachedLogEI(LogExpectedImprovement):
    """``LogExpectedImprovement`` whose posterior moments come from a cached factor.

    Built by :func:`cached_log_ei`; evaluates the same function as BoTorch's class for
    the same model, with the same gradients, at a fraction of the cost per call.
    """

    def __init__(self, model: SingleTaskGP, best_f: Tensor | float) -> None:
        super().__init__(model, best_f=best_f)
        with torch.no_grad():
            self._factor(model)

    def _factor(self, model: SingleTaskGP) -> None:
        train_X = model.train_inputs[0]  # normalized already (the model is in eval mode)
        y = model.train_targets  # standardized
        covar = model.covar_module
        self._lengthscale = covar.base_kernel.lengthscale.detach().reshape(-1)
        self._outputscale = covar.outputscale.detach().reshape(())
        self._constant = model.mean_module.constant.detach().reshape(())
        likelihood = model.likelihood
        if isinstance(likelihood, FixedNoiseGaussianLikelihood):
            noise = likelihood.noise.detach().reshape(-1)
        else:
            noise = likelihood.noise.detach().reshape(-1).expand(y.shape[-1])
        self._train_X = train_X.detach()
        K = self._kernel(self._train_X, self._train_X) + torch.diag_embed(noise)
        L = _cholesky(K)
        self._L = L
        resid = (y - self._constant).unsqueeze(-1)
        self._alpha = torch.cholesky_solve(resid, L).squeeze(-1)
        transform = getattr(model, "input_transform", None)
        self._in_offset: Tensor | None = None
        self._in_scale: Tensor | None = None
        if isinstance(transform, Normalize):
            self._in_offset = transform.offset.detach()
            self._in_scale = transform.coefficient.detach()
        outcome = getattr(model, "outcome_transform", None)
        self._y_mean = torch.zeros((), dtype=y.dtype, device=y.device)
        self._y_sd = torch.ones((), dtype=y.dtype, device=y.device)
        if isinstance(outcome, Standardize):
            self._y_mean = outcome.means.detach().reshape(())
            self._y_sd = outcome.stdvs.detach().reshape(())

    def _kernel(self, A: Tensor, B: Tensor) -> Tensor:
        """The scaled Matern-5/2 kernel between ``... x a x d`` and ``b x d`` inputs."""
        diff = (A.unsqueeze(-2) - B) / self._lengthscale
        sq = diff.square().sum(-1)
        r = sq.clamp_min(1e-30).sqrt() * math.sqrt(5.0)
        return self._outputscale * (1.0 + r + r.square() / 3.0) * torch.exp(-r)

    def moments(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and variance of ``f`` in the outcome's units at ``... x d``
        inputs (before any input transform)."""
        if self._in_offset is not None and self._in_scale is not None:
            X = (X - self._in_offset) / self._in_scale
        k = self._kernel(X, self._train_X)  # ... x n
        mean = self._constant + k @ self._alpha
        v = torch.linalg.solve_triangular(self._L, k.unsqueeze(-1), upper=False).squeeze(-1)
        var = (self._outputscale - v.square().sum(-1)).clamp_min(0.0)
        return mean * self._y_sd + self._y_mean, var * self._y_sd.square()

    def _mean_and_sigma(
        self, X: Tensor, compute_sigma: bool = True, min_var: float = 1e-12
    ) -> tuple[Tensor, Tensor | None]:
        mean, var = self.moments(X.squeeze(-2))  # one point per t-batch
        mean = mean.unsqueeze(-1)
        if not compute_sigma:
            return mean, None
        return mean, var.clamp_min(min_var).sqrt().view(mean.shape)


def _cholesky(K: Tensor) -> Tensor:
    """Cholesky factor of ``K``, with jitter added (as GPyTorch does) if it fails."""
    L, info = torch.linalg.cholesky_ex(K)
    jitter = 1e-8 if K.dtype == torch.float64 else 1e-6
    eye = torch.eye(K.shape[-1], dtype=K.dtype, device=K.device)
    while bool(info.any()) and jitter < 1.0:
        L, info = torch.linalg.cholesky_ex(K + jitter * eye)
        jitter *= 10.0
    if bool(info.any()):
        raise torch.linalg.LinAlgError("cached LogEI: kernel matrix not positive definite")
    return L


def supported(model: Model) -> bool:
    """Whether ``model`` is the exact GP that :class:`CachedLogEI` computes."""
    if type(model) is not SingleTaskGP or model.num_outputs != 1 or model.training:
        return False
    if getattr(model, "_input_batch_shape", torch.Size()) != torch.Size():
        return False
    covar, mean = model.covar_module, model.mean_module
    if not (isinstance(covar, ScaleKernel) and type(covar.base_kernel) is MaternKernel):
        return False
    base = covar.base_kernel
    if base.nu != 2.5 or base.active_dims is not None or covar.active_dims is not None:
        return False
    if type(mean) is not ConstantMean or type(model.likelihood) not in (
        GaussianLikelihood,
        FixedNoiseGaussianLikelihood,
    ):
        return False
    transform = getattr(model, "input_transform", None)
    outcome = getattr(model, "outcome_transform", None)
    return (transform is None or type(transform) is Normalize) and (
        outcome is None or type(outcome) is Standardize
    )


def cached_log_ei(model: Model, best_f: Tensor | float, check_X: Tensor) -> CachedLogEI | None:
    """:class:`CachedLogEI` for ``model``, or ``None`` where it is not the supported
    exact GP or where the cached moments differ from the model's own posterior at
    ``check_X`` (a ``k x d``-dim tensor, the training inputs say) by more than a
    relative :data:`TOLERANCE`."""
    if not supported(model):
        return None
    try:
        acqf = CachedLogEI(model, best_f)  # type: ignore[arg-type]
        with torch.no_grad():
            posterior = model.posterior(check_X)
            mean, var = acqf.moments(check_X)
    except (RuntimeError, torch.linalg.LinAlgError):
        return None
    if not isinstance(posterior, GPyTorchPosterior):
        return None
    want_mean = posterior.mean.reshape(-1)
    want_sd = posterior.variance.clamp_min(0.0).sqrt().reshape(-1)
    scale = want_mean.abs().max() + want_sd.max() + 1e-12
    error = max(
        float((mean - want_mean).abs().max()),
        float((var.sqrt() - want_sd).abs().max()),
    )
    return acqf if math.isfinite(error) and error <= TOLERANCE * float(scale) else None

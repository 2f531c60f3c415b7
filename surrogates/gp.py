"""The exact GP: BoTorch's ``SingleTaskGP`` (``MixedSingleTaskGP`` with categorical columns).

Inputs are normalized to the unit cube and outcomes standardized; the
hyperparameters are fitted by maximizing the exact marginal log likelihood with
``fit_gpytorch_mll`` (L-BFGS-B, with BoTorch's own restarts on failure).
Formally, with ``K`` the kernel matrix and ``sigma^2`` the noise,
``log p(y | X) = -1/2 y^T (K + sigma^2 I)^{-1} y - 1/2 log|K + sigma^2 I| - n/2 log 2 pi``
(Rasmussen & Williams 2006, eq. 2.30).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from surrogates.base import FitSpec, SurrogateError, check_training_data, warn_fallback


@dataclass
class ExactGP:
    """Exact Gaussian process with BoTorch's default (dimension-scaled) priors.

    With ``spec.train_Yvar`` the noise of each observation is the known variance
    given (a fixed-noise GP, as Ax does with ``(mean, sem)`` data); else it is inferred.

    Args:
        max_attempts: Optimizer restarts that ``fit_gpytorch_mll`` may use.
    """

    name: str = "gp"
    max_attempts: int = 5

    def _build(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec) -> SingleTaskGP:
        d = train_X.shape[-1]
        cat_dims = sorted(spec.cat_dims)
        cont = [i for i in range(d) if i not in set(cat_dims)]
        outcome = Standardize(m=train_Y.shape[-1])
        Yvar = spec.train_Yvar
        if Yvar is not None and Yvar.shape != train_Y.shape:
            raise SurrogateError(
                f"train_Yvar: expected shape {tuple(train_Y.shape)}, got {tuple(Yvar.shape)}"
            )
        if cat_dims:
            normalize = Normalize(d=d, indices=cont, bounds=spec.bounds) if cont else None
            return MixedSingleTaskGP(
                train_X,
                train_Y,
                cat_dims=cat_dims,
                train_Yvar=Yvar,
                input_transform=normalize,
                outcome_transform=outcome,
            )
        return SingleTaskGP(
            train_X,
            train_Y,
            train_Yvar=Yvar,
            input_transform=Normalize(d=d, bounds=spec.bounds),
            outcome_transform=outcome,
        )

    def fit(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec) -> Model:
        """Fit the GP.

        Args:
            train_X: A ``n x d``-dim tensor of inputs within ``spec.bounds``.
            train_Y: A ``n x m``-dim tensor of outcomes.

        Returns:
            The fitted model, in eval mode. When the marginal likelihood cannot be
            optimized, the model keeps its prior-mode hyperparameters with a larger
            noise floor, and a :class:`SurrogateFallbackWarning` says so.
        """
        check_training_data(train_X, train_Y, spec)
        model = self._build(train_X, train_Y, spec)
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        try:
            fit_gpytorch_mll(
                mll, optimizer_kwargs={"options": {"maxiter": 200}}, max_attempts=self.max_attempts
            )
        except Exception as exc:  # a failed fit must not stop the loop
            model = self._build(train_X, train_Y, spec)
            if spec.train_Yvar is None:
                noise = model.likelihood.noise_covar
                noise.initialize(noise=torch.full_like(noise.noise, 1e-2))
            warn_fallback(
                f"gp: marginal-likelihood fit failed ({type(exc).__name__}: {exc}); using "
                "the prior-mode hyperparameters with noise 1e-2"
            )
        model.eval()
        if not all(math.isfinite(float(p.detach().sum())) for p in model.parameters()):
            warn_fallback("gp: fitted hyperparameters are not finite")
        return model

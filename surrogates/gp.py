"""The exact GP: BoTorch's ``SingleTaskGP`` (``MixedSingleTaskGP`` with categorical columns).

Inputs are normalized to the unit cube and outcomes standardized; the
hyperparameters are fitted by maximizing the exact marginal log likelihood with
``fit_gpytorch_mll`` (L-BFGS-B, with BoTorch's own restarts on failure).
Formally, with ``K`` the kernel matrix and ``sigma^2`` the noise,
``log p(y | X) = -1/2 y^T (K + sigma^2 I)^{-1} y - 1/2 log|K + sigma^2 I| - n/2 log 2 pi``
(Rasmussen & Williams 2006, eq. 2.30).

Priors (``priors="unit"``, the default): a Matern-5/2 kernel with one lengthscale
per input and a learned output scale; on each lengthscale ``l`` of the unit cube the
unnormalized log density ``-(0.1 l^2 + 0.1 / l^2)``, whose mode is ``l = 1`` and which
keeps ``l`` within about ``[0.2, 5]``; ``Gamma(2, 1)`` on the output scale; and on the
noise variance of the standardized outcome ``Gamma(1.1, 30)`` above a floor of
``1e-6``, so a noiseless function is interpolated rather than smoothed (the choices
of Optuna's GP sampler). ``benchmarks/results/ablation.md`` measures them against
BoTorch's dimension-scaled priors (``priors="dimension_scaled"``: a lengthscale
``LogNormal(sqrt 2 + log(d) / 2, sqrt 3)``, Hvarfner et al. 2024, and a noise
``LogNormal(-4, 1)`` above ``1e-4``): with them instead, the median log10 regret (5
seeds) was -2.15 instead of -3.56 on Branin, -2.08 instead of -4.81 on Hartmann3, and
-2.18 instead of -3.29 on Hartmann6 hidden in 30 inputs (``benchmarks/results/``
``ablation.md`` and ``high_dim.md``).

Outcome warp (``warp="auto"``, the default, for objectives to optimize): the GP may be
fitted to the Yeo-Johnson transform of the standardized outcomes, its power fitted by
maximum likelihood (:mod:`surrogates.warp`), so that a few very good or very bad values
do not set the scale on which improvement is measured; the decision is made on that
scale and predictions are given back in the outcome's units. Whether it is, is decided
every :data:`WARP_CHECK_EVERY` trials by the leave-one-out predictive density of both
GPs. See ``benchmarks/results/compare_peers.md`` for what it changed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import GammaPrior, Prior
from torch import Tensor
from torch.distributions import constraints

from surrogates.base import (
    FitSpec,
    SurrogateError,
    check_training_data,
    set_fit_info,
    warn_fallback,
)
from surrogates.warp import OutcomeWarp

#: The fit-info key under which a fit records its raw hyperparameters (JSON), the state
#: the next fit can start from (``FitSpec.warm_start``).
STATE_KEY = "gp_state"

#: The prior families ``ExactGP`` takes.
PRIORS = ("unit", "dimension_scaled")


class UnitLengthscalePrior(Prior):
    """Unnormalized log density ``-(rate l^2 + rate / l^2)`` on a lengthscale ``l``.

    Its mode is ``l = 1``, the width of the unit cube the inputs are scaled to; both
    very short lengthscales (a function that wiggles between any two trials) and
    very long ones (an input that does not matter) are penalized. As a MAP penalty
    only the shape matters, so the normalizing constant is left out.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}
    support = constraints.positive

    def __init__(self, rate: float = 0.1) -> None:
        super().__init__(validate_args=False)
        self.rate = rate

    def log_prob(self, value: Tensor) -> Tensor:
        return -(self.rate * value.square() + self.rate / value.square())


@dataclass
class ExactGP:
    """Exact Gaussian process (priors: see the module's docstring).

    With ``spec.train_Yvar`` the noise of each observation is the known variance
    given (a fixed-noise GP, as Ax does with ``(mean, sem)`` data); else it is inferred.
    The fit starts from ``spec.warm_start`` when it is given (the raw hyperparameters of
    the previous decision's fit, which each fit records as ``gp_state``); the MAP
    optimum then takes about half the iterations of a start from the priors' modes.

    Args:
        max_attempts: Optimizer restarts that ``fit_gpytorch_mll`` may use.
        priors: ``"unit"`` (default) or ``"dimension_scaled"`` (BoTorch's own); see
            the module's docstring. Models with categorical inputs use BoTorch's
            mixed kernel and its priors either way.
        warp: Where ``spec.warp`` allows it (objectives to optimize, noise not given),
            ``True`` fits the GP to Yeo-Johnson-warped outcomes (:mod:`surrogates.warp`):
            the model then carries the warp as ``outcome_warp``, its posterior is on the
            warped scale (where the acquisition works) and
            ``surrogates.predictive.predictive`` gives predictions in the outcome's
            units. ``"auto"`` (the default) fits both the warped and the plain GP every
            :data:`WARP_CHECK_EVERY` trials and keeps the one whose closed-form
            leave-one-out log predictive density, in the outcome's units, is higher; the
            fits in between reuse that choice (kept in the fit's state, fit info
            ``warp``: 1 or 0, and ``warp_loo_gain`` when chosen). ``False``: the
            outcomes as they are.
        decluster: ``True`` fits the warp's power with the trials weighted by how
            crowded their neighbourhood is (:func:`surrogates.warp.decluster_weights`),
            so that a search that samples one spot again and again does not drive the
            warp; ``False`` (the default) counts every trial once. Measured on the peer
            suite (``benchmarks/results/ablation_decluster.md``), declustering ended
            0.27 decades higher (worse) in the median over problems, worse on 11 of 13:
            the power that a search refining its best point drives up is what lets it
            refine that point to the last digits on noiseless problems.
    """

    name: str = "gp"
    max_attempts: int = 5
    priors: str = "unit"
    warp: bool | str = "auto"
    decluster: bool = False

    def __post_init__(self) -> None:
        if self.priors not in PRIORS:
            raise SurrogateError(f"gp: priors={self.priors!r}; valid values are {list(PRIORS)}")
        if self.warp not in (True, False, "auto"):
            raise SurrogateError(f"gp: warp={self.warp!r}; valid values are True, False, 'auto'")

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
        if self.priors == "dimension_scaled":
            return SingleTaskGP(
                train_X,
                train_Y,
                train_Yvar=Yvar,
                input_transform=Normalize(d=d, bounds=spec.bounds),
                outcome_transform=outcome,
            )
        m = train_Y.shape[-1]
        batch = train_X.shape[:-2] + (torch.Size([m]) if m > 1 else torch.Size())
        kernel = ScaleKernel(
            MaternKernel(
                nu=2.5,
                ard_num_dims=d,
                batch_shape=batch,
                lengthscale_prior=UnitLengthscalePrior(),
            ),
            batch_shape=batch,
            outputscale_prior=GammaPrior(2.0, 1.0),
        )
        likelihood = None
        if Yvar is None:
            likelihood = GaussianLikelihood(
                batch_shape=batch,
                noise_prior=GammaPrior(1.1, 30.0),
                noise_constraint=GreaterThan(1e-6),
            )
        model = SingleTaskGP(
            train_X,
            train_Y,
            train_Yvar=Yvar,
            likelihood=likelihood,
            covar_module=kernel,
            input_transform=Normalize(d=d, bounds=spec.bounds),
            outcome_transform=outcome,
        )
        # Start the fit at the priors' modes (noise a little above its floor).
        kernel.base_kernel.lengthscale = 1.0
        kernel.outputscale = 1.0
        if likelihood is not None:
            likelihood.noise = 1e-3
        return model

    @staticmethod
    def _warm(model: SingleTaskGP, state: Mapping[str, Sequence[float]]) -> None:
        """Start from ``state``'s raw hyperparameters where name and size match."""
        for name, param in model.named_parameters():
            values = state.get(name)
            if values is not None and len(values) == param.numel():
                with torch.no_grad():
                    param.copy_(torch.as_tensor(values, dtype=param.dtype).reshape(param.shape))

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
        warp = None
        if self.warp and spec.warp and spec.train_Yvar is None:
            low, high = spec.bounds[0], spec.bounds[1]
            unit = (train_X - low) / (high - low).clamp_min(1e-12)
            warp = OutcomeWarp.fit(train_Y, unit if self.decluster else None)
        if warp is None:
            return self._fit_one(train_X, train_Y, spec, None)
        if self.warp != "auto":
            return self._fit_one(train_X, train_Y, spec, warp)
        # "auto": the warped or the plain model, whichever predicts the held-out trials
        # better in the outcome's units; chosen every WARP_CHECK_EVERY trials
        n = int(train_Y.shape[0])
        previous = (spec.warm_start or {}).get(WARP_STATE)
        if previous is not None and len(previous) == 2 and n - previous[1] < WARP_CHECK_EVERY:
            use, checked = bool(previous[0]), int(previous[1])
            model = self._fit_one(train_X, train_Y, spec, warp if use else None)
            return self._record_choice(model, use, checked, None)
        warped = self._fit_one(train_X, train_Y, spec, warp)
        plain = self._fit_one(train_X, train_Y, spec, None)
        scores = [_loo_density(m) for m in (warped, plain)]
        use = scores[0] >= scores[1] or not math.isfinite(scores[1])
        gain = scores[0] - scores[1] if all(map(math.isfinite, scores)) else None
        return self._record_choice(warped if use else plain, use, n, gain)

    @staticmethod
    def _record_choice(model: Model, use: bool, checked: int, gain: float | None) -> Model:
        """Keep the warp choice in the fit's state, for the next fits to reuse."""
        info = dict(getattr(model, "fit_info", {}))
        state = json.loads(str(info[STATE_KEY])) if STATE_KEY in info else {}
        state[WARP_STATE] = [float(use), float(checked)]
        extra: dict[str, float | int | str] = {STATE_KEY: json.dumps(state), "warp": int(use)}
        if gain is not None:
            extra["warp_loo_gain"] = round(gain, 6)
        set_fit_info(model, **extra)
        return model

    def _fit_one(
        self, train_X: Tensor, train_Y: Tensor, spec: FitSpec, warp: OutcomeWarp | None
    ) -> Model:
        if warp is not None:
            train_Y = warp.forward(train_Y)
        model = self._build(train_X, train_Y, spec)
        if spec.warm_start:
            self._warm(model, spec.warm_start)
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
        else:  # for the next fit to start from (stored with the decision)
            state = {n: p.detach().reshape(-1).tolist() for n, p in model.named_parameters()}
            set_fit_info(model, **{STATE_KEY: json.dumps(state)})
        if warp is not None:
            object.__setattr__(model, "outcome_warp", warp)  # a plain attribute
            set_fit_info(model, **warp.describe())
        return model


#: Where the warp choice of ``ExactGP(warp="auto")`` is kept in the fit's state.
WARP_STATE = "_warp_choice"
#: Trials between two choices of ``ExactGP(warp="auto")``.
WARP_CHECK_EVERY = 5


def _loo_density(model: Model) -> float:
    """Mean closed-form leave-one-out log predictive density, in the outcome's units."""
    from surrogates.validation import exact_gp_loo

    held = exact_gp_loo(model)
    if held is None:
        return -math.inf
    value = float(held.log_density.mean())
    return value if math.isfinite(value) else -math.inf

"""``"sparse_gp"``: a stochastic variational GP with inducing points, for long histories.

BoTorch's ``SingleTaskVariationalGP`` (Hensman et al. 2013) approximates the GP
posterior through ``k`` inducing values ``u = f(Z)`` with a Gaussian ``q(u)`` and is
trained on the evidence lower bound

``ELBO = sum_i E_q[log p(y_i | f_i)] - KL(q(u) || p(u))``,

whose data term is a sum over observations, so that minibatches of ``b`` points give
unbiased estimates of it. A step costs ``O(b k^2 + k^3)`` and a pass over the data
``O(n k^2)``: the fit grows linearly in ``n``, where the exact GP's grows as ``n^3``.

The fit runs in four stages, in the normalized inputs and standardized outcomes:

1. The kernel, mean and noise start from an exact GP fitted to a random subset of
   ``init_points`` observations (``fit_gpytorch_mll``, L-BFGS-B).
2. The inducing locations start at inputs chosen by BoTorch's
   ``GreedyVarianceReduction`` (Burt et al. 2020) under that kernel, and ``q(u)`` at
   its optimum for those hyperparameters (see 4).
3. Minibatch training on the ELBO: ``max(min_steps, epochs * ceil(n / batch_size))``
   steps over shuffled minibatches, each a natural-gradient step
   (``gpytorch.optim.NGD``) for ``q(u)`` and an Adam step for the kernel, mean, noise
   and (``learn_inducing``) the inducing locations. Every 20 steps (or epoch, if
   longer), ``q(u)`` is reset to its optimum as in 4, so that the hyperparameters'
   gradients are those of the bound with ``q(u)`` optimal rather than lagging.
4. A natural-gradient step of size 1 on the full-data ELBO, accumulated over chunks,
   sets ``q(u)`` to its exact optimum for a Gaussian likelihood (one ``O(n k^2)``
   pass); the fit ends with one.

Without stages 1, 2 and 4, plain Adam from the prior needs many hundreds of steps,
and minibatch natural gradients alone let the noise drift below the data's; both
were measured while building this (``benchmarks/surrogate_scaling.py`` records the
result against the exact GP).
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass

import torch
from botorch.exceptions.warnings import InputDataWarning, UserInputWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP, SingleTaskVariationalGP
from botorch.models.model import Model
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from botorch.models.utils.inducing_point_allocators import GreedyVarianceReduction
from botorch.optim.utils import get_parameters_and_bounds
from gpytorch.constraints import GreaterThan
from gpytorch.likelihoods import MultitaskGaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood, VariationalELBO
from gpytorch.module import Module
from gpytorch.optim import NGD
from gpytorch.variational import NaturalVariationalDistribution
from torch import Tensor

from surrogates.base import (
    FitSpec,
    SurrogateError,
    check_training_data,
    set_fit_info,
    warn_fallback,
)
from surrogates.gp import ExactGP

#: Inputs among which the inducing locations are chosen (a random subset when ``n`` is
#: larger), so that the allocation's ``pool x pool`` kernel matrix stays small.
_ALLOCATION_POOL = 2048
#: Observations per chunk in the full-data passes of stage 4.
_CHUNK = 8192
#: Minibatch steps between exact ``q(u)`` updates (or one epoch, if that is longer).
_REFRESH_STEPS = 20


def _as_bound(bound: float | Tensor | None, like: Tensor, unbounded: float) -> Tensor:
    """A bound as a tensor on ``like``'s device and dtype (``None`` means ``unbounded``)."""
    return torch.as_tensor(unbounded if bound is None else bound).to(like)


def _copy_mean_and_noise(exact: SingleTaskGP, model: SingleTaskVariationalGP) -> None:
    """Start the sparse GP's constant mean and noise from the exact GP's."""
    with torch.no_grad():
        mean = model.model.mean_module.constant
        mean.copy_(exact.mean_module.constant.detach().reshape(mean.shape))
        noise = exact.likelihood.noise.detach().reshape(-1)
        likelihood = model.likelihood
        if isinstance(likelihood, MultitaskGaussianLikelihood):
            # Total noise per outcome = a shared part (kept near its lower bound) + a task part.
            floor = 2 * float(likelihood.raw_noise_constraint.lower_bound)
            likelihood.noise = torch.full_like(likelihood.noise, floor)
            likelihood.task_noises = (noise - floor).clamp_min(floor)
        else:
            likelihood.noise = noise


def _bounded_on_log_scale(module: Module) -> None:
    """Give lower-bounded parameters that have no transform a log-scale one, in place.

    BoTorch bounds the noise and the lengthscales without a transform, for L-BFGS-B
    with box constraints; Adam's steps of roughly ``lr`` would then be absolute, far
    too coarse for a noise near ``1e-4``. With ``value = lower + exp(raw)`` they are
    relative instead. Values are kept (moved off the bound by at most ``1e-8``).
    """
    for name, param, constraint in list(module.named_parameters_and_constraints()):
        if (
            not isinstance(constraint, GreaterThan)
            or constraint.enforced
            or math.isfinite(float(constraint.upper_bound))
        ):
            continue
        owner_name, _, param_name = name.rpartition(".")
        owner = module.get_submodule(owner_name)
        lower = float(constraint.lower_bound)
        gap = (param.detach() - lower).clamp_min(1e-8)
        log_scale = GreaterThan(lower, transform=torch.exp, inv_transform=torch.log).to(param)
        owner.register_constraint(param_name, log_scale)
        with torch.no_grad():
            param.copy_(gap.log())


class _Diverged(RuntimeError):
    """The minibatch training produced a non-finite loss or parameter."""


@dataclass
class SparseGP:
    """Stochastic variational GP (SVGP) with ``num_inducing`` inducing points.

    Categorical columns (``spec.cat_dims``) are treated as continuous inputs in the
    unit cube: the kernel is an RBF kernel over all columns. Several outcomes are
    modelled as independent GPs (a batch of them in one model, each with its own
    kernel, noise and ``q(u)``) that share the inducing locations.

    Args:
        num_inducing: Inducing points, at most ``n`` (fewer when the inputs repeat, as
            the greedy allocation stops once the rest are numerically redundant).
        batch_size: Observations per minibatch.
        epochs: Passes over the data with minibatches (stage 3); the cost of the fit
            is linear in ``epochs * n``.
        min_steps: Fewest minibatch steps, for small ``n`` where an epoch is one step.
        lr: Adam learning rate for the kernel, mean, noise and inducing locations
            (on a log scale for the noise and lengthscales, so steps are relative).
        ngd_lr: Natural-gradient step size for ``q(u)`` on minibatches.
        init_points: Size of the random subset on which an exact GP initializes the
            hyperparameters (its cost, ``O(init_points^3)``, does not grow with ``n``).
            With ``n <= init_points`` and inducing points that span all the inputs,
            the sparse GP equals that exact GP and stage 3 is skipped.
        learn_inducing: Whether Adam also moves the inducing locations (else they
            stay at the greedy allocation).

    Examples:
        >>> import torch
        >>> X = torch.rand(20, 2, dtype=torch.float64)
        >>> spec = FitSpec(bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64))
        >>> model = SparseGP(num_inducing=16).fit(X, X.sum(-1, keepdim=True), spec)
        >>> model.posterior(X[:3]).mean.shape
        torch.Size([3, 1])
    """

    name: str = "sparse_gp"
    num_inducing: int = 256
    batch_size: int = 1024
    epochs: int = 5
    min_steps: int = 200
    lr: float = 0.03
    ngd_lr: float = 0.1
    init_points: int = 256
    learn_inducing: bool = True

    def fit(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec) -> Model:
        """Fit the sparse variational GP.

        Args:
            train_X: A ``n x d``-dim tensor of inputs within ``spec.bounds``.
            train_Y: A ``n x m``-dim tensor of outcomes.
            spec: Bounds of the inputs and the seed (``None`` means 0).

        Returns:
            A fitted ``SingleTaskVariationalGP`` in eval mode, with ``num_inducing``,
            ``epochs``, ``steps`` (minibatch steps taken), ``elbo`` (the final ELBO per
            observation, in standardized units) and ``init_points`` in its fit info.
            When the minibatch training diverges, the model keeps the stage-1
            hyperparameters; when the fit fails altogether, an exact GP on a random
            subset of ``max(init_points, 1000)`` observations is returned. Either way
            a :class:`SurrogateFallbackWarning` says so.
        """
        check_training_data(train_X, train_Y, spec, min_points=2)
        self._check_options()
        seed = 0 if spec.seed is None else int(spec.seed)
        devices = [train_X.device] if train_X.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            try:
                model, info = self._fit(train_X, train_Y, spec, seed)
            except Exception as exc:  # a failed fit must not stop the loop
                return self._exact_fallback(train_X, train_Y, spec, seed, exc)
        set_fit_info(model, epochs=self.epochs, **info)
        return model

    def _check_options(self) -> None:
        positive = {
            "num_inducing": self.num_inducing,
            "batch_size": self.batch_size,
            "init_points": self.init_points,
            "lr": self.lr,
            "ngd_lr": self.ngd_lr,
        }
        for key, value in positive.items():
            if not value > 0:
                raise SurrogateError(f"sparse_gp: {key} must be positive, got {value!r}")
        if self.epochs < 0 or self.min_steps < 0:
            raise SurrogateError(
                f"sparse_gp: epochs and min_steps must be >= 0, got {self.epochs}, {self.min_steps}"
            )

    def _fit(
        self, train_X: Tensor, train_Y: Tensor, spec: FitSpec, seed: int
    ) -> tuple[SingleTaskVariationalGP, dict[str, float | int]]:
        """Run the four stages; return the model in eval mode and facts about the fit."""
        (n, d), m = train_X.shape, train_Y.shape[-1]
        generator = torch.Generator().manual_seed(seed)
        normalize = Normalize(d=d, bounds=spec.bounds.to(train_X))
        with torch.no_grad():
            Xn = normalize(train_X)
            # The targets as the ELBO takes them: ``n`` for one outcome, else ``n x m``.
            y = Standardize(m=m)(train_Y)[0]
            y = y.squeeze(-1) if m == 1 else y
        order = torch.randperm(n, generator=generator).to(train_X.device)

        # Stage 1: hyperparameters from an exact GP on a random subset.
        exact = self._initial_exact_gp(Xn, y, order[: self.init_points])
        # Stage 2: inducing locations by greedy variance reduction, under the (first
        # outcome's) fitted kernel; with ``learn_inducing`` stage 3 moves them on.
        with torch.no_grad():
            inducing = GreedyVarianceReduction().allocate_inducing_points(
                inputs=Xn[order[:_ALLOCATION_POOL]],
                covar_module=exact.covar_module,
                num_inducing=min(self.num_inducing, n),
                input_batch_shape=torch.Size(),
            )
        k = inducing.shape[-2]
        with warnings.catch_warnings():
            # Normalize has fixed bounds and Standardize is fitted once on all the data,
            # so neither changes during minibatch training, which is what BoTorch warns of.
            warnings.simplefilter("ignore", UserInputWarning)
            model = SingleTaskVariationalGP(
                train_X,
                train_Y,
                covar_module=exact.covar_module,
                variational_distribution=NaturalVariationalDistribution(
                    k, batch_shape=torch.Size([m]) if m > 1 else torch.Size()
                ),
                inducing_points=inducing,
                learn_inducing_points=self.learn_inducing,
                input_transform=normalize,
                outcome_transform=Standardize(m=m),
            )
        _copy_mean_and_noise(exact, model)
        _bounded_on_log_scale(model.model)
        _bounded_on_log_scale(model.likelihood)
        mll = VariationalELBO(model.likelihood, model.model, num_data=n)
        model.train()
        # When the exact GP saw all the data and the inducing points span every input
        # (all of them, or the greedy allocation found the rest redundant), the ELBO is
        # tight at the exact GP's hyperparameters and stage 3 has nothing to improve.
        covered = n <= self.init_points and (k == n or k < min(self.num_inducing, n))
        steps = 0 if covered else max(self.min_steps, self.epochs * math.ceil(n / self.batch_size))
        if steps > 0:
            # Stage 3: minibatch natural-gradient (q(u)) and Adam (hyperparameters) steps,
            # from q(u) at its optimum for the initial hyperparameters.
            self._exact_q_step(mll, Xn, y, evaluate=False)
            parts = (model.model, model.likelihood)
            snapshot = [copy.deepcopy(part.state_dict()) for part in parts]
            try:
                self._train_minibatches(mll, Xn, y, steps, generator)
            except _Diverged as exc:
                for part, state in zip(parts, snapshot, strict=True):
                    part.load_state_dict(state)
                warn_fallback(
                    f"sparse_gp: minibatch ELBO training diverged ({exc}); keeping the "
                    "hyperparameters of the exact GP fitted to a subset"
                )
                steps = 0
        # Stage 4: q(u) at its exact optimum for the final hyperparameters.
        elbo = self._exact_q_step(mll, Xn, y)
        if not math.isfinite(elbo):
            raise _Diverged(f"final ELBO is {elbo}")
        model.eval()
        info = {
            "num_inducing": k,
            "steps": steps,
            "elbo": elbo,
            "init_points": len(order[: self.init_points]),
        }
        return model, info

    def _initial_exact_gp(self, Xn: Tensor, y: Tensor, sub: Tensor) -> SingleTaskGP:
        """An exact GP fitted to the observations ``sub`` (normalized, standardized)."""
        Y = y[sub] if y.dim() == 2 else y[sub].unsqueeze(-1)
        m = Y.shape[-1]

        def build() -> SingleTaskGP:
            covar = get_covar_module_with_dim_scaled_prior(
                ard_num_dims=Xn.shape[-1], batch_shape=torch.Size([m]) if m > 1 else torch.Size()
            )
            return SingleTaskGP(Xn[sub], Y, covar_module=covar, outcome_transform=None).to(Xn)

        exact = build()
        try:
            with warnings.catch_warnings():
                # The subset is standardized with the statistics of all the data.
                warnings.simplefilter("ignore", InputDataWarning)
                fit_gpytorch_mll(ExactMarginalLogLikelihood(exact.likelihood, exact))
        except Exception as exc:
            exact = build()
            warn_fallback(
                f"sparse_gp: exact-GP initialization on {len(sub)} points failed "
                f"({type(exc).__name__}: {exc}); starting from the prior-mode hyperparameters"
            )
        return exact

    @staticmethod
    def _exact_q_step(mll: VariationalELBO, Xn: Tensor, y: Tensor, evaluate: bool = True) -> float:
        """Set ``q(u)`` to its optimum by a unit natural-gradient step on the full ELBO.

        For a Gaussian likelihood one such step is exact whatever ``q(u)`` was
        (Hensman et al. 2013); its gradient is accumulated over chunks of the data.

        Returns:
            The ELBO per observation after the step (NaN unless ``evaluate``).
        """
        gp = mll.model
        n = Xn.shape[0]
        variational = list(gp.variational_parameters())
        grads = [torch.zeros_like(p) for p in variational]
        for start in range(0, n, _CHUNK):
            xb, yb = Xn[start : start + _CHUNK], y[start : start + _CHUNK]
            # Chunk-size weights make the sum the full-data ELBO per observation.
            loss = -mll(gp(xb), yb) * (xb.shape[0] / n)
            for total, grad in zip(grads, torch.autograd.grad(loss, variational), strict=True):
                total += grad
        for param, grad in zip(variational, grads, strict=True):
            param.grad = grad
        NGD(variational, num_data=n, lr=1.0).step()
        for param in variational:
            param.grad = None
        if not evaluate:
            return math.nan
        elbo = torch.zeros((), dtype=Xn.dtype, device=Xn.device)
        with torch.no_grad():
            for start in range(0, n, _CHUNK):
                xb, yb = Xn[start : start + _CHUNK], y[start : start + _CHUNK]
                elbo += mll(gp(xb), yb) * (xb.shape[0] / n)
        return float(elbo)

    def _train_minibatches(
        self, mll: VariationalELBO, Xn: Tensor, y: Tensor, steps: int, generator: torch.Generator
    ) -> None:
        """Run ``steps`` minibatch steps: NGD for ``q(u)``, Adam for the hyperparameters.

        Adam's steps are clamped to the parameters' bounds, as in BoTorch's
        ``fit_gpytorch_mll_torch``: the noise and lengthscales have lower bounds
        but no transform that would keep them above those.
        """
        gp = mll.model
        n = Xn.shape[0]
        variational = list(gp.variational_parameters())
        ids = {id(p) for p in variational}
        params, bounds = get_parameters_and_bounds(mll, requires_grad=True)
        hyper = [p for p in params.values() if id(p) not in ids]
        clamps = []
        for name, (lower, upper) in bounds.items():
            param = params[name]
            if id(param) not in ids:
                clamps.append(
                    (param, _as_bound(lower, param, -math.inf), _as_bound(upper, param, math.inf))
                )
        ngd = NGD(variational, num_data=n, lr=self.ngd_lr)
        adam = torch.optim.Adam(hyper, lr=self.lr)
        batch = min(self.batch_size, n)
        refresh = max(_REFRESH_STEPS, math.ceil(n / batch))
        step = 0
        while step < steps:
            perm = torch.randperm(n, generator=generator).to(Xn.device)
            for start in range(0, n, batch):
                idx = perm[start : start + batch]
                ngd.zero_grad()
                adam.zero_grad()
                loss = -mll(gp(Xn[idx]), y[idx])
                if not torch.isfinite(loss):
                    raise _Diverged(f"loss {float(loss)} at step {step + 1} of {steps}")
                loss.backward()
                ngd.step()
                adam.step()
                with torch.no_grad():
                    for param, low, high in clamps:
                        param.copy_(param.clamp(min=low, max=high))
                step += 1
                if step % refresh == 0 and step < steps:
                    self._exact_q_step(mll, Xn, y, evaluate=False)
                if step >= steps:
                    break
        if not all(torch.isfinite(p).all() for p in mll.parameters()):
            raise _Diverged(f"non-finite parameters after {steps} steps")

    def _exact_fallback(
        self, train_X: Tensor, train_Y: Tensor, spec: FitSpec, seed: int, exc: Exception
    ) -> Model:
        n = train_X.shape[0]
        k = min(n, max(self.init_points, 1000))
        generator = torch.Generator().manual_seed(seed)
        sub = torch.randperm(n, generator=generator)[:k].to(train_X.device)
        warn_fallback(
            f"sparse_gp: fit failed ({type(exc).__name__}: {exc}); using an exact GP on a "
            f"random subset of {k} of the {n} observations"
        )
        model = ExactGP().fit(train_X[sub], train_Y[sub], spec)
        set_fit_info(model, sparse_gp_fallback=f"exact GP on {k} of {n} points")
        return model

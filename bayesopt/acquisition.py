"""What to ask the model: build a BoTorch acquisition function and optimize it.

With several objectives the default is qLogNoisyExpectedHypervolumeImprovement
(Daulton et al., "Parallel Bayesian Optimization of Multiple Noisy Objectives with
Expected Hypervolume Improvement", NeurIPS 2021, in the log form of Ament et al.);
outcome constraints enter every MC acquisition as BoTorch's ``constraints``, which
weigh each candidate by a smooth probability of feasibility (Gardner et al. 2014).
With one objective the default is qLogNoisyExpectedImprovement (Ament et al., "Unexpected
Improvements to Expected Improvement for Bayesian Optimization", NeurIPS 2023):
formally ``alpha(X) = log E[max(max_j f(x_j) - max f(X_baseline), 0)]`` integrated
over the joint posterior of the batch and the noisy baseline, computed with a
smooth approximation of ``max`` that keeps gradients informative.

With one point to choose, no pending points, no outcome constraints and one modelled
outcome, qLogNEI is evaluated in closed form (``AcquisitionOptions.analytic_single``):
analytic LogEI (``botorch.acquisition.analytic.LogExpectedImprovement``) against the
best posterior mean at the observed points, the noise-aware incumbent. It needs no
Monte Carlo samples of the baseline, which made up most of a decision's time. Models
whose posterior is a batch of models (SAAS, ensembles) keep the Monte Carlo form. For
the default's exact GP the posterior it needs at each point is computed from a cached
Cholesky factor (:mod:`bayesopt.cached_ei`), checked against the model's own.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import LogExpectedImprovement
from botorch.acquisition.logei import qLogExpectedImprovement, qLogNoisyExpectedImprovement
from botorch.acquisition.monte_carlo import qUpperConfidenceBound
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.acquisition.objective import GenericMCObjective
from botorch.acquisition.utils import compute_best_feasible_objective
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models.model import Model
from botorch.optim import optimize_acqf, optimize_acqf_mixed_alternating
from botorch.posteriors.gpytorch import GPyTorchPosterior
from torch import Tensor

from bayesopt.cached_ei import cached_log_ei
from bayesopt.space import Space

logger = logging.getLogger("bayesopt")


@dataclass(frozen=True)
class AcquisitionOptions:
    """Settings of the acquisition optimizer.

    Attributes:
        num_restarts: Starting points for the gradient-based optimizer.
        raw_samples: Quasi-random points scored to choose the starting points.
        ucb_beta: Exploration weight of ``qUCB``.
        analytic_single: Evaluate qLogNEI in closed form when it chooses one point with
            no pending points, no outcome constraints and one modelled outcome (see the
            module's docstring); ``False`` keeps the Monte Carlo form throughout.
        cached_posterior: In that closed form, compute the exact GP's posterior from a
            Cholesky factor cached when the acquisition is built
            (:mod:`bayesopt.cached_ei`), where the model is one it supports and agrees
            with; ``False`` asks the model for its posterior at every point tried.
    """

    num_restarts: int = 10
    raw_samples: int = 512
    ucb_beta: float = 2.0
    analytic_single: bool = True
    cached_posterior: bool = True


def outcome_constraint(
    index: int, sign: float, op: str, bound: float
) -> Callable[[Tensor], Tensor]:
    """An outcome constraint as BoTorch's MC acquisitions take it: a callable on
    ``sample_shape x batch_shape x q x k`` model outputs that is negative where the
    constraint holds. Output ``index`` holds ``sign * outcome``."""
    return partial(_constraint_value, index, sign, op == "<=", bound)


def _constraint_value(index: int, sign: float, upper: bool, bound: float, Y: Tensor) -> Tensor:
    value = sign * Y[..., index]
    return value - bound if upper else bound - value


def build_acquisition(
    name: str,
    model: Model,
    train_X: Tensor,
    train_Y: Tensor,
    X_pending: Tensor | None,
    options: AcquisitionOptions,
    *,
    n_objectives: int = 1,
    constraints: Sequence[Callable[[Tensor], Tensor]] = (),
    ref_point: Tensor | None = None,
    q: int = 1,
) -> AcquisitionFunction:
    """An acquisition function by name.

    The model's outputs are the objectives first (each as ``sign * value``, so
    larger is better), then the outcomes that only constraints name.

    Args:
        train_X: A ``n x d``-dim tensor of observed inputs (the baseline).
        train_Y: A ``n x k``-dim tensor of the model's outputs at ``train_X``.
        X_pending: A ``p x d``-dim tensor of points being evaluated, or ``None``.
        n_objectives: How many of the ``k`` outputs are objectives (the first ones).
        constraints: Outcome constraints as callables (see :func:`outcome_constraint`);
            the MC acquisitions weigh each candidate by its probability of feasibility.
        ref_point: A ``n_objectives``-dim reference point of the hypervolume
            (several objectives only).
        q: How many points the acquisition will choose at once.
    """
    k = train_Y.shape[-1]
    cons = list(constraints) or None
    if n_objectives > 1:
        objective = (
            IdentityMCMultiOutputObjective(outcomes=list(range(n_objectives)))
            if k > n_objectives
            else None
        )
        if name == "qLogNEHVI":
            if ref_point is None:
                raise ValueError("acquisition: qLogNEHVI needs a reference point")
            return qLogNoisyExpectedHypervolumeImprovement(
                model,
                ref_point=ref_point.tolist(),
                X_baseline=train_X,
                objective=objective,
                constraints=cons,
                X_pending=X_pending,
                prune_baseline=True,
            )
        if name == "qLogNParEGO":
            return qLogNParEGO(
                model,
                X_baseline=train_X,
                objective=objective,
                constraints=cons,
                X_pending=X_pending,
                prune_baseline=True,
            )
        raise ValueError(f"acquisition: {name!r} is not for several objectives")
    single = GenericMCObjective(_first_output) if k > 1 else None
    if name == "qLogNEI":
        if options.analytic_single and q == 1 and X_pending is None and not cons and k == 1:
            with torch.no_grad():
                posterior = model.posterior(train_X)
            # One Gaussian posterior per point; fully Bayesian and ensemble models, whose
            # posteriors carry a batch of models, keep the Monte Carlo form.
            if isinstance(posterior, GPyTorchPosterior) and tuple(posterior.mean.shape) == (
                train_X.shape[0],
                1,
            ):
                best_f = posterior.mean.max()
                if options.cached_posterior:
                    # the training inputs and the midpoints of pairs of them: where the
                    # cached posterior is checked against the model's own
                    half = max(1, train_X.shape[0] // 2)
                    check = torch.cat([train_X, 0.5 * (train_X[:half] + train_X[-half:])])
                    cached = cached_log_ei(model, best_f, check)
                    if cached is not None:
                        return cached
                return LogExpectedImprovement(model, best_f=best_f)
        return qLogNoisyExpectedImprovement(
            model,
            X_baseline=train_X,
            objective=single,
            constraints=cons,
            X_pending=X_pending,
            prune_baseline=True,
        )
    if name == "qLogEI":
        best_f = compute_best_feasible_objective(
            samples=train_Y,
            obj=train_Y[..., 0],
            constraints=cons,
            model=model,
            objective=single,
            X_baseline=train_X,
        )
        return qLogExpectedImprovement(
            model, best_f=best_f, objective=single, constraints=cons, X_pending=X_pending
        )
    if name == "qUCB":
        if cons:
            raise ValueError("acquisition: qUCB does not take outcome constraints")
        return qUpperConfidenceBound(
            model, beta=options.ucb_beta, objective=single, X_pending=X_pending
        )
    raise ValueError(f"acquisition: unknown name {name!r}")


def _first_output(Y: Tensor, X: Tensor | None = None) -> Tensor:
    return Y[..., 0]


def optimize(
    acqf: AcquisitionFunction,
    space: Space,
    q: int,
    options: AcquisitionOptions,
    *,
    device: torch.device,
    fixed: Mapping[int, float] | None = None,
    bounds: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Maximize ``acqf`` over the encoded space for a batch of ``q`` points.

    Continuous spaces use ``optimize_acqf``; spaces with integer or categorical
    columns use ``optimize_acqf_mixed_alternating`` (continuous steps alternate
    with local discrete search). Linear inequality and equality constraints are
    passed through to both, which then draw their starting points from the
    constrained polytope (hit-and-run) and keep every candidate on it (SLSQP).

    Args:
        fixed: Encoded column -> unit value of the columns held fixed (the context,
            see :meth:`Space.fixed_columns`), passed as BoTorch's ``fixed_features``;
            their terms are moved into the right-hand side of the constraints, so the
            starting points sampled for the free columns satisfy them.
        bounds: A ``2 x d`` box inside the unit cube to search in (a trust region);
            the whole cube when ``None``.

    Returns:
        A ``q x d``-dim tensor of candidates and their acquisition value(s).
    """
    d = space.dim
    if bounds is None:
        bounds = torch.stack([torch.zeros(d), torch.ones(d)])
    bounds = bounds.to(device=device, dtype=torch.float64)
    if fixed:  # the box must hold the fixed values
        bounds = bounds.clone()
        for i, v in fixed.items():
            bounds[0, i] = min(float(bounds[0, i]), v)
            bounds[1, i] = max(float(bounds[1, i]), v)
    inequalities = _on_device(space.botorch_inequalities(fixed), device)
    equalities = _on_device(space.botorch_equalities(fixed), device)
    discrete, categorical = space.discrete_dims, space.cat_dims
    features = {int(i): float(v) for i, v in (fixed or {}).items()} or None
    constraints = _Constraints(inequalities, equalities, features)
    with warnings.catch_warnings():
        # Restarts that end early are retried by BoTorch itself; the warnings are noise here.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", OptimizationWarning)
        return _run(acqf, bounds, discrete, categorical, constraints, q, options)


def optimize_spread(
    acquire: Callable[[Tensor | None, int], AcquisitionFunction],
    space: Space,
    boxes: Sequence[Tensor],
    q: int,
    options: AcquisitionOptions,
    *,
    device: torch.device,
    X_pending: Tensor | None = None,
    fixed: Mapping[int, float] | None = None,
) -> tuple[Tensor, Tensor, list[int | None], AcquisitionFunction]:
    """A batch of ``q`` points spread over ``boxes``: one point in each box, in order,
    then the rest jointly over the whole space.

    Box ``i``'s point maximizes ``acquire(pending, 1)`` inside it, with ``X_pending`` and
    the points of the boxes before it pending; the remaining ``q - len(boxes)`` points
    maximize ``acquire(pending, q - len(boxes))`` over the space with every point chosen
    so far pending (so they go where the acquisition still sees value). Integer and
    categorical columns are searched whole in every box. A box in which the optimizer
    fails (one the linear constraints leave empty) is skipped, and its point is chosen
    with the rest.

    Args:
        acquire: Builds the acquisition function for the given ``p x d``-dim pending
            points (or ``None``) and a number of points chosen together.
        boxes: At most ``q`` boxes, each a ``2 x d``-dim tensor inside the unit cube.
        X_pending: A ``p x d``-dim tensor of points being evaluated, or ``None``.
        fixed: As for :func:`optimize`.

    Returns:
        The ``q x d``-dim candidates, their ``q`` acquisition values (a box's point its
        own, the rest their joint value, repeated), the position in ``boxes`` each point
        was placed in (``None`` for the rest), and the first acquisition function built.
    """
    whole = [*space.discrete_dims, *space.cat_dims]
    chosen: list[Tensor] = []
    values: list[Tensor] = []
    placed: list[int | None] = []
    pending = X_pending
    first: AcquisitionFunction | None = None
    for i, box in enumerate(boxes[:q]):
        box = box.clone()
        if whole:
            box[0, whole], box[1, whole] = 0.0, 1.0
        acqf = acquire(pending, 1)
        first = first or acqf
        try:
            x, v = optimize(acqf, space, 1, options, device=device, fixed=fixed, bounds=box)
        except Exception as exc:  # an empty box under the constraints, say
            logger.warning("spread: box %d skipped (%s: %s)", i, type(exc).__name__, exc)
            continue
        chosen.append(x)
        values.append(v.reshape(-1)[:1])
        placed.append(i)
        pending = x if pending is None else torch.cat([pending, x])
    rest = q - len(chosen)
    if rest:
        acqf = acquire(pending, rest)
        first = first or acqf
        x, v = optimize(acqf, space, rest, options, device=device, fixed=fixed)
        chosen.append(x)
        values.append(v.reshape(-1)[:1].expand(rest))
        placed += [None] * rest
    assert first is not None
    return torch.cat(chosen), torch.cat(values), placed, first


@dataclass(frozen=True)
class _Constraints:
    """Linear constraints in BoTorch's sparse form, and the fixed features."""

    inequalities: list[tuple[Tensor, Tensor, float]] | None
    equalities: list[tuple[Tensor, Tensor, float]] | None
    fixed: dict[int, float] | None


def _on_device(
    constraints: list[tuple[list[int], list[float], float]], device: torch.device
) -> list[tuple[Tensor, Tensor, float]] | None:
    """``(indices, coefficients, rhs)`` lists as tensors on ``device``; ``None`` if empty."""
    return [
        (
            torch.tensor(idx, dtype=torch.long, device=device),
            torch.tensor(coef, dtype=torch.float64, device=device),
            rhs,
        )
        for idx, coef, rhs in constraints
    ] or None


def _run(
    acqf: AcquisitionFunction,
    bounds: Tensor,
    discrete: dict[int, list[float]],
    categorical: dict[int, list[float]],
    constraints: _Constraints,
    q: int,
    options: AcquisitionOptions,
) -> tuple[Tensor, Tensor]:
    if discrete or categorical:
        X, value = optimize_acqf_mixed_alternating(
            acqf,
            bounds=bounds,
            discrete_dims=discrete or None,
            cat_dims=categorical or None,
            q=q,
            num_restarts=options.num_restarts,
            raw_samples=options.raw_samples,
            fixed_features=constraints.fixed,
            inequality_constraints=constraints.inequalities,
            equality_constraints=constraints.equalities,
        )
    else:
        X, value = optimize_acqf(
            acqf,
            bounds=bounds,
            q=q,
            num_restarts=options.num_restarts,
            raw_samples=options.raw_samples,
            fixed_features=constraints.fixed,
            inequality_constraints=constraints.inequalities,
            equality_constraints=constraints.equalities,
        )
    assert value is not None
    return X.detach(), value.detach()

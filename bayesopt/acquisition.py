"""What to ask the model: build a BoTorch acquisition function and optimize it.

The default is qLogNoisyExpectedImprovement (Ament et al., "Unexpected
Improvements to Expected Improvement for Bayesian Optimization", NeurIPS 2023):
formally ``alpha(X) = log E[max(max_j f(x_j) - max f(X_baseline), 0)]`` integrated
over the joint posterior of the batch and the noisy baseline, computed with a
smooth approximation of ``max`` that keeps gradients informative.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogExpectedImprovement, qLogNoisyExpectedImprovement
from botorch.acquisition.monte_carlo import qUpperConfidenceBound
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models.model import Model
from botorch.optim import optimize_acqf, optimize_acqf_mixed_alternating
from torch import Tensor

from bayesopt.space import Space


@dataclass(frozen=True)
class AcquisitionOptions:
    """Settings of the acquisition optimizer.

    Attributes:
        num_restarts: Starting points for the gradient-based optimizer.
        raw_samples: Quasi-random points scored to choose the starting points.
        ucb_beta: Exploration weight of ``qUCB``.
    """

    num_restarts: int = 10
    raw_samples: int = 512
    ucb_beta: float = 2.0


def build_acquisition(
    name: str,
    model: Model,
    train_X: Tensor,
    train_Y: Tensor,
    X_pending: Tensor | None,
    options: AcquisitionOptions,
) -> AcquisitionFunction:
    """An acquisition function by name.

    Args:
        train_X: A ``n x d``-dim tensor of observed inputs (the baseline).
        train_Y: A ``n x 1``-dim tensor of observed objective values (larger is better).
        X_pending: A ``p x d``-dim tensor of points being evaluated, or ``None``.
    """
    if name == "qLogNEI":
        return qLogNoisyExpectedImprovement(
            model, X_baseline=train_X, X_pending=X_pending, prune_baseline=True
        )
    if name == "qLogEI":
        return qLogExpectedImprovement(model, best_f=train_Y.max(), X_pending=X_pending)
    if name == "qUCB":
        return qUpperConfidenceBound(model, beta=options.ucb_beta, X_pending=X_pending)
    raise ValueError(f"acquisition: unknown name {name!r}")


def optimize(
    acqf: AcquisitionFunction,
    space: Space,
    q: int,
    options: AcquisitionOptions,
    *,
    device: torch.device,
) -> tuple[Tensor, Tensor]:
    """Maximize ``acqf`` over the encoded space for a batch of ``q`` points.

    Continuous spaces use ``optimize_acqf``; spaces with integer or categorical
    columns use ``optimize_acqf_mixed_alternating`` (continuous steps alternate
    with local discrete search). Linear constraints are passed through to both.

    Returns:
        A ``q x d``-dim tensor of candidates and their acquisition value(s).
    """
    d = space.dim
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(device=device, dtype=torch.float64)
    inequalities = [
        (
            torch.tensor(idx, dtype=torch.long, device=device),
            torch.tensor(coef, dtype=torch.float64, device=device),
            rhs,
        )
        for idx, coef, rhs in space.botorch_inequalities()
    ] or None
    discrete, categorical = space.discrete_dims, space.cat_dims
    with warnings.catch_warnings():
        # Restarts that end early are retried by BoTorch itself; the warnings are noise here.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", OptimizationWarning)
        return _run(acqf, bounds, discrete, categorical, inequalities, q, options)


def _run(
    acqf: AcquisitionFunction,
    bounds: Tensor,
    discrete: dict[int, list[float]],
    categorical: dict[int, list[float]],
    inequalities: list[tuple[Tensor, Tensor, float]] | None,
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
            inequality_constraints=inequalities,
        )
    else:
        X, value = optimize_acqf(
            acqf,
            bounds=bounds,
            q=q,
            num_restarts=options.num_restarts,
            raw_samples=options.raw_samples,
            inequality_constraints=inequalities,
        )
    assert value is not None
    return X.detach(), value.detach()

"""Several objectives: the Pareto front of the feasible trials and its hypervolume.

Every computation is done in the maximization form that BoTorch uses: objective
``i`` enters as ``sign_i * value`` (``sign = -1`` for a minimized objective).
The hypervolume is the Lebesgue measure of the region dominated by the front and
bounded below by the reference point (Zitzler & Thiele 1999), computed exactly
by BoTorch's :class:`~botorch.utils.multi_objective.hypervolume.Hypervolume`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume, infer_reference_point
from botorch.utils.multi_objective.pareto import is_non_dominated

from bayesopt.device import DTYPE
from bayesopt.experiment import Experiment
from bayesopt.trial import Trial


def signed_objectives(experiment: Experiment, trials: Sequence[Trial]) -> torch.Tensor:
    """A ``n x m`` tensor of ``sign * value`` of each objective of completed ``trials``."""
    rows = [
        [o.sign() * float((t.values or {})[o.name]) for o in experiment.objectives] for t in trials
    ]
    return torch.tensor(rows, dtype=DTYPE).reshape(-1, len(experiment.objectives))


def feasible(experiment: Experiment, trials: Sequence[Trial]) -> list[Trial]:
    """The completed trials whose outcomes satisfy every outcome constraint."""
    return [t for t in trials if t.values is not None and experiment.is_feasible(t.values)]


def reference_point(experiment: Experiment, Y: torch.Tensor) -> torch.Tensor:
    """The hypervolume's reference point, in maximization form (a ``m``-dim tensor).

    Objectives with a ``threshold`` use it; the others take BoTorch's inferred
    point, the nadir of the observed front less 10% of its range (as Ax does).

    Args:
        Y: A ``n x m``-dim tensor of signed objective values of feasible trials.
    """
    given = torch.tensor(
        [
            o.sign() * o.threshold if o.threshold is not None else float("nan")
            for o in experiment.objectives
        ],
        dtype=DTYPE,
    )
    if not torch.isnan(given).any():
        return given
    if len(Y) == 0:
        return torch.nan_to_num(given, nan=0.0)
    pareto = Y[is_non_dominated(Y)]
    inferred = infer_reference_point(pareto, max_ref_point=given)
    return torch.where(torch.isnan(given), inferred, given)


def pareto_mask(Y: torch.Tensor) -> torch.Tensor:
    """Which rows of a ``n x m`` signed tensor are not dominated (a ``n`` bool tensor)."""
    if len(Y) == 0:
        return torch.zeros(0, dtype=torch.bool)
    return is_non_dominated(Y)


def hypervolume(Y: torch.Tensor, ref_point: torch.Tensor) -> float:
    """Hypervolume dominated by the rows of ``Y`` (``n x m``, signed) above ``ref_point``."""
    better = Y[(ref_point < Y).all(dim=-1)]
    if len(better) == 0:
        return 0.0
    return float(Hypervolume(ref_point).compute(better[is_non_dominated(better)]))


def hypervolume_trace(Y: torch.Tensor, ref_point: torch.Tensor) -> list[float]:
    """The hypervolume after each row of ``Y`` is added, in order (a list of ``n`` floats)."""
    return [hypervolume(Y[: i + 1], ref_point) for i in range(len(Y))]

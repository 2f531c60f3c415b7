"""Cheap fidelities: evaluate where it teaches the most per unit of cost.

A space with a :class:`~bayesopt.space.Fidelity` parameter (epochs of training, the
fraction of the data, the mesh of a simulation) lets the strategy evaluate a point
cheaply and inaccurately, or expensively at the ``target`` fidelity, where results
count. Each model-based decision then takes three steps:

1. **Model.** BoTorch's ``SingleTaskMultiFidelityGP`` (Wu et al., "Practical
   Multi-fidelity Bayesian Optimization for Hyperparameter Tuning", UAI 2019) is
   fitted to every completed trial, whatever its fidelity, with the fidelity as a
   data fidelity (``data_fidelities=[column]``). Its kernel is
   ``k0(x, x') + (1 - s)(1 - s')(1 + s s')^p k1(x, x')`` over the non-fidelity
   inputs ``x`` and the fidelity ``s`` in unit scale: at ``s = 1`` (``high``) the
   bias term vanishes, lower fidelities add a smooth bias whose size it learns.
2. **Where.** The experiment's acquisition (``qLogNEI`` by default) is evaluated at
   the target fidelity, the observed points projected there as its baseline (BoTorch's
   ``project_to_target_fidelity``), and maximized over the other columns: the point
   ``x`` whose value *at the target* is most worth learning.
3. **How accurately.** When the model expects ``x`` at the target to beat the best
   (feasible) result observed at the target, or no trial was evaluated there yet, ``x``
   is evaluated at the target: that evaluation improves the reported result itself
   (:meth:`Optimizer.best` counts target trials only). Otherwise each fidelity ``s`` of
   a grid is scored by how much one evaluation there would reduce the posterior
   variance of ``f(x, target)``, per unit of cost::

       score(s) = Cov[f(x, target), y(x, s)]^2 / Var[y(x, s)] / cost(s)

   (``y`` includes the observation noise; McLeod, Osborne and Roberts, "Practical
   Bayesian Optimization for Variable Cost Objectives", 2017). At the target the
   reduction is the whole variance (less the noise share), elsewhere the part the
   model believes the cheaper fidelity shares with the target; the highest score
   wins, the target on ties. So a cheap fidelity explores while the model believes it
   informative, and the target confirms the points worth reporting. (Without the
   first rule the target is reached only where a cheap fidelity has been learned, and
   ``best()`` can stay empty for much of a run: in a 2-seed ablation on
   ``AugmentedBranin`` no trial reached the target in the first quarter of the budget.)

This is the cost-weighted alternative to BoTorch's ``qMultiFidelityKnowledgeGradient``
with an ``InverseCostWeightedUtility``, chosen for speed: measured on 2 shared CPU cores
(one torch thread) with 30 trials of ``AugmentedBranin`` (2 parameters and the
fidelity), the one-shot qMFKG's acquisition step alone took 8-11 s per decision with 64
fantasies, 4 restarts and 128 raw samples, and 18-20 s with this project's default 10
restarts and 512 raw samples, against about 1 s for a whole decision here (0.5 s GP
fit, 0.5 s qLogNEI, 0.02 s fidelity choice); it also needs ``optimize_acqf``, so it
would not serve spaces with integer or categorical columns, which
``optimize_acqf_mixed_alternating`` handles here. The variance-reduction ratio is
bounded (``<= 1`` relative to the target's), where the information gain about
``f(x, target)`` grows without bound as the noise vanishes and would then never pick a
cheaper fidelity.

The cost of an evaluation (:attr:`Experiment.cost`) is a function of the fidelity
value; by default ``cost = fixed_cost + fidelity`` with ``fixed_cost = target / 4``,
the form of BoTorch's ``AffineFidelityCostModel`` with a fixed cost of 1/5 of the
target's cost (so the cheapest evaluation at fidelity 0 costs 1/5 of one at the
target); ``"measured"`` fits ``seconds = a + b * fidelity`` to the evaluation times of
completed trials (:func:`measured_cost`). Each suggested trial records the cost model's
value at its fidelity as ``metadata["cost"]``, so a benchmark can plot regret against
cumulative cost.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from botorch.acquisition.utils import project_to_target_fidelity
from botorch.models import SingleTaskMultiFidelityGP
from botorch.models.model import Model, ModelList
from botorch.models.transforms.outcome import Standardize
from torch import Tensor

from bayesopt.acquisition import build_acquisition, optimize, outcome_constraint
from bayesopt.device import DTYPE
from bayesopt.errors import InvalidExperimentError, describe
from bayesopt.pareto import reference_point
from bayesopt.space import Fidelity, Space
from bayesopt.trial import Trial, TrialStatus
from surrogates.base import FitSpec, SurrogateError
from surrogates.gp import ExactGP

if TYPE_CHECKING:
    from bayesopt.experiment import Experiment
    from bayesopt.strategy import History, Strategy

#: The ``Experiment.cost`` that measures evaluation times.
MEASURED = "measured"

#: What ``Experiment.cost`` takes: a function of the fidelity value returning a positive
#: cost, ``"measured"``, or ``None`` for the default affine cost.
CostSpec = Callable[[float], float] | Literal["measured"] | None

#: Fidelities scored per decision on a continuous fidelity (the target is added).
GRID_POINTS = 33
#: An integer fidelity with at most this many values has each of them scored.
MAX_INTEGER_GRID = 129
#: The share of the default cost that does not depend on the fidelity, at the target.
DEFAULT_FIXED_SHARE = 0.2
#: Evaluate at the target the points expected to beat the best result there (see
#: :func:`choose_fidelity`); ``False`` leaves every choice to variance reduction per cost.
CONFIRM_AT_TARGET = True


@dataclass(frozen=True)
class AffineCost:
    """``cost = fixed_cost + weight * fidelity``, in the fidelity's own units.

    Attributes:
        fixed_cost: The cost of any evaluation, whatever its fidelity.
        weight: The cost of one unit of fidelity.
        floor: The least cost returned (a fitted line can dip to zero).
        source: ``"default"``, or how it was measured (``"measured: 12 trials"``).
    """

    fixed_cost: float
    weight: float = 1.0
    floor: float = 0.0
    source: str = "default"

    def __call__(self, fidelity: float) -> float:
        return max(self.fixed_cost + self.weight * float(fidelity), self.floor)


@dataclass(frozen=True)
class FunctionCost:
    """A cost given as a function of the fidelity value; each value is checked."""

    function: Callable[[float], float]

    def __call__(self, fidelity: float) -> float:
        return _checked_cost(self.function, fidelity)


CostModel = AffineCost | FunctionCost


def default_cost(fidelity: Fidelity) -> AffineCost:
    """The default ``cost = target / 4 + fidelity``: BoTorch's ``AffineFidelityCostModel``
    (weight 1) with a fixed cost of 1/5 of the cost at the target.

    Examples:
        >>> cost = default_cost(Fidelity("epochs", 1, 100))
        >>> cost(100), cost(1)
        (125.0, 26.0)
    """
    fixed = float(fidelity.target) * DEFAULT_FIXED_SHARE / (1.0 - DEFAULT_FIXED_SHARE)
    return AffineCost(fixed_cost=fixed, weight=1.0)


def _checked_cost(function: Callable[[float], float], fidelity: float) -> float:
    """``function(fidelity)``, refused unless it is a finite positive number."""
    value = function(fidelity)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not math.isfinite(float(value))
        or float(value) <= 0
    ):
        raise ValueError(
            f"cost: {getattr(function, '__name__', 'the cost function')}({fidelity!r}) returned "
            f"{describe(value)}; a cost must be a finite number > 0"
        )
    return float(value)


def check_cost(cost: object, space: Space) -> None:
    """Refuse an ``Experiment.cost`` that cannot be used with ``space``.

    A function is called at the fidelity's ``low``, ``target`` and ``high``, each of
    which must give a finite positive number.

    Raises:
        InvalidExperimentError: naming the field, the value and what is valid.
    """
    fidelity = space.fidelity
    valid = "valid: a function of the fidelity value returning a cost > 0, or 'measured'"
    if fidelity is None:
        if cost is not None:
            raise InvalidExperimentError(
                f"cost: got {describe(cost)}, but the space has no Fidelity parameter, so every "
                "evaluation costs the same; add a Fidelity(name, low, high) or leave cost out"
            )
        return
    if cost is None:
        default = default_cost(fidelity)
        if fidelity.low < 0 or default(fidelity.low) <= 0:
            raise InvalidExperimentError(
                f"cost: the default cost {default.fixed_cost:g} + {fidelity.name} (fixed cost "
                f"= target / 4) needs a fidelity >= 0 with a target > 0, got "
                f"[{fidelity.low}, {fidelity.high}] with target {fidelity.target}; {valid}"
            )
        return
    if isinstance(cost, str):
        if cost != MEASURED:
            raise InvalidExperimentError(f"cost: got {describe(cost)}; {valid}")
        return
    if not callable(cost):
        raise InvalidExperimentError(f"cost: got {describe(cost)}; {valid}")
    for value in dict.fromkeys((fidelity.low, fidelity.target, fidelity.high)):
        try:
            _checked_cost(cost, value)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            raise InvalidExperimentError(
                f"cost: calling it at {fidelity.name}={value!r} failed ({reason}); {valid}"
            ) from None


def evaluation_seconds(trial: Trial) -> float | None:
    """How long a completed trial's evaluation took: from its start (from its creation
    when it was never marked running, as in plain ask/tell) to its end; ``None`` when
    unknown or zero (a trial attached or imported with its values)."""
    begin = trial.started_at or trial.created_at
    if trial.status != TrialStatus.COMPLETED or begin is None or trial.finished_at is None:
        return None
    seconds = (trial.finished_at - begin).total_seconds()
    return seconds if seconds > 0 else None


def measured_cost(fidelity: Fidelity, trials: Sequence[Trial]) -> AffineCost:
    """``seconds = a + b * fidelity`` fitted by least squares to completed trials.

    The slope is kept ``>= 0`` (a more accurate evaluation is never cheaper) and the
    cost at least 1% of the mean measured time. With timings at fewer than two
    fidelity values the cost is their mean time (no fidelity is cheaper than another,
    so the target is chosen), or 1 when nothing is timed yet.

    Args:
        fidelity: The space's fidelity parameter.
        trials: The experiment's trials (those completed with a duration count).
    """
    pairs = [
        (float(t.params[fidelity.name]), seconds)
        for t in trials
        if fidelity.name in t.params and (seconds := evaluation_seconds(t)) is not None
    ]
    if not pairs:
        return AffineCost(fixed_cost=1.0, weight=0.0, source="measured: no timed trial yet")
    f = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs])
    floor = 0.01 * float(s.mean())
    source = f"measured: {len(pairs)} trials"
    if np.ptp(f) <= 0:
        return AffineCost(fixed_cost=float(s.mean()), weight=0.0, floor=floor, source=source)
    slope = max(float(np.cov(f, s, bias=True)[0, 1] / np.var(f)), 0.0)
    intercept = float(s.mean() - slope * f.mean())
    return AffineCost(fixed_cost=intercept, weight=slope, floor=floor, source=source)


def cost_model(experiment: Experiment, trials: Sequence[Trial] = ()) -> CostModel:
    """The experiment's cost as a function of the fidelity value.

    Args:
        trials: The experiment's trials, which ``cost="measured"`` is fitted to.

    Raises:
        ValueError: the experiment has no Fidelity parameter.
    """
    fidelity = experiment.space.fidelity
    if fidelity is None:
        raise ValueError(f"cost: experiment '{experiment.name}' has no Fidelity parameter")
    cost = experiment.cost
    if cost == MEASURED:
        return measured_cost(fidelity, trials)
    if callable(cost):
        return FunctionCost(cost)
    return default_cost(fidelity)


def record_costs(
    experiment: Experiment,
    metadata: Sequence[dict[str, Any]],
    params: Sequence[Mapping[str, Any]],
    trials: Sequence[Trial] = (),
) -> None:
    """Add ``"cost"``, the cost model's value at each point's fidelity, to its metadata.

    Args:
        metadata: One dict per point, updated in place.
        params: The points.
        trials: The experiment's trials (for ``cost="measured"``).
    """
    fidelity = experiment.space.fidelity
    if fidelity is None:
        return
    cost = cost_model(experiment, trials)
    for meta, point in zip(metadata, params, strict=True):
        meta["cost"] = round(cost(point[fidelity.name]), 9)


def at_target(space: Space, params: Mapping[str, Any]) -> bool:
    """Whether a point was evaluated at the target fidelity (always, without a Fidelity)."""
    fidelity = space.fidelity
    if fidelity is None:
        return True
    value = params.get(fidelity.name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(float(value) - float(fidelity.target)) <= 1e-9 * max(1.0, abs(fidelity.target))


def with_target(space: Space, points: Any) -> Any:
    """Points with the target fidelity filled in where they leave the fidelity out.

    Args:
        points: A dict of parameter values, a list of them, or a DataFrame; anything
            else is returned unchanged (and refused later with the usual message).
    """
    import pandas as pd

    fidelity = space.fidelity
    if fidelity is None:
        return points
    if isinstance(points, pd.DataFrame):
        if fidelity.name in points.columns:
            return points
        return points.assign(**{fidelity.name: fidelity.target})
    if isinstance(points, Mapping):
        return points if fidelity.name in points else {**points, fidelity.name: fidelity.target}
    if isinstance(points, Sequence) and not isinstance(points, str | bytes):
        return [with_target(space, p) if isinstance(p, Mapping) else p for p in points]
    return points


# ------------------------------------------------------------------------- model
@dataclass
class MultiFidelityGP(ExactGP):
    """The exact GP with the fidelity column as a data fidelity: BoTorch's
    ``SingleTaskMultiFidelityGP`` with its linear truncated fidelity kernel (Matern 5/2
    over the other columns), fitted as :class:`~surrogates.gp.ExactGP` is.

    Unordered choice columns are treated as numbers here (the multi-fidelity kernel
    has no categorical part).

    Args:
        fidelity_column: The encoded column of the fidelity.
    """

    name: str = "gp"
    fidelity_column: int = -1

    def _build(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec) -> SingleTaskMultiFidelityGP:
        Yvar = spec.train_Yvar
        if Yvar is not None and Yvar.shape != train_Y.shape:
            raise SurrogateError(
                f"train_Yvar: expected shape {tuple(train_Y.shape)}, got {tuple(Yvar.shape)}"
            )
        d = train_X.shape[-1]
        if not 0 <= self.fidelity_column < d:
            raise SurrogateError(
                f"fidelity_column: got {self.fidelity_column}; expected a column in [0, {d})"
            )
        return SingleTaskMultiFidelityGP(
            train_X,
            train_Y,
            train_Yvar=Yvar,
            data_fidelities=[self.fidelity_column],
            outcome_transform=Standardize(m=train_Y.shape[-1]),
        )


def multi_fidelity_surrogate(space: Space, **options: Any) -> MultiFidelityGP:
    """The surrogate of a space with a Fidelity, with the ``"gp"`` surrogate's options."""
    column = space.fidelity_column
    if column is None:
        raise ValueError("multi_fidelity_surrogate: the space has no Fidelity parameter")
    return MultiFidelityGP(fidelity_column=column, **options)


# ---------------------------------------------------------------------- decision
def project(X: Tensor, space: Space) -> Tensor:
    """``X`` (``... x d``) with the fidelity column set to its target (unit scale)."""
    column, target = space.fidelity_column, space.fidelity_target
    assert column is not None and target is not None
    return project_to_target_fidelity(X, {column: target}, d=space.dim)


def fidelity_grid(fidelity: Fidelity) -> list[float]:
    """Unit values of the fidelities scored for a decision, the target first.

    Every integer value of an integer fidelity with at most :data:`MAX_INTEGER_GRID`
    values, else :data:`GRID_POINTS` evenly spaced values (snapped to integers).
    """
    values = fidelity.grid()
    if values is None or len(values) > MAX_INTEGER_GRID:
        raw = np.linspace(0.0, 1.0, GRID_POINTS)
        values = [fidelity.to_unit(fidelity.from_unit(u)) for u in raw]
    target = fidelity.target_unit
    rest = [u for u in dict.fromkeys(values) if abs(u - target) > 1e-9]
    return [target, *rest]


def variance_reduction(model: Model, x: Tensor, column: int, grid: Tensor, target: float) -> Tensor:
    """How much one evaluation at each fidelity of ``grid`` would reduce the posterior
    variance of ``f(x, target)``: ``Cov[f(x, t), y(x, s)]^2 / Var[y(x, s)]``.

    Args:
        model: A single-output model of the outcome.
        x: A ``d``-dim encoded point.
        column: The fidelity's column.
        grid: A ``G``-dim tensor of fidelities in unit scale.
        target: The target fidelity in unit scale.

    Returns:
        A ``G``-dim tensor, in the outcome's squared units.
    """
    Z = x.reshape(1, 1, -1).expand(len(grid), 2, -1).clone()
    Z[:, 0, column] = target
    Z[:, 1, column] = grid
    with torch.no_grad():
        joint: Any = model.posterior(Z)
        noisy: Any = model.posterior(Z, observation_noise=True)
        cov = joint.distribution.covariance_matrix  # G x 2 x 2
        var_y = noisy.variance[:, 1, 0]
    result: Tensor = cov[:, 0, 1].pow(2) / var_y.clamp_min(1e-12)
    return result


@dataclass(frozen=True)
class FidelityChoice:
    """The fidelity chosen for a point and why.

    Attributes:
        unit: The fidelity in unit scale.
        value: The fidelity in its own units.
        cost: The cost model's value there.
        information: Its variance reduction as a share of the target's (``<= 1``).
        cost_share: Its cost as a share of the target's.
        reason: Why: ``"variance reduction per cost"``, ``"beats the best"`` (the model
            expects the point to beat the best result at the target) or ``"no trial at
            the target yet"``.
    """

    unit: float
    value: float
    cost: float
    information: float
    cost_share: float
    reason: str


def choose_fidelity(
    models: Sequence[Model],
    x: Tensor,
    space: Space,
    cost: Callable[[float], float],
    incumbent: float | None = None,
    *,
    confirm: bool = True,
) -> FidelityChoice:
    """The fidelity to evaluate ``x`` at.

    The target when ``confirm`` and the first model expects ``x`` at the target to beat
    ``incumbent`` (or there is none): such an evaluation improves the reported result
    itself. Otherwise the fidelity with the largest variance reduction per unit cost at
    ``x``, summed over ``models`` (the objectives); the target on ties.

    Args:
        models: One single-output model per objective, each predicting ``sign * value``.
        x: A ``d``-dim encoded point (its fidelity column is ignored).
        space: The search space, with a Fidelity.
        cost: The cost of an evaluation, as a function of the fidelity value.
        incumbent: The best (feasible) value observed at the target, as the first model
            sees it; ``None`` when no trial was evaluated there.
        confirm: Apply the rule for the target above.
    """
    fidelity, column, target = space.fidelity, space.fidelity_column, space.fidelity_target
    assert fidelity is not None and column is not None and target is not None
    units = fidelity_grid(fidelity)
    values = [fidelity.from_unit(u) for u in units]
    costs = torch.tensor([cost(v) for v in values], dtype=DTYPE)
    if confirm:
        at_target = x.clone().reshape(1, -1)
        at_target[0, column] = target
        with torch.no_grad():
            posterior: Any = models[0].posterior(at_target)
            mean = float(posterior.mean.reshape(-1)[0])
        if incumbent is None or mean >= incumbent:
            reason = "no trial at the target yet" if incumbent is None else "beats the best"
            return FidelityChoice(target, fidelity.target, float(costs[0]), 1.0, 1.0, reason)
    grid = torch.tensor(units, dtype=x.dtype, device=x.device)
    reduction = torch.zeros(len(units), dtype=DTYPE)
    for model in models:
        vr = variance_reduction(model, x, column, grid, target).detach().cpu().to(DTYPE)
        scale = float(vr[0]) if float(vr[0]) > 0 else 1.0
        reduction += vr / scale  # each objective as a share of its own target reduction
    score = reduction / costs
    best = int(torch.argmax(score))  # the first maximum: the target on ties
    top = float(reduction[0])
    return FidelityChoice(
        unit=units[best],
        value=values[best],
        cost=float(costs[best]),
        information=float(reduction[best]) / top if top > 0 else 1.0,
        cost_share=float(costs[best] / costs[0]),
        reason="variance reduction per cost",
    )


def target_incumbent(strategy: Strategy, history: History) -> float | None:
    """The best feasible value of the first objective among completed trials at the
    target fidelity, as the model sees it (``sign * value``); ``None`` without one."""
    exp = strategy.experiment
    column, target = exp.space.fidelity_column, exp.space.fidelity_target
    assert column is not None and target is not None
    names = exp.modelled_outcomes
    sign = strategy.outcome_sign(names[0])
    best: float | None = None
    for x, row in zip(history.X, history.outcomes(), strict=True):
        values = dict(zip(names, map(float, row), strict=True))
        if abs(float(x[column]) - target) <= 1e-9 and exp.is_feasible(values):
            value = sign * values[names[0]]
            best = value if best is None else max(best, value)
    return best


def fit_and_optimize(
    strategy: Strategy,
    history: History,
    n: int,
    pending: np.ndarray,
    fixed: Mapping[int, float] | None = None,
    *,
    region: Callable[[Any], Tensor] | None = None,
) -> tuple[Tensor, Tensor, dict[str, Any], str]:
    """One model-based decision of a space with a Fidelity (see the module docstring).

    Args:
        strategy: The strategy deciding; its fits are kept as ``last_fit(s)``.
        history: The completed and pending trials.
        n: Points to choose.
        pending: A ``p x d`` array of encoded points being evaluated.
        fixed: Encoded column -> unit value of the context columns.
        region: A function of the model giving a ``2 x d`` box to search in.

    Returns:
        A ``n x d`` tensor of encoded points (their fidelities chosen), the acquisition
        value at the target, the decision's metadata and the generator's name.
    """
    exp = strategy.experiment
    space = exp.space
    column, target = space.fidelity_column, space.fidelity_target
    assert column is not None and target is not None
    names = exp.modelled_outcomes
    fits = [strategy.fit(history, outcome=name) for name in names]
    strategy.last_fit = fits[0]
    strategy.last_fits = dict(zip(names, fits, strict=True))
    kw: dict[str, Any] = {"device": strategy.device, "dtype": DTYPE}
    baseline = project(torch.as_tensor(history.X, **kw), space)
    signs = torch.tensor([strategy.outcome_sign(name) for name in names], **kw)
    model = fits[0].model if len(fits) == 1 else ModelList(*[f.model for f in fits])
    with torch.no_grad():
        # What the model believes the observed points would give at the target.
        posterior: Any = model.posterior(baseline)
        Y_target = posterior.mean.reshape(len(baseline), -1)
    X_pending = project(torch.as_tensor(pending, **kw), space) if len(pending) else None
    index = {name: i for i, name in enumerate(names)}
    constraints = [
        outcome_constraint(index[c.outcome], float(signs[index[c.outcome]]), c.op, c.bound)
        for c in exp.outcome_constraints
    ]
    m = len(exp.objectives)
    ref = None
    if m > 1:
        ok = torch.ones(len(Y_target), dtype=torch.bool, device=Y_target.device)
        for c in constraints:
            ok &= c(Y_target) <= 0
        ref = reference_point(exp, Y_target[ok, :m].cpu()).to(**kw)
    assert exp.acquisition is not None
    acqf = build_acquisition(
        exp.acquisition,
        model,
        baseline,
        Y_target,
        X_pending,
        strategy.options,
        n_objectives=m,
        constraints=constraints,
        ref_point=ref,
    )
    t1 = time.perf_counter()
    bounds = region(model) if region is not None else None
    X, value = optimize(
        acqf,
        space,
        n,
        strategy.options,
        device=strategy.device,
        fixed={**(fixed or {}), column: target},
        bounds=bounds,
    )
    acq_seconds = time.perf_counter() - t1
    t2 = time.perf_counter()
    cost = cost_model(exp, history.records)
    incumbent = target_incumbent(strategy, history)
    models = [f.model for f in fits[:m]]
    choices = [
        choose_fidelity(models, x, space, cost, incumbent, confirm=CONFIRM_AT_TARGET) for x in X
    ]
    X = X.clone()
    for i, choice in enumerate(choices):
        X[i, column] = choice.unit
    meta: dict[str, Any] = {
        "surrogate": fits[0].surrogate,
        "acquisition": exp.acquisition,
        "fidelity_rule": choices[0].reason if len(choices) == 1 else [c.reason for c in choices],
        **fits[0].info,
        "acq_seconds": round(acq_seconds, 6),
        "fidelity_seconds": round(time.perf_counter() - t2, 6),
        "n_train": fits[0].n_train,
        "n_pending": 0 if X_pending is None else int(X_pending.shape[0]),
        "n_at_target": int(sum(abs(float(u) - target) <= 1e-9 for u in history.X[:, column])),
        "device": str(strategy.device),
    }
    if len(choices) == 1:
        meta["fidelity_information"] = round(choices[0].information, 6)
        meta["fidelity_cost_share"] = round(choices[0].cost_share, 6)
    else:
        meta["fidelity_information"] = [round(c.information, 6) for c in choices]
        meta["fidelity_cost_share"] = [round(c.cost_share, 6) for c in choices]
    for fit, name in zip(fits[1:], names[1:], strict=True):
        meta.update(
            {
                f"{k}.{name}": v
                for k, v in fit.info.items()
                if k.startswith("cv_") or k in ("fit_seconds", "fallback")
            }
        )
    ei_rel = strategy._relative_improvement(float(value.reshape(-1)[0]), Y_target, ref, m)
    if ei_rel is not None:
        meta["ei_rel"] = ei_rel
    return X, value, meta, f"{fits[0].surrogate}+{exp.acquisition}+fidelity"

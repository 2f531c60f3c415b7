"""Strategies as data: an ordered list of steps, each with the condition that starts it.

An experiment's ``strategy`` is a list such as::

    [Sobol(n=8), BO(), TrustRegion(after_stall=10)]

The run is always in one step. It starts in the first; the next step takes over
when its condition holds, and a step once left is never taken up again:

- ``Sobol(n)``, only as the first step: a seeded, space-filling design of ``n``
  trials (``None``: the experiment's ``initial_trials``, else :func:`design_size`
  of the dimension). It ends after ``n`` trials.
- ``BO(surrogate=None, acquisition=None)``: a surrogate model and an acquisition
  function (the experiment's own unless given).
- ``TrustRegion(...)``: the same, restricted to a box around the incumbent that
  grows after successes, shrinks after failures and restarts when it collapses
  (TuRBO, Eriksson et al. 2019); for many parameters.
- ``Ax()``: Ax's own generation strategy (``ax.api.Client``) decides; trials, flow
  and tracking stay this project's. ``strategy="ax"`` is the short form.

A step after the first starts when the step before it ends (only a design ends
by itself), or, where it says so, after a number of trials (``after_trials``),
once the best value stalled for ``after_stall`` completed trials, or, for a trust
region, once the hidden Markov model of the run finds it in a regime
(``after_regime="stalled"``, see :mod:`bayesopt.analysis.regimes`). A step that
could never start (it follows a step that never ends and has no condition) is
refused when the experiment is built, as are unknown steps and options.

Steps can also be written as data, ``{"step": "trust_region", "after_stall": 10}``,
for configuration files. Every trial records the step that decided it
(``metadata["step"]``) and, for a trust region, the region's state, so a resumed
run continues in the same step with the same state.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from bayesopt.errors import InvalidExperimentError, describe

if TYPE_CHECKING:
    from bayesopt.experiment import Experiment


def design_size(dim: int) -> int:
    """The default size of the Sobol design for ``dim`` encoded dimensions:
    ``min(max(5, 2 d), max(10, d // 2))``, so 5 to 10 points up to 20 dimensions and
    ``d // 2`` beyond.

    The design only has to give the first model a picture of the scale of the
    response; the GP's unit-lengthscale prior (:mod:`surrogates.gp`) does the rest.
    A design of ``2 d`` spends most of a budget of ``3 d`` to ``5 d`` trials on
    points that ignore everything learned: on Hartmann6 hidden in 30 inputs (100
    trials, 5 seeds) the median log10 regret was -1.04 after a 60-point design and
    -3.29 after a 15-point one, on Hartmann6 in 10 inputs (60 trials) -2.44 after 20
    points and -3.49 after 10 (``benchmarks/results/high_dim.md``).
    """
    return min(max(5, 2 * dim), max(10, dim // 2))


def _count(step: str, field: str, value: object, *, minimum: int = 1) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidExperimentError(
            f"strategy {step}: {field}={describe(value)}; expected an integer >= {minimum}"
        )


@dataclass(frozen=True)
class Sobol:
    """A seeded, space-filling design of ``n`` trials (``None``: the experiment's size)."""

    n: int | None = None
    name: ClassVar[str] = "sobol"

    def validate(self, experiment: Experiment, index: int) -> None:
        _count("Sobol", "n", self.n, minimum=0)
        if index != 0:
            raise InvalidExperimentError(
                f"strategy: Sobol is step {index + 1}; a design can only be the first step"
            )

    @property
    def condition(self) -> str:
        return "first"


@dataclass(frozen=True)
class BO:
    """Surrogate model + acquisition function (the experiment's own unless given).

    Args:
        surrogate: A surrogate name, as ``Experiment(surrogate=...)`` takes it.
        acquisition: An acquisition name, as ``Experiment(acquisition=...)`` takes it.
        after_trials: Start once this many trials exist (else when the step before ends).
        after_stall: Start once the best value did not improve for this many
            completed trials (one objective).
        after_regime: Start once the run is in this regime (``"stalled"`` or
            ``"refining"``), as for :class:`TrustRegion`: for example a more exploratory
            acquisition when the run stalls, ``BO(acquisition="qUCB",
            after_regime="stalled")``.
        spread: ``"basins"`` spreads a batch across the basins of the good trials
            (:mod:`bayesopt.analysis.basins`): one candidate in each basin, best basin
            first, before a second in any, then the rest of the batch as usual. A basin
            that already holds a pending or running trial counts as covered, so it also
            spreads one suggestion at a time among asynchronous workers; one point with
            nothing pending is decided as without it. One objective only. ``None``
            (the default): the plain batch.
    """

    surrogate: str | None = None
    acquisition: str | None = None
    after_trials: int | None = None
    after_stall: int | None = None
    spread: str | None = None
    after_regime: str | None = None
    name: ClassVar[str] = "bo"
    spreads: ClassVar[tuple[str, ...]] = ("basins",)

    def validate(self, experiment: Experiment, index: int) -> None:
        _count("BO", "after_trials", self.after_trials, minimum=0)
        _count("BO", "after_stall", self.after_stall)
        _check_stall("BO", self.after_stall, experiment)
        _check_regime("BO", self.after_regime, self.after_trials, self.after_stall)
        if self.after_regime is not None and getattr(experiment, "learns", False):
            raise InvalidExperimentError(
                f"strategy BO: after_regime={self.after_regime!r}, but goal="
                f"{experiment.goal!r} learns rather than improves; use after_trials"
            )
        if self.spread is not None:
            if self.spread not in self.spreads:
                raise InvalidExperimentError(
                    f"strategy BO: spread={describe(self.spread)}; valid values are "
                    f"{[None, *self.spreads]}"
                )
            why = None
            if experiment.is_multi_objective:
                why = "the experiment has several objectives (basins are of one objective)"
            elif getattr(experiment, "learns", False):
                why = f"goal={experiment.goal!r} learns the response everywhere"
            elif getattr(experiment.space, "fidelity", None) is not None:
                why = "the space has a Fidelity (the multi-fidelity step makes its own batch)"
            if why is not None:
                raise InvalidExperimentError(
                    f"strategy BO: spread={self.spread!r}, but {why}; leave spread=None"
                )
        if self.surrogate is not None or self.acquisition is not None:
            try:
                own(experiment, self)
            except InvalidExperimentError as exc:
                raise InvalidExperimentError(f"strategy BO: {exc}") from None

    @property
    def condition(self) -> str:
        return _condition(self.after_trials, self.after_stall, self.after_regime)


@dataclass(frozen=True)
class TrustRegion:
    """Surrogate + acquisition inside a box around the incumbent (TuRBO).

    The box has side ``length`` (on the unit cube, stretched along the inputs with
    long lengthscales); it doubles after ``success_tolerance`` improving batches in
    a row, halves after ``failure_tolerance`` batches without (default
    ``ceil(max(4 / q, d / q))``), and when it is shorter than ``length_min`` it
    restarts from a new design point with its initial length.

    Args:
        after_trials: Start once this many trials exist (else when the step before ends).
        after_stall: Start once the best value did not improve for this many
            completed trials.
        after_regime: Start once the run is in this regime (``"stalled"`` or
            ``"refining"``): the hidden Markov model of the run's trace
            (:mod:`bayesopt.analysis.regimes`) finds it the most probable state of the
            latest completed trial, after at least 3 trials of the step before. The
            probabilities are stored with the trials decided then
            (``metadata["regime"]``).
    """

    after_trials: int | None = None
    after_stall: int | None = None
    after_regime: str | None = None
    length_init: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6
    success_tolerance: int = 3
    failure_tolerance: int | None = None
    name: ClassVar[str] = "trust_region"

    def validate(self, experiment: Experiment, index: int) -> None:
        _count("TrustRegion", "after_trials", self.after_trials, minimum=0)
        _count("TrustRegion", "after_stall", self.after_stall)
        _count("TrustRegion", "success_tolerance", self.success_tolerance)
        _count("TrustRegion", "failure_tolerance", self.failure_tolerance)
        if experiment.is_multi_objective:
            raise InvalidExperimentError(
                "strategy TrustRegion: the experiment has several objectives; a trust region "
                "follows one incumbent, so use BO() for a Pareto front"
            )
        if getattr(experiment.space, "fidelity", None) is not None:
            raise InvalidExperimentError(
                "strategy TrustRegion: the space has a Fidelity; the multi-fidelity model "
                "decides with BO()"
            )
        if getattr(experiment, "learns", False):
            raise InvalidExperimentError(
                f"strategy TrustRegion: goal={experiment.goal!r} learns the response everywhere, "
                "and a trust region searches around one incumbent; use BO()"
            )
        _check_stall("TrustRegion", self.after_stall, experiment)
        _check_regime("TrustRegion", self.after_regime, self.after_trials, self.after_stall)
        for key in ("length_init", "length_min", "length_max"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidExperimentError(
                    f"strategy TrustRegion: {key}={describe(value)}; expected a number"
                )
        if not 0 < self.length_min < self.length_init <= self.length_max:
            raise InvalidExperimentError(
                f"strategy TrustRegion: length_init={self.length_init!r}, "
                f"length_min={self.length_min!r}, length_max={self.length_max!r}; expected "
                "0 < length_min < length_init <= length_max"
            )

    @property
    def condition(self) -> str:
        return _condition(self.after_trials, self.after_stall, self.after_regime)

    def options(self) -> dict[str, Any]:
        """The region's settings, as ``TrustRegionState.initial`` takes them."""
        out: dict[str, Any] = {
            "length_init": float(self.length_init),
            "length_min": float(self.length_min),
            "length_max": float(self.length_max),
            "success_tolerance": self.success_tolerance,
        }
        if self.failure_tolerance is not None:
            out["failure_tolerance"] = self.failure_tolerance
        return out


@dataclass(frozen=True)
class Ax:
    """Ax's own generation strategy (``ax.api.Client``) decides every point."""

    after_trials: int | None = None
    name: ClassVar[str] = "ax"

    def validate(self, experiment: Experiment, index: int) -> None:
        from bayesopt.ax_strategy import check_ax_experiment

        _count("Ax", "after_trials", self.after_trials, minimum=0)
        check_ax_experiment(experiment)

    @property
    def condition(self) -> str:
        return _condition(self.after_trials, None)


Step = Sobol | BO | TrustRegion | Ax
STEPS: dict[str, type[Step]] = {s.name: s for s in (Sobol, BO, TrustRegion, Ax)}


def _condition(
    after_trials: int | None, after_stall: int | None, after_regime: str | None = None
) -> str:
    if after_trials is not None:
        return f"after {after_trials} trials"
    if after_stall is not None:
        return f"after {after_stall} trials without improvement"
    if after_regime is not None:
        return f"once the run is {after_regime}"
    return "when the step before ends"


#: The regimes a step may wait for (states of :mod:`bayesopt.analysis.regimes`).
REGIMES = ("refining", "stalled")


def _check_regime(
    step: str, after_regime: object, after_trials: int | None, after_stall: int | None
) -> None:
    if after_regime is None:
        return
    if after_regime not in REGIMES:
        raise InvalidExperimentError(
            f"strategy {step}: after_regime={describe(after_regime)}; valid regimes are "
            f"{list(REGIMES)}"
        )
    if after_trials is not None or after_stall is not None:
        raise InvalidExperimentError(
            f"strategy {step}: after_regime={after_regime!r} with "
            f"{'after_trials' if after_trials is not None else 'after_stall'}; give one "
            "condition per step"
        )


def _check_stall(step: str, after_stall: int | None, experiment: Experiment) -> None:
    if after_stall is not None and experiment.is_multi_objective:
        raise InvalidExperimentError(
            f"strategy {step}: after_stall follows one best value; the experiment has "
            "several objectives"
        )


def own(experiment: Experiment, step: BO) -> Experiment:
    """The experiment as a BO step with its own surrogate or acquisition sees it."""
    return experiment.replace(
        surrogate=step.surrogate,
        acquisition=step.acquisition,
        surrogate_options={} if step.surrogate not in (None, experiment.surrogate) else None,
        strategy=[Sobol(experiment.n_initial), BO()],
    )


def default_strategy(experiment: Experiment) -> tuple[Step, ...]:
    """The strategy an experiment gets when it names none: a Sobol design, then one
    global model (``BO()``) at every dimension.

    A trust region is not part of the default: with the GP's unit-lengthscale
    prior and the same design, one global model ended level with the trust region or
    ahead of it on the many-parameter benchmark (median log10 regret -3.29 against
    -3.20 on Hartmann6 hidden in 30 inputs, 0.64 against 0.64 on a shifted 20-D
    Ackley, but -3.49 against -3.72 on Hartmann6 in 10 inputs;
    ``benchmarks/results/high_dim.md``), and the region never shrank within those
    budgets of 60 to 100 trials. ``TrustRegion()`` stays a step to choose.
    """
    return (Sobol(experiment.n_initial), BO())


def parse_step(given: object, index: int) -> Step:
    """A step from its object or data form (``{"step": "bo", ...}`` or ``"bo"``)."""
    if isinstance(given, Sobol | BO | TrustRegion | Ax):
        return given
    if isinstance(given, str):
        given = {"step": given}
    if not isinstance(given, Mapping):
        raise InvalidExperimentError(
            f"strategy: step {index + 1} is {describe(given)}; expected Sobol(...), BO(...), "
            "TrustRegion(...), Ax() or a dict such as {'step': 'bo'}"
        )
    data = dict(given)
    kind = data.pop("step", None)
    if kind not in STEPS:
        raise InvalidExperimentError(
            f"strategy: step {index + 1} has step={describe(kind)}; valid steps are {list(STEPS)}"
        )
    cls = STEPS[kind]
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise InvalidExperimentError(
            f"strategy: step {index + 1} ({kind}) has unknown options {unknown}; valid "
            f"options are {valid}"
        )
    return cls(**data)


def resolve_strategy(experiment: Experiment, given: object) -> tuple[Step, ...]:
    """Check an experiment's ``strategy`` and return its steps (the default when ``None``)."""
    if given is None:
        return default_strategy(experiment)
    if given == "ax":
        given = [Ax()]
    if isinstance(given, str) or not isinstance(given, Sequence) or not given:
        raise InvalidExperimentError(
            f"strategy: got {describe(given)}; expected 'ax' or a non-empty list of steps such "
            "as [Sobol(n=8), BO(), TrustRegion(after_stall=10)]"
        )
    steps = tuple(parse_step(s, i) for i, s in enumerate(given))
    for i, step in enumerate(steps):
        step.validate(experiment, i)
    for i in range(1, len(steps)):
        step, before = steps[i], steps[i - 1]
        starts_by_itself = any(
            getattr(step, key, None) is not None
            for key in ("after_trials", "after_stall", "after_regime")
        )
        if not starts_by_itself and not isinstance(before, Sobol):
            raise InvalidExperimentError(
                f"strategy: step {i + 1} ({step.name}) starts when step {i} ({before.name}) "
                f"ends, and {before.name} never ends; give step {i + 1} a condition "
                "(after_trials=..., after_stall=... or after_regime=...) or remove it"
            )
    return steps


def describe_strategy(steps: Sequence[Step]) -> str:
    """The steps as one line, for MLflow params and the CLI."""
    parts = []
    for step in steps:
        fields = {
            f.name: getattr(step, f.name)
            for f in dataclasses.fields(step)
            if getattr(step, f.name) != f.default
        }
        args = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        parts.append(f"{type(step).__name__}({args})")
    return " -> ".join(parts)


def stall(values: Sequence[float]) -> int:
    """Completed trials since the best (largest, signed) value last improved."""
    best, since = -math.inf, 0
    for v in values:
        if v > best:
            best, since = v, 0
        else:
            since += 1
    return since

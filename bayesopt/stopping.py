"""Stopping rules: end a run before its budget when going on is not worth it.

An experiment lists its rules (``Experiment(stopping=[...])``); before each new
suggestion the loop asks :meth:`bayesopt.Optimizer.should_stop`, which reads the
store, applies the rules in order, and records the first that fires with its
reason (shown by ``bayesopt status``, logged to MLflow).

Five rules:

- :class:`TargetValue`: the best feasible value reached a target.
- :class:`NoImprovement`: the best feasible value (the hypervolume, with several
  objectives) did not improve by more than a tolerance over the last ``k``
  completed trials.
- :class:`LowExpectedImprovement`: the model no longer expects to improve. At
  each model-based decision the acquisition optimizer finds the largest (noisy,
  log-) expected improvement over the whole space; divided by the range of the
  observed values (by the current hypervolume, with several objectives) it is
  stored with the trial as ``ei_rel``. The rule fires when ``ei_rel`` stayed
  below a threshold for ``k`` consecutive decisions. Where Optuna's Terminator
  bounds the regret by the gap between upper and lower confidence bounds and
  compares it with an error scale it estimates separately, this rule uses the
  expected improvement that the deciding acquisition computes anyway: it costs
  no extra fit or optimization, it reads in the objective's own units relative
  to what was observed, and it asks for ``k`` decisions in a row so that one
  flat step of the model does not end a run.
- :class:`LowIntegratedVariance`: for ``goal="learn"``, the model is sure enough
  everywhere. Each learning decision records the posterior variance integrated over
  the space; its square root (the model's typical standard error) divided by the
  observed range of the outcome is stored as ``iv_rel``, and the rule fires when it
  stayed below a threshold for ``k`` consecutive decisions.
- :class:`Stalled`: a hidden Markov model of the run's trace
  (:mod:`bayesopt.analysis.regimes`) finds the run in its ``stalled`` regime with a
  probability above a threshold for ``k`` consecutive trials.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bayesopt.errors import InvalidExperimentError, describe

if TYPE_CHECKING:
    from bayesopt.experiment import Experiment
    from bayesopt.trial import Trial


@dataclass(frozen=True)
class Progress:
    """What the rules read: the run's progress, in the order trials completed.

    Attributes:
        best: After each completed trial, the best feasible objective value so far
            (``None`` while no trial is feasible); with several objectives, the
            hypervolume of the feasible Pareto front so far.
        ei_rel: The relative expected improvement recorded with each model-based
            decision, in the order the decisions were made.
        minimize: Whether a smaller ``best`` is better (single objective, minimized).
        multi_objective: Whether ``best`` holds hypervolumes.
        last_trial: Id of the latest completed trial, if any.
        n_finished: Completed and failed trials.
        n_design: How many of the first completed trials the initial (space-filling)
            design accounts for; rules that look for a lack of progress start
            counting after them, since a design is not meant to improve.
        iv_rel: With ``goal="learn"``, the root of the integrated posterior variance
            relative to the observed range, recorded with each learning decision.
        values: The first objective's value of each completed trial, in the order of
            ``best``.
        surprise: For each completed trial, ``(y - pred_mean) / pred_sd`` of the first
            objective under the model that decided it, signed so that a positive value
            is better than expected; ``None`` where no model decided it.
        metadata: Each completed trial's metadata, in the order of ``best``.
        trial_ids: Each completed trial's id, in the order of ``best``.
        cadence: Analysis -> every how many completed trials it is refitted (the
            experiment's ``analyses``); :class:`Stalled` checks at that cadence.
    """

    best: Sequence[float | None]
    ei_rel: Sequence[float]
    minimize: bool
    multi_objective: bool
    last_trial: int | None
    n_finished: int
    n_design: int = 0
    iv_rel: Sequence[float] = ()
    values: Sequence[float | None] = ()
    surprise: Sequence[float | None] = ()
    metadata: Sequence[Mapping[str, Any]] = ()
    trial_ids: Sequence[int] = ()
    cadence: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Stop:
    """Why a run stopped early: the rule, a sentence, and when."""

    rule: str
    reason: str
    n_finished: int
    last_trial: int | None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class StoppingRule(Protocol):
    """A condition on the run's progress; ``check`` returns the reason to stop, or ``None``."""

    @property
    def name(self) -> str:
        """The rule's name, recorded with the stop (read-only: the rules are frozen)."""
        ...

    def validate(self, experiment: Experiment) -> None: ...

    def check(self, progress: Progress) -> tuple[str, dict[str, Any]] | None: ...


def _number(rule: str, field_name: str, value: object, *, positive: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or (positive and float(value) < 0):  # type: ignore[arg-type]
        raise InvalidExperimentError(
            f"stopping {rule}: {field_name}={describe(value)}; expected a finite "
            + ("non-negative number" if positive else "number")
        )
    return float(value)  # type: ignore[arg-type]


def _count(rule: str, field_name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidExperimentError(
            f"stopping {rule}: {field_name}={describe(value)}; expected an integer >= 1"
        )
    return value


@dataclass(frozen=True)
class TargetValue:
    """Stop once the best feasible value reaches ``value`` (at or below it when the
    objective is minimized, at or above it when maximized). One objective only."""

    value: float
    name: str = field(default="target", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _number("TargetValue", "value", self.value))

    def validate(self, experiment: Experiment) -> None:
        if len(experiment.objectives) > 1:
            raise InvalidExperimentError(
                "stopping TargetValue: the experiment has several objectives, so there is no "
                "single value to reach; use NoImprovement or LowExpectedImprovement, which "
                "follow the hypervolume"
            )

    def check(self, progress: Progress) -> tuple[str, dict[str, Any]] | None:
        best = next((b for b in reversed(progress.best) if b is not None), None)
        if best is None:
            return None
        reached = best <= self.value if progress.minimize else best >= self.value
        if not reached:
            return None
        word = "at or below" if progress.minimize else "at or above"
        return (
            f"target reached: best value {best:.6g} is {word} the target {self.value:g}",
            {"best": best, "target": self.value},
        )


@dataclass(frozen=True)
class NoImprovement:
    """Stop when the last ``trials`` completed trials improved the best feasible value
    (the hypervolume, with several objectives) by no more than ``tolerance``, in the
    objective's units. The window starts after the initial design: the trials of a
    space-filling design are not meant to improve, so they never count towards it."""

    trials: int = 10
    tolerance: float = 0.0
    name: str = field(default="no_improvement", init=False)

    def __post_init__(self) -> None:
        _count("NoImprovement", "trials", self.trials)
        object.__setattr__(
            self, "tolerance", _number("NoImprovement", "tolerance", self.tolerance, positive=True)
        )

    def validate(self, experiment: Experiment) -> None:
        return None

    def check(self, progress: Progress) -> tuple[str, dict[str, Any]] | None:
        best = list(progress.best)
        start = max(progress.n_design, 1) - 1  # the best value right after the design
        if len(best) - 1 - self.trials < start or best[-self.trials - 1] is None:
            return None
        before, now = best[-self.trials - 1], best[-1]
        assert before is not None and now is not None
        gain = (before - now) if progress.minimize else (now - before)
        if gain > self.tolerance:
            return None
        what = "hypervolume" if progress.multi_objective else "best value"
        return (
            f"no improvement: the {what} changed by {gain:.3g} (at most {self.tolerance:g}) "
            f"over the last {self.trials} completed trials, from {before:.6g} to {now:.6g}",
            {"gain": gain, "trials": self.trials, "tolerance": self.tolerance},
        )


@dataclass(frozen=True)
class LowExpectedImprovement:
    """Stop when the largest expected improvement the model sees, relative to the
    observed range (to the hypervolume, with several objectives), stayed below
    ``threshold`` for ``trials`` consecutive model-based decisions.

    Needs an improvement-based acquisition (``qLogNEI``, ``qLogEI``, ``qLogNEHVI``).
    """

    threshold: float = 1e-3
    trials: int = 3
    name: str = field(default="low_expected_improvement", init=False)

    def __post_init__(self) -> None:
        value = _number("LowExpectedImprovement", "threshold", self.threshold, positive=True)
        object.__setattr__(self, "threshold", value)
        _count("LowExpectedImprovement", "trials", self.trials)

    def validate(self, experiment: Experiment) -> None:
        if experiment.goal != "optimize":
            raise InvalidExperimentError(
                f"stopping LowExpectedImprovement: goal {experiment.goal!r} learns rather than "
                "improves, so there is no expected improvement to watch; use "
                "LowIntegratedVariance (goal 'learn'), NoImprovement or TargetValue"
            )
        if experiment.acquisition not in ("qLogNEI", "qLogEI", "qLogNEHVI"):
            raise InvalidExperimentError(
                f"stopping LowExpectedImprovement: acquisition {experiment.acquisition!r} does "
                "not measure an expected improvement; use qLogNEI, qLogEI or qLogNEHVI"
            )

    def check(self, progress: Progress) -> tuple[str, dict[str, Any]] | None:
        recent = list(progress.ei_rel)[-self.trials :]
        if len(recent) < self.trials or max(recent) >= self.threshold:
            return None
        what = "hypervolume" if progress.multi_objective else "observed range"
        return (
            f"low expected improvement: the largest expected improvement the model saw was "
            f"below {self.threshold:g} of the {what} for the last {self.trials} decisions "
            f"(latest {recent[-1]:.3g})",
            {"ei_rel": recent[-1], "threshold": self.threshold, "trials": self.trials},
        )


@dataclass(frozen=True)
class LowIntegratedVariance:
    """Stop when the model's typical standard error over the space, relative to the
    observed range of the outcome, stayed below ``threshold`` for ``trials``
    consecutive learning decisions. Only for ``goal="learn"``.

    The quantity is ``sqrt(mean_x Var[f(x)]) / (max y - min y)`` over a Sobol sample
    of the space (the largest over the objectives, with several), recorded with each
    decision as ``iv_rel``. A value of 0.02 means the model's posterior standard
    deviation is, on average over the space, 2% of the range seen so far.
    """

    threshold: float = 0.02
    trials: int = 3
    name: str = field(default="low_integrated_variance", init=False)

    def __post_init__(self) -> None:
        value = _number("LowIntegratedVariance", "threshold", self.threshold, positive=True)
        object.__setattr__(self, "threshold", value)
        _count("LowIntegratedVariance", "trials", self.trials)

    def validate(self, experiment: Experiment) -> None:
        if experiment.goal != "learn":
            raise InvalidExperimentError(
                f"stopping LowIntegratedVariance: goal {experiment.goal!r} does not record the "
                "integrated variance; this rule needs goal='learn'"
            )

    def check(self, progress: Progress) -> tuple[str, dict[str, Any]] | None:
        recent = list(progress.iv_rel)[-self.trials :]
        if len(recent) < self.trials or max(recent) >= self.threshold:
            return None
        return (
            f"low integrated variance: the model's standard error over the space was below "
            f"{self.threshold:g} of the observed range for the last {self.trials} decisions "
            f"(latest {recent[-1]:.3g})",
            {"iv_rel": recent[-1], "threshold": self.threshold, "trials": self.trials},
        )


@dataclass(frozen=True)
class Stalled:
    """Stop when the run has been in the ``stalled`` regime for ``trials`` completed
    trials in a row: a hidden Markov model of the trace (:mod:`bayesopt.analysis.regimes`)
    put ``P(stalled)`` above ``threshold`` at each of the last ``trials`` completed trials,
    all after the initial design.

    The model reads, per trial, the log improvement of the best value, the expected
    improvement the deciding model saw and how surprised it was by the result, so it
    tells a run that is still refining its optimum by small steps from one that has
    stopped moving, where ``NoImprovement`` sees only the best value. The analysis is
    refitted on the whole history at each check (about 0.05 s for 50 trials), and the
    probabilities are kept in the stop's details.

    Args:
        threshold: The probability ``P(stalled)`` must exceed, in ``(0, 1)``.
        trials: For how many completed trials in a row.
        states: The model's states: 3 (improving, refining, stalled) or 2 (improving,
            stalled).
    """

    threshold: float = 0.9
    trials: int = 5
    states: int = 3
    name: str = field(default="stalled", init=False)

    def __post_init__(self) -> None:
        value = _number("Stalled", "threshold", self.threshold)
        if not 0 < value < 1:
            raise InvalidExperimentError(
                f"stopping Stalled: threshold={describe(self.threshold)}; expected a "
                "probability strictly between 0 and 1"
            )
        object.__setattr__(self, "threshold", value)
        _count("Stalled", "trials", self.trials)
        if isinstance(self.states, bool) or self.states not in (2, 3):
            raise InvalidExperimentError(
                f"stopping Stalled: states={describe(self.states)}; expected 2 (improving, "
                "stalled) or 3 (improving, refining, stalled)"
            )

    def validate(self, experiment: Experiment) -> None:
        if experiment.goal != "optimize":
            raise InvalidExperimentError(
                f"stopping Stalled: goal {experiment.goal!r} learns rather than improves, so "
                "there is no improvement to stall; use LowIntegratedVariance"
            )

    def check(self, progress: Progress) -> tuple[str, dict[str, Any]] | None:
        every = progress.cadence.get("regimes", 1)
        if len(progress.best) % every:  # refitted at the analysis's cadence only
            return None
        if len(progress.best) - max(progress.n_design, 1) < self.trials:
            return None
        from bayesopt.analysis.regimes import fit_regimes

        found = fit_regimes(progress, states=self.states)
        recent = [float(p) for p in found.p("stalled")[-self.trials :]]
        if min(recent) <= self.threshold:
            return None
        shown = ", ".join(f"{p:.2f}" for p in recent)
        return (
            f"stalled: the regime model put the probability that the run is stalled above "
            f"{self.threshold:g} for the last {self.trials} completed trials ({shown})",
            {
                "p_stalled": [round(p, 4) for p in recent],
                "threshold": self.threshold,
                "trials": self.trials,
                "states": self.states,
                "regime": found.latest(),
            },
        )


def progress_of(experiment: Experiment, trials: Sequence[Trial]) -> Progress:
    """The run's progress as the stopping rules read it, from the experiment's trials
    (any order; completed ones are taken in the order they completed)."""
    import torch

    from bayesopt.fidelity import at_target
    from bayesopt.pareto import hypervolume, reference_point, signed_objectives
    from bayesopt.trial import TrialStatus

    exp = experiment
    from bayesopt.analysis.schedule import completed_in_order

    done = completed_in_order(trials)
    ok = [exp.is_feasible(t.values) and at_target(exp.space, t.params) for t in done if t.values]
    best: list[float | None] = []
    if exp.is_multi_objective:
        Y = signed_objectives(exp, done)
        ref = reference_point(exp, Y[torch.tensor(ok, dtype=torch.bool)] if ok else Y)
        for i in range(len(done)):
            keep = torch.tensor(ok[: i + 1], dtype=torch.bool)
            best.append(hypervolume(Y[: i + 1][keep], ref))
    else:
        obj = exp.objective
        current: float | None = None
        for t, good in zip(done, ok, strict=True):
            v = float(t.values[obj.name])  # type: ignore[index]
            if good and (current is None or obj.sign() * v > obj.sign() * current):
                current = v
            best.append(current)
    first = exp.objectives[0]
    values: list[float | None] = []
    surprise: list[float | None] = []
    for t in done:
        y = (t.values or {}).get(first.name)
        values.append(None if y is None else float(y))
        mean, sd = t.metadata.get("pred_mean"), t.metadata.get("pred_sd")
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (mean, sd))
        if y is None or not numbers or not float(sd) > 0:  # type: ignore[arg-type]
            surprise.append(None)
        else:
            surprise.append(first.sign() * (float(y) - float(mean)) / float(sd))  # type: ignore[arg-type]

    def recorded(key: str) -> list[float]:
        return [
            float(t.metadata[key]) for t in trials if isinstance(t.metadata.get(key), int | float)
        ]

    return Progress(
        best=best,
        ei_rel=recorded("ei_rel"),
        iv_rel=recorded("iv_rel"),
        minimize=not exp.is_multi_objective and exp.objective.minimize,
        multi_objective=exp.is_multi_objective,
        last_trial=done[-1].id if done else None,
        n_finished=sum(t.status in (TrialStatus.COMPLETED, TrialStatus.FAILED) for t in trials),
        n_design=min(exp.n_initial, len(done)),
        values=values,
        surprise=surprise,
        metadata=[t.metadata for t in done],
        trial_ids=[t.id for t in done],
        cadence=dict(getattr(exp, "analyses", {})),
    )


def first_stop(rules: Sequence[StoppingRule], progress: Progress) -> Stop | None:
    """The first rule in ``rules`` that fires on ``progress``, as a :class:`Stop`."""
    for rule in rules:
        fired = rule.check(progress)
        if fired is not None:
            reason, details = fired
            return Stop(rule.name, reason, progress.n_finished, progress.last_trial, details)
    return None


def describe_rules(rules: Sequence[StoppingRule]) -> str:
    """The rules as one line, for MLflow params."""
    return "; ".join(repr(r) for r in rules) or "none"

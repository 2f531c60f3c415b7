"""The experiment definition: what can change, what is measured, what is wanted.

An :class:`Experiment` is validated when it is built, so a bad definition is
refused before any trial runs, with a message that names the field, the value
given and what would be valid.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import numbers
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bayesopt._experiment_settings import definition_of, settings_of
from bayesopt.constraints import OutcomeConstraint, parse_constraint
from bayesopt.errors import InvalidExperimentError, InvalidOutcomeError, describe
from bayesopt.space import LinearConstraint, Parameter, Space
from bayesopt.stopping import StoppingRule

#: Acquisition functions for one objective, by name.
SINGLE_ACQUISITIONS = ("qLogNEI", "qLogEI", "qUCB")
#: Acquisition functions for several objectives: qLogNEHVI (Daulton et al. 2021, with
#: the log-improvement of Ament et al. 2023) and qLogNParEGO (random Chebyshev scalarizations).
MULTI_ACQUISITIONS = ("qLogNEHVI", "qLogNParEGO")
ACQUISITIONS = SINGLE_ACQUISITIONS + MULTI_ACQUISITIONS
#: Above this many objectives the default is qLogNParEGO: the hypervolume's cost grows
#: quickly with the number of objectives.
MAX_EHVI_OBJECTIVES = 3
#: Acquisitions of the learning goals (see ``bayesopt.active``): the negative integrated
#: posterior variance weighted towards where the response varies (``"variation"``, the
#: default of ``goal="learn"``), the same unweighted (``"qNIPV"``), and the targeted
#: variance around a level.
LEARN_ACQUISITIONS = ("variation", "qNIPV", "level")
#: What an experiment is for: ``"optimize"``, ``"learn"`` or ``("level", outcome, value)``.
Goal = str | tuple[str, str, float]

Constraint = LinearConstraint | OutcomeConstraint | str
#: One measured outcome: a value, or a ``(mean, sem)`` pair with its standard error.
Measurement = float | tuple[float, float]
#: What a trial's evaluation reports: ``{outcome: measurement}``, or one measurement
#: when the experiment has one objective.
Observation = Mapping[str, Measurement] | Measurement

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


def _surrogate_options(name: str) -> list[str]:
    """The options a surrogate takes (its dataclass fields other than ``name``)."""
    from surrogates import default_registry

    factory = default_registry().factory(name)
    if dataclasses.is_dataclass(factory):
        return [f.name for f in dataclasses.fields(factory) if f.name != "name" and f.init]
    return [p for p in inspect.signature(factory).parameters if p != "name"]


@dataclass(frozen=True)
class Objective:
    """An outcome to minimize (the default) or maximize.

    Args:
        name: The key of the outcome in what ``evaluate`` returns.
        minimize: Whether smaller is better.
        threshold: With several objectives, the worst value still worth having: the
            objectives' thresholds form the reference point of the hypervolume (a
            Pareto point counts only where it beats every threshold). ``None`` infers
            it from the observed front, as BoTorch and Ax do.
    """

    name: str
    minimize: bool = True
    threshold: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidExperimentError(
                f"objective name: got {describe(self.name)}; expected a non-empty string"
            )
        if not isinstance(self.minimize, bool):
            raise InvalidExperimentError(
                f"objective '{self.name}': minimize={describe(self.minimize)}; "
                "expected True or False"
            )
        if self.threshold is not None:
            if not _is_number(self.threshold) or not math.isfinite(float(self.threshold)):
                raise InvalidExperimentError(
                    f"objective '{self.name}': threshold={describe(self.threshold)}; expected "
                    "a finite number or None"
                )
            object.__setattr__(self, "threshold", float(self.threshold))

    def sign(self) -> float:
        """+1 when larger is better, -1 when smaller is better (the model maximizes)."""
        return -1.0 if self.minimize else 1.0


def _positive_int(name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidExperimentError(
            f"{name}: got {describe(value)}; expected an integer >= {minimum}"
        )


def _is_number(value: object) -> bool:
    """A real number (Python or NumPy), but not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _returned_keys(fn: Callable[..., Any]) -> set[str] | None:
    """The keys ``fn`` returns when every ``return`` is a dict literal with string keys.

    Returns ``None`` when that cannot be read from the source (then the keys are
    checked on each evaluation instead), as for a decorated function, whose source
    is not what runs.
    """
    if hasattr(fn, "__wrapped__"):
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    func = next(
        (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)), None
    )
    if func is None:
        return None
    returns = [
        n
        for n in ast.walk(func)
        if isinstance(n, ast.Return)
        and not any(n in ast.walk(inner) for inner in func.body if _is_nested_def(inner))
    ]
    keys: set[str] = set()
    for node in returns:
        if not isinstance(node.value, ast.Dict):
            return None
        for key in node.value.keys:
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return None
            keys.add(key.value)
    return keys if returns else None


def _is_nested_def(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef)


@dataclass(frozen=True)
class Experiment:
    """A search space, objectives and (optionally) a function that evaluates a point.

    Args:
        name: Identifies the experiment in the store and in MLflow.
        parameters: The parameters, as ``Float``, ``Int``, ``Choice`` and ``Fixed``.
        objectives: What is measured and wanted. Several objectives are optimized for
            their Pareto front (``Optimizer.pareto()``).
        constraints: Constraints as strings or objects: over parameters,
            ``"x1 + 2*x2 <= 10"``, ``"a + b + c == 1"`` or ``LinearConstraint(...)``;
            over an outcome that ``evaluate`` returns, ``"purity >= 0.95"`` or
            ``OutcomeConstraint(...)`` (each constrained outcome gets its own model and
            only feasible trials can be best).
        outcome_bounds: The range each outcome can take, where it is known (a purity
            in ``[0, 1]``); thresholds and constraints outside it are refused, and so
            are observed values outside it.
        stopping: Rules that end a run before its budget (see ``bayesopt.stopping``).
        evaluate: Called as ``evaluate(**params)``; returns a dict of outcome values
            (or a number, for one objective). Needed by ``bayesopt run``, not by ask/tell.
        budget: Number of trials to finish (completed or failed).
        batch_size: Trials suggested and evaluated together.
        surrogate: Name of the surrogate model: ``"gp"`` (default), ``"sparse_gp"``,
            ``"saas"``, ``"bnn"``, ``"numpyro"`` or ``"auto"``.
        surrogate_options: Options of that surrogate, e.g. ``{"model": my_numpyro_model}``
            for ``"numpyro"`` or ``{"warmup_steps": 256}`` for ``"saas"``.
        cv_folds: Folds of the held-out diagnostics computed with every fit (the exact
            GP uses its closed-form leave-one-out instead); 0 turns them off.
        acquisition: One objective: ``"qLogNEI"`` (default), ``"qLogEI"`` or ``"qUCB"``;
            several: ``"qLogNEHVI"`` (default up to 3 objectives) or ``"qLogNParEGO"``.
        initial_trials: Size of the Sobol design; ``None`` sizes it from the dimension.
        timeout: Seconds an evaluation may take before its trial fails.
        retries: How often a raising evaluation is retried before its trial fails.
        retry_delay: Seconds before the first retry; doubles on each further one.
        storage: Default SQLAlchemy URL of the trial store for the CLI.
        seed: Seed of the Sobol design and the model fits.
        strategy: How points are chosen, as an ordered list of steps such as
            ``[Sobol(n=8), BO(), TrustRegion(after_stall=10)]`` (see
            ``bayesopt.steps``), or ``"ax"`` for Ax's own strategy. ``None``: a Sobol
            design (:func:`bayesopt.steps.design_size`), then ``BO()``.
        cost: With a ``Fidelity`` parameter, what an evaluation costs: a function of the
            fidelity value returning a cost > 0; ``"measured"``, a line
            ``seconds = a + b * fidelity`` fitted to the evaluation times of completed
            trials; or ``None``, the affine ``target / 4 + fidelity`` (BoTorch's
            ``AffineFidelityCostModel`` with a fixed cost of 1/5 of the target's). See
            ``bayesopt.fidelity``.
        goal: ``"optimize"`` (the default): find the best point. ``"learn"``: learn the
            response everywhere (acquisition ``"variation"``, the integrated variance
            weighted towards where the response varies, or ``"qNIPV"``, unweighted);
            ``("level", outcome, value)``:
            learn where ``outcome`` lies above ``value`` (acquisition ``"level"``). With a
            learning goal the objectives name the outcomes that are modelled (``minimize``
            does not matter); see ``bayesopt.active``.
        holdout: A held-out test set (a DataFrame, or the path of a CSV file) with a
            column per parameter and per modelled outcome; every decision records the
            model's ``holdout_rmse``, ``holdout_nlpd`` and ``holdout_picp`` on it.
        analyses: The analyses of the history to run and how often, as analysis ->
            every how many completed trials: ``{"regimes": 5, "basins": 10}``. Each is
            then stored with the trial that completed when it ran and logged to MLflow,
            and the decisions that read it refit it at that cadence
            (:mod:`bayesopt.analysis.schedule`).

    Examples:
        >>> from bayesopt import Experiment, Float, Objective
        >>> exp = Experiment(name="quad", parameters=[Float("x", -1.0, 1.0)],
        ...                  objectives=[Objective("y")])
        >>> exp.space.dim
        1
    """

    name: str
    parameters: Sequence[Parameter]
    objectives: Sequence[Objective]
    constraints: Sequence[Constraint] = ()
    outcome_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    stopping: Sequence[StoppingRule] = ()
    evaluate: Callable[..., Mapping[str, float] | float] | None = None
    budget: int = 30
    batch_size: int = 1
    surrogate: str = "gp"
    surrogate_options: Mapping[str, Any] = field(default_factory=dict)
    cv_folds: int = 5
    acquisition: str | None = None
    initial_trials: int | None = None
    timeout: float | None = None
    retries: int = 0
    retry_delay: float = 1.0
    storage: str | None = None
    seed: int | None = None
    strategy: Any = None
    cost: Callable[[float], float] | str | None = None
    goal: Goal = "optimize"
    holdout: Any = field(default=None, compare=False)
    analyses: Mapping[str, int] = field(default_factory=dict)
    space: Space = field(init=False, repr=False, compare=False)
    outcome_constraints: tuple[OutcomeConstraint, ...] = field(
        init=False, repr=False, compare=False
    )
    #: The checked test set of ``holdout`` (a ``bayesopt.active.Holdout``), or ``None``.
    holdout_data: Any = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise InvalidExperimentError(
                f"name: got {describe(self.name)}; expected 1-200 letters, digits, '_', '.' or '-'"
            )
        linear, outcome = self._split_constraints()
        object.__setattr__(self, "space", Space(self.parameters, linear))
        object.__setattr__(self, "parameters", self.space.parameters)
        object.__setattr__(self, "outcome_constraints", outcome)
        object.__setattr__(self, "constraints", (*self.space.constraints, *outcome))
        self._check_objectives()
        self._check_outcome_bounds()
        _positive_int("budget", self.budget)
        _positive_int("batch_size", self.batch_size)
        _positive_int("retries", self.retries, minimum=0)
        if self.initial_trials is not None:
            _positive_int("initial_trials", self.initial_trials, minimum=0)
        for key in ("timeout", "retry_delay"):
            value = getattr(self, key)
            if value is None and key == "timeout":
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and value >= (0 if key == "retry_delay" else 1e-9))
            ):
                raise InvalidExperimentError(
                    f"{key}: got {describe(value)}; expected a positive number of seconds"
                    + (" or None" if key == "timeout" else "")
                )
        self._check_surrogate()
        self._check_fidelity()
        _positive_int("cv_folds", self.cv_folds, minimum=0)
        if self.cv_folds == 1:
            raise InvalidExperimentError("cv_folds: got 1; expected 0 (off) or at least 2")
        self._check_goal()
        self._check_acquisition()
        if self.seed is not None:
            _positive_int("seed", self.seed, minimum=0)
        if self.evaluate is not None:
            self._check_evaluate(self.evaluate)
        self._check_stopping()
        from bayesopt.analysis.schedule import check_analyses
        from bayesopt.steps import resolve_strategy

        object.__setattr__(self, "analyses", check_analyses(self.analyses))

        object.__setattr__(self, "_default_strategy", self.strategy is None)
        object.__setattr__(self, "strategy", resolve_strategy(self, self.strategy))

    def _split_constraints(
        self,
    ) -> tuple[tuple[LinearConstraint, ...], tuple[OutcomeConstraint, ...]]:
        """Parse string constraints; parameter ones go to the space, outcome ones apart."""
        given = self.constraints
        if isinstance(given, str | LinearConstraint | OutcomeConstraint):
            given = (given,)
        if not isinstance(given, Sequence):
            raise InvalidExperimentError(
                f"constraints: got {describe(given)}; expected a list such as "
                "['x1 + x2 <= 1', 'cost <= 12']"
            )
        names = (
            [getattr(p, "name", None) for p in self.parameters]
            if isinstance(self.parameters, Sequence)
            else []
        )
        params = [n for n in names if isinstance(n, str)]
        linear: list[LinearConstraint] = []
        outcome: list[OutcomeConstraint] = []
        for c in given:
            parsed = parse_constraint(c, params) if isinstance(c, str) else c
            if isinstance(parsed, OutcomeConstraint):
                if parsed.outcome in params:
                    raise InvalidExperimentError(
                        f"constraints: '{parsed}' names the parameter '{parsed.outcome}' as an "
                        "outcome; write parameter constraints as strings or LinearConstraint"
                    )
                outcome.append(parsed)
            elif isinstance(parsed, LinearConstraint):
                linear.append(parsed)
            else:
                raise InvalidExperimentError(
                    f"constraints: got {describe(c)}; expected a string such as "
                    "'x1 + 2*x2 <= 10' or 'purity >= 0.95', a LinearConstraint or an "
                    "OutcomeConstraint"
                )
        return tuple(linear), tuple(outcome)

    def _check_outcome_bounds(self) -> None:
        bounds = self.outcome_bounds
        if not isinstance(bounds, Mapping):
            raise InvalidExperimentError(
                f"outcome_bounds: got {describe(bounds)}; expected a dict such as "
                "{'purity': (0.0, 1.0)}"
            )
        clean: dict[str, tuple[float, float]] = {}
        for name, pair in bounds.items():
            ok = isinstance(pair, Sequence) and len(pair) == 2 and all(map(_is_number, pair))
            if (
                not ok
                or not (float(pair[0]) < float(pair[1]))
                or not all(math.isfinite(float(v)) for v in pair)
            ):
                raise InvalidExperimentError(
                    f"outcome_bounds: '{name}' = {describe(pair)}; expected (low, high) with "
                    "finite low < high"
                )
            clean[str(name)] = (float(pair[0]), float(pair[1]))
        object.__setattr__(self, "outcome_bounds", clean)
        for obj in self.objectives:
            if obj.name in clean and obj.threshold is not None:
                low, high = clean[obj.name]
                if not low <= obj.threshold <= high:
                    raise InvalidExperimentError(
                        f"objective '{obj.name}': threshold={obj.threshold:g} cannot be met: "
                        f"'{obj.name}' lies in [{low:g}, {high:g}] (outcome_bounds)"
                    )
        for c in self.outcome_constraints:
            if c.outcome not in clean:
                continue
            low, high = clean[c.outcome]
            if (c.op == "<=" and c.bound < low) or (c.op == ">=" and c.bound > high):
                raise InvalidExperimentError(
                    f"constraints: '{c}' cannot be met: '{c.outcome}' lies in "
                    f"[{low:g}, {high:g}] (outcome_bounds)"
                )

    def _check_acquisition(self) -> None:
        if self.learns:
            self._check_learning_acquisition()
            return
        multi = len(self.objectives) > 1
        if self.acquisition is None:
            default = "qLogNEI"
            if multi:
                many = len(self.objectives) > MAX_EHVI_OBJECTIVES
                default = "qLogNParEGO" if many else "qLogNEHVI"
            object.__setattr__(self, "acquisition", default)
        valid = MULTI_ACQUISITIONS if multi else SINGLE_ACQUISITIONS
        if self.acquisition not in valid:
            kind = "several objectives" if multi else "one objective"
            raise InvalidExperimentError(
                f"acquisition: got {describe(self.acquisition)}; valid names for {kind} are "
                f"{list(valid)}"
            )
        if self.acquisition == "qUCB" and self.outcome_constraints:
            raise InvalidExperimentError(
                "acquisition: 'qUCB' cannot weigh candidates by their probability of meeting "
                "the outcome constraints; use 'qLogNEI' (the default) or 'qLogEI'"
            )
        if self.surrogate == "numpyro" and len(self.modelled_outcomes) > 1:
            raise InvalidExperimentError(
                f"surrogate: 'numpyro' models one outcome, and this experiment models "
                f"{list(self.modelled_outcomes)}; use 'gp' or another surrogate"
            )

    def _check_goal(self) -> None:
        """The goal, normalized to ``"optimize"``, ``"learn"`` or ``("level", name, value)``;
        then what a learning goal needs, and the holdout."""
        goal = self.goal
        expected = (
            "expected 'optimize' (the default), 'learn', or ('level', outcome, value) such as "
            "('level', 'purity', 0.95)"
        )
        if isinstance(goal, list):
            goal = tuple(goal)
        if isinstance(goal, tuple):
            if len(goal) != 3 or goal[0] != "level" or not isinstance(goal[1], str):
                raise InvalidExperimentError(f"goal: got {describe(self.goal)}; {expected}")
            names = [o.name for o in self.objectives]
            if goal[1] not in names:
                raise InvalidExperimentError(
                    f"goal: {describe(self.goal)} names the outcome '{goal[1]}', which is not "
                    f"among the objectives {names}; with goal 'level' the objectives name the "
                    "outcomes that are modelled, so add it to them"
                )
            if not _is_number(goal[2]) or not math.isfinite(float(goal[2])):
                raise InvalidExperimentError(
                    f"goal: {describe(self.goal)} has the level {describe(goal[2])}; expected a "
                    f"finite number, the value of '{goal[1]}' whose crossing is to be learned"
                )
            goal = ("level", goal[1], float(goal[2]))
        elif goal not in ("optimize", "learn"):
            raise InvalidExperimentError(f"goal: got {describe(self.goal)}; {expected}")
        object.__setattr__(self, "goal", goal)
        if self.learns:
            what = "learn" if goal == "learn" else "level"
            if self.outcome_constraints:
                raise InvalidExperimentError(
                    f"constraints: {[str(c) for c in self.outcome_constraints]} constrain "
                    f"outcomes, which goal '{what}' does not optimize; list the outcome among "
                    "the objectives to model it, or use goal 'optimize'"
                )
            if self.surrogate not in ("gp", "saas"):
                raise InvalidExperimentError(
                    f"surrogate: got {describe(self.surrogate)}; goal '{what}' reads the "
                    "posterior covariance of a Gaussian process, so valid names are "
                    "['gp', 'saas']"
                )
            if getattr(self.space, "fidelity", None) is not None:
                raise InvalidExperimentError(
                    f"goal: got {describe(self.goal)}; an experiment with a Fidelity parameter "
                    "optimizes its target fidelity; use goal 'optimize'"
                )
        self._check_holdout()

    def _check_holdout(self) -> None:
        if self.holdout is None:
            object.__setattr__(self, "holdout_data", None)
            return
        from bayesopt.active import read_holdout

        data = read_holdout(self, self.holdout, error=InvalidExperimentError)
        object.__setattr__(self, "holdout_data", data)

    def _check_learning_acquisition(self) -> None:
        """A learning goal's acquisition: ``"variation"`` or ``"qNIPV"`` (learn),
        ``"level"`` (level), or one of the first two for a level too (learn everywhere);
        improvement ones are refused."""
        level = self.level is not None
        if self.acquisition is None:
            object.__setattr__(self, "acquisition", "level" if level else "variation")
        valid = ["level", "variation", "qNIPV"] if level else ["variation", "qNIPV"]
        if self.acquisition not in valid:
            what = "level" if level else "learn"
            kind = (
                ", an improvement acquisition, but"
                if self.acquisition in ("qLogNEI", "qLogEI", "qLogNEHVI", "qLogNParEGO")
                else ";"
            )
            raise InvalidExperimentError(
                f"acquisition: got {describe(self.acquisition)}{kind} goal '{what}' learns "
                f"{'where an outcome crosses a level' if level else 'the response everywhere'} "
                f"rather than improving it; valid names with goal '{what}' are {valid} "
                f"(default {valid[0]!r})"
            )

    @property
    def learns(self) -> bool:
        """Whether the goal is to learn (``"learn"`` or a level), not to optimize."""
        return self.goal != "optimize"

    @property
    def level(self) -> tuple[str, float] | None:
        """``(outcome, value)`` of a level goal, else ``None``."""
        if isinstance(self.goal, tuple):
            return str(self.goal[1]), float(self.goal[2])
        return None

    def _check_stopping(self) -> None:
        rules = self.stopping
        if not isinstance(rules, Sequence):
            rules = (rules,)
        for rule in rules:
            if not isinstance(rule, StoppingRule):
                raise InvalidExperimentError(
                    f"stopping: got {describe(rule)}; expected rules such as TargetValue(0.1), "
                    "NoImprovement(trials=10) or LowExpectedImprovement()"
                )
            rule.validate(self)
        object.__setattr__(self, "stopping", tuple(rules))

    def _check_surrogate(self) -> None:
        from surrogates import SurrogateError, default_registry

        names = default_registry().names()
        if not isinstance(self.surrogate, str) or self.surrogate not in names:
            raise InvalidExperimentError(
                f"surrogate: got {describe(self.surrogate)}; valid names are {names}"
            )
        options = self.surrogate_options
        if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
            raise InvalidExperimentError(
                f"surrogate_options: got {describe(options)}; expected a dict of option names "
                f"to values"
            )
        valid = _surrogate_options(self.surrogate)
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise InvalidExperimentError(
                f"surrogate_options: {unknown} are not options of surrogate "
                f"'{self.surrogate}'; valid options are {valid}"
            )
        try:
            default_registry().create(self.surrogate, **options)
        except (SurrogateError, TypeError, ValueError) as exc:
            raise InvalidExperimentError(
                f"surrogate_options: {exc}"
                if str(exc).startswith(self.surrogate)
                else f"surrogate_options of '{self.surrogate}': {exc}"
            ) from None
        object.__setattr__(self, "surrogate_options", dict(options))

    def _check_fidelity(self) -> None:
        """The cost of a fidelity experiment, and a surrogate that models fidelities."""
        from bayesopt.fidelity import check_cost

        check_cost(self.cost, self.space)
        fidelity = self.space.fidelity
        if fidelity is not None and self.surrogate != "gp":
            raise InvalidExperimentError(
                f"surrogate: got {describe(self.surrogate)}, but the Fidelity parameter "
                f"'{fidelity.name}' is modelled by the multi-fidelity GP; valid: 'gp' (the "
                "default), or make it a Float parameter to use another surrogate"
            )

    def _check_objectives(self) -> None:
        objectives = self.objectives
        if isinstance(objectives, Objective):
            objectives = (objectives,)
        if not isinstance(objectives, Sequence) or not objectives:
            raise InvalidExperimentError(
                f"objectives: got {describe(self.objectives)}; expected a list such as "
                "[Objective('loss', minimize=True)]"
            )
        for obj in objectives:
            if not isinstance(obj, Objective):
                raise InvalidExperimentError(
                    f"objectives: got {describe(obj)}; each must be an Objective(name, minimize)"
                )
        names = [o.name for o in objectives]
        if len(set(names)) != len(names):
            raise InvalidExperimentError(f"objectives: duplicate names in {names}")
        clash = sorted(set(names) & set(self.space.names))
        if clash:
            raise InvalidExperimentError(
                f"objectives: {clash} are also parameter names; give outcomes their own names"
            )
        object.__setattr__(self, "objectives", tuple(objectives))

    def _check_evaluate(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise InvalidExperimentError(f"evaluate: got {describe(fn)}; expected a function")
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return
        try:
            sig.bind(**dict.fromkeys(self.space.names))
        except TypeError as exc:
            raise InvalidExperimentError(
                f"evaluate: {getattr(fn, '__name__', fn)}{sig} cannot be called with the "
                f"parameters {list(self.space.names)} as keyword arguments ({exc})"
            ) from None
        keys = _returned_keys(fn)
        if keys is not None:
            missing = [o.name for o in self.objectives if o.name not in keys]
            if missing:
                raise InvalidExperimentError(
                    f"objectives: {missing} are not returned by evaluate "
                    f"{getattr(fn, '__name__', '')}(), which returns the keys {sorted(keys)}; "
                    "rename the objective or return it"
                )
            for c in self.outcome_constraints:
                if c.outcome not in keys:
                    raise InvalidExperimentError(
                        f"constraints: '{c}' is on outcome '{c.outcome}', which evaluate "
                        f"{getattr(fn, '__name__', '')}() does not return (it returns the keys "
                        f"{sorted(keys)}); constrain a returned outcome or return it"
                    )

    # ------------------------------------------------------------------ helpers
    @property
    def objective(self) -> Objective:
        """The first objective (the only one of a single-objective experiment)."""
        return self.objectives[0]

    @property
    def is_multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def modelled_outcomes(self) -> tuple[str, ...]:
        """Every outcome the strategy models: the objectives, then constrained outcomes."""
        names = [o.name for o in self.objectives]
        for c in self.outcome_constraints:
            if c.outcome not in names:
                names.append(c.outcome)
        return tuple(names)

    def is_feasible(self, values: Mapping[str, float]) -> bool:
        """Whether measured ``values`` satisfy every outcome constraint."""
        return all(c.holds(values) for c in self.outcome_constraints)

    @property
    def n_initial(self) -> int:
        """Size of the Sobol design: the strategy's ``Sobol(n)``, else ``initial_trials``,
        else :func:`bayesopt.steps.design_size` of the dimension."""
        steps = self.__dict__.get("strategy")
        if isinstance(steps, tuple) and steps and getattr(steps[0], "name", "") == "sobol":
            if steps[0].n is not None:
                return int(steps[0].n)
        elif isinstance(steps, tuple) and steps:
            return 0
        if self.initial_trials is not None:
            return self.initial_trials
        from bayesopt.steps import design_size

        return design_size(self.space.dim)

    def replace(self, **changes: Any) -> Experiment:
        """A copy with some settings changed (validated again); ``None`` values are ignored.

        A default strategy is built again for the copy (its design size may change)."""
        kwargs = {k: v for k, v in changes.items() if v is not None}
        if self.__dict__.get("_default_strategy") and "strategy" not in kwargs:
            kwargs["strategy"] = None
        return dataclasses.replace(self, **kwargs)

    def definition(self) -> dict[str, Any]:
        """What identifies the experiment in a store: space and objectives."""
        return definition_of(self)

    def settings(self) -> dict[str, Any]:
        """The run settings, as logged to MLflow."""
        return settings_of(self)

    def check_values(self, raw: object) -> dict[str, float]:
        """Turn what ``evaluate`` returned into ``{outcome: float}``, or refuse it.

        ``(mean, sem)`` pairs are accepted and reduced to their mean; use
        :meth:`check_observation` to keep the standard errors.

        Raises:
            InvalidOutcomeError: wrong type, a missing objective, or a value that is
                not a finite number.
        """
        return self.check_observation(raw)[0]

    def check_observation(self, raw: object) -> tuple[dict[str, float], dict[str, float]]:
        """Split what was measured into values and standard errors, or refuse it.

        Args:
            raw: ``{outcome: value}`` where a value is a number or a ``(mean, sem)``
                pair (a measurement with its standard error), or one number when the
                experiment has one objective.

        Returns:
            ``(values, sems)``: every outcome's value, and the standard error of
            those measured with one.

        Raises:
            InvalidOutcomeError: wrong type, a missing objective or constrained outcome,
                a value that is not a finite number or lies outside ``outcome_bounds``,
                or a standard error that is negative or not finite.
        """
        if _is_number(raw) and len(self.objectives) == 1:
            raw = {self.objective.name: raw}
        if isinstance(raw, tuple) and len(self.objectives) == 1:
            raw = {self.objective.name: raw}
        if not isinstance(raw, Mapping):
            raise InvalidOutcomeError(
                f"values: got {describe(raw)}; expected a dict such as "
                f"{{'{self.objective.name}': 1.23}} or {{'{self.objective.name}': (1.23, 0.05)}}"
            )
        missing = [o.name for o in self.objectives if o.name not in raw]
        if missing:
            raise InvalidOutcomeError(
                f"values: missing objective(s) {missing}; got keys {sorted(map(str, raw))}"
            )
        missing = [c.outcome for c in self.outcome_constraints if c.outcome not in raw]
        if missing:
            raise InvalidOutcomeError(
                f"values: missing constrained outcome(s) {sorted(set(missing))} (constraints "
                f"{[str(c) for c in self.outcome_constraints]}); got keys {sorted(map(str, raw))}"
            )
        values: dict[str, float] = {}
        sems: dict[str, float] = {}
        for key, value in raw.items():
            name = str(key)
            if isinstance(value, tuple | list) and not isinstance(value, str):
                if len(value) != 2:
                    raise InvalidOutcomeError(
                        f"values: '{name}' = {describe(value)} is not a number or a "
                        "(mean, sem) pair"
                    )
                value, sem = value
                if not _is_number(sem) or not math.isfinite(float(sem)) or float(sem) < 0:
                    raise InvalidOutcomeError(
                        f"values: '{name}' has sem {describe(sem)}; the standard error must "
                        "be a finite number >= 0"
                    )
                sems[name] = float(sem)
            if not _is_number(value):
                raise InvalidOutcomeError(f"values: '{name}' = {describe(value)} is not a number")
            number = float(value)
            if not math.isfinite(number):
                raise InvalidOutcomeError(
                    f"values: '{name}' = {describe(value)} is not a finite number"
                )
            if name in self.outcome_bounds:
                low, high = self.outcome_bounds[name]
                if not low <= number <= high:
                    raise InvalidOutcomeError(
                        f"values: '{name}' = {number:g} is outside its range [{low:g}, {high:g}] "
                        "(outcome_bounds)"
                    )
            values[name] = number
        return values, sems

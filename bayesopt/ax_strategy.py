"""Ax's own strategy (``ax.api.Client``) as the decider of the points.

Everything else stays this project's: the trial store keeps the trials, the flow
runs them, MLflow logs them. :class:`AxDecider` only makes the store's trials known
to an Ax ``Client`` and asks it for the next points:

- completed trials are attached and completed with their values (and standard
  errors, as Ax's ``(mean, sem)`` pairs, where they were measured);
- failed trials are attached and marked failed;
- pending and running trials are attached and left running, so that Ax treats
  them as pending points;
- abandoned trials are left out.

The ``Client`` lives as long as the decider: each call attaches only what is new
and completes in Ax what has finished since. A process without one (after a
restart) replays the store into a fresh ``Client``; Ax's own seeded Sobol design
then continues where it stood.

Ax 1.3's API, as this module uses it:

- a :class:`~bayesopt.space.Fixed` parameter is a one-value
  ``ChoiceParameterConfig`` (Ax makes it a ``FixedParameter``); Ax refuses fixed
  parameters in parameter constraints, so their terms move into the bound;
- parameter constraints are ``<=`` and ``>=`` only: the API parses every
  constraint as an inequality, so an equality is refused when the decider is built;
- objectives are one string (``"-cost, yield"``); the thresholds of several
  objectives are outcome constraints on them (``"cost <= 10"``), which Ax turns
  into objective thresholds. An outcome constraint on an objective goes to a
  copy of that objective's metric, so that it stays a constraint;
- names are parsed by SymPy: a parameter or outcome whose name SymPy would read
  as something else (``beta``, ``E``, ``yield``, ``val-loss``) gets a plain
  alias in Ax, and back.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import keyword
import logging
import math
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bayesopt.errors import BayesoptError, InvalidExperimentError, describe
from bayesopt.space import Choice, ChoiceValue, Fixed, Float, Int, LinearConstraint
from bayesopt.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from ax.api import Client
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    from bayesopt.experiment import Experiment

#: The distribution that provides ``ax.api``.
AX_DISTRIBUTION = "ax-platform"

_INSTALL_HINT = (
    "strategy: 'ax' needs the ax-platform package, which is not installed; install the "
    "project's 'ax' extra: pip install -e '.[ax]'"
)

#: The logger that reports at INFO while ``ax`` is imported.
_IMPORT_LOGGER = "ax.storage.sqa_store.with_db_settings_base"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

AxParameterType = Literal["float", "int", "str", "bool"]
#: The kinds of parameter Ax's Client takes.
AxParameter = Float | Int | Choice | Fixed

#: A discrete space up to this many points is counted before Ax is asked for more.
_MAX_COUNTED_POINTS = 20_000


class SearchSpaceExhaustedError(BayesoptError, RuntimeError):
    """Ax has no new point to try: every point of a discrete space has been tried."""


def ax_available() -> bool:
    """Whether ax-platform is installed (checked without importing it, which is slow)."""
    try:
        importlib.metadata.version(AX_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False
    return importlib.util.find_spec("ax") is not None


def require_ax() -> None:
    """Refuse the ``"ax"`` strategy where ax-platform is not installed.

    Raises:
        InvalidExperimentError: ax-platform is not installed.
    """
    if not ax_available():
        raise InvalidExperimentError(_INSTALL_HINT)


def _import_ax() -> None:
    """Import ``ax.api`` without the INFO line Ax logs while it is imported."""
    quiet = logging.getLogger(_IMPORT_LOGGER)
    was = quiet.disabled
    quiet.disabled = True
    try:
        import ax.api  # noqa: F401
    finally:
        quiet.disabled = was


# --------------------------------------------------------------------- logging
_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: list[tuple[logging.Logger | logging.Handler, int]] = []


@contextmanager
def quiet_ax() -> Iterator[None]:
    """Hold Ax's loggers (and the handler Ax installs on its root logger) at WARNING.

    Ax sets INFO on each of its loggers and logs every trial it creates or completes;
    within this context only warnings and errors come through. Nested and concurrent
    uses are counted, so the levels are restored once, when the last one ends.
    """
    global _quiet_depth
    with _quiet_lock:
        if _quiet_depth == 0:
            root = logging.getLogger("ax")
            targets: list[logging.Logger | logging.Handler] = [root, *root.handlers]
            targets += [
                lg
                for name, lg in logging.Logger.manager.loggerDict.items()
                if isinstance(lg, logging.Logger) and name.startswith("ax.")
            ]
            for obj in targets:
                _quiet_saved.append((obj, obj.level))
                if obj.level < logging.WARNING:
                    obj.setLevel(logging.WARNING)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for obj, level in _quiet_saved:
                    obj.setLevel(level)
                _quiet_saved.clear()


# --------------------------------------------------------------- generator name
def ax_generator_name(client: Client, trial_index: int) -> str:
    """The Ax generation node that produced a trial.

    Ax 1.3 records it on the trial's generator run (``_generation_node_name``, not
    public API): ``"CenterOfSearchSpace"`` for the first point, ``"Sobol"`` for the
    initial design, ``"MBM"`` for the model-based steps. A trial without it (one
    attached from outside) gives its generation method, such as ``"Manual"``.

    Args:
        client: The Ax client that holds the trial.
        trial_index: The trial's index in Ax.
    """
    trial = client._experiment.trials[trial_index]
    run = getattr(trial, "generator_run", None)
    name = getattr(run, "_generation_node_name", None) if run is not None else None
    if isinstance(name, str) and name:
        return name
    return str(trial.generation_method_str)


@dataclass(frozen=True)
class AxSuggestion:
    """One point Ax chose.

    Attributes:
        params: Parameter name -> value, in this project's names and types, fixed
            parameters included.
        node: The Ax generation node that chose it (``"Sobol"``, ``"MBM"``, ...).
        ax_index: The index of its trial in Ax.
    """

    params: dict[str, Any]
    node: str
    ax_index: int

    @property
    def generator(self) -> str:
        """The node as the store records a generator: ``"ax:MBM"``."""
        return f"ax:{self.node}"


# ------------------------------------------------------------------ the decider
def _number(value: float) -> str:
    """A float as a plain decimal (no exponent, which Ax's name sanitizer could split)."""
    import numpy as np

    return str(np.format_float_positional(float(value), unique=True, trim="-"))


def _choice_encoding(values: Sequence[ChoiceValue]) -> tuple[AxParameterType, list[Any]]:
    """How Ax holds a list of choice values: a parameter type and the values in it.

    Values of one kind keep their type (ints and floats mixed become floats); values
    of mixed kinds (``[1, "a"]``) become their ``repr`` strings.
    """
    if all(isinstance(v, bool) for v in values):
        return "bool", list(values)
    if all(isinstance(v, str) for v in values):
        return "str", list(values)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int", list(values)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "float", [float(v) for v in values]
    return "str", [repr(v) for v in values]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b) and type(a) is type(b)


def check_ax_experiment(experiment: Experiment) -> None:
    """Refuse, when the experiment is built, what Ax's Client cannot take.

    Raises:
        InvalidExperimentError: ax-platform is not installed, an equality constraint,
            or a parameter kind other than Float, Int, Choice and Fixed.
    """
    require_ax()
    if getattr(experiment, "learns", False):
        raise InvalidExperimentError(
            f"strategy: 'ax' optimizes, and goal={experiment.goal!r} learns the response; "
            "use the default strategy for a learning goal"
        )
    for c in experiment.space.constraints:
        if c.op == "==":
            raise InvalidExperimentError(
                f"constraints: '{c}' is an equality, and strategy 'ax' (Ax's "
                "Client) takes only '<=' and '>=' parameter constraints; use the "
                "default strategy, or drop one of its parameters and bound the rest "
                "(for 'a + b + c == 1': c = 1 - a - b with 'a + b <= 1')"
            )
    for p in experiment.space.parameters:
        if not isinstance(p, Float | Int | Choice | Fixed):
            raise InvalidExperimentError(
                f"parameters: '{p.name}' is a {type(p).__name__}, and strategy 'ax' (Ax's "
                "Client) takes Float, Int, Choice and Fixed parameters; use the default "
                "strategy for it"
            )


class AxDecider:
    """Ask Ax's own strategy for the next points of an experiment.

    Args:
        experiment: The experiment; its parameters, parameter constraints,
            objectives (with their thresholds when there are several) and outcome
            constraints are handed to Ax. ``initial_trials``, when set, is Ax's
            initialization budget; otherwise Ax sizes it (5, the centre included).
        seed: Ax's ``random_seed`` and the seed of its Sobol design.

    Raises:
        InvalidExperimentError: ax-platform is not installed, or the experiment has
            something Ax's Client cannot take (an equality constraint, a parameter
            other than Float, Int, Choice and Fixed), or Ax refused its configuration.

    Examples:
        >>> from bayesopt import Experiment, Float, Objective
        >>> exp = Experiment(name="q", parameters=[Float("x", 0.0, 1.0)],
        ...                  objectives=[Objective("y")])
        >>> decider = AxDecider(exp, seed=0)  # doctest: +SKIP
        >>> decider.suggest([], 2)  # doctest: +SKIP
        [{'x': 0.5}, {'x': 0.4751...}]
    """

    def __init__(self, experiment: Experiment, seed: int | None = None) -> None:
        check_ax_experiment(experiment)
        self._parameters: tuple[AxParameter, ...] = tuple(
            p for p in experiment.space.parameters if isinstance(p, Float | Int | Choice | Fixed)
        )
        self.experiment = experiment
        self.seed = seed
        self._lock = threading.Lock()
        _import_ax()
        with quiet_ax():
            self._param_names = self._aliases([p.name for p in self._parameters], "p")
            self._build_metrics()
            self._reset()

    # ------------------------------------------------------------- names
    @staticmethod
    def _safe_name(name: str) -> bool:
        """Whether Ax's SymPy parser reads ``name`` as itself."""
        from ax.utils.common.string_utils import unsanitize_name
        from ax.utils.common.sympy import extract_coefficient_dict_from_inequality

        if not _IDENTIFIER.match(name) or keyword.iskeyword(name) or "__" in name:
            return False
        try:
            coefs = extract_coefficient_dict_from_inequality(f"{name} <= 1")
        except Exception:
            return False
        symbols = [unsanitize_name(str(k)) for k in coefs if k.is_symbol]
        return symbols == [name]

    def _aliases(self, names: Sequence[str], prefix: str) -> dict[str, str]:
        """Name -> its name in Ax: itself where Ax parses it as itself, else an alias."""
        taken = set(names)
        out: dict[str, str] = {}
        for i, name in enumerate(names):
            if self._safe_name(name):
                out[name] = name
                continue
            alias, k = f"bo_{prefix}{i}", 0
            while alias in taken:
                k += 1
                alias = f"bo_{prefix}{i}_{k}"
            taken.add(alias)
            out[name] = alias
        return out

    def _build_metrics(self) -> None:
        """Ax's objective and outcome-constraint strings, and the metrics each outcome feeds."""
        exp = self.experiment
        outcomes = list(exp.modelled_outcomes)
        objectives = {o.name for o in exp.objectives}
        # An outcome constraint on an objective constrains a copy of its metric: Ax
        # refuses it on the objective itself (one objective) or makes it a threshold.
        copies = [c.outcome for c in exp.outcome_constraints if c.outcome in objectives]
        copy_keys = [f"{name} (constraint)" for name in dict.fromkeys(copies)]
        names = self._aliases([*outcomes, *copy_keys], "m")
        self._metrics: dict[str, list[str]] = {name: [names[name]] for name in outcomes}
        for name, key in zip(dict.fromkeys(copies), copy_keys, strict=True):
            self._metrics[name].append(names[key])
        self._objective = ", ".join(
            ("-" if o.minimize else "") + names[o.name] for o in exp.objectives
        )
        constraints: list[str] = []
        if exp.is_multi_objective:
            for o in exp.objectives:
                if o.threshold is not None:
                    op = "<=" if o.minimize else ">="
                    constraints.append(f"{names[o.name]} {op} {_number(o.threshold)}")
        for c in exp.outcome_constraints:
            metric = self._metrics[c.outcome][-1]
            constraints.append(f"{metric} {c.op} {_number(c.bound)}")
        self._outcome_constraints = constraints

    # ------------------------------------------------------------- search space
    def _parameter_configs(self) -> list[RangeParameterConfig | ChoiceParameterConfig]:
        from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

        configs: list[RangeParameterConfig | ChoiceParameterConfig] = []
        self._choice_values: dict[str, list[Any]] = {}
        for p in self._parameters:
            name = self._param_names[p.name]
            if isinstance(p, Float | Int):
                configs.append(
                    RangeParameterConfig(
                        name=name,
                        bounds=(p.low, p.high),
                        parameter_type="float" if isinstance(p, Float) else "int",
                        scaling="log" if p.log else "linear",
                    )
                )
                continue
            given = list(p.values) if isinstance(p, Choice) else [p.value]
            kind, values = _choice_encoding(given)
            self._choice_values[p.name] = values
            configs.append(
                ChoiceParameterConfig(
                    name=name,
                    values=values,
                    parameter_type=kind,
                    is_ordered=p.ordered if isinstance(p, Choice) else None,
                )
            )
        return configs

    def _parameter_constraints(self) -> list[str]:
        """Each inequality as Ax's string, with fixed parameters' terms in the bound."""
        out = []
        for c in self.experiment.space.constraints:
            terms, bound = self._constraint_terms(c)
            if terms:
                lhs = " + ".join(f"{_number(coef)}*{name}" for name, coef in terms)
                out.append(f"{lhs} {c.op} {_number(bound)}")
        return out

    def _constraint_terms(self, c: LinearConstraint) -> tuple[list[tuple[str, float]], float]:
        params = {p.name: p for p in self._parameters}
        terms: list[tuple[str, float]] = []
        bound = float(c.bound)
        for name, coef in c.coefficients.items():
            p = params[name]
            if isinstance(p, Fixed):
                bound -= coef * float(p.value)
            elif coef != 0.0:
                terms.append((self._param_names[name], coef))
        return terms, bound

    # ------------------------------------------------------------- the client
    def _reset(self) -> None:
        """A fresh, configured Ax client that knows no trial yet."""
        from ax.api import Client

        exp = self.experiment
        client = Client(random_seed=self.seed)
        try:
            client.configure_experiment(
                parameters=self._parameter_configs(),
                parameter_constraints=self._parameter_constraints() or None,
                name=exp.name,
            )
            client.configure_optimization(
                objective=self._objective,
                outcome_constraints=self._outcome_constraints or None,
            )
            client.configure_generation_strategy(
                initialization_budget=exp.initial_trials,
                initialization_random_seed=self.seed,
                # Keep proposing Sobol points while the first ones are still being
                # evaluated, rather than returning fewer points than asked for.
                allow_exceeding_initialization_budget=True,
            )
        except InvalidExperimentError:
            raise
        except Exception as exc:
            raise InvalidExperimentError(
                f"strategy: Ax ({AX_DISTRIBUTION} {importlib.metadata.version(AX_DISTRIBUTION)}) "
                f"refused the experiment '{exp.name}': {exc}"
            ) from exc
        self._client = client
        self._index: dict[int, int] = {}
        self._told: dict[int, TrialStatus] = {}
        self._unclaimed: dict[int, dict[str, Any]] = {}

    @property
    def client(self) -> Client:
        """The Ax client (its experiment holds every trial Ax knows)."""
        return self._client

    @property
    def trial_indices(self) -> dict[int, int]:
        """Store trial id -> index of its trial in Ax, for the trials Ax knows."""
        return dict(self._index)

    # ------------------------------------------------------------- conversion
    def to_ax(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A point in Ax's names and types (fixed parameters at their values)."""
        out: dict[str, Any] = {}
        for p in self._parameters:
            name = self._param_names[p.name]
            if isinstance(p, Fixed):
                out[name] = self._choice_values[p.name][0]
            elif isinstance(p, Choice):
                out[name] = self._choice_values[p.name][p.values.index(p.validate(params[p.name]))]
            elif isinstance(p, Int):
                out[name] = round(float(params[p.name]))
            else:
                out[name] = float(params[p.name])
        return out

    def from_ax(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A point Ax chose, in this project's names and types."""
        out: dict[str, Any] = {}
        for p in self._parameters:
            if isinstance(p, Fixed):
                out[p.name] = p.value
                continue
            value = params[self._param_names[p.name]]
            if isinstance(p, Choice):
                values = self._choice_values[p.name]
                match = [i for i, v in enumerate(values) if _same(v, value)]
                if not match:
                    raise InvalidExperimentError(
                        f"strategy 'ax': Ax proposed {describe(value)} for parameter "
                        f"'{p.name}', not one of its values {list(p.values)}"
                    )
                out[p.name] = p.values[match[0]]
            elif isinstance(p, Int):
                out[p.name] = int(min(max(round(float(value)), p.low), p.high))
            else:
                out[p.name] = min(max(float(value), p.low), p.high)
        return out

    def _data(self, trial: Trial) -> dict[str, float | tuple[float, float]]:
        """A completed trial's modelled outcomes as Ax's raw data."""
        values, sems = trial.values or {}, trial.sems or {}
        out: dict[str, float | tuple[float, float]] = {}
        for outcome, metrics in self._metrics.items():
            if outcome not in values:
                continue
            mean = float(values[outcome])
            sem = sems.get(outcome)
            for metric in metrics:
                out[metric] = (mean, float(sem)) if sem is not None else mean
        return out

    # ------------------------------------------------------------- syncing
    def _attach(self, params: dict[str, Any]) -> int:
        """Attach a point as a running trial; one that breaks a parameter constraint
        (imported without the check) is attached without Ax's membership check."""
        try:
            return int(self._client.attach_trial(parameters=params))
        except ValueError as exc:
            if "constraint" not in str(exc):
                raise
        from ax.core.arm import Arm

        trial = self._client._experiment.new_trial().add_arm(Arm(parameters=params))
        trial.mark_running(no_runner_required=True)
        return int(trial.index)

    def _claim(self, params: dict[str, Any]) -> int | None:
        """The index of an unclaimed suggestion of Ax with these parameters, if any."""
        for index, proposed in self._unclaimed.items():
            if proposed.keys() == params.keys() and all(
                _same(proposed[k], params[k]) for k in params
            ):
                del self._unclaimed[index]
                return index
        return None

    def _tell(self, trial: Trial) -> None:
        """Bring Ax's trial up to the store's status, where it has moved on."""
        index = self._index[trial.id]
        if self._told[trial.id] != TrialStatus.RUNNING or trial.status.is_active:
            return
        client = self._client
        if trial.status == TrialStatus.COMPLETED and (data := self._data(trial)):
            client.complete_trial(trial_index=index, raw_data=data)
            self._told[trial.id] = TrialStatus.COMPLETED
        elif trial.status == TrialStatus.ABANDONED:
            client.mark_trial_abandoned(trial_index=index)
            self._told[trial.id] = TrialStatus.ABANDONED
        else:  # failed, or completed without any modelled outcome
            client.mark_trial_failed(trial_index=index, failed_reason=trial.failure_reason)
            self._told[trial.id] = TrialStatus.FAILED

    def _sync(self, trials: Sequence[Trial]) -> None:
        """Make every trial of the store known to Ax, in the order of their ids."""
        for trial in sorted(trials, key=lambda t: t.id):
            if trial.id not in self._index:
                params = self.to_ax(trial.params)
                index = self._claim(params)
                if index is None:
                    if trial.status == TrialStatus.ABANDONED:
                        continue
                    index = self._attach(params)
                self._index[trial.id] = index
                self._told[trial.id] = TrialStatus.RUNNING
            self._tell(trial)
        # Suggestions that did not become trials of the store were given up.
        for index in self._unclaimed:
            self._client.mark_trial_abandoned(trial_index=index)
        self._unclaimed.clear()

    # ------------------------------------------------------------- deciding
    def suggest(
        self, trials: Sequence[Trial], n: int, fixed: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The next ``n`` points, as Ax's strategy chooses them.

        Args:
            trials: Every trial of the experiment in the store, including those created
                from earlier suggestions of this decider: a suggestion that is not among
                them by the next call counts as given up (abandoned in Ax).
            n: How many points.
            fixed: Parameters held at given values (the context), as Ax's
                ``fixed_parameters``. Ax's centre point ignores them, so they are set
                on every point returned.

        Returns:
            ``n`` parameterizations in this project's names and types, fixed
            parameters included (fewer only where Ax cannot generate more).
        """
        return [s.params for s in self.propose(trials, n, fixed=fixed)]

    def propose(
        self, trials: Sequence[Trial], n: int, fixed: Mapping[str, Any] | None = None
    ) -> list[AxSuggestion]:
        """As :meth:`suggest`, with the Ax generation node and trial index of each point."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n: got {n!r}; expected an integer >= 0")
        with self._lock, quiet_ax():
            try:
                return self._propose(trials, n, fixed)
            except SearchSpaceExhaustedError:
                raise  # raised before Ax changed anything
            except BaseException:
                # Whatever Ax holds now may be half-updated: start afresh next time,
                # replaying the store.
                self._reset()
                raise

    def _propose(
        self, trials: Sequence[Trial], n: int, fixed: Mapping[str, Any] | None
    ) -> list[AxSuggestion]:
        from ax.exceptions.core import SearchSpaceExhausted
        from ax.exceptions.generation_strategy import GenerationStrategyRepeatedPoints

        self._sync(trials)
        fixed_ax = None
        if fixed:
            self.experiment.space.fixed_columns(fixed)  # refuses a bad context, says why
            full = self.to_ax({**self._any_point(), **fixed})
            fixed_ax = {self._param_names[k]: full[self._param_names[k]] for k in fixed}
        left = self._points_left(fixed)
        if left is not None and left < n:
            if left == 0:
                raise SearchSpaceExhaustedError(
                    f"strategy 'ax': every point of the search space"
                    f"{' with ' + repr(dict(fixed)) if fixed else ''} has been tried"
                )
            n = left
        out: list[AxSuggestion] = []
        for _ in range(max(n, 1)):
            if len(out) >= n:
                break
            try:
                got = self._client.get_next_trials(
                    max_trials=n - len(out), fixed_parameters=fixed_ax
                )
            except (SearchSpaceExhausted, GenerationStrategyRepeatedPoints) as exc:
                if out:
                    break
                raise SearchSpaceExhaustedError(
                    f"strategy 'ax': Ax finds no new point to try ({exc})"
                ) from exc
            if not got:
                break
            for index in sorted(got):
                params = dict(got[index])
                self._unclaimed[index] = params
                point = self.from_ax(params)
                if fixed:
                    # Ax's first point (the centre) ignores the context; a point whose
                    # context is set here differs from Ax's trial, which the next call
                    # then abandons, attaching the stored point instead.
                    point.update(
                        self.experiment.space.validate({**point, **fixed}, constraints=False)
                    )
                out.append(
                    AxSuggestion(
                        params=point,
                        node=ax_generator_name(self._client, index),
                        ax_index=index,
                    )
                )
        return out

    def _points_left(self, fixed: Mapping[str, Any] | None) -> int | None:
        """How many points of a small discrete space (within the context) Ax has not
        tried yet; ``None`` for a space with a float parameter or too many points.

        Ax finds out that a discrete space is used up only after a long rejection
        sampling; counting first spares that wait.
        """
        space, fixed = self.experiment.space, fixed or {}
        axes: list[list[Any]] = []
        size = 1
        for p in self._parameters:
            if p.name in fixed:
                axes.append([p.validate(fixed[p.name])])
            elif isinstance(p, Fixed):
                axes.append([p.value])
            elif isinstance(p, Choice):
                axes.append(list(p.values))
            elif isinstance(p, Int):
                axes.append(list(range(p.low, p.high + 1)))
            else:
                return None
            size *= len(axes[-1])
            if size > _MAX_COUNTED_POINTS:
                return None
        names = [p.name for p in self._parameters]
        tried = {
            tuple(sorted(arm.parameters.items()))
            for arm in self._client._experiment.arms_by_signature_for_deduplication.values()
        }
        left = 0
        for values in itertools.product(*axes):
            point = dict(zip(names, values, strict=True))
            if all(c.holds(point) for c in space.constraints):
                left += tuple(sorted(self.to_ax(point).items())) not in tried
        return left

    def _any_point(self) -> dict[str, Any]:
        """Some valid value of every parameter (filled in around a partial context)."""
        out: dict[str, Any] = {}
        for p in self._parameters:
            if isinstance(p, Fixed):
                out[p.name] = p.value
            elif isinstance(p, Choice):
                out[p.name] = p.values[0]
            else:
                out[p.name] = p.low
        return out

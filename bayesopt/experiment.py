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

from bayesopt.errors import InvalidExperimentError, InvalidOutcomeError, describe
from bayesopt.space import LinearConstraint, Parameter, Space

#: Acquisition functions the strategy can use, by name.
ACQUISITIONS = ("qLogNEI", "qLogEI", "qUCB")

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
    """An outcome to minimize (the default) or maximize."""

    name: str
    minimize: bool = True

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


def _label(value: object) -> str:
    """A short readable name for an option value that is not a plain scalar."""
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if name:
        return f"{getattr(value, '__module__', '')}.{name}".lstrip(".")
    return repr(value)[:200]


def _is_nested_def(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef)


@dataclass(frozen=True)
class Experiment:
    """A search space, objectives and (optionally) a function that evaluates a point.

    Args:
        name: Identifies the experiment in the store and in MLflow.
        parameters: The parameters, as ``Float``, ``Int``, ``Choice`` and ``Fixed``.
        objectives: What is measured and wanted; one objective for now.
        constraints: Linear constraints over float and integer parameters.
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
        acquisition: ``"qLogNEI"`` (default), ``"qLogEI"`` or ``"qUCB"``.
        initial_trials: Size of the Sobol design; ``None`` sizes it from the dimension.
        timeout: Seconds an evaluation may take before its trial fails.
        retries: How often a raising evaluation is retried before its trial fails.
        retry_delay: Seconds before the first retry; doubles on each further one.
        storage: Default SQLAlchemy URL of the trial store for the CLI.
        seed: Seed of the Sobol design and the model fits.

    Example:
        >>> from bayesopt import Experiment, Float, Objective
        >>> exp = Experiment(name="quad", parameters=[Float("x", -1.0, 1.0)],
        ...                  objectives=[Objective("y")])
        >>> exp.space.dim
        1
    """

    name: str
    parameters: Sequence[Parameter]
    objectives: Sequence[Objective]
    constraints: Sequence[LinearConstraint] = ()
    evaluate: Callable[..., Mapping[str, float] | float] | None = None
    budget: int = 30
    batch_size: int = 1
    surrogate: str = "gp"
    surrogate_options: Mapping[str, Any] = field(default_factory=dict)
    cv_folds: int = 5
    acquisition: str = "qLogNEI"
    initial_trials: int | None = None
    timeout: float | None = None
    retries: int = 0
    retry_delay: float = 1.0
    storage: str | None = None
    seed: int | None = None
    space: Space = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise InvalidExperimentError(
                f"name: got {describe(self.name)}; expected 1-200 letters, digits, '_', '.' or '-'"
            )
        object.__setattr__(self, "space", Space(self.parameters, self.constraints))
        object.__setattr__(self, "parameters", self.space.parameters)
        object.__setattr__(self, "constraints", self.space.constraints)
        self._check_objectives()
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
        _positive_int("cv_folds", self.cv_folds, minimum=0)
        if self.cv_folds == 1:
            raise InvalidExperimentError("cv_folds: got 1; expected 0 (off) or at least 2")
        if self.acquisition not in ACQUISITIONS:
            raise InvalidExperimentError(
                f"acquisition: got {describe(self.acquisition)}; "
                f"valid names are {list(ACQUISITIONS)}"
            )
        if self.seed is not None:
            _positive_int("seed", self.seed, minimum=0)
        if self.evaluate is not None:
            self._check_evaluate(self.evaluate)

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
        if len(objectives) > 1:
            raise InvalidExperimentError(
                f"objectives: got {len(objectives)} ({names}); this version optimizes one "
                "objective. Track the others as extra outcomes returned by evaluate"
            )
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

    # ------------------------------------------------------------------ helpers
    @property
    def objective(self) -> Objective:
        return self.objectives[0]

    @property
    def n_initial(self) -> int:
        """Size of the Sobol design: ``initial_trials``, or ``max(5, 2 d)``."""
        if self.initial_trials is not None:
            return self.initial_trials
        return max(5, 2 * self.space.dim)

    def replace(self, **changes: Any) -> Experiment:
        """A copy with some settings changed (validated again); ``None`` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def definition(self) -> dict[str, Any]:
        """What identifies the experiment in a store: space and objectives."""
        return {
            "space": self.space.describe(),
            "objectives": [{"name": o.name, "minimize": o.minimize} for o in self.objectives],
        }

    def settings(self) -> dict[str, Any]:
        """The run settings, as logged to MLflow."""
        return {
            "budget": self.budget,
            "batch_size": self.batch_size,
            "surrogate": self.surrogate,
            **{
                f"surrogate.{k}": v if isinstance(v, int | float | str | bool) else _label(v)
                for k, v in self.surrogate_options.items()
            },
            "cv_folds": self.cv_folds,
            "acquisition": self.acquisition,
            "initial_trials": self.n_initial,
            "timeout": self.timeout,
            "retries": self.retries,
            "seed": self.seed,
            "dim": self.space.dim,
            "objective": self.objective.name,
            "minimize": self.objective.minimize,
        }

    def check_values(self, raw: object) -> dict[str, float]:
        """Turn what ``evaluate`` returned into ``{outcome: float}``, or refuse it.

        Raises:
            InvalidOutcomeError: wrong type, a missing objective, or a value that is
                not a finite number.
        """
        if _is_number(raw) and len(self.objectives) == 1:
            raw = {self.objective.name: raw}
        if not isinstance(raw, Mapping):
            raise InvalidOutcomeError(
                f"values: got {describe(raw)}; expected a dict such as "
                f"{{'{self.objective.name}': 1.23}}"
            )
        missing = [o.name for o in self.objectives if o.name not in raw]
        if missing:
            raise InvalidOutcomeError(
                f"values: missing objective(s) {missing}; got keys {sorted(map(str, raw))}"
            )
        out: dict[str, float] = {}
        for key, value in raw.items():
            if not _is_number(value):
                raise InvalidOutcomeError(f"values: '{key}' = {describe(value)} is not a number")
            number = float(value)
            if not math.isfinite(number):
                raise InvalidOutcomeError(
                    f"values: '{key}' = {describe(value)} is not a finite number"
                )
            out[str(key)] = number
        return out

"""The parameter kinds of a search space: :class:`Float`, :class:`Int`, :class:`Choice`,
:class:`Fixed` and :class:`Fidelity`, each with its unit-interval encoding.

They are public as :mod:`bayesopt.space` names (and from :mod:`bayesopt`); import them from
there. :class:`bayesopt.space.Space` puts them together, with the linear constraints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayesopt.errors import InvalidSpaceError, describe

ChoiceValue = str | int | float | bool

#: Integer parameters with more values than this are searched as continuous and rounded.
MAX_ENUMERATED_INTEGERS = 1000


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise InvalidSpaceError(
            f"parameter name: got {describe(name)}; a name must be a non-empty Python identifier "
            "such as 'learning_rate', because it becomes a keyword argument of evaluate"
        )
    return name


def _check_number(name: str, field_name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidSpaceError(
            f"parameter '{name}': {field_name}={describe(value)} is not a finite number"
        )
    return float(value)


def _is_plain_value(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


@dataclass(frozen=True)
class Float:
    """A real-valued parameter in ``[low, high]``, optionally searched on a log scale."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        low = _check_number(self.name, "low", self.low)
        high = _check_number(self.name, "high", self.high)
        if low >= high:
            raise InvalidSpaceError(
                f"parameter '{self.name}': low={self.low!r} must be below high={self.high!r}; "
                "use Fixed(name, value) for a parameter that does not change"
            )
        if not math.isfinite(high - low):
            raise InvalidSpaceError(
                f"parameter '{self.name}': the range [{self.low!r}, {self.high!r}] is too wide "
                "to represent (high - low overflows); use a narrower range or log=True"
            )
        if self.log and low <= 0:
            raise InvalidSpaceError(
                f"parameter '{self.name}': log=True needs low > 0, got low={self.low!r}; "
                "use a positive lower bound or log=False"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def to_unit(self, value: Any) -> float:
        if self.log:
            return (math.log(value) - math.log(self.low)) / (
                math.log(self.high) - math.log(self.low)
            )
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        return min(max(value, self.low), self.high)

    def validate(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise InvalidSpaceError(
                f"parameter '{self.name}': got {describe(value)}, expected a number in "
                f"[{self.low}, {self.high}]"
            )
        v = float(value)
        if not (self.low <= v <= self.high):
            raise InvalidSpaceError(
                f"parameter '{self.name}': {v!r} is outside [{self.low}, {self.high}]"
            )
        return v

    def grid(self) -> list[float] | None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Int:
    """An integer parameter in ``[low, high]`` (both included), optionally on a log scale."""

    name: str
    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        for field_name in ("low", "high"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InvalidSpaceError(
                    f"parameter '{self.name}': {field_name}={describe(value)} is not an integer"
                )
        if self.low >= self.high:
            raise InvalidSpaceError(
                f"parameter '{self.name}': low={self.low!r} must be below high={self.high!r}; "
                "use Fixed(name, value) for a parameter that does not change"
            )
        if self.log and self.low <= 0:
            raise InvalidSpaceError(
                f"parameter '{self.name}': log=True needs low >= 1, got low={self.low!r}"
            )
        object.__setattr__(self, "low", int(self.low))
        object.__setattr__(self, "high", int(self.high))

    def _scale(self, value: float) -> float:
        return math.log(value) if self.log else float(value)

    def to_unit(self, value: Any) -> float:
        lo, hi = self._scale(self.low), self._scale(self.high)
        return (self._scale(value) - lo) / (hi - lo)

    def from_unit(self, u: float) -> int:
        u = min(max(float(u), 0.0), 1.0)
        lo, hi = self._scale(self.low), self._scale(self.high)
        x = lo + u * (hi - lo)
        value = math.exp(x) if self.log else x
        if self.log:
            # Round to the integer that is nearest on the log scale.
            floor = max(math.floor(value), self.low)
            ceil = min(floor + 1, self.high)
            value = floor if abs(math.log(floor) - x) <= abs(math.log(ceil) - x) else ceil
        return int(min(max(round(value), self.low), self.high))

    def validate(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise InvalidSpaceError(
                f"parameter '{self.name}': got {describe(value)}, expected an integer in "
                f"[{self.low}, {self.high}]"
            )
        if float(value) != round(float(value)):
            raise InvalidSpaceError(f"parameter '{self.name}': {value!r} is not an integer")
        v = round(float(value))
        if not (self.low <= v <= self.high):
            raise InvalidSpaceError(
                f"parameter '{self.name}': {v!r} is outside [{self.low}, {self.high}]"
            )
        return v

    def grid(self) -> list[float] | None:
        if self.high - self.low + 1 > MAX_ENUMERATED_INTEGERS:
            return None
        return [self.to_unit(k) for k in range(self.low, self.high + 1)]

    def describe(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Choice:
    """One of a list of values; ``ordered=True`` when the order of the values means something."""

    name: str
    values: Sequence[ChoiceValue]
    ordered: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        if isinstance(self.values, str | bytes) or not isinstance(self.values, Sequence):
            raise InvalidSpaceError(
                f"parameter '{self.name}': values={describe(self.values)} must be a list of values"
            )
        values = tuple(self.values)
        if len(values) < 2:
            raise InvalidSpaceError(
                f"parameter '{self.name}': values={describe(values)} needs at least 2 values; "
                "use Fixed(name, value) for a single one"
            )
        for v in values:
            if not _is_plain_value(v):
                raise InvalidSpaceError(
                    f"parameter '{self.name}': value {describe(v)} is not a str, int, bool or "
                    "finite float"
                )
        if len(set(values)) != len(values):
            raise InvalidSpaceError(
                f"parameter '{self.name}': values={describe(values)} has duplicates"
            )
        object.__setattr__(self, "values", values)

    def to_unit(self, value: Any) -> float:
        return self.values.index(value) / (len(self.values) - 1)

    def from_unit(self, u: float) -> ChoiceValue:
        u = min(max(float(u), 0.0), 1.0)
        return self.values[round(u * (len(self.values) - 1))]

    def validate(self, value: Any) -> ChoiceValue:
        for v in self.values:
            if (v == value and type(v) is type(value)) or (
                isinstance(value, np.generic) and v == value.item()
            ):
                return v
        raise InvalidSpaceError(
            f"parameter '{self.name}': got {describe(value)}, valid values are {list(self.values)}"
        )

    def grid(self) -> list[float]:
        n = len(self.values)
        return [i / (n - 1) for i in range(n)]

    def describe(self) -> dict[str, Any]:
        return {"type": "choice", "values": list(self.values), "ordered": self.ordered}


@dataclass(frozen=True)
class Fixed:
    """A parameter held at one value; it is passed to ``evaluate`` but never searched."""

    name: str
    value: ChoiceValue

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not _is_plain_value(self.value):
            raise InvalidSpaceError(
                f"parameter '{self.name}': value {describe(self.value)} is not a str, int, bool "
                "or finite float"
            )

    def validate(self, value: Any) -> ChoiceValue:
        if value != self.value:
            raise InvalidSpaceError(
                f"parameter '{self.name}': is fixed at {self.value!r}, got {describe(value)}"
            )
        return self.value

    def describe(self) -> dict[str, Any]:
        return {"type": "fixed", "value": self.value}


@dataclass(frozen=True)
class Fidelity:
    """A parameter that sets how expensive and how accurate an evaluation is.

    Its value is passed to ``evaluate`` like any other (epochs of training, the
    fraction of the data used, the mesh of a simulation), but results count only
    at ``target``: :meth:`Optimizer.best` considers only trials evaluated there, and
    predictions are made there. The strategy evaluates at cheaper fidelities where
    that teaches it more per unit of cost (see :mod:`bayesopt.fidelity`). It takes
    one column of the encoded space, encoded like a :class:`Float` (an :class:`Int`
    with ``integer=True``); a space has at most one.

    Examples:
        >>> f = Fidelity("epochs", 1, 100, integer=True)
        >>> f.target, f.from_unit(f.target_unit)
        (100, 100)

    Args:
        name: The keyword argument of ``evaluate`` that receives it.
        low: The cheapest fidelity.
        high: The most expensive (and, for the model, most accurate) fidelity.
        target: The fidelity at which results count; ``high`` by default.
        log: Search it on a log scale (needs ``low > 0``).
        integer: Whether it takes integer values only (epochs, mesh cells).
    """

    name: str
    low: float
    high: float
    target: float = None  # type: ignore[assignment]  # None: high
    log: bool = False
    integer: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        for flag in ("log", "integer"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidSpaceError(
                    f"fidelity '{self.name}': {flag}={describe(getattr(self, flag))}; "
                    "expected True or False"
                )
        for bound in ("low", "high"):
            value = getattr(self, bound)
            integral = isinstance(value, int | np.integer) and not isinstance(value, bool)
            if self.integer and not integral:
                raise InvalidSpaceError(
                    f"fidelity '{self.name}': {bound}={describe(value)} is not an integer "
                    "(integer=True); give an integer or use integer=False"
                )
            _check_number(self.name, bound, value)
        if float(self.low) >= float(self.high):
            raise InvalidSpaceError(
                f"fidelity '{self.name}': low={self.low!r} must be below high={self.high!r}; a "
                "fidelity needs a cheaper value than its most accurate one (without one, use "
                "Fixed(name, value))"
            )
        base: Float | Int = (
            Int(self.name, int(self.low), int(self.high), log=self.log)
            if self.integer
            else Float(self.name, self.low, self.high, log=self.log)
        )
        object.__setattr__(self, "low", base.low)
        object.__setattr__(self, "high", base.high)
        object.__setattr__(self, "_base", base)
        target = self.high if self.target is None else self.target
        valid = (
            f"valid: {'an integer' if self.integer else 'a number'} in [{base.low}, {base.high}] "
            f"(default: high={base.high})"
        )
        if (
            isinstance(target, bool)
            or not isinstance(target, int | float | np.integer | np.floating)
            or not math.isfinite(float(target))
        ):
            raise InvalidSpaceError(
                f"fidelity '{self.name}': target={describe(target)} is not a finite number; {valid}"
            )
        if self.integer and float(target) != round(float(target)):
            raise InvalidSpaceError(
                f"fidelity '{self.name}': target={target!r} is not an integer; {valid}"
            )
        if not base.low <= float(target) <= base.high:
            raise InvalidSpaceError(
                f"fidelity '{self.name}': target={target!r} is outside [{base.low}, {base.high}]; "
                f"{valid}"
            )
        object.__setattr__(self, "target", base.validate(target))

    @property
    def target_unit(self) -> float:
        """The target in the unit scale of the encoded column."""
        return self.to_unit(self.target)

    def to_unit(self, value: Any) -> float:
        base: Float | Int = self.__dict__["_base"]
        return base.to_unit(value)

    def from_unit(self, u: float) -> float:
        """The fidelity at unit value ``u``; exactly ``target`` at its own unit value."""
        base: Float | Int = self.__dict__["_base"]
        if abs(float(u) - base.to_unit(self.target)) <= 1e-9:
            return self.target
        return base.from_unit(u)

    def validate(self, value: Any) -> float:
        base: Float | Int = self.__dict__["_base"]
        return base.validate(value)

    def grid(self) -> list[float] | None:
        base: Float | Int = self.__dict__["_base"]
        return base.grid()

    def describe(self) -> dict[str, Any]:
        return {
            "type": "fidelity",
            "low": self.low,
            "high": self.high,
            "target": self.target,
            "log": self.log,
            "integer": self.integer,
        }


Parameter = Float | Int | Choice | Fixed | Fidelity
Tunable = Float | Int | Choice | Fidelity

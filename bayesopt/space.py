"""The search space: parameters, linear constraints and the unit-cube encoding.

Every tunable parameter takes one column of the encoded space ``[0, 1]^d``:

- :class:`Float` maps ``[low, high]`` (or ``[log low, log high]``) linearly to ``[0, 1]``;
- :class:`Int` does the same and keeps a grid of the integer positions, so that the
  acquisition optimizer searches the integers only;
- :class:`Choice` puts its ``n`` values at ``0, 1/(n-1), ..., 1``; unordered choices
  are categorical columns (the model treats them with a categorical kernel),
  ordered ones are discrete columns;
- :class:`Fixed` takes no column: its value is added back when a point is decoded;
- :class:`Fidelity` (at most one) is encoded like a Float (an Int with ``integer=True``);
  it sets how expensive and how accurate an evaluation is (see :mod:`bayesopt.fidelity`).

Examples:
    >>> space = Space([
    ...     Float("lr", 1e-4, 1e-1, log=True), Int("depth", 1, 5), Choice("act", ["relu", "tanh"])
    ... ])
    >>> space.dim
    3
    >>> point = space.decode(space.encode({"lr": 1e-2, "depth": 3, "act": "tanh"}))
    >>> round(point["lr"], 6), point["depth"], point["act"]
    (0.01, 3, 'tanh')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import linprog

from bayesopt._parameters import (
    MAX_ENUMERATED_INTEGERS,
    Choice,
    ChoiceValue,
    Fidelity,
    Fixed,
    Float,
    Int,
    Parameter,
    Tunable,
    _check_number,
)
from bayesopt.errors import InvalidSpaceError, describe
from surrogates.base import Column

__all__ = [
    "MAX_ENUMERATED_INTEGERS",
    "Choice",
    "ChoiceValue",
    "Fidelity",
    "Fixed",
    "Float",
    "Int",
    "LinearConstraint",
    "Parameter",
    "Space",
    "Tunable",
]


@dataclass(frozen=True)
class LinearConstraint:
    """``sum(coefficients[name] * params[name]) <op> bound`` over float and integer parameters.

    ``op`` is ``"<="``, ``">="`` or ``"=="``. An equality (a mixture such as
    ``a + b + c == 1``) may name only :class:`Float` parameters on a linear scale:
    rounding an integer would break it.

    Examples:
        >>> LinearConstraint({"x1": 1.0, "x2": 1.0}, "<=", 10.0)
        LinearConstraint(coefficients={'x1': 1.0, 'x2': 1.0}, op='<=', bound=10.0)
        >>> LinearConstraint({"a": 1, "b": 1}, "==", 1).holds({"a": 0.25, "b": 0.75 + 1e-9})
        True
    """

    coefficients: Mapping[str, float]
    op: Literal["<=", ">=", "=="]
    bound: float

    def __post_init__(self) -> None:
        if not isinstance(self.coefficients, Mapping) or not self.coefficients:
            raise InvalidSpaceError(
                f"constraint coefficients: got {describe(self.coefficients)}; expected a non-empty "
                "dict of parameter name to coefficient"
            )
        if self.op not in ("<=", ">=", "=="):
            raise InvalidSpaceError(
                f"constraint op: got {describe(self.op)}; valid: '<=', '>=' or '=='"
            )
        coefs = {k: _check_number(k, "coefficient", v) for k, v in self.coefficients.items()}
        object.__setattr__(self, "coefficients", coefs)
        object.__setattr__(self, "bound", _check_number("constraint", "bound", self.bound))

    @property
    def tolerance(self) -> float:
        """Slack allowed for round-off, in the constraint's own units.

        ``1e-9 * max(1, |bound|)`` for an inequality (points on its boundary are
        computed exactly enough); ``1e-6 * max(1, |bound|)`` for an equality, which
        the acquisition optimizer (SLSQP) and the decoding meet only to their round-off.
        """
        scale = 1e-6 if self.op == "==" else 1e-9
        return scale * max(1.0, abs(self.bound))

    def holds(self, params: Mapping[str, Any]) -> bool:
        lhs = sum(c * float(params[k]) for k, c in self.coefficients.items())
        if self.op == "==":
            return abs(lhs - self.bound) <= self.tolerance
        if self.op == "<=":
            return lhs <= self.bound + self.tolerance
        return lhs >= self.bound - self.tolerance

    def __str__(self) -> str:
        lhs = " + ".join(f"{c:g}*{k}" for k, c in self.coefficients.items())
        return f"{lhs} {self.op} {self.bound:g}"


@dataclass(frozen=True)
class Space:
    """An ordered set of parameters with linear constraints, and its unit-cube encoding."""

    parameters: Sequence[Parameter]
    constraints: Sequence[LinearConstraint] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        params = tuple(self.parameters) if isinstance(self.parameters, Sequence) else ()
        if not params:
            raise InvalidSpaceError(
                f"parameters: got {describe(self.parameters)}; an experiment needs at least one "
                "parameter such as Float('x', 0.0, 1.0)"
            )
        for p in params:
            if not isinstance(p, Float | Int | Choice | Fixed | Fidelity):
                raise InvalidSpaceError(
                    f"parameters: got {describe(p)}; valid kinds are Float, Int, Choice, Fixed "
                    "and Fidelity"
                )
        fidelities = [p.name for p in params if isinstance(p, Fidelity)]
        if len(fidelities) > 1:
            raise InvalidSpaceError(
                f"parameters: {len(fidelities)} Fidelity parameters {fidelities}; a space takes "
                "at most one (make the others Float or Int parameters)"
            )
        names = [p.name for p in params]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidSpaceError(
                f"parameters: duplicate names {dupes}; each name must be unique"
            )
        if all(isinstance(p, Fixed) for p in params):
            raise InvalidSpaceError(
                "parameters: every parameter is Fixed; at least one must be searched"
            )
        if fidelities and all(isinstance(p, Fixed | Fidelity) for p in params):
            raise InvalidSpaceError(
                f"parameters: only the Fidelity '{fidelities[0]}' is searched; add the "
                "parameters whose best values it helps find (Float, Int or Choice)"
            )
        object.__setattr__(self, "parameters", params)
        object.__setattr__(self, "constraints", tuple(self.constraints))
        self._check_constraints()

    # ----------------------------------------------------------------- structure
    @property
    def tunable(self) -> tuple[Tunable, ...]:
        return tuple(p for p in self.parameters if not isinstance(p, Fixed))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def dim(self) -> int:
        """Number of columns of the encoded space."""
        return len(self.tunable)

    def columns(self) -> tuple[Column, ...]:
        """What each encoded column means in natural units (for surrogates that care)."""
        out = []
        for p in self.tunable:
            if isinstance(p, Choice):
                out.append(Column(p.name, 0.0, float(len(p.values) - 1), categorical=not p.ordered))
            else:
                out.append(Column(p.name, float(p.low), float(p.high), log=p.log))
        return tuple(out)

    @property
    def fidelity(self) -> Fidelity | None:
        """The :class:`Fidelity` parameter, or ``None`` when the space has none."""
        return next((p for p in self.parameters if isinstance(p, Fidelity)), None)

    @property
    def fidelity_column(self) -> int | None:
        """The encoded column of the :class:`Fidelity` parameter, or ``None``."""
        return next((i for i, p in enumerate(self.tunable) if isinstance(p, Fidelity)), None)

    @property
    def fidelity_target(self) -> float | None:
        """The fidelity's target in the unit scale of its column, or ``None``."""
        fidelity = self.fidelity
        return None if fidelity is None else fidelity.target_unit

    def __getitem__(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def discrete_dims(self) -> dict[int, list[float]]:
        """Encoded columns that take only the listed values (integers, ordered choices)."""
        out: dict[int, list[float]] = {}
        for i, p in enumerate(self.tunable):
            if (
                isinstance(p, Int)
                or (isinstance(p, Choice) and p.ordered)
                or (isinstance(p, Fidelity) and p.integer)
            ):
                grid = p.grid()
                if grid is not None:
                    out[i] = grid
        return out

    @property
    def cat_dims(self) -> dict[int, list[float]]:
        """Encoded columns of unordered choices, with the positions of their values."""
        return {
            i: p.grid()
            for i, p in enumerate(self.tunable)
            if isinstance(p, Choice) and not p.ordered
        }

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, stored with the experiment to detect a changed space."""
        return {
            "parameters": {p.name: p.describe() for p in self.parameters},
            "constraints": [str(c) for c in self.constraints],
        }

    # ------------------------------------------------------------------ encoding
    def validate(self, params: Mapping[str, Any], *, constraints: bool = True) -> dict[str, Any]:
        """Check a full point and return it with canonical Python types.

        Fixed parameters may be left out; they are filled in.

        Args:
            constraints: Also check the linear constraints.
        """
        if not isinstance(params, Mapping):
            raise InvalidSpaceError(f"params: got {describe(params)}; expected a dict")
        unknown = sorted(set(params) - set(self.names))
        if unknown:
            raise InvalidSpaceError(
                f"params: unknown parameter(s) {unknown}; valid names are {list(self.names)}"
            )
        out: dict[str, Any] = {}
        for p in self.parameters:
            if p.name not in params:
                if isinstance(p, Fixed):
                    out[p.name] = p.value
                    continue
                raise InvalidSpaceError(
                    f"params: missing parameter '{p.name}'; every point needs {list(self.names)}"
                )
            out[p.name] = p.validate(params[p.name])
        for c in self.constraints if constraints else ():
            if not c.holds(out):
                raise InvalidSpaceError(f"params: {out} violate the constraint {c}")
        return out

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Map a point to the unit cube: a ``d``-dim float64 array (constraints not checked)."""
        point = self.validate(params, constraints=False)
        return np.array([p.to_unit(point[p.name]) for p in self.tunable], dtype=np.float64)

    def decode(self, u: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Map a ``d``-dim unit-cube point back to parameter values (snapping discrete columns)."""
        arr = np.asarray(u, dtype=np.float64).reshape(-1)
        if arr.shape[0] != self.dim:
            raise InvalidSpaceError(
                f"point: expected {self.dim} encoded values, got {arr.shape[0]}"
            )
        it = iter(arr.tolist())
        out: dict[str, Any] = {}
        for p in self.parameters:
            out[p.name] = p.value if isinstance(p, Fixed) else p.from_unit(next(it))
        return out

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Round a ``n x d`` batch of encoded points onto the discrete values of each column."""
        rows = np.atleast_2d(np.asarray(u, dtype=np.float64))
        return np.stack([self.encode(self.decode(r)) for r in rows]) if len(rows) else rows

    # --------------------------------------------------------------- constraints
    def _constraint_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Constraints over the encoded columns: ``A_ub u <= b_ub`` and ``A_eq u = b_eq``.

        A row ``a u - b`` equals ``lhs - bound`` in the parameters' own units (negated
        for ``>=``), so a constraint's own tolerance applies to it unchanged.

        Returns:
            ``(A_ub, b_ub, A_eq, b_eq)``: a ``m x d`` and a ``m``-dim array for the ``m``
            inequalities, a ``k x d`` and a ``k``-dim array for the ``k`` equalities,
            each in the order of ``self.constraints``.
        """
        index = {p.name: i for i, p in enumerate(self.tunable)}
        ub_rows, ub_rhs, eq_rows, eq_rhs = [], [], [], []
        for c in self.constraints:
            a = np.zeros(self.dim)
            b = c.bound
            for name, coef in c.coefficients.items():
                p = self[name]
                if isinstance(p, Fixed):
                    b -= coef * float(p.value)
                    continue
                assert isinstance(p, Float | Int)
                a[index[name]] = coef * (p.high - p.low)
                b -= coef * p.low
            if c.op == "==":
                eq_rows.append(a)
                eq_rhs.append(b)
            else:
                sign = 1.0 if c.op == "<=" else -1.0
                ub_rows.append(sign * a)
                ub_rhs.append(sign * b)
        return (
            np.array(ub_rows).reshape(-1, self.dim),
            np.array(ub_rhs, dtype=np.float64),
            np.array(eq_rows).reshape(-1, self.dim),
            np.array(eq_rhs, dtype=np.float64),
        )

    def _solve_lp(
        self, objective: np.ndarray, bounds: Sequence[tuple[float, float]]
    ) -> float | None:
        """Minimum of ``objective @ u`` over the constrained space within ``bounds``
        (a ``d``-dim array and ``d`` column bounds), or ``None`` when nothing is feasible."""
        a_ub, b_ub, a_eq, b_eq = self._constraint_rows()
        res = linprog(
            objective,
            A_ub=a_ub if len(a_ub) else None,
            b_ub=b_ub if len(b_ub) else None,
            A_eq=a_eq if len(a_eq) else None,
            b_eq=b_eq if len(b_eq) else None,
            bounds=list(bounds),
        )
        return float(res.fun) if res.status == 0 else None

    def _check_constraints(self) -> None:
        if not self.constraints:
            return
        for c in self.constraints:
            if not isinstance(c, LinearConstraint):
                raise InvalidSpaceError(
                    f"constraints: got {describe(c)}; expected LinearConstraint(...)"
                )
            for name in c.coefficients:
                if name not in self.names:
                    raise InvalidSpaceError(
                        f"constraint {c}: unknown parameter '{name}'; valid names are "
                        f"{list(self.names)}"
                    )
                p = self[name]
                if isinstance(p, Fidelity):
                    raise InvalidSpaceError(
                        f"constraint {c}: parameter '{name}' is the Fidelity, which the strategy "
                        "sets; linear constraints apply to Float and Int parameters"
                    )
                if isinstance(p, Choice) or (isinstance(p, Fixed) and isinstance(p.value, str)):
                    raise InvalidSpaceError(
                        f"constraint {c}: parameter '{name}' is a {type(p).__name__}; linear "
                        "constraints apply to Float and Int parameters"
                    )
                if isinstance(p, Float | Int) and p.log:
                    raise InvalidSpaceError(
                        f"constraint {c}: parameter '{name}' is on a log scale, where a linear "
                        "constraint is not linear; use log=False for it"
                    )
                if c.op == "==" and isinstance(p, Int):
                    raise InvalidSpaceError(
                        f"constraint {c}: parameter '{name}' is an Int, and rounding an integer "
                        "breaks an equality; an equality constraint applies to Float "
                        "parameters only (use Float for it)"
                    )
        if self._solve_lp(np.zeros(self.dim), [(0.0, 1.0)] * self.dim) is None:
            raise InvalidSpaceError(
                "constraints: no point of the space satisfies all of "
                f"{[str(c) for c in self.constraints]} within the parameter bounds; "
                "loosen a bound or a constraint"
            )

    def botorch_inequalities(
        self, fixed: Mapping[int, float] | None = None
    ) -> list[tuple[list[int], list[float], float]]:
        """Inequalities in BoTorch's form ``sum(coef * u[idx]) >= rhs`` over the encoded columns.

        Args:
            fixed: Encoded column -> unit value of columns held fixed (see
                :meth:`fixed_columns`): their terms move into ``rhs``, and a constraint
                left with no free column is dropped.
        """
        a, b, _, _ = self._constraint_rows()
        return _sparse(-a, -b, fixed)

    def botorch_equalities(
        self, fixed: Mapping[int, float] | None = None
    ) -> list[tuple[list[int], list[float], float]]:
        """Equalities in BoTorch's form ``sum(coef * u[idx]) == rhs`` over the encoded columns.

        Examples:
            >>> space = Space([Float("a", 0, 1), Float("b", 0, 2)], [LinearConstraint(
            ...     {"a": 1.0, "b": 1.0}, "==", 1.0)])
            >>> space.botorch_equalities()
            [([0, 1], [1.0, 2.0], 1.0)]

        Args:
            fixed: As in :meth:`botorch_inequalities`.
        """
        _, _, a, b = self._constraint_rows()
        return _sparse(a, b, fixed)

    def is_feasible(self, u: np.ndarray) -> np.ndarray:
        """Which rows of a ``n x d`` encoded batch satisfy every constraint (a ``n`` bool array)."""
        rows = np.atleast_2d(u)
        if not self.constraints:
            return np.ones(len(rows), dtype=bool)
        a_ub, b_ub, a_eq, b_eq = self._constraint_rows()
        # The slack is in the constraint's own units, so the tolerance is the one of ``holds``.
        tol_ub = np.array([c.tolerance for c in self.constraints if c.op != "=="])
        tol_eq = np.array([c.tolerance for c in self.constraints if c.op == "=="])
        ok = np.all(rows @ a_ub.T <= b_ub + tol_ub, axis=1)
        return ok & np.all(np.abs(rows @ a_eq.T - b_eq) <= tol_eq, axis=1)

    # ------------------------------------------------------------------ context
    def fixed_columns(self, fixed: Mapping[str, Any]) -> dict[int, float]:
        """Check a context (parameters held at given values) and encode it.

        Each name must be a tunable parameter, each value valid for it, and some point
        of the space must still satisfy every constraint with those values.

        Examples:
            >>> space = Space([Float("temperature", 10.0, 40.0), Float("time", 1.0, 5.0)])
            >>> space.fixed_columns({"temperature": 25.0})
            {0: 0.5}
            >>> space.fixed_columns({"temperature": 99.0})
            Traceback (most recent call last):
            ...
            bayesopt.errors.InvalidSpaceError: fixed: 'temperature' = 99.0 is outside \
[10.0, 40.0]; give a value in that range

        Args:
            fixed: Parameter name -> the value it is held at.

        Returns:
            Encoded column index -> unit value, as BoTorch's ``fixed_features`` take it.
        """
        if not isinstance(fixed, Mapping):
            raise InvalidSpaceError(
                f"fixed: got {describe(fixed)}; expected a dict of parameter name to value, "
                "such as {'temperature': 25.0}"
            )
        index = {p.name: i for i, p in enumerate(self.tunable)}
        out: dict[int, float] = {}
        for name, value in fixed.items():
            if name not in index:
                if name in self.names:
                    p_fixed = self[name]
                    assert isinstance(p_fixed, Fixed)
                    raise InvalidSpaceError(
                        f"fixed: '{name}' is a Fixed parameter, already fixed at "
                        f"{p_fixed.value!r}; leave it out (tunable parameters: {list(index)})"
                    )
                raise InvalidSpaceError(
                    f"fixed: unknown parameter {describe(name)}; valid names are {list(index)}"
                )
            p = self.tunable[index[name]]
            if isinstance(p, Fidelity):
                raise InvalidSpaceError(
                    f"fixed: '{name}' is the Fidelity, which the strategy chooses for each "
                    f"trial (results count at its target {p.target!r}); leave it out"
                )
            try:
                v = p.validate(value)
            except InvalidSpaceError:
                raise InvalidSpaceError(_fixed_value_error(p, value)) from None
            out[index[name]] = p.to_unit(v)
        if len(out) == self.dim:
            raise InvalidSpaceError(
                f"fixed: every tunable parameter is given ({list(index)}), so nothing is left "
                "to choose; leave at least one out, or evaluate that point and attach it"
            )
        if self.constraints:
            bounds = [(out[i], out[i]) if i in out else (0.0, 1.0) for i in range(self.dim)]
            if self._solve_lp(np.zeros(self.dim), bounds) is None:
                given = ", ".join(
                    f"'{self.tunable[i].name}' = {fixed[self.tunable[i].name]!r}" for i in out
                )
                raise InvalidSpaceError(
                    f"fixed: {given} leaves no point that satisfies all of "
                    f"{[str(c) for c in self.constraints]}; {self._valid_context(out)}"
                )
        return out

    def _valid_context(self, out: Mapping[int, float]) -> str:
        """What would be valid, for the message when a context leaves nothing feasible."""
        if len(out) == 1:
            (i,) = out
            p = self.tunable[i]
            if isinstance(p, Float | Int):
                free = [(0.0, 1.0)] * self.dim
                e = np.zeros(self.dim)
                e[i] = 1.0
                lo, hi = self._solve_lp(e, free), self._solve_lp(-e, free)
                if lo is not None and hi is not None:
                    low, high = p.low + lo * (p.high - p.low), p.low - hi * (p.high - p.low)
                    return f"valid: '{p.name}' in [{low:g}, {high:g}] under these constraints"
        return "valid: values for which the other parameters can still satisfy them"


def _fixed_value_error(p: Tunable, value: Any) -> str:
    """Why ``value`` cannot hold parameter ``p`` fixed, and what would be valid."""
    head = f"fixed: '{p.name}' = {describe(value)}"
    if isinstance(p, Choice):
        return f"{head} is not one of its values {list(p.values)}"
    kind = "an integer" if isinstance(p, Int) else "a number"
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool
    )
    if not number:
        return f"{head} is not a number; valid: {kind} in [{p.low}, {p.high}]"
    if isinstance(p, Int) and float(value) != round(float(value)):
        return f"{head} is not an integer; valid: an integer in [{p.low}, {p.high}]"
    return f"{head} is outside [{p.low}, {p.high}]; give a value in that range"


def _sparse(
    a: np.ndarray, b: np.ndarray, fixed: Mapping[int, float] | None
) -> list[tuple[list[int], list[float], float]]:
    """Rows ``a u (op) b`` (a ``m x d`` and a ``m``-dim array) as BoTorch's sparse
    ``(indices, coefficients, rhs)``, with the ``fixed`` columns moved into ``rhs``;
    rows with no free column left are dropped."""
    fixed = fixed or {}
    out = []
    for row, rhs in zip(a, b, strict=True):
        idx = [i for i in range(len(row)) if row[i] != 0.0 and i not in fixed]
        if idx:
            moved = sum(float(row[i]) * v for i, v in fixed.items())
            out.append((idx, [float(row[i]) for i in idx], float(rhs) - moved))
    return out

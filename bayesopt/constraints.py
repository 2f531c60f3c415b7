"""Constraints on outcomes, and the string form of every constraint.

A constraint is written as people write it: ``"x1 + 2*x2 <= 10"`` or
``"a + b + c == 1"`` over parameters (a :class:`~bayesopt.space.LinearConstraint`),
or ``"purity >= 0.95"`` over an outcome that ``evaluate`` returns
(an :class:`OutcomeConstraint`).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bayesopt.errors import InvalidExperimentError, InvalidSpaceError, describe
from bayesopt.space import LinearConstraint


@dataclass(frozen=True)
class OutcomeConstraint:
    """``outcome <op> bound``: a trial is feasible only when its outcome satisfies it.

    The outcome is modelled like an objective, and the acquisition weighs each
    candidate by its probability of satisfying every outcome constraint.

    Examples:
        >>> OutcomeConstraint("purity", ">=", 0.95).holds({"purity": 0.97})
        True
    """

    outcome: str
    op: Literal["<=", ">="]
    bound: float

    def __post_init__(self) -> None:
        if not isinstance(self.outcome, str) or not self.outcome.strip():
            raise InvalidExperimentError(
                f"outcome constraint: outcome {describe(self.outcome)} is not a name"
            )
        if self.op not in ("<=", ">="):
            raise InvalidExperimentError(
                f"outcome constraint on '{self.outcome}': op {describe(self.op)}; valid: "
                "'<=' or '>=' (an outcome cannot be held equal to a value)"
            )
        bound = self.bound
        number = isinstance(bound, int | float) and not isinstance(bound, bool)
        if not number or not math.isfinite(bound):
            raise InvalidExperimentError(
                f"outcome constraint on '{self.outcome}': bound {describe(bound)} is not a "
                "finite number"
            )
        object.__setattr__(self, "bound", float(bound))

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether measured ``values`` satisfy the constraint."""
        v = float(values[self.outcome])
        return v <= self.bound if self.op == "<=" else v >= self.bound

    def slack(self, value: float) -> float:
        """``bound - value`` for ``<=``, ``value - bound`` for ``>=``: negative when violated."""
        return self.bound - value if self.op == "<=" else value - self.bound

    def __str__(self) -> str:
        return f"{self.outcome} {self.op} {self.bound:g}"


_OPS: dict[type[ast.cmpop], Literal["<=", ">=", "=="]] = {
    ast.LtE: "<=",
    ast.GtE: ">=",
    ast.Eq: "==",
}
_FLIP: dict[str, Literal["<=", ">=", "=="]] = {"<=": ">=", ">=": "<=", "==": "=="}
_VALID = (
    "valid: one '<=', '>=' or '==' between linear expressions of numbers and names, "
    "such as 'x1 + 2*x2 <= 10', 'a + b + c == 1' or 'cost <= 12'"
)

#: A linear expression: coefficient of each name (in order of appearance) and a constant.
_Linear = tuple[dict[str, float], float]


def parse_constraint(text: str, parameters: Sequence[str]) -> LinearConstraint | OutcomeConstraint:
    """Read a constraint written as people write it, with :mod:`ast` (never ``eval``).

    Each side is a linear expression: numbers, names, ``+``, ``-``, a number times a
    name (``2*x``, ``2.5e-1*x``, ``x/2``, ``-(2)*x``) and parentheses. The names are
    moved to the left and the numbers to the right, so ``"x1 <= x2"`` reads as
    ``x1 - x2 <= 0``, and ``"10 >= x1 + x2"`` as ``x1 + x2 <= 10``. Formally the text
    ``L op R`` becomes ``sum_k (l_k - r_k) * name_k  op  (r_0 - l_0)``.

    - When every name is in ``parameters`` the result is a
      :class:`~bayesopt.space.LinearConstraint` (``op`` one of ``<=``, ``>=``, ``==``).
    - When the only name is not a parameter it is an outcome that ``evaluate``
      returns, and the result is an :class:`OutcomeConstraint`: its coefficient is
      divided out, and a negative one flips the operator (``-cost >= -12`` is
      ``cost <= 12``).

    Strict ``<`` and ``>`` are refused rather than read as ``<=`` and ``>=``: over
    real numbers the optimizer cannot keep the two apart, so writing the
    non-strict form says what will actually be enforced.

    Args:
        text: The constraint, such as ``"x1 + 2*x2 <= 10"`` or ``"cost <= 12"``.
        parameters: The experiment's parameter names; any other name is an outcome.

    Returns:
        A ``LinearConstraint`` over parameters, or an ``OutcomeConstraint`` on one outcome.

    Raises:
        InvalidSpaceError: A constraint that names only parameters but is not a valid
            linear constraint (a product of parameters, a power, a strict ``<``).
        InvalidExperimentError: Anything else: text that does not parse, no comparison
            or a chained one, parameters mixed with outcomes, several outcomes,
            ``==`` on an outcome, a non-linear outcome term.

    Examples:
        >>> parse_constraint("x1 + 2*x2 <= 10", ["x1", "x2"])
        LinearConstraint(coefficients={'x1': 1.0, 'x2': 2.0}, op='<=', bound=10.0)
        >>> print(parse_constraint("10 >= x1 + x2/2", ["x1", "x2"]))
        1*x1 + 0.5*x2 <= 10
        >>> print(parse_constraint("x1 <= x2", ["x1", "x2"]))
        1*x1 + -1*x2 <= 0
        >>> print(parse_constraint("a + b + c == 1", ["a", "b", "c"]))
        1*a + 1*b + 1*c == 1
        >>> parse_constraint("-2*cost >= -24", ["x1"])
        OutcomeConstraint(outcome='cost', op='<=', bound=12.0)
        >>> parse_constraint("x1 * x2 <= 1", ["x1", "x2"])
        Traceback (most recent call last):
        ...
        bayesopt.errors.InvalidSpaceError: constraint 'x1 * x2 <= 1': the term 'x1 * x2' is \
not linear (a product of two names); valid: one '<=', '>=' or '==' between linear \
expressions of numbers and names, such as 'x1 + 2*x2 <= 10', 'a + b + c == 1' or \
'cost <= 12'
    """
    if not isinstance(text, str):
        raise InvalidExperimentError(
            f"constraint: got {describe(text)}; expected a string such as 'x1 + 2*x2 <= 10' "
            "or 'cost <= 12'"
        )
    params = set(parameters)
    where = f"constraint {text!r}"
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise InvalidExperimentError(f"{where}: cannot be parsed ({exc.msg}); {_VALID}") from None
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names = list(
        dict.fromkeys(
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called
        )
    )
    # A problem with parameters alone is a problem of the space; anything else, of the experiment.
    error: type[InvalidExperimentError | InvalidSpaceError] = (
        InvalidSpaceError if names and all(n in params for n in names) else InvalidExperimentError
    )
    node = tree.body
    if not isinstance(node, ast.Compare):
        raise error(f"{where}: has no comparison; {_VALID}")
    if len(node.ops) != 1:
        raise error(
            f"{where}: is a chained comparison; write one comparison per constraint "
            "(such as '0 <= x' and 'x <= 1'), or set the bounds of the parameter"
        )
    cmp = node.ops[0]
    if isinstance(cmp, ast.Lt | ast.Gt):
        strict, loose = ("<", "<=") if isinstance(cmp, ast.Lt) else (">", ">=")
        raise error(
            f"{where}: strict '{strict}' is not supported; write '{loose}' (over real numbers "
            "the optimizer cannot keep the two apart)"
        )
    if type(cmp) not in _OPS:
        raise error(f"{where}: the operator '{_op_text(cmp)}' is not supported; {_VALID}")
    op = _OPS[type(cmp)]
    left = _linear(node.left, where, error)
    right = _linear(node.comparators[0], where, error)
    if not left[0] and right[0]:
        left, right, op = right, left, _FLIP[op]  # "10 >= x1 + x2" reads as "x1 + x2 <= 10"
    coefs = dict(left[0])
    for name, c in right[0].items():
        coefs[name] = coefs.get(name, 0.0) - c
    bound = right[1] - left[1]
    if not names:
        raise error(f"{where}: names no parameter and no outcome; {_VALID}")
    coefs = {k: c for k, c in coefs.items() if c != 0.0}
    if not coefs:
        raise error(f"{where}: the terms in {names} cancel out, leaving nothing to constrain")
    if not all(math.isfinite(v) for v in (*coefs.values(), bound)):
        raise error(f"{where}: a number is too large to represent; use smaller coefficients")
    outcomes = [n for n in coefs if n not in params]
    if not outcomes:
        return LinearConstraint(coefs, op, bound)
    given = [n for n in coefs if n in params]
    if given:
        raise InvalidExperimentError(
            f"{where}: mixes parameters {given} and outcomes {outcomes}; a constraint is over "
            f"parameters or over one outcome (parameters are {list(parameters)})"
        )
    if len(outcomes) > 1:
        raise InvalidExperimentError(
            f"{where}: names several outcomes {outcomes}, none of them a parameter (parameters "
            f"are {list(parameters)}); an outcome constraint is over one outcome, such as "
            f"'{outcomes[0]} <= 12'"
        )
    (outcome,) = outcomes
    if op == "==":
        raise InvalidExperimentError(
            f"{where}: an outcome cannot be held equal to a value; write '<=' or '>=' (such as "
            f"'{outcome} <= {bound / coefs[outcome]:g}')"
        )
    c = coefs[outcome]
    upper = (op == "<=") == (c > 0)  # dividing by a negative coefficient flips the operator
    return OutcomeConstraint(outcome, "<=" if upper else ">=", bound / c)


def _op_text(cmp: ast.cmpop) -> str:
    """The source form of a comparison operator, for messages."""
    text = ast.unparse(ast.Compare(ast.Name("a"), [cmp], [ast.Name("b")]))
    return text[2:-2]


def _linear(
    node: ast.expr, where: str, error: type[InvalidExperimentError | InvalidSpaceError]
) -> _Linear:
    """The coefficients and the constant of a linear expression, or ``error``."""
    valid = _VALID
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise error(f"{where}: {ast.unparse(node)} is not a number; {valid}")
        return {}, float(value)
    if isinstance(node, ast.Name):
        return {node.id: 1.0}, 0.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        coefs, const = _linear(node.operand, where, error)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return {k: sign * c for k, c in coefs.items()}, sign * const
    if isinstance(node, ast.BinOp):
        term = ast.unparse(node)
        if isinstance(node.op, ast.Add | ast.Sub):
            (lc, lk), (rc, rk) = (
                _linear(node.left, where, error),
                _linear(node.right, where, error),
            )
            sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
            coefs = dict(lc)
            for name, c in rc.items():
                coefs[name] = coefs.get(name, 0.0) + sign * c
            return coefs, lk + sign * rk
        if isinstance(node.op, ast.Mult):
            (lc, lk), (rc, rk) = (
                _linear(node.left, where, error),
                _linear(node.right, where, error),
            )
            if lc and rc:
                raise error(
                    f"{where}: the term '{term}' is not linear (a product of two names); {valid}"
                )
            coefs, const, factor = (lc, lk, rk) if lc else (rc, rk, lk)
            return {k: factor * c for k, c in coefs.items()}, factor * const
        if isinstance(node.op, ast.Div):
            (lc, lk), (rc, rk) = (
                _linear(node.left, where, error),
                _linear(node.right, where, error),
            )
            if rc:
                raise error(
                    f"{where}: the term '{term}' is not linear (a division by a name); {valid}"
                )
            if rk == 0.0:
                raise error(f"{where}: the term '{term}' divides by zero")
            return {k: c / rk for k, c in lc.items()}, lk / rk
        if isinstance(node.op, ast.Pow):
            (lc, lk), (rc, rk) = (
                _linear(node.left, where, error),
                _linear(node.right, where, error),
            )
            if lc or rc:
                raise error(f"{where}: the term '{term}' is not linear (a power); {valid}")
            try:
                return {}, float(lk**rk)
            except (OverflowError, ZeroDivisionError, TypeError):
                raise error(f"{where}: the number '{term}' cannot be computed") from None
        raise error(f"{where}: the operator in '{term}' is not supported; {valid}")
    if isinstance(node, ast.Call):
        raise error(
            f"{where}: the term '{ast.unparse(node)}' is not linear (a function call); {valid}"
        )
    raise error(f"{where}: '{ast.unparse(node)}' is not a number or a name; {valid}")

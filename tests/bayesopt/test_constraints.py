"""The string form of constraints: every accepted form, and every refusal with its message."""

from __future__ import annotations

import pytest

from bayesopt import InvalidExperimentError, InvalidSpaceError, LinearConstraint
from bayesopt.constraints import OutcomeConstraint, parse_constraint

PARAMS = ["x1", "x2", "x", "a", "b", "c"]


# -------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "text, coefficients, op, bound",
    [
        ("x1 + 2*x2 <= 10", {"x1": 1.0, "x2": 2.0}, "<=", 10.0),
        ("2*x1 - x2 >= -3", {"x1": 2.0, "x2": -1.0}, ">=", -3.0),
        ("0.5*a + b == 1", {"a": 0.5, "b": 1.0}, "==", 1.0),
        ("x1 <= x2", {"x1": 1.0, "x2": -1.0}, "<=", 0.0),
        ("10 >= x1 + x2", {"x1": 1.0, "x2": 1.0}, "<=", 10.0),
        ("1 == a + b + c", {"a": 1.0, "b": 1.0, "c": 1.0}, "==", 1.0),
        ("a + b + c == 1", {"a": 1.0, "b": 1.0, "c": 1.0}, "==", 1.0),
        ("2.5e-1*x <= 1", {"x": 0.25}, "<=", 1.0),
        ("x/2 >= 1", {"x": 0.5}, ">=", 1.0),
        ("x*3 <= 1", {"x": 3.0}, "<=", 1.0),
        ("-x1 <= 3", {"x1": -1.0}, "<=", 3.0),
        ("+x1 - -x2 <= 3", {"x1": 1.0, "x2": 1.0}, "<=", 3.0),
        ("(2)*x1 + (-(3))*x2 <= (1)", {"x1": 2.0, "x2": -3.0}, "<=", 1.0),
        ("2*(x1 + x2) <= 4", {"x1": 2.0, "x2": 2.0}, "<=", 4.0),
        ("x1 + 1 <= x2 - 2", {"x1": 1.0, "x2": -1.0}, "<=", -3.0),
        ("10**-1*x <= 1", {"x": 0.1}, "<=", 1.0),
        ("x1 + x2 + x1 <= 3", {"x1": 2.0, "x2": 1.0}, "<=", 3.0),
        ("x1 + x2 - x2 <= 3", {"x1": 1.0}, "<=", 3.0),
        ("  x1 + x2 <= 1  ", {"x1": 1.0, "x2": 1.0}, "<=", 1.0),
    ],
)
def test_linear_forms_over_parameters(
    text: str, coefficients: dict[str, float], op: str, bound: float
) -> None:
    con = parse_constraint(text, PARAMS)
    assert isinstance(con, LinearConstraint)
    assert con.coefficients == pytest.approx(coefficients)
    assert list(con.coefficients) == list(coefficients)  # names in order of appearance
    assert (con.op, con.bound) == (op, pytest.approx(bound))


@pytest.mark.parametrize(
    "con",
    [
        LinearConstraint({"x1": 1.0, "x2": -2.5}, "<=", 10.0),
        LinearConstraint({"a": 1.0, "b": 1.0, "c": 1.0}, "==", 1.0),
        LinearConstraint({"x": 0.125}, ">=", -3.0),
    ],
)
def test_the_string_of_a_linear_constraint_parses_back_to_it(con: LinearConstraint) -> None:
    assert parse_constraint(str(con), PARAMS) == con


# ----------------------------------------------------------------- outcomes
@pytest.mark.parametrize(
    "text, op, bound",
    [
        ("cost <= 12", "<=", 12.0),
        ("cost >= 0.95", ">=", 0.95),
        ("0.95 <= cost", ">=", 0.95),
        ("2*cost <= 24", "<=", 12.0),
        ("cost/4 + 1 <= 4", "<=", 12.0),
        ("-cost >= -12", "<=", 12.0),
        ("-2*cost <= -24", ">=", 12.0),
        ("12 >= cost", "<=", 12.0),
    ],
)
def test_one_name_that_is_not_a_parameter_is_an_outcome_constraint(
    text: str, op: str, bound: float
) -> None:
    con = parse_constraint(text, PARAMS)
    assert isinstance(con, OutcomeConstraint)
    assert (con.outcome, con.op, con.bound) == ("cost", op, pytest.approx(bound))


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "text, error, fragments",
    [
        (
            "x1 + cost <= 3",
            InvalidExperimentError,
            [
                "mixes parameters ['x1'] and outcomes ['cost']",
                "a constraint is over parameters or over one outcome",
            ],
        ),
        (
            "cost + time <= 3",
            InvalidExperimentError,
            ["several outcomes ['cost', 'time']", "over one outcome"],
        ),
        ("cost == 3", InvalidExperimentError, ["outcome cannot be held equal", "'<=' or '>='"]),
        ("x1*x2 <= 1", InvalidSpaceError, ["the term 'x1 * x2' is not linear", "product"]),
        ("x**2 <= 1", InvalidSpaceError, ["the term 'x ** 2' is not linear (a power)"]),
        ("log(x1) <= 1", InvalidSpaceError, ["the term 'log(x1)'", "function call"]),
        (
            "__import__('os').system('true') <= 1",
            InvalidExperimentError,
            ["function call"],
        ),
        ("1/x1 <= 1", InvalidSpaceError, ["'1 / x1' is not linear (a division by a name)"]),
        ("x1/0 <= 1", InvalidSpaceError, ["'x1 / 0' divides by zero"]),
        ("x1 + x2", InvalidSpaceError, ["has no comparison", "'<=', '>=' or '=='"]),
        ("0 <= x1 <= 1", InvalidSpaceError, ["chained comparison", "one comparison per"]),
        ("x1 < 1", InvalidSpaceError, ["strict '<' is not supported", "write '<='"]),
        ("x1 > 1", InvalidSpaceError, ["strict '>' is not supported", "write '>='"]),
        ("x1 != 1", InvalidSpaceError, ["the operator '!=' is not supported"]),
        ("x1 + <= 3", InvalidExperimentError, ["cannot be parsed", "such as 'x1 + 2*x2 <= 10'"]),
        ("", InvalidExperimentError, ["cannot be parsed"]),
        ("x1 <= 1; x2 <= 1", InvalidExperimentError, ["cannot be parsed"]),
        ("1 <= 2", InvalidExperimentError, ["names no parameter and no outcome"]),
        ("x1 - x1 <= 1", InvalidSpaceError, ["the terms in ['x1'] cancel out"]),
        ("x1 <= 'a'", InvalidSpaceError, ["'a' is not a number"]),
        ("True*x1 <= 1", InvalidSpaceError, ["True is not a number"]),
        ("x1.real <= 1", InvalidSpaceError, ["'x1.real' is not a number or a name"]),
        ("1e400*x1 <= 1", InvalidSpaceError, ["too large to represent"]),
        ("x1 % 2 <= 1", InvalidSpaceError, ["the operator in 'x1 % 2' is not supported"]),
    ],
)
def test_refusals_quote_the_constraint_and_say_what_is_wrong(
    text: str, error: type[Exception], fragments: list[str]
) -> None:
    with pytest.raises(error) as info:
        parse_constraint(text, PARAMS)
    message = str(info.value)
    assert message.startswith(f"constraint {text!r}: ")
    for fragment in fragments:
        assert fragment in message, message


def test_a_non_string_is_refused() -> None:
    with pytest.raises(InvalidExperimentError, match=r"constraint: got 5; expected a string"):
        parse_constraint(5, PARAMS)  # type: ignore[arg-type]


def test_parsing_never_evaluates_the_text(tmp_path) -> None:
    marker = tmp_path / "ran"
    text = f"__import__('pathlib').Path({str(marker)!r}).touch() <= 1"
    with pytest.raises(InvalidExperimentError):
        parse_constraint(text, PARAMS)
    assert not marker.exists()


def test_every_refusal_is_a_value_error() -> None:
    for text in ("x1*x2 <= 1", "x1 + cost <= 1", "cost == 1"):
        with pytest.raises(ValueError):
            parse_constraint(text, PARAMS)

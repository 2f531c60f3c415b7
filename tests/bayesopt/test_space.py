"""The search space: the unit-cube encoding, discrete columns, constraints, refusals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bayesopt import (
    Choice,
    Fixed,
    Float,
    Int,
    InvalidSpaceError,
    LinearConstraint,
    Space,
)
from bayesopt.space import MAX_ENUMERATED_INTEGERS

SETTINGS = settings(max_examples=60, deadline=None)

# ----------------------------------------------------------------- strategies
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def float_params(draw: st.DrawFn, name: str, log: bool | None = None) -> Float:
    log = draw(st.booleans()) if log is None else log
    if log:
        low = draw(st.floats(1e-6, 1e3))
        high = low * draw(st.floats(1.01, 1e6))
        return Float(name, low, high, log=True)
    low = draw(st.floats(-1e6, 1e6))
    return Float(name, low, low + draw(st.floats(1e-3, 1e6)))


@st.composite
def int_params(draw: st.DrawFn, name: str, log: bool | None = None) -> Int:
    log = draw(st.booleans()) if log is None else log
    if log:
        low = draw(st.integers(1, 100))
        return Int(name, low, draw(st.integers(low + 1, low * 1000)), log=True)
    low = draw(st.integers(-1000, 1000))
    # Up to twice MAX_ENUMERATED_INTEGERS: wide ranges are searched as continuous and rounded.
    return Int(name, low, low + draw(st.integers(1, 2 * MAX_ENUMERATED_INTEGERS)))


choice_values = st.one_of(
    st.lists(st.text(min_size=1, max_size=5), min_size=2, max_size=6, unique=True),
    st.lists(st.integers(-50, 50), min_size=2, max_size=6, unique=True),
    st.lists(st.floats(-10, 10), min_size=2, max_size=6, unique=True),
)


@st.composite
def parameters(draw: st.DrawFn, name: str) -> Float | Int | Choice | Fixed:
    kind = draw(st.sampled_from(["float", "int", "choice", "fixed"]))
    if kind == "float":
        return draw(float_params(name))
    if kind == "int":
        return draw(int_params(name))
    if kind == "choice":
        return Choice(name, draw(choice_values), ordered=draw(st.booleans()))
    value = draw(st.one_of(st.text(max_size=5), st.integers(), finite, st.booleans()))
    return Fixed(name, value)


@st.composite
def spaces(draw: st.DrawFn) -> Space:
    n = draw(st.integers(1, 6))
    params = [draw(parameters(f"p{i}")) for i in range(n)]
    assume(not all(isinstance(p, Fixed) for p in params))
    return Space(params)


def value_in(draw: st.DrawFn, p: Float | Int | Choice | Fixed) -> Any:
    if isinstance(p, Float):
        return draw(st.floats(p.low, p.high))
    if isinstance(p, Int):
        return draw(st.integers(p.low, p.high))
    if isinstance(p, Choice):
        return draw(st.sampled_from(p.values))
    return p.value


@st.composite
def space_and_point(draw: st.DrawFn) -> tuple[Space, dict[str, Any]]:
    space = draw(spaces())
    return space, {p.name: value_in(draw, p) for p in space.parameters}


def assert_same_point(space: Space, got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(got) == list(space.names)
    for p in space.parameters:
        if isinstance(p, Float):
            scale = max(abs(p.low), abs(p.high), 1.0)
            assert got[p.name] == pytest.approx(expected[p.name], rel=1e-9, abs=1e-12 * scale)
        else:
            assert got[p.name] == expected[p.name]
            assert type(got[p.name]) is type(expected[p.name])


# ------------------------------------------------------------------ encoding
@SETTINGS
@given(space_and_point())
def test_decode_inverts_encode(case: tuple[Space, dict[str, Any]]) -> None:
    space, point = case
    u = space.encode(point)
    assert u.shape == (space.dim,)
    assert u.dtype == np.float64
    assert np.all((u >= 0.0) & (u <= 1.0))
    assert_same_point(space, space.decode(u), point)


@SETTINGS
@given(spaces(), st.data())
def test_decode_of_any_unit_point_is_valid(space: Space, data: st.DataObject) -> None:
    u = data.draw(st.lists(st.floats(0.0, 1.0), min_size=space.dim, max_size=space.dim))
    point = space.decode(u)
    assert space.validate(point) == point
    re_encoded = space.encode(point)
    assert np.all((re_encoded >= 0.0) & (re_encoded <= 1.0))


@SETTINGS
@given(spaces(), st.data())
def test_decode_clips_points_outside_the_cube(space: Space, data: st.DataObject) -> None:
    u = np.array(data.draw(st.lists(st.floats(-3.0, 3.0), min_size=space.dim, max_size=space.dim)))
    assert space.decode(u) == space.decode(np.clip(u, 0.0, 1.0))


@pytest.mark.parametrize(
    "param, values",
    [
        (Float("x", 1e-4, 1e-1, log=True), [1e-4, 3e-3, 1e-2, 0.0999, 1e-1]),
        (Float("x", -2.0, 5.0), [-2.0, 0.0, 1.5, 5.0]),
        (Int("k", 1, 1000, log=True), [1, 2, 3, 10, 999, 1000]),
        (Int("k", -3, 3), [-3, -1, 0, 2, 3]),
        (Choice("c", ["relu", "tanh", "gelu"]), ["relu", "tanh", "gelu"]),
        (Choice("c", [1, 2, 4, 8], ordered=True), [1, 2, 4, 8]),
    ],
    ids=["float-log", "float", "int-log", "int", "choice", "choice-ordered"],
)
def test_round_trip_at_bounds_and_inside(param: Float | Int | Choice, values: list) -> None:
    space = Space([param, Fixed("tag", "v1")])
    for value in values:
        point = {param.name: value, "tag": "v1"}
        assert_same_point(space, space.decode(space.encode(point)), point)
    assert space.encode({param.name: values[0]})[0] == 0.0
    assert space.encode({param.name: values[-1]})[0] == pytest.approx(1.0)


def test_docstring_example_encodes_three_columns() -> None:
    space = Space(
        [Float("lr", 1e-4, 1e-1, log=True), Int("depth", 1, 5), Choice("act", ["a", "b"])]
    )
    assert space.dim == 3
    assert space.encode({"lr": 1e-4, "depth": 5, "act": "b"}).tolist() == [0.0, 1.0, 1.0]


def test_decode_refuses_a_point_of_the_wrong_length() -> None:
    space = Space([Float("x", 0, 1), Float("y", 0, 1)])
    with pytest.raises(InvalidSpaceError, match="expected 2 encoded values, got 3"):
        space.decode([0.1, 0.2, 0.3])


def test_snap_rounds_discrete_columns_only() -> None:
    space = Space([Int("k", 0, 4), Float("x", 0.0, 1.0), Choice("c", ["a", "b", "c"])])
    snapped = space.snap(np.array([[0.3, 0.37, 0.8], [0.01, 0.5, 0.2]]))
    np.testing.assert_allclose(snapped, [[0.25, 0.37, 1.0], [0.0, 0.5, 0.0]])


# ----------------------------------------------------------- discrete columns
def test_discrete_and_categorical_columns() -> None:
    space = Space(
        [
            Float("a", 0.0, 1.0),
            Fixed("skipped", 3),  # takes no column: later indices shift down
            Int("b", 1, 5),
            Choice("c", ["x", "y", "z"]),
            Choice("d", [0.1, 0.2, 0.3], ordered=True),
            Int("wide", 0, MAX_ENUMERATED_INTEGERS),  # 1001 values: continuous, rounded
            Int("n", 1, 8, log=True),
        ]
    )
    assert space.dim == 6
    assert set(space.discrete_dims) == {1, 3, 5}
    assert space.discrete_dims[1] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert space.discrete_dims[3] == pytest.approx([0.0, 0.5, 1.0])
    assert space.discrete_dims[5] == pytest.approx([math.log(k) / math.log(8) for k in range(1, 9)])
    assert space.cat_dims == {2: pytest.approx([0.0, 0.5, 1.0])}


def test_a_continuous_space_has_no_discrete_columns() -> None:
    space = Space([Float("a", 0.0, 1.0), Float("b", 1e-3, 1.0, log=True)])
    assert space.discrete_dims == {}
    assert space.cat_dims == {}


# --------------------------------------------------------------- constraints
@st.composite
def constrained_case(draw: st.DrawFn) -> tuple[Space, Space, list[dict[str, Any]]]:
    n = draw(st.integers(1, 4))
    params: list[Float | Int | Fixed] = [
        draw(st.one_of(float_params(f"p{i}", log=False), int_params(f"p{i}", log=False)))
        for i in range(n)
    ]
    params.append(Fixed("offset", draw(st.floats(-10, 10))))
    free = Space(params)
    names = [p.name for p in params]
    constraints = []
    for _ in range(draw(st.integers(1, 3))):
        subset = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        assume(any(name != "offset" for name in subset))
        coefs = {name: draw(st.floats(-3, 3).filter(lambda c: abs(c) > 1e-3)) for name in subset}
        op = draw(st.sampled_from(["<=", ">="]))
        # Make the constraint hold at one point, so the constraint set is feasible.
        anchor = {p.name: value_in(draw, p) for p in params}
        lhs = sum(c * float(anchor[k]) for k, c in coefs.items())
        slack = draw(st.floats(0.0, 100.0))
        constraints.append(LinearConstraint(coefs, op, lhs + slack if op == "<=" else lhs - slack))
    # Each constraint holds at its own anchor only; the set may still be infeasible.
    try:
        space = Space(params, constraints)
    except InvalidSpaceError:
        assume(False)
    points = [{p.name: value_in(draw, p) for p in params} for _ in range(5)]
    return space, free, points


def _margin(con: LinearConstraint, point: dict[str, Any], space: Space) -> float:
    """Distance of ``point`` from the constraint's boundary, relative to the largest term."""
    lhs = sum(c * float(point[k]) for k, c in con.coefficients.items())
    terms = [abs(con.bound), 1.0]
    for name, c in con.coefficients.items():
        p = space[name]
        terms += [abs(c * p.low), abs(c * p.high)] if isinstance(p, Float | Int) else []
    return abs(lhs - con.bound) / max(terms)


@SETTINGS
@given(constrained_case())
def test_botorch_inequalities_agree_with_holds(case: tuple[Space, Space, list[dict]]) -> None:
    space, free, points = case
    inequalities = space.botorch_inequalities()
    assert len(inequalities) == len(space.constraints)
    for point in points:
        # Points near a boundary are decided by the tolerances; keep clear-cut ones
        # (see test_is_feasible_and_holds_use_the_same_tolerance for the tolerances).
        assume(all(_margin(con, point, space) > 1e-6 for con in space.constraints))
        u = free.encode(point)
        for con, (idx, coefs, rhs) in zip(space.constraints, inequalities, strict=True):
            assert all(0 <= i < space.dim for i in idx)
            botorch_holds = sum(c * u[i] for i, c in zip(idx, coefs, strict=True)) >= rhs
            assert botorch_holds == con.holds(point)
        assert space.is_feasible(u[None, :])[0] == all(c.holds(point) for c in space.constraints)


def test_is_feasible_on_a_batch() -> None:
    space = Space(
        [Float("x1", 0.0, 2.0), Float("x2", 0.0, 2.0)],
        [LinearConstraint({"x1": 1.0, "x2": 1.0}, "<=", 2.0)],
    )
    u = np.array([[0.2, 0.3], [0.9, 0.9], [0.5, 0.5], [1.0, 0.0]])
    assert space.is_feasible(u).tolist() == [True, False, True, True]
    assert Space([Float("x", 0, 1)]).is_feasible(np.array([[0.1], [0.9]])).tolist() == [True, True]


def test_validate_refuses_a_point_that_violates_a_constraint() -> None:
    space = Space(
        [Float("x1", 0.0, 1.0), Float("x2", 0.0, 1.0)],
        [LinearConstraint({"x1": 1.0, "x2": 1.0}, "<=", 1.0)],
    )
    assert space.validate({"x1": 0.5, "x2": 0.5}) == {"x1": 0.5, "x2": 0.5}
    with pytest.raises(InvalidSpaceError, match=r"violate the constraint 1\*x1 \+ 1\*x2 <= 1"):
        space.validate({"x1": 0.7, "x2": 0.7})


def test_constraint_on_a_fixed_parameter_moves_the_bound() -> None:
    space = Space(
        [Float("x", 0.0, 10.0), Fixed("c", 4.0)],
        [LinearConstraint({"x": 1.0, "c": 1.0}, "<=", 6.0)],
    )
    ((idx, coefs, rhs),) = space.botorch_inequalities()
    # x + 4 <= 6  <=>  10 u <= 2  <=>  -10 u >= -2
    assert idx == [0]
    assert coefs == pytest.approx([-10.0])
    assert rhs == pytest.approx(-2.0)


def test_snap_of_an_infeasible_row_rounds_it_without_raising() -> None:
    space = Space(
        [Float("x1", 0.0, 1.0), Float("x2", 0.0, 1.0)],
        [LinearConstraint({"x1": 1.0, "x2": 1.0}, "<=", 1.0)],
    )
    snapped = space.snap(np.array([[0.9, 0.9], [0.2, 0.3]]))
    np.testing.assert_allclose(snapped, [[0.9, 0.9], [0.2, 0.3]])
    assert space.is_feasible(snapped).tolist() == [False, True]


def test_is_feasible_and_holds_use_the_same_tolerance() -> None:
    con = LinearConstraint({"p1": -1.0}, "<=", -1e-5)  # p1 >= 1e-5
    space = Space([Float("p0", 0.0, 1.0), Float("p1", -10000.0, 1.0)], [con])
    point = {"p0": 0.0, "p1": 0.0}
    assert not con.holds(point)
    u = Space(space.parameters).encode(point)
    assert not space.is_feasible(u[None, :])[0]


# ------------------------------------------------------------------ validate
@pytest.mark.parametrize(
    "point, fragments",
    [
        ({"x": 0.5, "k": 2, "c": "a", "bogus": 1}, ["unknown parameter(s) ['bogus']", "'x'"]),
        ({"x": 0.5, "c": "a"}, ["missing parameter 'k'"]),
        ({"x": 1.5, "k": 2, "c": "a"}, ["'x'", "1.5", "outside [0.0, 1.0]"]),
        ({"x": "0.5", "k": 2, "c": "a"}, ["'x'", "'0.5'", "expected a number"]),
        ({"x": True, "k": 2, "c": "a"}, ["'x'", "True", "expected a number"]),
        ({"x": 0.5, "k": 2.5, "c": "a"}, ["'k'", "2.5", "not an integer"]),
        ({"x": 0.5, "k": 9, "c": "a"}, ["'k'", "9", "outside [1, 5]"]),
        ({"x": 0.5, "k": 2, "c": "z"}, ["'c'", "'z'", "valid values are ['a', 'b']"]),
        ({"x": 0.5, "k": 2, "c": "a", "f": 4}, ["'f'", "fixed at 3", "got 4"]),
        ([0.5, 2, "a"], ["params", "expected a dict"]),
    ],
)
def test_validate_names_the_parameter_and_the_value(point: Any, fragments: list[str]) -> None:
    space = Space([Float("x", 0, 1), Int("k", 1, 5), Choice("c", ["a", "b"]), Fixed("f", 3)])
    with pytest.raises(InvalidSpaceError) as info:
        space.validate(point)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_validate_fills_fixed_values_and_canonical_types() -> None:
    space = Space([Float("x", 0, 1), Int("k", 1, 5), Choice("c", [1, 2]), Fixed("f", "v")])
    point = space.validate({"x": np.float32(0.5), "k": np.int64(3), "c": np.int64(2)})
    assert point == {"x": 0.5, "k": 3, "c": 2, "f": "v"}
    assert [type(v) for v in point.values()] == [float, int, int, str]
    assert type(space.validate({"x": 1, "k": 4.0, "c": 1})["k"]) is int


# ------------------------------------------------------------ refused spaces
REFUSED: list[tuple[str, Any, list[str]]] = [
    ("no parameters", lambda: Space([]), ["parameters", "[]", "at least one parameter"]),
    ("float low == high", lambda: Float("x", 1.0, 1.0), ["'x'", "low=1.0", "high=1.0", "below"]),
    ("float low > high", lambda: Float("x", 2, 1), ["'x'", "low=2", "high=1", "Fixed("]),
    ("int low == high", lambda: Int("k", 5, 5), ["'k'", "low=5", "high=5", "below"]),
    ("float log low 0", lambda: Float("x", 0.0, 1.0, log=True), ["'x'", "low=0.0", "low > 0"]),
    ("float log low < 0", lambda: Float("x", -1, 1, log=True), ["'x'", "low=-1", "log=False"]),
    ("int log low 0", lambda: Int("k", 0, 9, log=True), ["'k'", "low=0", "low >= 1"]),
    ("float high nan", lambda: Float("x", 0, math.nan), ["'x'", "high=nan", "finite number"]),
    ("float low str", lambda: Float("x", "0", 1), ["'x'", "low='0'", "finite number"]),
    ("int low float", lambda: Int("k", 0.5, 3), ["'k'", "low=0.5", "not an integer"]),
    (
        "duplicate names",
        lambda: Space([Float("x", 0, 1), Int("x", 0, 3), Float("y", 0, 1)]),
        ["duplicate names ['x']", "unique"],
    ),
    ("name with a dash", lambda: Float("my-param", 0, 1), ["'my-param'", "Python identifier"]),
    ("name with a digit first", lambda: Int("1x", 0, 1), ["'1x'", "Python identifier"]),
    ("empty name", lambda: Choice("", ["a", "b"]), ["''", "Python identifier"]),
    ("name not a str", lambda: Fixed(3, 1), ["got 3", "Python identifier"]),
    ("choice one value", lambda: Choice("c", ["a"]), ["'c'", "('a',)", "at least 2 values"]),
    ("choice no value", lambda: Choice("c", []), ["'c'", "()", "at least 2 values"]),
    ("choice duplicates", lambda: Choice("c", ["a", "b", "a"]), ["'c'", "'a', 'b', 'a'", "dup"]),
    ("choice of a string", lambda: Choice("c", "abc"), ["'c'", "'abc'", "list of values"]),
    ("choice of a dict value", lambda: Choice("c", ["a", {}]), ["'c'", "{}", "str, int, bool"]),
    ("fixed of a list", lambda: Fixed("f", [1]), ["'f'", "[1]", "str, int, bool or finite float"]),
    ("only fixed", lambda: Space([Fixed("f", 1)]), ["every parameter is Fixed"]),
    ("not a parameter", lambda: Space([("x", 0, 1)]), ["('x', 0, 1)", "Float, Int, Choice"]),
    (
        "constraint op",
        lambda: LinearConstraint({"x": 1.0}, "<", 1.0),
        ["op", "'<'", "'<=', '>=' or '=='"],
    ),
    ("constraint empty", lambda: LinearConstraint({}, "<=", 1.0), ["coefficients", "{}"]),
    (
        "constraint coefficient nan",
        lambda: LinearConstraint({"x": math.nan}, "<=", 1.0),
        ["'x'", "coefficient=nan", "finite"],
    ),
    (
        "constraint on unknown parameter",
        lambda: Space([Float("x", 0, 1)], [LinearConstraint({"z": 1.0}, "<=", 1.0)]),
        ["unknown parameter 'z'", "valid names are ['x']"],
    ),
    (
        "constraint on a log parameter",
        lambda: Space([Float("x", 1, 10, log=True)], [LinearConstraint({"x": 1.0}, "<=", 5)]),
        ["'x'", "log scale", "log=False"],
    ),
    (
        "constraint on a choice",
        lambda: Space(
            [Float("x", 0, 1), Choice("c", [1, 2])],
            [LinearConstraint({"x": 1.0, "c": 1.0}, "<=", 2)],
        ),
        ["'c'", "Choice", "Float and Int"],
    ),
    (
        "constraint not a LinearConstraint",
        lambda: Space([Float("x", 0, 1)], ["x <= 1"]),
        ["'x <= 1'", "LinearConstraint("],
    ),
    (
        "infeasible constraints",
        lambda: Space(
            [Float("x1", 0, 1), Float("x2", 0, 1)],
            [LinearConstraint({"x1": 1.0, "x2": 1.0}, ">=", 3.0)],
        ),
        ["no point", "1*x1 + 1*x2 >= 3", "loosen"],
    ),
    (
        "contradicting constraints",
        lambda: Space(
            [Float("x", 0, 10)],
            [LinearConstraint({"x": 1.0}, ">=", 6.0), LinearConstraint({"x": 1.0}, "<=", 4.0)],
        ),
        ["no point", "1*x >= 6", "1*x <= 4"],
    ),
]


@pytest.mark.parametrize("build, fragments", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_invalid_definitions_are_refused_with_a_helpful_message(
    build: Any, fragments: list[str]
) -> None:
    with pytest.raises(InvalidSpaceError) as info:
        build()
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value)


# ---------------------------------------------------------------- known bugs
def test_fixed_nan_is_refused_or_round_trips() -> None:
    try:
        space = Space([Float("x", 0.0, 1.0), Fixed("f", math.nan)])
    except InvalidSpaceError:
        return  # refusing the definition is a fix too
    space.validate(space.decode([0.5]))


def test_float_with_an_overflowing_range_is_refused_or_round_trips() -> None:
    try:
        space = Space([Float("x", -1e308, 1e308)])
    except InvalidSpaceError:
        return
    assert space.decode(space.encode({"x": 0.0}))["x"] == pytest.approx(0.0, abs=1e300)


# ------------------------------------------------------ equality constraints
MIXTURE = LinearConstraint({"a": 1.0, "b": 1.0, "c": 1.0}, "==", 1.0)


def mixture_space(*extra: LinearConstraint, low: float = 0.0) -> Space:
    return Space([Float(n, low, 1.0) for n in "abc"], [MIXTURE, *extra])


def test_an_equality_holds_within_its_tolerance_and_shows_its_op() -> None:
    assert str(MIXTURE) == "1*a + 1*b + 1*c == 1"
    assert MIXTURE.tolerance == pytest.approx(1e-6)
    assert MIXTURE.holds({"a": 0.2, "b": 0.3, "c": 0.5 + 5e-7})
    assert not MIXTURE.holds({"a": 0.2, "b": 0.3, "c": 0.5 + 2e-6})
    assert not MIXTURE.holds({"a": 0.2, "b": 0.3, "c": 0.4})
    big = LinearConstraint({"a": 1.0}, "==", -200.0)
    assert big.tolerance == pytest.approx(2e-4)
    assert big.holds({"a": -200.0001})
    # Inequalities keep their tighter tolerance.
    assert LinearConstraint({"a": 1.0}, "<=", 1.0).tolerance == pytest.approx(1e-9)


def test_an_infeasible_mixture_is_refused_when_the_space_is_built() -> None:
    with pytest.raises(InvalidSpaceError) as info:
        mixture_space(low=0.5)
    message = str(info.value)
    assert "no point of the space satisfies all of ['1*a + 1*b + 1*c == 1']" in message
    assert "loosen a bound or a constraint" in message
    # An equality and an inequality that cannot hold together.
    with pytest.raises(InvalidSpaceError, match="no point of the space satisfies"):
        mixture_space(LinearConstraint({"a": 1.0, "b": 1.0}, ">=", 1.5))


@pytest.mark.parametrize(
    "param, fragments",
    [
        (Int("c", 0, 1), ["parameter 'c' is an Int", "rounding an integer breaks an equality"]),
        (Float("c", 0.01, 1.0, log=True), ["parameter 'c' is on a log scale"]),
        (Choice("c", [0, 1]), ["parameter 'c' is a Choice"]),
    ],
)
def test_an_equality_applies_to_linear_floats_only(
    param: Int | Float | Choice, fragments: list[str]
) -> None:
    with pytest.raises(InvalidSpaceError) as info:
        Space([Float("a", 0.0, 1.0), Float("b", 0.0, 1.0), param], [MIXTURE])
    for fragment in fragments:
        assert fragment in str(info.value)
    # An integer may still take part in an inequality.
    Space([Float("a", 0, 1), Int("k", 0, 3)], [LinearConstraint({"a": 1, "k": 1}, "<=", 2)])


def test_botorch_equalities_are_apart_from_inequalities_and_agree_with_holds() -> None:
    # a in [0, 2], b in [1, 3], c fixed at 0.5: a + 2b + c == 5 and a - b <= 0.5.
    eq = LinearConstraint({"a": 1.0, "b": 2.0, "c": 1.0}, "==", 5.0)
    ineq = LinearConstraint({"a": 1.0, "b": -1.0}, "<=", 0.5)
    space = Space([Float("a", 0.0, 2.0), Float("b", 1.0, 3.0), Fixed("c", 0.5)], [eq, ineq])
    ((idx, coefs, rhs),) = space.botorch_equalities()
    # 2 u_a + 4 u_b + (0 + 2*1 + 0.5) == 5
    assert (idx, coefs, rhs) == ([0, 1], [2.0, 4.0], pytest.approx(2.5))
    ((idx, coefs, rhs),) = space.botorch_inequalities()
    # -(2 u_a - 2 u_b + (0 - 1)) >= -0.5
    assert (idx, coefs, rhs) == ([0, 1], [-2.0, 2.0], pytest.approx(-1.5))
    free = Space(space.parameters)
    points = [
        {"a": 0.5, "b": 2.0},  # both hold
        {"a": 1.0, "b": 1.75},  # both hold, on the boundary of the inequality
        {"a": 0.5, "b": 2.0 + 1e-7},  # the equality within its tolerance
        {"a": 0.5, "b": 2.001},  # the equality broken
        {"a": 2.0, "b": 1.25},  # the inequality broken
    ]
    expected = [True, True, True, False, False]
    for point, ok in zip(points, expected, strict=True):
        full = {**point, "c": 0.5}
        assert all(con.holds(full) for con in space.constraints) == ok, point
        u = free.encode(point)
        assert space.is_feasible(u[None, :])[0] == ok, point
        botorch_ok = abs(np.dot(u, [2.0, 4.0]) - 2.5) <= 1e-6 and np.dot(u, [-2, 2]) >= -1.5
        assert botorch_ok == ok, point
    assert space.describe()["constraints"] == [str(eq), str(ineq)]


def test_fixed_columns_move_into_the_right_hand_side() -> None:
    space = mixture_space(LinearConstraint({"a": 1.0, "b": -1.0}, "<=", 0.0))
    assert space.botorch_equalities({0: 0.25}) == [([1, 2], [1.0, 1.0], 0.75)]
    assert space.botorch_inequalities({0: 0.25}) == [([1], [1.0], pytest.approx(0.25))]
    # A constraint left with no free column is dropped (fixed_columns checks it).
    assert space.botorch_inequalities({0: 0.25, 1: 0.5}) == []


# -------------------------------------------------------- context (fixed)
def context_space() -> Space:
    return Space(
        [
            Float("temperature", 10.0, 40.0),
            Int("n", 1, 5),
            Choice("solvent", ["water", "ethanol", "acetone"]),
            Float("a", 0.0, 1.0),
            Float("b", 0.0, 1.0),
            Fixed("scale", 2.0),
        ],
        [
            LinearConstraint({"a": 1.0, "b": 1.0}, "==", 1.0),
            LinearConstraint({"b": 1.0}, ">=", 0.5),
        ],
    )


def test_fixed_columns_encode_the_context() -> None:
    space = context_space()
    assert space.fixed_columns({}) == {}
    out = space.fixed_columns({"temperature": 25.0, "n": 3, "solvent": "acetone", "a": 0.25})
    assert out == {0: 0.5, 1: 0.5, 2: 1.0, 3: 0.25}


@pytest.mark.parametrize(
    "fixed, fragments",
    [
        ({"pressure": 1.0}, ["fixed: unknown parameter 'pressure'", "['temperature', 'n',"]),
        ({"scale": 2.0}, ["fixed: 'scale' is a Fixed parameter, already fixed at 2.0"]),
        ({"temperature": 99.0}, ["fixed: 'temperature' = 99.0 is outside [10.0, 40.0]"]),
        ({"temperature": "hot"}, ["fixed: 'temperature' = 'hot' is not a number", "[10.0, 40.0]"]),
        ({"n": 2.5}, ["fixed: 'n' = 2.5 is not an integer", "an integer in [1, 5]"]),
        ({"n": 9}, ["fixed: 'n' = 9 is outside [1, 5]"]),
        ({"solvent": "oil"}, ["fixed: 'solvent' = 'oil' is not one of", "'acetone'"]),
        (
            {"a": 0.9},
            [
                "fixed: 'a' = 0.9 leaves no point that satisfies all of",
                "'1*b >= 0.5'",
                "valid: 'a' in [0, 0.5]",
            ],
        ),
        ({"a": 0.25, "b": 0.25}, ["fixed: 'a' = 0.25, 'b' = 0.25 leaves no point"]),
        (
            {"temperature": 20.0, "n": 1, "solvent": "water", "a": 0.5, "b": 0.5},
            ["fixed: every tunable parameter is given"],
        ),
        (["temperature"], ["fixed: got ['temperature']; expected a dict"]),
    ],
)
def test_fixed_columns_refusals_name_the_field_the_value_and_what_is_valid(
    fixed: Any, fragments: list[str]
) -> None:
    with pytest.raises(InvalidSpaceError) as info:
        context_space().fixed_columns(fixed)
    message = str(info.value)
    assert message.startswith("fixed: ")
    for fragment in fragments:
        assert fragment in message, message

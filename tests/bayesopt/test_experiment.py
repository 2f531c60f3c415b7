"""The experiment definition: refused before any trial runs, outcomes checked on arrival."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest

from bayesopt import (
    Choice,
    Experiment,
    Fixed,
    Float,
    Int,
    InvalidExperimentError,
    InvalidOutcomeError,
    InvalidSpaceError,
    LinearConstraint,
    Objective,
)
from bayesopt.stopping import LowExpectedImprovement, NoImprovement, TargetValue

PARAMS = [Float("x", 0.0, 1.0), Int("k", 1, 4)]


def experiment(**changes: Any) -> Experiment:
    kwargs: dict[str, Any] = {
        "name": "exp",
        "parameters": PARAMS,
        "objectives": [Objective("loss")],
    }
    kwargs.update(changes)
    return Experiment(**kwargs)


# -------------------------------------------------------- evaluate functions
def returns_loss(x, k):
    return {"loss": x * k, "aux": 1.0}


def returns_y(x, k):
    if x > 0.5:
        return {"y": x}
    return {"y": -x, "other": k}


def returns_a_variable(x, k):
    out = {"y": x}
    return out


def takes_kwargs(**params):
    return {"loss": sum(params.values())}


def needs_more(x, k, z):
    return {"loss": x + k + z}


def takes_too_few(x):
    return {"loss": x}


def positional_only(x, k, /):
    return {"loss": x}


def nested_return(x, k):
    def helper():
        return {"not_loss": 1.0}

    return {"loss": x + helper()["not_loss"]}


def as_loss(fn):
    """A decorator that renames the result: evaluate's own source does not show 'loss'."""

    @functools.wraps(fn)
    def wrapper(**params):
        return {"loss": fn(**params)["raw"]}

    return wrapper


@as_loss
def decorated(x, k):
    return {"raw": x * k}


class Evaluator:
    def __call__(self, x, k):
        return {"loss": x}


# ------------------------------------------------------------------ refusals
REFUSED: list[tuple[str, dict[str, Any], type[Exception], list[str]]] = [
    ("no parameters", {"parameters": []}, InvalidSpaceError, ["parameters", "at least one"]),
    (
        "duplicate parameter names",
        {"parameters": [Float("x", 0, 1), Float("x", 1, 2)]},
        InvalidSpaceError,
        ["duplicate names ['x']"],
    ),
    (
        "objective not returned",
        {"evaluate": returns_y},
        InvalidExperimentError,
        ["objectives", "['loss']", "returns_y()", "['other', 'y']", "rename the objective"],
    ),
    (
        "evaluate needs an unknown argument",
        {"evaluate": needs_more},
        InvalidExperimentError,
        ["evaluate", "needs_more(x, k, z)", "['x', 'k']", "'z'"],
    ),
    (
        "evaluate takes too few arguments",
        {"evaluate": takes_too_few},
        InvalidExperimentError,
        ["evaluate", "takes_too_few(x)", "['x', 'k']", "keyword arguments"],
    ),
    (
        "evaluate takes positional-only arguments",
        {"evaluate": positional_only},
        InvalidExperimentError,
        ["positional_only(x, k, /)", "['x', 'k']"],
    ),
    ("evaluate not callable", {"evaluate": "f"}, InvalidExperimentError, ["evaluate", "'f'"]),
    (
        "evaluate without the fixed parameter",
        {"parameters": [*PARAMS, Fixed("mode", "a")], "evaluate": returns_loss},
        InvalidExperimentError,
        ["returns_loss(x, k)", "['x', 'k', 'mode']"],
    ),
    (
        "unknown surrogate",
        {"surrogate": "random_forest"},
        InvalidExperimentError,
        ["surrogate", "'random_forest'", "valid names are [", "'gp'"],
    ),
    (
        "unknown acquisition",
        {"acquisition": "EI"},
        InvalidExperimentError,
        ["acquisition", "'EI'", "'qLogNEI'", "'qLogEI'", "'qUCB'"],
    ),
    (
        "infeasible constraint set",
        {"constraints": [LinearConstraint({"x": 1.0, "k": 1.0}, ">=", 6.0)]},
        InvalidSpaceError,
        ["no point", "1*x + 1*k >= 6", "loosen"],
    ),
    (
        "constraint on an unknown parameter",
        {"constraints": [LinearConstraint({"z": 1.0}, "<=", 1.0)]},
        InvalidSpaceError,
        ["unknown parameter 'z'", "['x', 'k']"],
    ),
    (
        "constraint on a log parameter",
        {
            "parameters": [Float("lr", 1e-4, 1.0, log=True), Float("x", 0, 1)],
            "constraints": [LinearConstraint({"lr": 1.0, "x": 1.0}, "<=", 1.0)],
        },
        InvalidSpaceError,
        ["'lr'", "log scale", "log=False"],
    ),
    (
        "constraint on a choice",
        {
            "parameters": [Choice("c", [1, 2, 3], ordered=True), Float("x", 0, 1)],
            "constraints": [LinearConstraint({"c": 1.0, "x": 1.0}, "<=", 2.0)],
        },
        InvalidSpaceError,
        ["'c'", "Choice", "Float and Int"],
    ),
    ("budget 0", {"budget": 0}, InvalidExperimentError, ["budget", "got 0", "integer >= 1"]),
    ("budget a bool", {"budget": True}, InvalidExperimentError, ["budget", "True", ">= 1"]),
    ("budget a float", {"budget": 10.0}, InvalidExperimentError, ["budget", "10.0", ">= 1"]),
    ("batch size 0", {"batch_size": 0}, InvalidExperimentError, ["batch_size", "got 0"]),
    ("retries < 0", {"retries": -1}, InvalidExperimentError, ["retries", "-1", ">= 0"]),
    (
        "initial trials < 0",
        {"initial_trials": -2},
        InvalidExperimentError,
        ["initial_trials", "-2", ">= 0"],
    ),
    (
        "negative timeout",
        {"timeout": -5.0},
        InvalidExperimentError,
        ["timeout", "-5.0", "positive number of seconds or None"],
    ),
    ("zero timeout", {"timeout": 0}, InvalidExperimentError, ["timeout", "got 0"]),
    ("nan timeout", {"timeout": math.nan}, InvalidExperimentError, ["timeout", "nan"]),
    (
        "negative retry delay",
        {"retry_delay": -1},
        InvalidExperimentError,
        ["retry_delay", "-1", "positive number of seconds"],
    ),
    ("negative seed", {"seed": -1}, InvalidExperimentError, ["seed", "-1", ">= 0"]),
    ("bad name", {"name": "my exp!"}, InvalidExperimentError, ["name", "'my exp!'", "letters"]),
    ("empty name", {"name": ""}, InvalidExperimentError, ["name", "''"]),
    (
        "no objective",
        {"objectives": []},
        InvalidExperimentError,
        ["objectives", "[]", "Objective("],
    ),
    (
        "objective not an Objective",
        {"objectives": ["loss"]},
        InvalidExperimentError,
        ["objectives", "'loss'", "Objective(name, minimize)"],
    ),
    (
        "single-objective acquisition with two objectives",
        {"objectives": [Objective("a"), Objective("b")], "acquisition": "qLogNEI"},
        InvalidExperimentError,
        ["acquisition", "'qLogNEI'", "several objectives", "qLogNEHVI"],
    ),
    (
        "multi-objective acquisition with one objective",
        {"acquisition": "qLogNEHVI"},
        InvalidExperimentError,
        ["acquisition", "'qLogNEHVI'", "one objective", "qLogNEI"],
    ),
    (
        "outcome constraint on an outcome evaluate does not return",
        {"evaluate": returns_loss, "constraints": ["purity >= 0.95"]},
        InvalidExperimentError,
        ["constraints", "'purity >= 0.95'", "returns_loss()", "['aux', 'loss']"],
    ),
    (
        "second objective that evaluate does not return",
        {"evaluate": returns_loss, "objectives": [Objective("loss"), Objective("cost")]},
        InvalidExperimentError,
        ["objectives", "['cost']", "returns_loss()"],
    ),
    (
        "threshold outside the outcome's range",
        {
            "objectives": [Objective("loss"), Objective("acc", minimize=False, threshold=1.2)],
            "outcome_bounds": {"acc": (0.0, 1.0)},
        },
        InvalidExperimentError,
        ["objective 'acc'", "threshold=1.2", "cannot be met", "[0, 1]"],
    ),
    (
        "outcome constraint outside the outcome's range",
        {"constraints": ["purity >= 1.5"], "outcome_bounds": {"purity": (0.0, 1.0)}},
        InvalidExperimentError,
        ["'purity >= 1.5'", "cannot be met", "[0, 1]"],
    ),
    (
        "constraint mixing parameters and outcomes",
        {"constraints": ["x + cost <= 3"]},
        InvalidExperimentError,
        ["x + cost <= 3", "x", "cost"],
    ),
    (
        "qUCB with outcome constraints",
        {"acquisition": "qUCB", "constraints": ["cost <= 12"]},
        InvalidExperimentError,
        ["'qUCB'", "outcome constraints", "qLogNEI"],
    ),
    (
        "a target value with two objectives",
        {"objectives": [Objective("a"), Objective("b")], "stopping": [TargetValue(1.0)]},
        InvalidExperimentError,
        ["TargetValue", "several objectives", "NoImprovement"],
    ),
    (
        "a stopping rule that is not one",
        {"stopping": ["after 10 trials"]},
        InvalidExperimentError,
        ["stopping", "'after 10 trials'", "NoImprovement"],
    ),
    (
        "low expected improvement with qUCB",
        {"acquisition": "qUCB", "stopping": [LowExpectedImprovement()]},
        InvalidExperimentError,
        ["LowExpectedImprovement", "'qUCB'", "qLogNEI"],
    ),
    (
        "outcome bounds that are not a range",
        {"outcome_bounds": {"acc": (1.0, 0.0)}},
        InvalidExperimentError,
        ["outcome_bounds", "'acc'", "low < high"],
    ),
    (
        "duplicate objectives",
        {"objectives": [Objective("a"), Objective("a", minimize=False)]},
        InvalidExperimentError,
        ["duplicate names", "['a', 'a']"],
    ),
    (
        "objective named like a parameter",
        {"objectives": [Objective("x")]},
        InvalidExperimentError,
        ["['x']", "also parameter names"],
    ),
]


@pytest.mark.parametrize(
    "changes, error, fragments", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_invalid_experiments_are_refused_with_a_helpful_message(
    changes: dict[str, Any], error: type[Exception], fragments: list[str]
) -> None:
    with pytest.raises(error) as info:
        experiment(**changes)
    assert type(info.value) is error
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    "build, fragments",
    [
        (lambda: Objective(""), ["objective name", "''"]),
        (lambda: Objective("y", minimize="yes"), ["'y'", "minimize='yes'", "True or False"]),
    ],
)
def test_invalid_objectives_are_refused(build: Any, fragments: list[str]) -> None:
    with pytest.raises(InvalidExperimentError) as info:
        build()
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    "evaluate",
    [
        returns_loss,
        takes_kwargs,
        returns_a_variable,  # keys not readable from the source: checked on each evaluation
        nested_return,  # the helper's return does not count
        lambda x, k: {"y": x},  # a lambda's keys are not read either
        Evaluator(),
        functools.partial(needs_more, z=1.0),
    ],
    ids=["dict", "kwargs", "variable", "nested", "lambda", "callable-object", "partial"],
)
def test_evaluate_functions_that_can_work_are_accepted(evaluate: Any) -> None:
    assert experiment(evaluate=evaluate).evaluate is evaluate


def test_a_decorated_evaluate_is_judged_by_what_it_returns() -> None:
    assert decorated(x=0.5, k=2) == {"loss": 1.0}
    experiment(evaluate=decorated)


# ------------------------------------------------------------------ settings
def test_an_experiment_normalizes_its_definition() -> None:
    exp = experiment(objectives=Objective("loss", minimize=False), parameters=tuple(PARAMS))
    assert exp.objectives == (Objective("loss", minimize=False),)
    assert exp.objective.sign() == 1.0
    assert Objective("loss").sign() == -1.0
    assert exp.space.names == ("x", "k")
    assert exp.definition() == {
        "space": exp.space.describe(),
        "objectives": [{"name": "loss", "minimize": False}],
    }


@pytest.mark.parametrize(
    "parameters, initial_trials, expected",
    [
        ([Float("x", 0, 1)], None, 5),
        ([Float(f"x{i}", 0, 1) for i in range(4)], None, 8),
        ([Float("x", 0, 1), Fixed("f", 1)], None, 5),
        ([Float("x", 0, 1)], 3, 3),
        ([Float("x", 0, 1)], 0, 0),
    ],
)
def test_n_initial(parameters: list, initial_trials: int | None, expected: int) -> None:
    assert experiment(parameters=parameters, initial_trials=initial_trials).n_initial == expected


def test_replace_validates_again_and_ignores_none() -> None:
    exp = experiment(budget=10)
    assert exp.replace(budget=None, batch_size=2).budget == 10
    assert exp.replace(batch_size=2).batch_size == 2
    with pytest.raises(InvalidExperimentError, match="budget: got 0"):
        exp.replace(budget=0)


def test_settings_are_logged_in_full() -> None:
    settings = experiment(initial_trials=4, seed=3).settings()
    assert settings["initial_trials"] == 4
    assert settings["seed"] == 3
    assert settings["dim"] == 2
    assert settings["objective"] == "loss"
    assert settings["minimize"] is True


# ------------------------------------------------------------- check_values
@pytest.mark.parametrize(
    "raw, fragments",
    [
        ({"loss": math.nan}, ["'loss'", "nan", "not a finite number"]),
        ({"loss": math.inf}, ["'loss'", "inf", "not a finite number"]),
        ({"loss": -math.inf}, ["'loss'", "-inf"]),
        ({"loss": 1.0, "aux": math.nan}, ["'aux'", "nan"]),
        ({"other": 1.0}, ["missing objective(s) ['loss']", "['other']"]),
        ({}, ["missing objective(s) ['loss']"]),
        ({"loss": "abc"}, ["'loss'", "'abc'", "not a number"]),
        ({"loss": None}, ["'loss'", "None", "not a number"]),
        ({"loss": [1.0]}, ["'loss'", "[1.0]", "not a number"]),
        ({"loss": True}, ["'loss'", "True"]),
        (True, ["got True", "expected a dict", "{'loss': 1.23}"]),
        (math.nan, ["'loss'", "nan"]),
        ("1.0", ["got '1.0'", "expected a dict"]),
        ([1.0], ["got [1.0]", "expected a dict"]),
        (None, ["got None", "expected a dict"]),
    ],
)
def test_check_values_refuses_unusable_outcomes(raw: Any, fragments: list[str]) -> None:
    with pytest.raises(InvalidOutcomeError) as info:
        experiment().check_values(raw)
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (1.5, {"loss": 1.5}),
        (2, {"loss": 2.0}),
        (np.float64(0.25), {"loss": 0.25}),
        ({"loss": 1}, {"loss": 1.0}),
        ({"loss": np.float32(0.5)}, {"loss": 0.5}),
        ({"loss": -3.0, "aux": 7, "time_s": 0.1}, {"loss": -3.0, "aux": 7.0, "time_s": 0.1}),
    ],
)
def test_check_values_accepts_numbers(raw: Any, expected: dict[str, float]) -> None:
    values = experiment().check_values(raw)
    assert values == expected
    assert all(type(v) is float for v in values.values())


@pytest.mark.parametrize("value", ["1.5", np.True_], ids=["numeric-string", "numpy-bool"])
def test_check_values_refuses_non_numbers_that_float_accepts(value: Any) -> None:
    with pytest.raises(InvalidOutcomeError):
        experiment().check_values({"loss": value})


def test_check_values_accepts_a_numpy_float32_for_one_objective() -> None:
    assert experiment().check_values(np.float32(0.5)) == {"loss": 0.5}


# ------------------------------------------------------------ campaign settings
def test_the_default_acquisition_follows_the_number_of_objectives() -> None:
    assert experiment().acquisition == "qLogNEI"
    two = experiment(objectives=[Objective("a"), Objective("b", minimize=False)])
    assert two.acquisition == "qLogNEHVI" and two.is_multi_objective
    four = experiment(objectives=[Objective(n) for n in "abcd"])
    assert four.acquisition == "qLogNParEGO"


def test_string_constraints_split_into_parameter_and_outcome_constraints() -> None:
    exp = experiment(constraints=["x + k <= 4", "purity >= 0.95", "cost <= 12"])
    assert [str(c) for c in exp.space.constraints] == ["1*x + 1*k <= 4"]
    assert [str(c) for c in exp.outcome_constraints] == ["purity >= 0.95", "cost <= 12"]
    assert exp.modelled_outcomes == ("loss", "purity", "cost")
    assert exp.is_feasible({"purity": 0.97, "cost": 3.0})
    assert not exp.is_feasible({"purity": 0.90, "cost": 3.0})
    settings = exp.settings()
    assert "purity >= 0.95" in settings["constraints"]


def test_measured_values_may_carry_their_standard_error() -> None:
    exp = experiment(constraints=["cost <= 12"])
    values, sems = exp.check_observation({"loss": (0.82, 0.03), "cost": 4, "aux": 1.0})
    assert values == {"loss": 0.82, "cost": 4.0, "aux": 1.0}
    assert sems == {"loss": 0.03}
    assert experiment().check_observation((0.5, 0.0)) == ({"loss": 0.5}, {"loss": 0.0})


@pytest.mark.parametrize(
    "raw, fragments",
    [
        ({"loss": (0.82, -0.03), "cost": 1.0}, ["'loss'", "sem -0.03", ">= 0"]),
        ({"loss": (0.82, float("nan")), "cost": 1.0}, ["'loss'", "sem nan", "finite"]),
        ({"loss": (0.82, float("inf")), "cost": 1.0}, ["'loss'", "sem inf"]),
        ({"loss": (0.82, 0.1, 3), "cost": 1.0}, ["'loss'", "(mean, sem) pair"]),
        ({"loss": ("a", 0.1), "cost": 1.0}, ["'loss'", "'a' is not a number"]),
        ({"loss": 1.0}, ["missing constrained outcome(s) ['cost']", "cost <= 12"]),
        ({"loss": 1.0, "cost": 2.0, "acc": 1.5}, ["'acc' = 1.5", "outside its range [0, 1]"]),
    ],
)
def test_bad_measurements_are_refused(raw: Any, fragments: list[str]) -> None:
    exp = experiment(constraints=["cost <= 12"], outcome_bounds={"acc": (0.0, 1.0)})
    with pytest.raises(InvalidOutcomeError) as info:
        exp.check_observation(raw)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    "build, fragments",
    [
        (lambda: NoImprovement(trials=0), ["NoImprovement", "trials=0", ">= 1"]),
        (lambda: NoImprovement(tolerance=-1.0), ["tolerance=-1.0", "non-negative"]),
        (lambda: TargetValue(float("nan")), ["TargetValue", "value=nan"]),
        (lambda: LowExpectedImprovement(threshold=-0.1), ["threshold=-0.1"]),
        (lambda: Objective("y", threshold="high"), ["'y'", "threshold='high'"]),
    ],
)
def test_bad_rules_and_thresholds_are_refused(build: Any, fragments: list[str]) -> None:
    with pytest.raises(InvalidExperimentError) as info:
        build()
    for fragment in fragments:
        assert fragment in str(info.value)

"""The exception hierarchy and the public surface of the package."""

from __future__ import annotations

import types

import pytest

import bayesopt
from bayesopt import (
    BayesoptError,
    EvaluationTimeoutError,
    InvalidExperimentError,
    InvalidOutcomeError,
    InvalidSpaceError,
    StorageError,
    TrialStateError,
)
from bayesopt.errors import describe


@pytest.mark.parametrize(
    "error, builtin",
    [
        (InvalidSpaceError, ValueError),
        (InvalidExperimentError, ValueError),
        (InvalidOutcomeError, ValueError),
        (TrialStateError, RuntimeError),
        (StorageError, RuntimeError),
        (EvaluationTimeoutError, TimeoutError),
    ],
)
def test_every_error_is_a_bayesopt_error_and_a_builtin(error: type, builtin: type) -> None:
    assert issubclass(error, BayesoptError)
    assert issubclass(error, builtin)
    with pytest.raises(builtin):
        raise error("message")


def test_describe_shortens_long_values() -> None:
    assert describe("abc") == "'abc'"
    long = describe(list(range(100)))
    assert len(long) == 80 and long.endswith("...")


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(bayesopt).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(bayesopt.__all__) == sorted(public)
    assert len(set(bayesopt.__all__)) == len(bayesopt.__all__)

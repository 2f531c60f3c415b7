"""The exception hierarchy and the public surface of the package."""

from __future__ import annotations

import importlib

import pytest

import bayesopt
from bayesopt import (
    BayesoptError,
    EvaluationTimeoutError,
    InvalidAnalysisError,
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
        (InvalidAnalysisError, ValueError),
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
    # The names load on first use: __all__ is what the lazy map offers, and each resolves
    # to the object of that name in the module the map names.
    assert sorted(bayesopt.__all__) == sorted(bayesopt._WHERE)
    assert len(set(bayesopt.__all__)) == len(bayesopt.__all__)
    for name in bayesopt.__all__:
        module = importlib.import_module(bayesopt._WHERE[name])
        assert getattr(bayesopt, name) is getattr(module, name)
    assert set(bayesopt.__all__) <= set(dir(bayesopt))
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        bayesopt.Nope  # noqa: B018

"""The project's exception hierarchy.

Every error the project raises derives from :class:`BayesoptError` and from the
builtin it refines, so ``except ValueError`` keeps working for callers that do
not know this package.
"""

from __future__ import annotations


class BayesoptError(Exception):
    """Root of every error raised by this project."""


class InvalidSpaceError(BayesoptError, ValueError):
    """A parameter, a constraint or a point does not fit the search space."""


class InvalidExperimentError(BayesoptError, ValueError):
    """An experiment definition is refused before any trial runs."""


class InvalidOutcomeError(BayesoptError, ValueError):
    """An evaluation returned values that cannot be recorded (NaN, inf, wrong keys)."""


class TrialStateError(BayesoptError, RuntimeError):
    """A trial is unknown, or the requested change does not fit its lifecycle."""


class StorageError(BayesoptError, RuntimeError):
    """The trial store refused an operation (a different experiment under the same name)."""


class InvalidImportError(BayesoptError, ValueError):
    """Imported trials were refused (a missing column, a bad row); nothing was written."""


class EvaluationTimeoutError(BayesoptError, TimeoutError):
    """An evaluation ran past the time limit that the experiment sets."""


class InvalidAnalysisError(BayesoptError, ValueError):
    """An analysis of the history (regimes, drift, basins) was given input it cannot use."""


def describe(value: object) -> str:
    """A short, unambiguous rendering of a user-given value for error messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."

"""Bayesian optimization as a plain library: define an experiment, ask, tell.

The core never imports Prefect or MLflow; ``flows`` composes it into runs.
"""

from bayesopt.constraints import OutcomeConstraint, parse_constraint
from bayesopt.errors import (
    BayesoptError,
    EvaluationTimeoutError,
    InvalidExperimentError,
    InvalidImportError,
    InvalidOutcomeError,
    InvalidSpaceError,
    StorageError,
    TrialStateError,
)
from bayesopt.evaluation import evaluate_point
from bayesopt.experiment import Experiment, Objective
from bayesopt.optimizer import Optimizer
from bayesopt.space import Choice, Fixed, Float, Int, LinearConstraint, Space
from bayesopt.stopping import LowExpectedImprovement, NoImprovement, Stop, TargetValue
from bayesopt.trial import Trial, TrialStatus

__all__ = [
    "BayesoptError",
    "Choice",
    "EvaluationTimeoutError",
    "Experiment",
    "Fixed",
    "Float",
    "Int",
    "InvalidExperimentError",
    "InvalidImportError",
    "InvalidOutcomeError",
    "InvalidSpaceError",
    "LinearConstraint",
    "LowExpectedImprovement",
    "NoImprovement",
    "Objective",
    "Optimizer",
    "OutcomeConstraint",
    "Space",
    "Stop",
    "StorageError",
    "TargetValue",
    "Trial",
    "TrialStateError",
    "TrialStatus",
    "evaluate_point",
    "parse_constraint",
]

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
from bayesopt.space import Choice, Fidelity, Fixed, Float, Int, LinearConstraint, Space
from bayesopt.steps import BO, Ax, Sobol, TrustRegion
from bayesopt.stopping import (
    LowExpectedImprovement,
    LowIntegratedVariance,
    NoImprovement,
    Stop,
    TargetValue,
)
from bayesopt.trial import Trial, TrialStatus

__all__ = [
    "BO",
    "Ax",
    "BayesoptError",
    "Choice",
    "EvaluationTimeoutError",
    "Experiment",
    "Fidelity",
    "Fixed",
    "Float",
    "Int",
    "InvalidExperimentError",
    "InvalidImportError",
    "InvalidOutcomeError",
    "InvalidSpaceError",
    "LinearConstraint",
    "LowExpectedImprovement",
    "LowIntegratedVariance",
    "NoImprovement",
    "Objective",
    "Optimizer",
    "OutcomeConstraint",
    "Sobol",
    "Space",
    "Stop",
    "StorageError",
    "TargetValue",
    "Trial",
    "TrialStateError",
    "TrialStatus",
    "TrustRegion",
    "evaluate_point",
    "parse_constraint",
]

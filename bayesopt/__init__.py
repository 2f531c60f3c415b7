"""Bayesian optimization as a plain library: define an experiment, ask, tell.

The core never imports Prefect or MLflow; ``flows`` composes it into runs.

Names are imported on first use (PEP 562), so that ``import bayesopt`` and the
command line's help do not load PyTorch and BoTorch until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bayesopt.constraints import OutcomeConstraint, parse_constraint
    from bayesopt.errors import (
        BayesoptError,
        EvaluationTimeoutError,
        InvalidAnalysisError,
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
        Stalled,
        Stop,
        TargetValue,
    )
    from bayesopt.trial import Trial, TrialStatus

#: Where each public name is defined.
_WHERE = {
    "Ax": "bayesopt.steps",
    "BO": "bayesopt.steps",
    "BayesoptError": "bayesopt.errors",
    "Choice": "bayesopt.space",
    "EvaluationTimeoutError": "bayesopt.errors",
    "Experiment": "bayesopt.experiment",
    "Fidelity": "bayesopt.space",
    "Fixed": "bayesopt.space",
    "Float": "bayesopt.space",
    "Int": "bayesopt.space",
    "InvalidAnalysisError": "bayesopt.errors",
    "InvalidExperimentError": "bayesopt.errors",
    "InvalidImportError": "bayesopt.errors",
    "InvalidOutcomeError": "bayesopt.errors",
    "InvalidSpaceError": "bayesopt.errors",
    "LinearConstraint": "bayesopt.space",
    "LowExpectedImprovement": "bayesopt.stopping",
    "LowIntegratedVariance": "bayesopt.stopping",
    "NoImprovement": "bayesopt.stopping",
    "Objective": "bayesopt.experiment",
    "Optimizer": "bayesopt.optimizer",
    "OutcomeConstraint": "bayesopt.constraints",
    "Sobol": "bayesopt.steps",
    "Space": "bayesopt.space",
    "Stalled": "bayesopt.stopping",
    "Stop": "bayesopt.stopping",
    "StorageError": "bayesopt.errors",
    "TargetValue": "bayesopt.stopping",
    "Trial": "bayesopt.trial",
    "TrialStateError": "bayesopt.errors",
    "TrialStatus": "bayesopt.trial",
    "TrustRegion": "bayesopt.steps",
    "evaluate_point": "bayesopt.evaluation",
    "parse_constraint": "bayesopt.constraints",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'bayesopt' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


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
    "InvalidAnalysisError",
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
    "Stalled",
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

"""Surrogate models: each fits on tensors and returns a fitted BoTorch ``Model``."""

from surrogates.auto import AutoSurrogate
from surrogates.base import (
    Column,
    FitSpec,
    Surrogate,
    SurrogateError,
    SurrogateFallbackWarning,
    SurrogateRegistry,
    check_training_data,
)
from surrogates.gp import ExactGP
from surrogates.predictive import GaussianMixture, Predictive, SampledPredictive, predictive


def default_registry() -> SurrogateRegistry:
    """A registry holding every surrogate this package ships, by name."""
    registry = SurrogateRegistry()
    registry.register("gp", ExactGP)
    registry.register("auto", AutoSurrogate)
    return registry


__all__ = [
    "AutoSurrogate",
    "Column",
    "ExactGP",
    "FitSpec",
    "GaussianMixture",
    "Predictive",
    "SampledPredictive",
    "Surrogate",
    "SurrogateError",
    "SurrogateFallbackWarning",
    "SurrogateRegistry",
    "check_training_data",
    "default_registry",
    "predictive",
]

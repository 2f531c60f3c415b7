"""Surrogate models: each fits on tensors and returns a fitted BoTorch ``Model``."""

from surrogates.base import (
    FitSpec,
    Surrogate,
    SurrogateError,
    SurrogateFallbackWarning,
    SurrogateRegistry,
    check_training_data,
)
from surrogates.gp import ExactGP


def default_registry() -> SurrogateRegistry:
    """A registry holding every surrogate this package ships, by name."""
    registry = SurrogateRegistry()
    registry.register("gp", ExactGP)
    return registry


__all__ = [
    "ExactGP",
    "FitSpec",
    "Surrogate",
    "SurrogateError",
    "SurrogateFallbackWarning",
    "SurrogateRegistry",
    "check_training_data",
    "default_registry",
]

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
from surrogates.bnn import BayesianNN
from surrogates.gp import ExactGP
from surrogates.numpyro_model import NumPyroSurrogate
from surrogates.predictive import GaussianMixture, Predictive, SampledPredictive, predictive
from surrogates.saas import SaasGP
from surrogates.sparse_gp import SparseGP


def default_registry() -> SurrogateRegistry:
    """A registry holding every surrogate this package ships, by name."""
    registry = SurrogateRegistry()
    registry.register("gp", ExactGP)
    registry.register("sparse_gp", SparseGP)
    registry.register("saas", SaasGP)
    registry.register("bnn", BayesianNN)
    registry.register("numpyro", NumPyroSurrogate)
    registry.register("auto", AutoSurrogate)
    return registry


__all__ = [
    "AutoSurrogate",
    "BayesianNN",
    "Column",
    "ExactGP",
    "FitSpec",
    "GaussianMixture",
    "NumPyroSurrogate",
    "Predictive",
    "SaasGP",
    "SampledPredictive",
    "SparseGP",
    "Surrogate",
    "SurrogateError",
    "SurrogateFallbackWarning",
    "SurrogateRegistry",
    "check_training_data",
    "default_registry",
    "predictive",
]

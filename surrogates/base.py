"""The surrogate interface and the registry of surrogates by name.

A surrogate fits on tensors and returns a fitted BoTorch :class:`~botorch.models.model.Model`,
so that every BoTorch acquisition function works with it unchanged. It knows
nothing of experiments, trials or storage.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from botorch.models.model import Model
from torch import Tensor


class SurrogateError(ValueError):
    """A surrogate cannot be built or fitted on the data it was given."""


class SurrogateFallbackWarning(UserWarning):
    """A fit did not go as asked and a fallback was used; the message says which.

    Silence with ``warnings.filterwarnings("ignore", category=SurrogateFallbackWarning)``.
    """


@dataclass(frozen=True)
class Column:
    """What one input column means in the units of the user's problem.

    An encoded value ``u`` in ``[0, 1]`` stands for ``low + u * (high - low)``, or
    ``exp(log low + u * (log high - log low))`` when ``log`` is true. A choice
    parameter's column stands for the index of its value (``low = 0``,
    ``high = k - 1``); ``categorical`` says the order of those indices means nothing.
    """

    name: str
    low: float
    high: float
    log: bool = False
    categorical: bool = False


@dataclass(frozen=True)
class FitSpec:
    """What a surrogate needs to know about the inputs and outcomes besides the data.

    Attributes:
        bounds: A ``2 x d``-dim tensor of lower and upper bounds of the inputs.
        cat_dims: Columns that hold categorical values (compared by equality only).
        seed: Seed for anything random in the fit (restarts, minibatches, MCMC).
        columns: What each input column means in natural units (empty when unknown);
            surrogates that model the user's process directly (``"numpyro"``) use it.
        signs: Per outcome, ``+1`` or ``-1``: ``train_Y`` holds ``sign * measured``, so
            that larger is always better (empty means all ``+1``).
        train_Yvar: A ``n x m``-dim tensor of known observation noise variances (the
            squared standard errors measured with the outcomes), or ``None`` when the
            noise is to be inferred. Surrogates that cannot use it infer the noise.
        warm_start: Hyperparameters to start the fit from (the exact GP's raw parameters
            by name, as its fit info ``gp_state`` gives them after a fit); ``None``: the
            surrogate's own starting values. Others ignore it.
        warp: The outcomes may be warped before the fit (the exact GP's Yeo-Johnson
            warp, :mod:`surrogates.warp`): they are objectives to optimize, so only their
            order matters to the decision. The model then decides on the warped scale
            and predicts in the outcome's units (``surrogates.predictive.predictive``).
    """

    bounds: Tensor
    cat_dims: Sequence[int] = field(default_factory=tuple)
    seed: int | None = None
    columns: Sequence[Column] = field(default_factory=tuple)
    signs: Sequence[float] = field(default_factory=tuple)
    train_Yvar: Tensor | None = None
    warm_start: Mapping[str, Sequence[float]] | None = None
    warp: bool = False


@runtime_checkable
class Surrogate(Protocol):
    """Fit ``n x d`` inputs and ``n x m`` outcomes; return a fitted BoTorch model."""

    name: str

    def fit(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec) -> Model: ...


def check_training_data(
    train_X: Tensor, train_Y: Tensor, spec: FitSpec, *, min_points: int = 2
) -> None:
    """Refuse data that no surrogate can fit, naming what is wrong.

    Args:
        train_X: A ``n x d``-dim tensor of inputs.
        train_Y: A ``n x m``-dim tensor of outcomes.
    """
    if train_X.dim() != 2 or train_Y.dim() != 2 or train_X.shape[0] != train_Y.shape[0]:
        raise SurrogateError(
            f"training data: expected train_X of shape n x d and train_Y of shape n x m, got "
            f"{tuple(train_X.shape)} and {tuple(train_Y.shape)}"
        )
    if spec.bounds.shape != (2, train_X.shape[1]):
        raise SurrogateError(
            f"bounds: expected shape (2, {train_X.shape[1]}), got {tuple(spec.bounds.shape)}"
        )
    n = train_X.shape[0]
    if n < min_points:
        raise SurrogateError(
            f"training data: {n} observation(s); this surrogate needs at least {min_points}"
        )
    if not torch.isfinite(train_X).all() or not torch.isfinite(train_Y).all():
        raise SurrogateError(
            "training data: contains NaN or infinite values; drop or fix those observations"
        )


class SurrogateRegistry:
    """Surrogate factories by name; an explicit object, never filled as an import side effect."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[..., Surrogate]] = {}

    def register(self, name: str, factory: Callable[..., Surrogate]) -> None:
        if name in self._factories:
            raise SurrogateError(f"surrogate '{name}' is already registered")
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def factory(self, name: str) -> Callable[..., Surrogate]:
        if name not in self._factories:
            raise SurrogateError(
                f"surrogate: unknown name {name!r}; valid names are {self.names()}"
            )
        return self._factories[name]

    def create(self, name: str, **options: Any) -> Surrogate:
        return self.factory(name)(**options)


def warn_fallback(message: str) -> None:
    warnings.warn(message, SurrogateFallbackWarning, stacklevel=3)


def set_fit_info(model: Model, **info: float | int | str) -> None:
    """Attach facts about a fit (MCMC diagnostics, settings, a fallback) to the fitted model.

    They are read back with :func:`fit_info` and logged with every decision.
    """
    current: dict[str, float | int | str] = dict(getattr(model, "fit_info", {}))
    current.update(info)
    model.fit_info = current  # type: ignore[assignment]


def fit_info(model: Model) -> dict[str, float | int | str]:
    """What the surrogate recorded about its fit (empty when nothing)."""
    return dict(getattr(model, "fit_info", {}))

"""The surrogate interface: a contract every registered surrogate meets, and the registry."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.models.model import Model

from surrogates import (
    FitSpec,
    Surrogate,
    SurrogateError,
    SurrogateRegistry,
    check_training_data,
    default_registry,
)

DTYPE = torch.float64
SURROGATES = default_registry().names()


def unit_spec(d: int, **kwargs) -> FitSpec:
    return FitSpec(bounds=torch.stack([torch.zeros(d), torch.ones(d)]).to(DTYPE), **kwargs)


def with_value(t: torch.Tensor, value: float) -> torch.Tensor:
    """A copy of ``t`` with one entry replaced."""
    out = t.clone()
    out[min(2, len(out) - 1), 0] = value
    return out


def data(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=gen, dtype=DTYPE)
    Y = torch.sin(3 * X).sum(-1, keepdim=True)
    return X, Y


# ----------------------------------------------------------------- contract
@pytest.mark.parametrize("name", SURROGATES)
def test_a_surrogate_fits_and_returns_a_botorch_model(name: str) -> None:
    surrogate = default_registry().create(name)
    assert isinstance(surrogate, Surrogate)
    assert surrogate.name == name
    X, Y = data(8, 2)
    model = surrogate.fit(X, Y, unit_spec(2, seed=0))
    assert isinstance(model, Model)
    post = model.posterior(torch.rand(3, 1, 2, dtype=DTYPE))
    assert post.mean.shape == (3, 1, 1)
    assert torch.isfinite(post.mean).all() and (post.variance > 0).all()


@pytest.mark.parametrize("name", SURROGATES)
def test_a_surrogate_is_reproducible_with_a_seed(name: str) -> None:
    X, Y = data(8, 2)
    test_X = torch.rand(5, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(1))
    means = [
        default_registry().create(name).fit(X, Y, unit_spec(2, seed=3)).posterior(test_X).mean
        for _ in range(2)
    ]
    torch.testing.assert_close(means[0], means[1], rtol=0, atol=0)


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize(
    "bad, fragment",
    [
        (lambda X, Y: (X[:1], Y[:1]), "1 observation(s)"),
        (lambda X, Y: (X, with_value(Y, math.nan)), "NaN"),
        (lambda X, Y: (with_value(X, math.nan), Y), "NaN"),
        (lambda X, Y: (with_value(X, math.inf), Y), "infinite"),
        (lambda X, Y: (X, Y.squeeze(-1)), "shape n x d"),
        (lambda X, Y: (X, Y[:-1]), "shape n x d"),
    ],
    ids=["one-point", "nan-y", "nan-x", "inf-x", "1d-y", "length-mismatch"],
)
def test_a_surrogate_refuses_unusable_data(name: str, bad, fragment: str) -> None:
    X, Y = bad(*data(6, 2))
    with pytest.raises(SurrogateError) as info:
        default_registry().create(name).fit(X, Y, unit_spec(2))
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value)


# ----------------------------------------------------------------- helpers
def test_check_training_data_checks_the_bounds() -> None:
    X, Y = data(4, 3)
    with pytest.raises(SurrogateError, match=r"bounds: expected shape \(2, 3\), got \(2, 2\)"):
        check_training_data(X, Y, unit_spec(2))
    with pytest.raises(SurrogateError, match="needs at least 5"):
        check_training_data(X, Y, unit_spec(3), min_points=5)
    check_training_data(X, Y, unit_spec(3))


def test_the_registry_is_explicit() -> None:
    registry = SurrogateRegistry()
    assert registry.names() == []
    assert "gp" not in registry
    with pytest.raises(SurrogateError, match=r"unknown name 'gp'; valid names are \[\]"):
        registry.create("gp")
    registry.register("gp", lambda **kw: kw)
    assert "gp" in registry and registry.names() == ["gp"]
    assert registry.create("gp", max_attempts=2) == {"max_attempts": 2}
    with pytest.raises(SurrogateError, match="'gp' is already registered"):
        registry.register("gp", lambda: None)
    # A new default registry is a new object: registering here leaves it alone.
    assert default_registry() is not default_registry()
    assert "rf" not in default_registry()


def test_all_lists_exactly_the_public_names() -> None:
    import types

    import surrogates

    public = {
        name
        for name, value in vars(surrogates).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(surrogates.__all__) == sorted(public)

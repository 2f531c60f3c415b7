"""The surrogate interface: a contract every registered surrogate meets, and the registry."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models.model import Model
from botorch.optim import optimize_acqf

from surrogates import (
    FitSpec,
    Surrogate,
    SurrogateError,
    SurrogateFallbackWarning,
    SurrogateRegistry,
    check_training_data,
    default_registry,
    predictive,
)

DTYPE = torch.float64
#: SAAS and the NumPyro model fit by NUTS, seconds per fit: their contract tests belong
#: to the full tier (tests/surrogates/test_numpyro_model.py keeps one in the quick tier).
SURROGATES = [
    pytest.param(name, marks=pytest.mark.slow) if name in ("saas", "numpyro") else name
    for name in default_registry().names()
]


def quadratic_model(X, y=None):
    """A generic NumPyro model for the contract suite: a quadratic response surface."""
    import numpyro
    import numpyro.distributions as dist

    d = X.shape[1]
    a = numpyro.sample("a", dist.Normal(0.0, 3.0))
    b = numpyro.sample("b", dist.Normal(0.0, 3.0).expand([d]).to_event(1))
    c = numpyro.sample("c", dist.Normal(0.0, 3.0).expand([d]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    f = numpyro.deterministic("f", a + X @ b + (X**2) @ c)
    numpyro.sample("y", dist.Normal(f, sigma), obs=y)


#: Small settings so that the suite stays fast; the defaults are exercised elsewhere.
FAST: dict[str, dict] = {
    "saas": {"warmup_steps": 48, "num_samples": 48, "thinning": 4},
    "bnn": {"steps": 300, "activation": "silu"},
    "numpyro": {"model": quadratic_model, "warmup": 150, "num_samples": 150, "num_members": 32},
    "sparse_gp": {"num_inducing": 32},
    "auto": {
        "candidates": ["gp", "sparse_gp"],
        "folds": 3,
        "options": {"sparse_gp": {"num_inducing": 32}},
    },
}


def create(name: str):
    return default_registry().create(name, **FAST.get(name, {}))


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
    surrogate = create(name)
    assert isinstance(surrogate, Surrogate)
    assert surrogate.name == name
    X, Y = data(8, 2)
    model = surrogate.fit(X, Y, unit_spec(2, seed=0))
    assert isinstance(model, Model)
    post = model.posterior(torch.rand(3, 1, 2, dtype=DTYPE))
    assert post.mean.shape[0] == 3 and post.mean.shape[-2:] == (1, 1)
    assert torch.isfinite(post.mean).all() and (post.variance > 0).all()


@pytest.mark.parametrize("name", SURROGATES)
def test_a_surrogate_is_reproducible_with_a_seed(name: str) -> None:
    X, Y = data(8, 2)
    test_X = torch.rand(5, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(1))
    means = [create(name).fit(X, Y, unit_spec(2, seed=3)).posterior(test_X).mean for _ in range(2)]
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
        create(name).fit(X, Y, unit_spec(2))
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value)


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("d, n", [(1, 12), (5, 40)], ids=["1d", "5d"])
def test_a_surrogate_covers_held_out_points_and_serves_q_batches(name: str, d: int, n: int) -> None:
    """95% intervals cover held-out noisy points at a sensible rate; q-batch shapes;
    qLogNEI is optimized on the fitted model with gradients."""
    gen = torch.Generator().manual_seed(11)
    X = torch.rand(n, d, generator=gen, dtype=DTYPE)
    X_test = torch.rand(200, d, generator=gen, dtype=DTYPE)

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.sin(3 * x).sum(-1, keepdim=True)

    Y = f(X) + 0.05 * torch.randn(n, 1, generator=gen, dtype=DTYPE)
    Y_test = f(X_test) + 0.05 * torch.randn(200, 1, generator=gen, dtype=DTYPE)
    model = create(name).fit(X, Y, unit_spec(d, seed=0))

    pred = predictive(model, X_test)
    lower, upper = pred.interval(0.95)
    coverage = ((lower <= Y_test) & (Y_test <= upper)).double().mean().item()
    assert coverage >= 0.75, f"{name}: 95% intervals cover {coverage:.2f} of held-out points"
    rmse = (pred.mean - Y_test).pow(2).mean().sqrt().item()
    assert rmse < Y_test.std().item(), f"{name}: RMSE {rmse:.3f} no better than the mean"
    assert torch.isfinite(pred.log_prob(Y_test)).all()

    for shape in [(7, d), (4, 3, d)]:
        post = model.posterior(torch.rand(*shape, generator=gen, dtype=DTYPE))
        assert post.mean.shape[-2:] == (shape[-2], 1)
        # Batch dims lead; a fully Bayesian model adds one MCMC dim before q.
        assert post.mean.shape[: len(shape) - 2] == shape[:-2]
        sample = post.rsample(torch.Size([5]))
        assert sample.shape[0] == 5 and sample.shape[-2:] == (shape[-2], 1)

    acqf = qLogNoisyExpectedImprovement(model, X_baseline=X, prune_baseline=False)
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(DTYPE)
    candidates, value = optimize_acqf(acqf, bounds=bounds, q=2, num_restarts=2, raw_samples=32)
    assert candidates.shape == (2, d) and torch.isfinite(value)
    assert ((candidates >= 0) & (candidates <= 1)).all()


@pytest.mark.parametrize("name", SURROGATES)
def test_a_surrogate_handles_constant_outputs(name: str) -> None:
    """Constant outcomes either fit (a flat, finite prediction) or are refused clearly."""
    X, _ = data(8, 2)
    Y = torch.full((8, 1), 3.0, dtype=DTYPE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SurrogateFallbackWarning)
            model = create(name).fit(X, Y, unit_spec(2, seed=0))
    except SurrogateError as exc:
        assert "constant" in str(exc)
        return
    mean = predictive(model, torch.rand(5, 2, dtype=DTYPE)).mean
    assert torch.isfinite(mean).all()
    torch.testing.assert_close(mean, torch.full_like(mean, 3.0), atol=0.5, rtol=0)


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

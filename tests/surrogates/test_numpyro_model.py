"""The user's NumPyro model fitted by NUTS: recovery, calibration, shapes, gradients, contract."""

from __future__ import annotations

import copy
import math
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models import SingleTaskGP
from botorch.optim import optimize_acqf

from surrogates import Column, FitSpec, SurrogateError, SurrogateFallbackWarning, predictive
from surrogates.base import fit_info
from surrogates.numpyro_model import NumPyroEnsembleModel, NumPyroSurrogate
from surrogates.validation import held_out_of

DTYPE = torch.float64
TINY = {"warmup": 150, "num_samples": 150, "num_members": 48}
A_TRUE, B_TRUE, SIGMA_TRUE = 2.0, 3.0, 0.05


def spec(d: int, **kwargs) -> FitSpec:
    return FitSpec(bounds=torch.stack([torch.zeros(d), torch.ones(d)]).to(DTYPE), **kwargs)


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)


def saturating(X, y=None):
    """``y = a (1 - exp(-b x)) + noise``: a response that saturates at ``a``."""
    a = numpyro.sample("a", dist.LogNormal(0.0, 1.0))
    b = numpyro.sample("b", dist.LogNormal(1.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.5))
    f = numpyro.deterministic("f", a * (1.0 - jnp.exp(-b * X[:, 0])))
    numpyro.sample("y", dist.Normal(f, sigma), obs=y)


def curve(X: torch.Tensor, seed: int) -> torch.Tensor:
    noise = torch.randn(X.shape[0], 1, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)
    return A_TRUE * (1 - torch.exp(-B_TRUE * X[:, :1])) + SIGMA_TRUE * noise


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    X = rand(20, 1, seed=100)
    return X, curve(X, seed=200)


@pytest.fixture(scope="module")
def fitted(data) -> NumPyroEnsembleModel:
    X, Y = data
    model = NumPyroSurrogate(model=saturating, **TINY).fit(X, Y, spec(1, seed=3))
    assert isinstance(model, NumPyroEnsembleModel)
    return model


def test_recovers_the_parameters_and_records_diagnostics(fitted) -> None:
    assert not fitted.training
    draws = fitted.draws
    assert abs(np.median(draws["a"]) - A_TRUE) < 0.3
    assert abs(np.median(draws["b"]) - B_TRUE) < 1.0
    assert np.median(draws["sigma"]) < 0.2
    info = fit_info(fitted)
    for key in ("r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences", "draws"):
        assert math.isfinite(info[key]), key
    assert info["draws"] == 150 and info["members"] == 48 == fitted.ensemble_size
    assert info["r_hat_max"] < 1.2
    # PSIS-LOO held-out predictions replace k-fold cross-validation.
    held = held_out_of(fitted)
    assert held is not None and held.method == "psis-loo"
    scores = held.scores()
    assert scores["rmse"] < 0.2 and scores["picp"] >= 0.75
    assert float(held.pit.min()) >= 0.0 and float(held.pit.max()) <= 1.0
    assert info["loo_khat_max"] < 1.0


def test_predictive_intervals_cover_held_out_points(fitted) -> None:
    X_test = rand(60, 1, seed=5)
    Y_test = curve(X_test, seed=6)
    pred = predictive(fitted, X_test)
    lower, upper = pred.interval(0.95)
    assert pred.mean.shape == lower.shape == upper.shape == (60, 1)
    coverage = ((lower <= Y_test) & (Y_test <= upper)).double().mean().item()
    assert 0.8 <= coverage <= 1.0
    assert (upper - lower).mean() < 0.5  # a sharp model: noise 0.05, not the prior's spread
    logp = pred.log_prob(Y_test)
    assert logp.shape == (60, 1) and torch.isfinite(logp).all()
    assert logp.mean() > 0.5  # a density of about N(0, 0.05) at the truth
    # The predictive is seeded: the same draws every call.
    torch.testing.assert_close(predictive(fitted, X_test).mean, pred.mean, rtol=0, atol=0)


def test_q_batch_posterior_shapes(fitted) -> None:
    s = fitted.ensemble_size
    for shape in [(7, 1), (4, 3, 1), (2, 4, 3, 1)]:
        post = fitted.posterior(rand(*shape, seed=2))
        assert post.mean.shape == (*shape[:-1], 1)
        assert post.variance.shape == (*shape[:-1], 1)
        assert (post.variance > 0).all()
        assert fitted.members(rand(*shape, seed=2)).shape == (*shape[:-2], s, shape[-2], 1)


def test_gradients_flow_and_optimize_acqf_runs(fitted, data) -> None:
    X = rand(5, 2, 1, seed=7).requires_grad_(True)
    fitted.posterior(X).mean.sum().backward()
    assert X.grad is not None and torch.isfinite(X.grad).all() and (X.grad.abs() > 0).all()
    # The JAX vector-Jacobian product matches finite differences.
    runner_fn = lambda Z: fitted.members(Z)  # noqa: E731
    assert torch.autograd.gradcheck(runner_fn, (rand(1, 2, 1, seed=8).requires_grad_(True),))
    train_X, _ = data
    acqf = qLogNoisyExpectedImprovement(fitted, train_X)
    cand, value = optimize_acqf(
        acqf, bounds=spec(1).bounds, q=2, num_restarts=2, raw_samples=32, options={"maxiter": 20}
    )
    assert cand.shape == (2, 1) and torch.isfinite(value)
    assert ((cand >= 0) & (cand <= 1)).all()


def test_seeded_fits_are_reproducible(fitted, data) -> None:
    X, Y = data
    again = NumPyroSurrogate(model=saturating, **TINY).fit(X, Y, spec(1, seed=3))
    assert isinstance(again, NumPyroEnsembleModel)
    for key, value in fitted.draws.items():
        np.testing.assert_array_equal(again.draws[key], value)
    X_test = rand(6, 1, seed=9)
    torch.testing.assert_close(
        again.posterior(X_test).mean, fitted.posterior(X_test).mean, rtol=0, atol=0
    )


def test_pickles_and_copies(fitted) -> None:
    X_test = rand(4, 1, seed=10)
    expected = fitted.posterior(X_test).mean
    for clone in (pickle.loads(pickle.dumps(fitted)), copy.deepcopy(fitted)):
        torch.testing.assert_close(clone.posterior(X_test).mean, expected, rtol=0, atol=0)


def quadratic_5d(X, y=None):
    """``y = c - sum_j w_j (x_j - m_j)^2``, in natural units, measured with Laplace noise."""
    c = numpyro.sample("c", dist.Normal(0.0, 5.0))
    m = numpyro.sample("m", dist.Normal(jnp.zeros(5), 2.0))
    w = numpyro.sample("w", dist.LogNormal(jnp.zeros(5), 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    f = numpyro.deterministic("f", c - jnp.sum(w * (X - m) ** 2, axis=-1))
    numpyro.sample("y", dist.Laplace(f, sigma), obs=y)


def test_5d_model_in_natural_units_with_a_minimized_objective() -> None:
    # Natural units: columns in [-2, 2], except the last, on a log scale in [0.1, 10].
    columns = [Column(f"x{j}", -2.0, 2.0) for j in range(4)] + [Column("x4", 0.1, 10.0, log=True)]
    m_true = np.array([0.5, -0.5, 1.0, 0.0, 1.0])
    U = rand(30, 5, seed=11)
    natural = torch.cat([-2 + 4 * U[:, :4], 10 ** (2 * U[:, 4:] - 1)], dim=-1)
    measured = 3.0 - ((natural.numpy() - m_true) ** 2).sum(-1, keepdims=True)
    noise = torch.randn(30, 1, generator=torch.Generator().manual_seed(12), dtype=DTYPE)
    measured = torch.as_tensor(measured) + 0.05 * noise
    sign = -1.0  # the objective is minimized: the core passes -measured, larger is better
    model = NumPyroSurrogate(model=quadratic_5d, **TINY).fit(
        U, sign * measured, spec(5, seed=0, columns=columns, signs=(sign,))
    )
    assert isinstance(model, NumPyroEnsembleModel)
    # The model saw the measurements as they are and natural inputs.
    np.testing.assert_allclose(np.median(model.draws["m"], axis=0), m_true, atol=0.3)
    assert abs(np.median(model.draws["c"]) - 3.0) < 0.5
    torch.testing.assert_close(model.natural(U), natural)
    # BoTorch sees sign * f: the minimum of the measurement is the maximum of the model.
    post = model.posterior(rand(3, 2, 5, seed=13))
    assert post.mean.shape == (3, 2, 1)
    best = torch.tensor([[0.625, 0.375, 0.75, 0.5, 0.5]], dtype=DTYPE)  # m_true, encoded
    assert model.posterior(best).mean.item() == pytest.approx(-3.0, abs=0.5)
    # The predictive is in the units of train_Y as well.
    pred = predictive(model, U)
    lower, upper = pred.interval(0.95)
    inside = (lower <= sign * measured) & (sign * measured <= upper)
    assert inside.double().mean() >= 0.8
    assert torch.isfinite(pred.log_prob(sign * measured)).all()
    held = held_out_of(model)
    assert held is not None and (held.lower <= held.upper).all()
    assert held.scores()["picp"] >= 0.7


def no_f(X, y=None):
    a = numpyro.sample("a", dist.Normal(0.0, 1.0))
    numpyro.sample("y", dist.Normal(a * X[:, 0], 0.1), obs=y)


def f_as_column(X, y=None):
    a = numpyro.sample("a", dist.Normal(0.0, 1.0))
    f = numpyro.deterministic("f", a * X[:, :1])
    numpyro.sample("y", dist.Normal(f[:, 0], 0.1), obs=y)


def y_not_observed(X, y=None):
    a = numpyro.sample("a", dist.Normal(0.0, 1.0))
    f = numpyro.deterministic("f", a * X[:, 0])
    numpyro.sample("y", dist.Normal(f, 0.1))


def y_as_one_event(X, y=None):
    a = numpyro.sample("a", dist.Normal(0.0, 1.0))
    f = numpyro.deterministic("f", a * X[:, 0])
    numpyro.sample("y", dist.Normal(f, 0.1).to_event(1), obs=y)


def per_point_latent(X, y=None):
    z = numpyro.sample("z", dist.Normal(jnp.zeros(X.shape[0]), 1.0))
    f = numpyro.deterministic("f", z * X[:, 0])
    numpyro.sample("y", dist.Normal(f, 0.1), obs=y)


def not_row_by_row(X, y=None):
    a = numpyro.sample("a", dist.Normal(0.0, 1.0))
    f = numpyro.deterministic("f", a * (X[:, 0] - jnp.cumsum(X[:, 0])))
    numpyro.sample("y", dist.Normal(f, 0.1), obs=y)


def raises(X, y=None):
    raise RuntimeError("my model is broken")


def not_traceable(X, y=None):
    a = numpyro.sample("a", dist.Normal(0.0, 1.0))
    f = numpyro.deterministic("f", float(a) * X[:, 0])  # float() of a traced value
    numpyro.sample("y", dist.Normal(f, 0.1), obs=y)


@pytest.mark.parametrize(
    "model, fragment",
    [
        (no_f, "no site 'f' (its sites are ['a', 'y'])"),
        (f_as_column, "site 'f' has shape (6, 1); expected (6,)"),
        (y_not_observed, "site 'y' is a latent (unobserved) sample site"),
        (y_as_one_event, "event_shape (6,); expected batch_shape (6,)"),
        (per_point_latent, "latent site 'z' has shape (6,) with 6 points and (7,) with 7"),
        (not_row_by_row, "f must be computed row by row"),
        (raises, "raised RuntimeError (my model is broken) when called as model(X, y)"),
        (not_traceable, "cannot be traced by JAX (ConcretizationTypeError"),
    ],
    ids=[
        "no-f",
        "f-shape",
        "y-unobserved",
        "y-event",
        "per-point",
        "not-row-by-row",
        "raises",
        "untraceable",
    ],
)
def test_contract_violations_raise_surrogate_error(model, fragment: str) -> None:
    X = rand(6, 1)
    with pytest.raises(SurrogateError) as info:
        NumPyroSurrogate(model=model, **TINY).fit(X, 2 * X, spec(1))
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({}, "option 'model' is required"),
        ({"model": "saturating"}, "option 'model' = 'saturating' is not callable"),
        ({"model": saturating, "inputs": "raw"}, "'inputs' = 'raw'; expected one of"),
        ({"model": saturating, "warmup": -1}, "'warmup' = -1; expected an integer >= 0"),
        ({"model": saturating, "num_samples": 4}, "retain 4 draws; need at least 8"),
    ],
    ids=["missing", "not-callable", "inputs", "warmup", "too-few-draws"],
)
def test_bad_options_raise_surrogate_error(options, fragment: str) -> None:
    with pytest.raises(SurrogateError) as info:
        NumPyroSurrogate(**options)
    assert str(info.value).startswith("numpyro: ") and fragment in str(info.value)


@pytest.mark.parametrize(
    "X, Y, fragment",
    [
        (rand(5, 1), torch.tensor([[0.1], [math.nan], [0.3], [0.2], [0.0]], dtype=DTYPE), "NaN"),
        (rand(1, 1), rand(1, 1), "1 observation(s); this surrogate needs at least 2"),
        (rand(5, 2), rand(5, 1), "bounds: expected shape (2, 2)"),
        (rand(5, 1), rand(5, 2), "numpyro: models one outcome; got train_Y with 2 columns"),
    ],
    ids=["nan", "one-point", "bounds", "two-outcomes"],
)
def test_unusable_data_raises_surrogate_error(X, Y, fragment: str) -> None:
    with pytest.raises(SurrogateError) as info:
        NumPyroSurrogate(model=saturating, **TINY).fit(X, Y, spec(1))
    assert fragment in str(info.value)


def test_a_failed_nuts_run_falls_back_to_the_exact_gp(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("Cannot find valid initial parameters")

    monkeypatch.setattr(NumPyroSurrogate, "_nuts", broken)
    X = rand(6, 1)
    with pytest.warns(SurrogateFallbackWarning, match="numpyro: NUTS failed \\(RuntimeError"):
        model = NumPyroSurrogate(model=saturating, **TINY).fit(X, 2 * X, spec(1))
    assert isinstance(model, SingleTaskGP)
    assert "Cannot find valid initial parameters" in str(fit_info(model)["numpyro_fallback"])
    assert model.posterior(X).mean.shape == (6, 1)


def test_a_chain_that_never_moved_falls_back(monkeypatch) -> None:
    def stuck(self, model, X, y, seed):
        draws = {k: jnp.full((150,), 0.5) for k in ("a", "b", "sigma")}
        return draws, jnp.ones(150, dtype=bool)

    monkeypatch.setattr(NumPyroSurrogate, "_nuts", stuck)
    X = rand(6, 1)
    with pytest.warns(SurrogateFallbackWarning, match="never moved"):
        model = NumPyroSurrogate(model=saturating, **TINY).fit(X, 2 * X, spec(1))
    assert isinstance(model, SingleTaskGP)


def test_jax_global_precision_is_left_alone(fitted) -> None:
    before = bool(jax.config.jax_enable_x64)
    fitted.posterior(rand(2, 1))
    predictive(fitted, rand(2, 1))
    assert bool(jax.config.jax_enable_x64) == before
    assert jnp.ones(1).dtype == (jnp.float64 if before else jnp.float32)

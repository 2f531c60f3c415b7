"""The cached-factor LogEI: the same values and gradients as BoTorch's LogEI for the
models it supports, refused for the others and wherever its check disagrees."""

from __future__ import annotations

import pytest
import torch
from botorch.acquisition.analytic import LogExpectedImprovement

from bayesopt.acquisition import AcquisitionOptions, build_acquisition
from bayesopt.cached_ei import CachedLogEI, cached_log_ei, supported
from surrogates import ExactGP, FitSpec

BOUNDS = torch.tensor([[-2.0, 0.0, 10.0], [3.0, 1.0, 50.0]], dtype=torch.float64)


def data(n: int = 14, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 3, generator=gen, dtype=torch.float64)
    X = BOUNDS[0] + u * (BOUNDS[1] - BOUNDS[0])
    Y = -(((u - 0.3) ** 2).sum(-1, keepdim=True)) * 40.0 + torch.sin(9 * u[:, :1])
    Y[0] = 25.0  # one extreme value, so that the warp has something to do
    return X, Y


def fitted(warp: bool | str, noise: float | None = None) -> tuple:
    X, Y = data()
    Yvar = None if noise is None else torch.full_like(Y, noise)
    spec = FitSpec(bounds=BOUNDS, train_Yvar=Yvar, warp=True)
    return ExactGP(warp=warp).fit(X, Y, spec), X


def values_and_grads(acqf, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    X = X.clone().requires_grad_(True)
    value = acqf(X)
    (grad,) = torch.autograd.grad(value.sum(), X)
    return value.detach(), grad


@pytest.mark.parametrize(
    ("warp", "noise"),
    [(False, None), (True, None), (False, 0.04)],
    ids=["plain", "warped", "known_noise"],
)
def test_same_values_and_gradients_as_botorch(warp, noise) -> None:
    model, X_train = fitted(warp, noise)
    assert supported(model)
    best = model.posterior(X_train).mean.max().detach()
    gen = torch.Generator().manual_seed(1)
    u = torch.rand(40, 1, 3, generator=gen, dtype=torch.float64)
    # random points, the training points themselves (zero distance) and a batch shape
    X = torch.cat([BOUNDS[0] + u * (BOUNDS[1] - BOUNDS[0]), X_train.unsqueeze(1)])
    ours = cached_log_ei(model, best, X_train)
    assert isinstance(ours, CachedLogEI)
    theirs = LogExpectedImprovement(model, best_f=best)
    (a, ga), (b, gb) = values_and_grads(ours, X), values_and_grads(theirs, X)
    assert torch.isfinite(a).all() and torch.isfinite(ga).all()
    torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(ga, gb, rtol=1e-5, atol=1e-6 * float(gb.abs().max()))
    Xb = X[:12].reshape(3, 4, 1, 3)
    torch.testing.assert_close(ours(Xb), theirs(Xb).detach(), rtol=1e-7, atol=1e-7)


def test_build_acquisition_uses_it_for_the_default_gp_unless_turned_off() -> None:
    model, X = fitted("auto")
    Y = data()[1]
    single = build_acquisition("qLogNEI", model, X, Y, None, AcquisitionOptions())
    assert isinstance(single, CachedLogEI)
    off = AcquisitionOptions(cached_posterior=False)
    plain = build_acquisition("qLogNEI", model, X, Y, None, off)
    assert isinstance(plain, LogExpectedImprovement) and not isinstance(plain, CachedLogEI)
    torch.testing.assert_close(single.best_f, plain.best_f)


def test_models_it_does_not_know_keep_botorch_logei() -> None:
    X, Y = data()
    spec = FitSpec(bounds=BOUNDS)
    other = ExactGP(priors="dimension_scaled", warp=False).fit(X, Y, spec)  # RBF kernel
    assert not supported(other)
    assert cached_log_ei(other, 0.0, X) is None
    acqf = build_acquisition("qLogNEI", other, X, Y, None, AcquisitionOptions())
    assert type(acqf) is LogExpectedImprovement
    model, _ = fitted(False)
    model.train()
    assert not supported(model)  # a model in training mode has untransformed inputs
    model.eval()
    assert supported(model)


def test_refused_where_its_check_disagrees_with_the_model(monkeypatch) -> None:
    model, X = fitted(False)
    assert cached_log_ei(model, 0.0, X) is not None

    def matern_three_halves(self, A, B):
        r = (((A.unsqueeze(-2) - B) / self._lengthscale) ** 2).sum(-1).clamp_min(1e-30).sqrt()
        r = r * 3**0.5
        return self._outputscale * (1.0 + r) * torch.exp(-r)

    monkeypatch.setattr(CachedLogEI, "_kernel", matern_three_halves)
    assert cached_log_ei(model, 0.0, X) is None
    acqf = build_acquisition("qLogNEI", model, X, data()[1], None, AcquisitionOptions())
    assert type(acqf) is LogExpectedImprovement


def test_a_decision_records_that_it_used_the_cached_factor(
    open_optimizer, quad, evaluate_quad
) -> None:
    opt = open_optimizer(quad)
    for _ in range(quad.n_initial):
        for t in opt.suggest(1):
            opt.observe(t, evaluate_quad(t.params))
    (one,) = opt.suggest(1)
    assert one.metadata["acquisition_form"] == "analytic"
    assert one.metadata["acq_cached"] == 1

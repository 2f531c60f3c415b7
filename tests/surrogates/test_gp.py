"""The exact GP: fits in one and several dimensions, batch shapes, categorical columns."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from botorch.models import MixedSingleTaskGP, SingleTaskGP

from surrogates import ExactGP, FitSpec, SurrogateError

DTYPE = torch.float64


def spec(d: int, **kwargs) -> FitSpec:
    return FitSpec(bounds=torch.stack([torch.zeros(d), torch.ones(d)]).to(DTYPE), **kwargs)


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)


def test_fits_a_1d_function() -> None:
    X = torch.linspace(0, 1, 8, dtype=DTYPE).unsqueeze(-1)
    Y = torch.sin(6 * X)
    model = ExactGP().fit(X, Y, spec(1, seed=0))
    assert isinstance(model, SingleTaskGP)
    assert not model.training
    post = model.posterior(X)
    assert post.mean.shape == (8, 1)
    torch.testing.assert_close(post.mean, Y, atol=0.05, rtol=0)
    # Between the data the mean interpolates; far from it the variance grows.
    mid = model.posterior(torch.tensor([[0.5 / 7]], dtype=DTYPE))
    assert abs(mid.mean.item() - math.sin(6 * 0.5 / 7)) < 0.1
    assert post.variance.max() < mid.variance.item() + 1e-3


def test_fits_a_5d_function_and_gives_q_batch_shapes() -> None:
    X = rand(20, 5)
    Y = ((X - 0.5) ** 2).sum(-1, keepdim=True)
    model = ExactGP().fit(X, Y, spec(5, seed=0))
    for shape in [(7, 5), (4, 3, 5), (2, 4, 3, 5)]:
        post = model.posterior(rand(*shape, seed=1))
        assert post.mean.shape == (*shape[:-1], 1)
        assert post.variance.shape == (*shape[:-1], 1)
        assert (post.variance > 0).all()
    # The q points of a batch are jointly Gaussian: a q x q covariance per batch.
    joint = model.posterior(rand(4, 3, 5, seed=2))
    assert joint.mvn.covariance_matrix.shape == (4, 3, 3)
    # The fit ranks a point near the optimum better than a corner.
    means = model.posterior(torch.tensor([[0.5] * 5, [0.0] * 5], dtype=DTYPE)).mean
    assert means[0] < means[1]


def test_several_outcomes_give_batch_x_q_x_m() -> None:
    X = rand(12, 3)
    Y = torch.stack([X.sum(-1), (X**2).sum(-1)], dim=-1)
    model = ExactGP().fit(X, Y, spec(3))
    assert model.num_outputs == 2
    assert model.posterior(rand(4, 2, 3, seed=3)).mean.shape == (4, 2, 2)


@pytest.mark.parametrize(
    "X, Y, fragment",
    [
        (rand(5, 2), torch.tensor([[0.1], [math.nan], [0.3], [0.2], [0.0]], dtype=DTYPE), "NaN"),
        (torch.tensor([[0.1, math.nan], [0.5, 0.5]], dtype=DTYPE), rand(2, 1), "NaN"),
        (rand(1, 2), rand(1, 1), "1 observation(s); this surrogate needs at least 2"),
        (torch.empty(0, 2, dtype=DTYPE), torch.empty(0, 1, dtype=DTYPE), "0 observation(s)"),
        (rand(5, 3), rand(5, 1), "bounds: expected shape (2, 3)"),
    ],
    ids=["nan-y", "nan-x", "one-point", "no-point", "bounds"],
)
def test_unusable_data_raises_surrogate_error(X, Y, fragment: str) -> None:
    with pytest.raises(SurrogateError) as info:
        ExactGP().fit(X, Y, spec(2))
    assert fragment in str(info.value)


def test_categorical_columns_use_a_mixed_gp() -> None:
    X = rand(6, 2)
    X[:, 1] = torch.tensor([0.0, 0.5, 1.0, 0.0, 0.5, 1.0], dtype=DTYPE)
    Y = X[:, :1] + (X[:, 1:2] == 0.5).to(DTYPE)
    model = ExactGP().fit(X, Y, spec(2, cat_dims=(1,)))
    assert isinstance(model, MixedSingleTaskGP)
    assert model.posterior(rand(4, 2, 2, seed=4)).mean.shape == (4, 2, 1)


def test_only_categorical_columns() -> None:
    X = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], dtype=DTYPE)
    Y = X.sum(-1, keepdim=True)
    model = ExactGP().fit(X, Y, spec(2, cat_dims=(0, 1)))
    assert isinstance(model, MixedSingleTaskGP)
    assert model.posterior(X).mean.shape == (5, 1)


def test_seeded_fits_are_reproducible() -> None:
    X = rand(10, 2)
    Y = torch.cos(4 * X).sum(-1, keepdim=True)
    fits = [ExactGP().fit(X, Y, spec(2, seed=7)) for _ in range(2)]
    state = [dict(m.state_dict()) for m in fits]
    assert state[0].keys() == state[1].keys()
    for key in state[0]:
        torch.testing.assert_close(state[0][key], state[1][key], rtol=0, atol=0)
    test_X = rand(6, 2, seed=9)
    torch.testing.assert_close(
        fits[0].posterior(test_X).mean, fits[1].posterior(test_X).mean, rtol=0, atol=0
    )


def test_a_warm_start_reaches_the_same_fit_and_ignores_what_does_not_fit() -> None:
    import json

    gen = torch.Generator().manual_seed(3)
    X = torch.rand(25, 3, generator=gen, dtype=torch.float64)
    Y = torch.sin(6 * X[:, :1]) + X[:, 1:2] ** 2
    spec = FitSpec(bounds=torch.stack([torch.zeros(3), torch.ones(3)]).double())
    cold = ExactGP().fit(X, Y, spec)
    state = json.loads(cold.fit_info["gp_state"])
    assert set(state) == {n for n, _ in cold.named_parameters()}

    warm = ExactGP().fit(X, Y, dataclasses.replace(spec, warm_start=state))
    torch.testing.assert_close(
        warm.covar_module.base_kernel.lengthscale,
        cold.covar_module.base_kernel.lengthscale,
        rtol=0.05,
        atol=1e-3,
    )
    # a state for another dimension, or of another model, is ignored, not an error
    other = {"covar_module.base_kernel.raw_lengthscale": [0.1] * 5, "unknown": [1.0]}
    fitted = ExactGP().fit(X, Y, dataclasses.replace(spec, warm_start=other))
    assert torch.isfinite(fitted.covar_module.base_kernel.lengthscale).all()

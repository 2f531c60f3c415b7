"""The TuRBO trust region: its state, its update rule, its box, and proposals inside it."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood

from bayesopt.errors import InvalidExperimentError
from bayesopt.trust_region import (
    TrustRegionState,
    lengthscales_of,
    propose,
    region_bounds,
    thompson_candidates,
    update,
)

DTYPE = torch.float64


def _data(d: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points in ``[0, 1]^d`` and an outcome that varies fast along ``x0`` only."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=DTYPE)
    Y = torch.sin(8.0 * X[:, :1]) + 0.05 * X[:, 1:2]
    return X, Y


def _fit(model: SingleTaskGP) -> SingleTaskGP:
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model.eval()


@pytest.fixture(scope="module")
def gp() -> SingleTaskGP:
    """A SingleTaskGP with BoTorch 0.18's default kernel, fitted on 14 points in 2-d."""
    X, Y = _data(2, 14)
    return _fit(
        SingleTaskGP(
            X, Y, input_transform=Normalize(d=2, bounds=_cube(2)), outcome_transform=Standardize(1)
        )
    )


def _cube(d: int) -> torch.Tensor:
    return torch.stack([torch.zeros(d, dtype=DTYPE), torch.ones(d, dtype=DTYPE)])


def _inside(points: torch.Tensor, bounds: torch.Tensor) -> bool:
    return bool(((points >= bounds[0]) & (points <= bounds[1])).all())


# --- the state -------------------------------------------------------------------------


def test_initial_state_has_the_papers_defaults() -> None:
    s = TrustRegionState.initial(dim=10, batch_size=4)
    assert (s.length, s.length_init, s.length_min, s.length_max) == (0.8, 0.8, 0.5**7, 1.6)
    assert (s.success_tolerance, s.failure_tolerance) == (3, 3)  # ceil(max(4/4, 10/4))
    assert (s.success_counter, s.failure_counter, s.restarts) == (0, 0, 0)
    assert s.best_value == -math.inf and s.center is None
    assert TrustRegionState.initial(dim=2, batch_size=1).failure_tolerance == 4
    assert TrustRegionState.initial(dim=2, batch_size=8).failure_tolerance == 1
    assert TrustRegionState.initial(dim=30, batch_size=1).failure_tolerance == 30


def test_overrides_are_kept() -> None:
    s = TrustRegionState.initial(
        dim=3, batch_size=2, length_init=0.5, length_min=0.01, length_max=1.0,
        success_tolerance=2, failure_tolerance=5,
    )  # fmt: skip
    assert (s.length, s.length_init, s.length_min, s.length_max) == (0.5, 0.5, 0.01, 1.0)
    assert (s.success_tolerance, s.failure_tolerance) == (2, 5)


@pytest.mark.parametrize(
    "state",
    [
        TrustRegionState.initial(dim=3, batch_size=2),
        update(TrustRegionState.initial(dim=3, batch_size=2), [-1.5, 2.0], [[0.1] * 3, [0.9] * 3]),
    ],
    ids=["no incumbent", "incumbent"],
)
def test_state_round_trips_through_json(state: TrustRegionState) -> None:
    text = json.dumps(state.as_dict(), allow_nan=False)  # plain JSON: no -Infinity
    back = TrustRegionState.from_dict(json.loads(text))
    assert back == state
    assert back.best_value == state.best_value


def test_state_is_immutable_and_update_returns_a_new_one() -> None:
    s = TrustRegionState.initial(dim=2, batch_size=1)
    t = update(s, [1.0], [[0.5, 0.5]])
    assert t is not s and s.best_value == -math.inf and s.center is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.length = 0.1  # type: ignore[misc]


def test_from_dict_refuses_missing_unknown_and_bad_values() -> None:
    d = TrustRegionState.initial(dim=2, batch_size=1).as_dict()
    with pytest.raises(InvalidExperimentError, match="missing keys \\['length'\\]"):
        TrustRegionState.from_dict({k: v for k, v in d.items() if k != "length"})
    with pytest.raises(InvalidExperimentError, match="unknown keys \\['colour'\\]"):
        TrustRegionState.from_dict({**d, "colour": 1})
    with pytest.raises(InvalidExperimentError, match=r"^strategy TrustRegion: length=5\.0;"):
        TrustRegionState.from_dict({**d, "length": 5.0})
    with pytest.raises(InvalidExperimentError, match=r"^strategy TrustRegion: center=\[0\.5\];"):
        TrustRegionState.from_dict({**d, "best_value": 1.0, "center": [0.5]})


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"length_init": 2.0},
            "length_init=2.0; expected 0 < length_min < length_init <= length_max",
        ),
        ({"length_min": 0}, "length_min=0; expected 0 < length_min"),
        ({"length_min": 0.9}, "length_min=0.9; expected 0 < length_min < length_init"),
        ({"length_max": 0.5}, "length_max=0.5; expected 0 < length_min"),
        ({"length_max": math.inf}, "length_max=inf; expected"),
        ({"length_init": "big"}, "length_init='big'; expected"),
        ({"success_tolerance": 0}, "success_tolerance=0; expected a positive integer"),
        ({"failure_tolerance": 1.5}, "failure_tolerance=1.5; expected a positive integer"),
        ({"failure_tolerance": True}, "failure_tolerance=True; expected a positive integer"),
        ({"lenght_init": 0.5}, "unknown option 'lenght_init'; expected one of failure_tolerance"),
    ],
)
def test_bad_options_name_the_field_and_the_value(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidExperimentError) as info:
        TrustRegionState.initial(dim=2, batch_size=1, **overrides)
    assert str(info.value).startswith(f"strategy TrustRegion: {message}")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "dim, batch_size, message",
    [(0, 1, "dim=0; expected a positive integer"), (2, -3, "batch_size=-3; expected")],
)
def test_bad_sizes_name_the_field(dim: int, batch_size: int, message: str) -> None:
    with pytest.raises(InvalidExperimentError, match=f"^strategy TrustRegion: {message}"):
        TrustRegionState.initial(dim=dim, batch_size=batch_size)


# --- the update rule -------------------------------------------------------------------


def _started(**overrides: float) -> TrustRegionState:
    """A 2-d region whose incumbent is 1.0 at (0.5, 0.5)."""
    return update(TrustRegionState.initial(2, 1, **overrides), [1.0], [[0.5, 0.5]])


def test_the_first_batch_only_sets_the_incumbent() -> None:
    s = update(TrustRegionState.initial(2, 2), [0.3, 0.7], [[0.1, 0.2], [0.3, 0.4]])
    assert s.best_value == 0.7 and s.center == (0.3, 0.4)
    assert (s.success_counter, s.failure_counter, s.length) == (0, 0, 0.8)


def test_successes_expand_after_the_tolerance_up_to_length_max() -> None:
    s = _started()
    for i in range(1, 3):
        s = update(s, [1.0 + i], [[0.1 * i, 0.5]])
        assert (s.length, s.success_counter) == (0.8, i)
    s = update(s, [4.0], [[0.3, 0.6]])
    assert (s.length, s.success_counter, s.failure_counter) == (1.6, 0, 0)
    assert s.best_value == 4.0 and s.center == (0.3, 0.6)
    for v in (5.0, 6.0, 7.0):
        s = update(s, [v], [[0.3, 0.6]])
    assert s.length == 1.6  # capped at length_max


def test_failures_shrink_after_the_tolerance() -> None:
    s = _started()
    assert s.failure_tolerance == 4
    for i in range(1, 4):
        s = update(s, [0.5], [[0.9, 0.9]])
        assert (s.length, s.failure_counter) == (0.8, i)
    s = update(s, [0.5], [[0.9, 0.9]])
    assert (s.length, s.failure_counter) == (0.4, 0)
    assert s.best_value == 1.0 and s.center == (0.5, 0.5)  # the incumbent stays


def test_a_success_resets_the_failures_and_a_failure_the_successes() -> None:
    s = update(update(_started(), [0.0], [[0.1, 0.1]]), [0.0], [[0.1, 0.1]])
    assert s.failure_counter == 2
    s = update(s, [2.0], [[0.2, 0.2]])
    assert (s.success_counter, s.failure_counter) == (1, 0)
    s = update(s, [0.0], [[0.1, 0.1]])
    assert (s.success_counter, s.failure_counter) == (0, 1)


def test_an_improvement_within_the_margin_is_a_failure_but_moves_the_center() -> None:
    s = update(_started(), [1.0005], [[0.2, 0.8]])  # needs > 1.0 + 1e-3 * |1.0|
    assert (s.success_counter, s.failure_counter) == (0, 1)
    assert s.best_value == 1.0005 and s.center == (0.2, 0.8)
    s = update(_started(), [-1.0], [[0.2, 0.8]])
    assert s.best_value == 1.0 and s.center == (0.5, 0.5)


def test_the_margin_is_relative_to_a_negative_incumbent_too() -> None:
    s = update(TrustRegionState.initial(1, 1), [-100.0], [[0.5]])
    assert update(s, [-99.95], [[0.4]]).success_counter == 0  # needs > -100 + 0.1
    assert update(s, [-99.85], [[0.4]]).success_counter == 1


def test_a_collapse_restarts_and_counts_the_restarts() -> None:
    s = _started(length_init=0.5, length_min=0.1, failure_tolerance=1)
    lengths = []
    for _ in range(2):
        s = update(s, [0.0], [[0.1, 0.1]])
        lengths.append(s.length)
    assert lengths == [0.25, 0.125]
    s = update(s, [0.0], [[0.1, 0.1]])  # 0.0625 < length_min
    assert s.length == 0.5 and s.restarts == 1
    assert (s.success_counter, s.failure_counter) == (0, 0)
    assert s.best_value == -math.inf and s.center is None
    s = update(s, [0.0], [[0.1, 0.1]])  # the next batch is the new region's incumbent
    assert s.best_value == 0.0 and s.center == (0.1, 0.1) and s.length == 0.5
    for _ in range(3):
        s = update(s, [-1.0], [[0.1, 0.1]])
    assert s.restarts == 2


def test_update_takes_tensors_and_refuses_mismatched_batches() -> None:
    s = _started()
    t = update(s, torch.tensor([3.0, 2.0]), torch.tensor([[0.25, 0.75], [0.0, 0.0]]))
    assert t.center == (0.25, 0.75) and t.best_value == 3.0
    assert update(s, [], torch.empty(0, 2)) is s
    with pytest.raises(ValueError, match="batch_points: shape \\(1, 3\\); expected \\(1, 2\\)"):
        update(s, [1.0], [[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match="batch_values"):
        update(s, [math.nan], [[0.1, 0.2]])


# --- the box ---------------------------------------------------------------------------


def test_without_lengthscales_the_region_is_a_cube_of_volume_length_to_the_d() -> None:
    s = TrustRegionState.initial(dim=3, batch_size=1, length_init=0.4)
    center = torch.full((3,), 0.5, dtype=DTYPE)
    b = region_bounds(s, center, None)
    assert b.shape == (2, 3) and b.dtype == DTYPE and b.device == center.device
    assert torch.allclose(b[1] - b[0], torch.full((3,), 0.4, dtype=DTYPE))
    assert math.isclose(float((b[1] - b[0]).prod()), 0.4**3)


@pytest.mark.parametrize("seed", range(5))
def test_the_region_stays_in_the_cube_and_contains_the_center(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    s = TrustRegionState.initial(dim=4, batch_size=1, length_init=1.6)
    center = torch.rand(4, generator=g, dtype=DTYPE)
    ls = torch.rand(4, generator=g, dtype=DTYPE) * 3 + 0.01
    for lengthscales in (None, ls):
        b = region_bounds(s, center, lengthscales)
        assert bool((b >= 0).all()) and bool((b <= 1).all())
        assert _inside(center, b)


def test_the_region_is_wider_along_a_longer_lengthscale_with_the_same_volume() -> None:
    s = TrustRegionState.initial(dim=2, batch_size=1, length_init=0.2)
    center = torch.tensor([0.5, 0.5], dtype=DTYPE)
    b = region_bounds(s, center, torch.tensor([0.1, 0.4], dtype=DTYPE))
    width = b[1] - b[0]
    assert width[1] > width[0]
    assert torch.allclose(width, torch.tensor([0.1, 0.4], dtype=DTYPE))  # w = (1/2, 2)
    assert math.isclose(float(width.prod()), 0.2**2)
    # Scaling every lengthscale together leaves the region as it is.
    assert torch.allclose(region_bounds(s, center, torch.tensor([1.0, 4.0])), b)


def test_the_region_is_clipped_at_the_edge_of_the_cube() -> None:
    s = TrustRegionState.initial(dim=2, batch_size=1)
    b = region_bounds(s, torch.tensor([[0.0, 1.0]], dtype=DTYPE), None)
    assert torch.allclose(b, torch.tensor([[0.0, 0.6], [0.4, 1.0]], dtype=DTYPE))


def test_region_bounds_refuses_a_center_or_lengthscales_of_the_wrong_size() -> None:
    s = TrustRegionState.initial(dim=2, batch_size=1)
    with pytest.raises(ValueError, match="center"):
        region_bounds(s, torch.zeros(3, dtype=DTYPE), None)
    with pytest.raises(ValueError, match="lengthscales"):
        region_bounds(s, torch.zeros(2, dtype=DTYPE), torch.ones(3, dtype=DTYPE))
    with pytest.raises(ValueError, match="lengthscales"):
        region_bounds(s, torch.zeros(2, dtype=DTYPE), torch.tensor([1.0, 0.0], dtype=DTYPE))


# --- lengthscales ----------------------------------------------------------------------


def test_lengthscales_of_a_fitted_single_task_gp(gp: SingleTaskGP) -> None:
    ls = lengthscales_of(gp)
    assert ls is not None and ls.shape == (2,) and ls.dtype == DTYPE
    assert isinstance(gp.covar_module, RBFKernel)  # BoTorch 0.18's default, no ScaleKernel
    assert torch.allclose(ls, gp.covar_module.lengthscale.detach().reshape(-1))
    assert bool((ls > 0).all())
    assert ls[0] < ls[1], "the outcome varies along x0, hardly along x1"


def test_lengthscales_look_through_a_scale_kernel_and_a_model_list() -> None:
    X, Y = _data(3, 8)
    scaled = SingleTaskGP(X, Y, covar_module=ScaleKernel(MaternKernel(ard_num_dims=3)))
    scaled.covar_module.base_kernel.lengthscale = torch.tensor([0.1, 0.2, 0.3])
    expected = torch.tensor([0.1, 0.2, 0.3], dtype=DTYPE)
    assert torch.allclose(lengthscales_of(scaled), expected)  # type: ignore[arg-type]
    other = SingleTaskGP(X, -Y)
    assert torch.allclose(lengthscales_of(ModelListGP(scaled, other)), expected)  # type: ignore[arg-type]
    isotropic = SingleTaskGP(X, Y, covar_module=ScaleKernel(RBFKernel()))
    assert lengthscales_of(isotropic) is None


def test_lengthscales_are_in_units_of_the_inputs_given_to_the_model() -> None:
    X, Y = _data(2, 8)
    # Inputs in [0, 1] normalized as if they spanned [0, 2] x [0, 4]: one unit of the
    # model's inputs is 2 (resp. 4) units of the encoded cube.
    bounds = torch.tensor([[0.0, 0.0], [2.0, 4.0]], dtype=DTYPE)
    model = SingleTaskGP(X, Y, input_transform=Normalize(d=2, bounds=bounds))
    model.covar_module.lengthscale = torch.tensor([0.1, 0.1])
    ls = lengthscales_of(model)
    assert ls is not None and torch.allclose(ls, torch.tensor([0.2, 0.4], dtype=DTYPE))


def test_a_batched_multi_output_gp_gives_the_first_outputs_lengthscales() -> None:
    X, Y = _data(2, 8)
    model = SingleTaskGP(X, torch.cat([Y, -Y], dim=-1))
    model.covar_module.lengthscale = torch.tensor([[[0.1, 0.2]], [[0.7, 0.9]]])
    ls = lengthscales_of(model)
    assert ls is not None and torch.allclose(ls, torch.tensor([0.1, 0.2], dtype=DTYPE))


# --- proposals -------------------------------------------------------------------------


def _region() -> tuple[TrustRegionState, torch.Tensor]:
    """The region after the fixture's 14 points, and its centre as a tensor."""
    X, Y = _data(2, 14)
    s = update(TrustRegionState.initial(dim=2, batch_size=3, length_init=0.4), Y.reshape(-1), X)
    assert s.center is not None
    return s, torch.tensor(s.center, dtype=DTYPE)


def test_propose_returns_n_points_inside_the_region(gp: SingleTaskGP) -> None:
    s, center = _region()
    X = _data(2, 14)[0]
    pending = torch.tensor([[0.5, 0.5]], dtype=DTYPE)
    acqf = qLogNoisyExpectedImprovement(gp, X_baseline=X, prune_baseline=True)
    candidates, value = propose(
        gp, s, center, 3, acquisition=acqf, num_restarts=2, raw_samples=32,
        X_pending=pending, seed=0,
    )  # fmt: skip
    region = region_bounds(s, center, lengthscales_of(gp))
    assert candidates.shape == (3, 2) and candidates.dtype == DTYPE
    assert _inside(candidates, region)
    assert bool(torch.isfinite(value).all())
    # qLogNEI (incremental) takes pending points into its baseline.
    assert torch.equal(acqf.X_baseline[-1:], pending)
    again, _ = propose(gp, s, center, 3, acquisition=acqf, num_restarts=2, raw_samples=32, seed=0)
    assert torch.allclose(again, candidates), "the same seed gives the same proposal"


def test_propose_uses_the_bounds_function_given(gp: SingleTaskGP) -> None:
    s, center = _region()
    X = _data(2, 14)[0]
    acqf = qLogNoisyExpectedImprovement(gp, X_baseline=X)
    corner = torch.tensor([[0.0, 0.0], [0.1, 0.1]], dtype=DTYPE)
    candidates, _ = propose(
        gp, s, center, 1, acquisition=acqf, bounds_fn=lambda *_: corner,
        num_restarts=2, raw_samples=16, seed=1,
    )  # fmt: skip
    assert candidates.shape == (1, 2) and _inside(candidates, corner)


def test_thompson_candidates_are_distinct_points_inside_the_region(gp: SingleTaskGP) -> None:
    s, center = _region()
    region = region_bounds(s, center, lengthscales_of(gp))
    X = thompson_candidates(gp, region, 4, n_candidates=300, seed=0, center=center)
    assert X.shape == (4, 2) and X.dtype == DTYPE
    assert _inside(X, region)
    assert len({tuple(x) for x in X.tolist()}) == 4
    again = thompson_candidates(gp, region, 4, n_candidates=300, seed=0, center=center)
    assert torch.equal(again, X), "the same seed gives the same batch"


def test_thompson_candidates_in_high_dimension_keep_some_coordinates_of_the_center() -> None:
    d = 40  # each coordinate is perturbed with probability 20 / 40
    X, Y = _data(d, 12)
    model = _fit(SingleTaskGP(X, Y))
    center = X[int(torch.argmax(Y))]
    s = TrustRegionState.initial(dim=d, batch_size=5)
    region = region_bounds(s, center, lengthscales_of(model))
    out = thompson_candidates(model, region, 5, n_candidates=200, seed=3, center=center)
    assert out.shape == (5, d) and _inside(out, region)
    kept = (out == center).sum(dim=1)
    assert bool((kept > 0).all()) and bool((kept < d).all())


def test_thompson_candidates_refuse_too_few_candidates(gp: SingleTaskGP) -> None:
    s, center = _region()
    region = region_bounds(s, center, None)
    with pytest.raises(ValueError, match="n_candidates"):
        thompson_candidates(gp, region, 5, n_candidates=4, center=center)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_everything_stays_on_the_device_of_the_inputs() -> None:
    dev = torch.device("cuda")
    X, Y = _data(2, 10)
    model = _fit(SingleTaskGP(X.to(dev), Y.to(dev)))
    s = update(TrustRegionState.initial(2, 2), Y.reshape(-1).tolist(), X.to(dev))
    center = torch.tensor(s.center, dtype=DTYPE, device=dev)
    ls = lengthscales_of(model)
    assert ls is not None and ls.device.type == "cuda"
    region = region_bounds(s, center, ls)
    assert region.device.type == "cuda"
    acqf = qLogNoisyExpectedImprovement(model, X_baseline=X.to(dev))
    cand, _ = propose(model, s, center, 2, acquisition=acqf, num_restarts=2, raw_samples=16)
    assert cand.device.type == "cuda" and _inside(cand, region)
    ts = thompson_candidates(model, region, 2, n_candidates=100, seed=0, center=center)
    assert ts.device.type == "cuda" and _inside(ts, region)

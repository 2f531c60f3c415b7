"""Basins of good points (a Dirichlet process mixture) and the batches spread across them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from bayesopt.analysis.basins import cluster, find_basins
from bayesopt.errors import InvalidAnalysisError

CENTRES = np.array([[0.2, 0.25], [0.75, 0.8], [0.8, 0.2]])


def blobs(centres: np.ndarray, size: int, sd: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = np.vstack([rng.normal(c, sd, size=(size, len(c))) for c in centres])
    return np.clip(points, 0.0, 1.0), np.repeat(np.arange(len(centres)), size)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_finds_as_many_basins_as_clusters(k: int) -> None:
    points, truth = blobs(CENTRES[:k], size=5, sd=0.03, seed=k)
    fit = cluster(points, seed=0)
    assert fit.n_components == k
    assert adjusted_rand_score(truth, fit.labels) == 1.0
    assert fit.method == "svi" and fit.seconds > 0
    assert max(fit.count_probs, key=lambda c: fit.count_probs[c]) == k
    assert math.isclose(sum(fit.count_probs.values()), 1.0)
    assert np.all(fit.membership > 0.5)
    # each centre is found where its cluster is
    for c in CENTRES[:k]:
        assert np.linalg.norm(fit.centres - c, axis=1).min() < 0.05


def test_the_fit_is_deterministic_given_the_seed() -> None:
    points, _ = blobs(CENTRES, size=5, sd=0.04, seed=5)
    a, b = cluster(points, seed=3), cluster(points, seed=3)
    assert np.array_equal(a.labels, b.labels)
    assert np.allclose(a.centres, b.centres) and a.count_probs == b.count_probs


def test_few_points_form_one_basin() -> None:
    fit = cluster([[0.1, 0.1], [0.9, 0.9], [0.5, 0.1]])
    assert fit.n_components == 1 and fit.method == "too few points"
    assert fit.labels.tolist() == [0, 0, 0] and fit.count_probs == {1: 1.0}


def test_find_basins_takes_the_best_points_and_ranks_the_basins() -> None:
    good, truth = blobs(CENTRES[:2], size=6, sd=0.02, seed=1)
    rng = np.random.default_rng(2)
    poor = rng.uniform(0, 1, size=(37, 2))
    points = np.vstack([good, poor])
    # basin 1 of the truth holds the best point; the poor points and an infeasible one
    # (-inf) are left out: the best quarter of the 48 finite values is the 12 good ones
    values = np.concatenate([np.where(truth == 1, -0.1, -0.2), np.full(37, -5.0)])
    values[7] = 0.0
    values[-1] = -math.inf
    found = find_basins(points, values, fraction=0.25)
    assert found.n_basins == 2
    assert sorted(found.selected.tolist()) == list(range(12))
    best = found.basins[0]
    assert best.index == 0 and best.best == 7 and best.best_value == 0.0
    assert set(best.members) == set(range(6, 12)) and best.size == 6
    assert set(found.basins[1].members) == set(range(6))
    assert found.basin_of(points[7]) == 0 and found.basin_of(points[0]) == 1
    assert found.basin_of(np.array([0.5, 0.5])) is None
    lo, hi = best.box()
    assert np.all(lo <= points[6:12].min(axis=0)) and np.all(hi >= points[6:12].max(axis=0))
    summary = found.summary()
    assert summary["n_basins"] == 2 and summary["sizes"] == [6, 6]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"truncation": 1}, "truncation: got 1; expected an integer from 2 to 32"),
        ({"truncation": "8"}, "truncation: got '8'; expected an integer"),
        ({"truncation": True}, "truncation: got True"),
        ({"seed": -1}, "seed: got -1; expected an integer >= 0"),
        ({"steps": 0}, "steps: got 0; expected an integer >= 1"),
    ],
)
def test_bad_fit_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidAnalysisError, match=message.replace("(", r"\(")):
        cluster([[0.1, 0.2]] * 5, **kwargs)


def test_bad_points_and_values_are_refused() -> None:
    with pytest.raises(
        InvalidAnalysisError, match=r"points: row 1 is \[0.5, 1.5\]; expected encoded"
    ):
        cluster([[0.1, 0.2], [0.5, 1.5]])
    with pytest.raises(InvalidAnalysisError, match=r"points: got an array of shape \(3,\)"):
        cluster([0.1, 0.2, 0.3])
    with pytest.raises(InvalidAnalysisError, match="values: got 1 values for 2 points"):
        find_basins([[0.1, 0.2], [0.3, 0.4]], [1.0])
    with pytest.raises(InvalidAnalysisError, match="values: no finite value"):
        find_basins([[0.1, 0.2]], [math.nan])
    with pytest.raises(
        InvalidAnalysisError, match=r"fraction: got 0; expected a number in \(0, 1\]"
    ):
        find_basins([[0.1, 0.2]], [1.0], fraction=0)

"""Basins of good points (a Dirichlet process mixture) and the batches spread across them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from bayesopt import BO, Experiment, Fidelity, Float, Objective, Sobol, TrialStateError
from bayesopt.analysis.basins import cluster, find_basins
from bayesopt.errors import InvalidAnalysisError, InvalidExperimentError

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


# ------------------------------------------------------------------ in the loop
A, B = np.array([0.2, 0.3]), np.array([0.75, 0.7])


def bimodal(x1: float, x2: float) -> float:
    """Two basins of nearly equal depth (minimized): -1 at A, -0.95 at B."""
    x = np.array([x1, x2])
    return float(
        -np.exp(-((x - A) ** 2).sum() / 0.02) - 0.95 * np.exp(-((x - B) ** 2).sum() / 0.02)
    )


def bimodal_experiment(spread: str | None = "basins", **kw: object) -> Experiment:
    return Experiment(
        name="bimodal",
        parameters=[Float("x1", 0.0, 1.0), Float("x2", 0.0, 1.0)],
        objectives=[Objective("y")],
        strategy=[Sobol(n=4), BO(spread=spread)],
        **kw,  # type: ignore[arg-type]
    )


def seed_store(opt) -> None:  # type: ignore[no-untyped-def]
    """Completed trials: 5 near each basin and 10 spread over the square."""
    rng = np.random.default_rng(0)
    points = [*rng.normal(A, 0.03, (5, 2)), *rng.normal(B, 0.03, (5, 2))]
    points += list(rng.uniform(0, 1, (10, 2)))
    for p in np.clip(points, 0, 1):
        params = {"x1": float(p[0]), "x2": float(p[1])}
        opt.attach(params, {"y": bimodal(**params)})


def test_a_spread_batch_puts_a_candidate_in_each_basin(open_optimizer) -> None:
    opt = open_optimizer(bimodal_experiment())
    seed_store(opt)
    batch = opt.suggest(4)
    meta = [t.metadata for t in batch]
    assert [m["basin"] for m in meta] == [0, 1, None, None]
    assert all(m["n_basins"] == 2 and m["spread"] == "basins" for m in meta)
    assert meta[0]["basins"]["best_trials"][0] == opt.best().id
    assert meta[0]["basins_seconds"] > 0
    near = [np.array([t.params["x1"], t.params["x2"]]) for t in batch[:2]]
    assert np.linalg.norm(near[0] - A) < 0.25 and np.linalg.norm(near[1] - B) < 0.25
    assert all(m["step"] == "bo" for m in meta)


def test_a_basin_holding_a_pending_trial_is_covered(open_optimizer) -> None:
    opt = open_optimizer(bimodal_experiment())
    seed_store(opt)
    opt.attach({"x1": float(A[0]), "x2": float(A[1])})  # pending, in the best basin
    (trial,) = opt.suggest(1)
    assert trial.metadata["basin"] == 1
    assert trial.metadata["basins"]["covered"] == [0]
    x = np.array([trial.params["x1"], trial.params["x2"]])
    assert np.linalg.norm(x - B) < 0.25


def test_one_point_with_nothing_pending_is_the_plain_decision(open_optimizer, tmp_path) -> None:
    spread = open_optimizer(bimodal_experiment())
    plain = open_optimizer(bimodal_experiment(spread=None), storage=f"sqlite:///{tmp_path}/p.db")
    for opt in (spread, plain):
        seed_store(opt)
    (a,), (b,) = spread.suggest(1), plain.suggest(1)
    assert a.params == b.params
    assert "spread" not in a.metadata and "basin" not in a.metadata


def test_spread_settings_are_checked_when_the_experiment_is_built() -> None:
    with pytest.raises(
        InvalidExperimentError,
        match=r"strategy BO: spread='wide'; valid values are \[None, 'basins'\]",
    ):
        bimodal_experiment(spread="wide")
    with pytest.raises(InvalidExperimentError, match="spread='basins', but the experiment has"):
        Experiment(
            name="two",
            parameters=[Float("x", 0.0, 1.0)],
            objectives=[Objective("a"), Objective("b")],
            strategy=[Sobol(n=4), BO(spread="basins")],
        )
    for kwargs, why in [
        ({"goal": "learn"}, "goal='learn' learns the response everywhere"),
        (
            {"parameters": [Float("x", 0.0, 1.0), Fidelity("s", 0.0, 1.0)]},
            "the space has a Fidelity",
        ),
    ]:
        with pytest.raises(InvalidExperimentError, match=f"spread='basins', but {why}"):
            Experiment(
                **{
                    "name": "other",
                    "parameters": [Float("x", 0.0, 1.0)],
                    "objectives": [Objective("y")],
                    "strategy": [Sobol(n=4), BO(spread="basins")],
                    **kwargs,
                }
            )
    # allowed with batches of one: it spreads a suggestion among pending trials
    assert bimodal_experiment(batch_size=1).strategy[1] == BO(spread="basins")
    data = Experiment(
        name="data",
        parameters=[Float("x", 0.0, 1.0)],
        objectives=[Objective("y")],
        strategy=[{"step": "sobol", "n": 4}, {"step": "bo", "spread": "basins"}],
    )
    assert data.strategy[1] == BO(spread="basins")


def test_optimizer_basins_lists_the_distinct_optima(open_optimizer) -> None:
    opt = open_optimizer(bimodal_experiment(spread=None))
    seed_store(opt)
    df = opt.basins()
    assert list(df.columns) == [
        "basin",
        "trial",
        "x1",
        "x2",
        "y",
        "size",
        "probability",
        "weight",
    ]
    assert df["basin"].tolist() == [0, 1]
    assert df["trial"].iloc[0] == opt.best().id
    assert df["y"].iloc[0] == opt.best().values["y"]
    assert np.linalg.norm(df[["x1", "x2"]].iloc[1].to_numpy() - B) < 0.1
    # the best quarter of 20 trials, but at least 6
    assert df.attrs["n_basins"] == 2 and df.attrs["n_points"] == 6
    assert df["size"].sum() == 6 and all(df["probability"] > 0.5)
    assert opt.basins(fraction=0.5).attrs["n_points"] == 10
    with pytest.raises(InvalidAnalysisError, match="truncation: got 0"):
        opt.basins(truncation=0)
    with pytest.raises(InvalidAnalysisError, match="fraction: got 2"):
        opt.basins(fraction=2)


def test_basins_need_completed_trials_and_one_objective(open_optimizer, tmp_path) -> None:
    opt = open_optimizer(bimodal_experiment(spread=None))
    with pytest.raises(TrialStateError, match="basins: experiment 'bimodal' has no completed"):
        opt.basins()
    two = Experiment(
        name="two",
        parameters=[Float("x", 0.0, 1.0)],
        objectives=[Objective("a"), Objective("b")],
    )
    other = open_optimizer(two, storage=f"sqlite:///{tmp_path}/two.db")
    with pytest.raises(TrialStateError, match="basins: experiment 'two' has 2 objectives"):
        other.basins()

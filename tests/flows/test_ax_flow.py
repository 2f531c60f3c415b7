"""Ax's own strategy inside the workflow: our store, our flow, our MLflow, resume by replay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bayesopt import Optimizer, TrialStatus
from flows.loading import load_experiment
from flows.optimize import optimize

AX_EXPERIMENT = """
    from bayesopt import Experiment, Float, Int, Objective

    def evaluate(x: float, k: int):
        return {"y": (x - 0.3) ** 2 + 0.1 * (k - 2) ** 2}

    experiment = Experiment(
        name="with-ax", parameters=[Float("x", 0.0, 1.0), Int("k", 0, 4)],
        objectives=[Objective("y")], evaluate=evaluate, budget=8, initial_trials=3,
        strategy="ax", seed=0,
    )
"""


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_a_whole_flow_with_ax_deciding_then_resumed(
    tmp_path: Path, write_experiment: Callable[[str, str], Path]
) -> None:
    path = write_experiment("with_ax", AX_EXPERIMENT)
    store = f"sqlite:///{tmp_path / 'ax.db'}"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = optimize(str(path), budget=4, storage=store, tracking_uri=tracking)
    assert first["n_completed"] == 4
    # A new flow run starts with a fresh Ax Client, which replays the store.
    second = optimize(str(path), storage=store, tracking_uri=tracking)
    assert second["n_completed"] == 8

    opt = Optimizer(load_experiment(path), storage=store)
    trials = opt.all_trials()
    assert len(trials) == 8 and all(t.status == TrialStatus.COMPLETED for t in trials)
    assert all(t.generator.startswith("ax:") and t.metadata["step"] == "ax" for t in trials)
    assert {t.generator for t in trials[3:]} & {"ax:MBM"}, [t.generator for t in trials]
    # Ax numbered the resumed trials after the replayed ones: it knew them.
    assert [t.metadata["ax_index"] for t in trials[4:]] == [4, 5, 6, 7]
    assert all(isinstance(t.params["k"], int) for t in trials)

    client = MlflowClient(tracking)
    runs = client.search_runs([client.get_experiment_by_name("with-ax").experiment_id])  # type: ignore[union-attr]
    assert len(runs) == 2 and all(r.data.params["strategy"] == "Ax()" for r in runs)

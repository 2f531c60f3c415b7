"""The optimization flow end to end: real Prefect API, real SQLite store, real MLflow store."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bayesopt import Optimizer, TrialStatus
from flows.loading import load_experiment
from flows.optimize import optimize

ROOT = Path(__file__).resolve().parents[2]
BRANIN_MIN = 0.397887

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_branin_through_the_flow(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'branin.db'}"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = optimize(
        str(ROOT / "experiments" / "branin.py"),
        budget=20,
        seed=0,
        storage=store,
        tracking_uri=tracking,
    )

    exp = load_experiment(ROOT / "experiments" / "branin.py")
    opt = Optimizer(exp, storage=store)
    trials = opt.all_trials()
    assert [t.id for t in trials] == list(range(20))
    assert all(t.status == TrialStatus.COMPLETED for t in trials)
    assert sum(t.generator == "sobol" for t in trials) == exp.n_initial
    best = opt.best()
    regret = best.values["y"] - BRANIN_MIN
    assert regret < 0.05, f"simple regret {regret:.4f} after 20 trials"
    assert summary["best_trial"] == best.id and summary["n_completed"] == 20

    client = MlflowClient(tracking)
    mlflow_exp = client.get_experiment_by_name("branin")
    assert mlflow_exp is not None
    (run,) = client.search_runs([mlflow_exp.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["budget"] == "20" and run.data.params["surrogate"] == "gp"
    history = client.get_metric_history(run.info.run_id, "y")
    assert sorted(m.step for m in history) == list(range(20))
    best_curve = sorted(client.get_metric_history(run.info.run_id, "best_y"), key=lambda m: m.step)
    assert math.isclose(best_curve[-1].value, best.values["y"])
    assert all(a.value >= b.value for a, b in itertools.pairwise(best_curve))
    fit_steps = {m.step for m in client.get_metric_history(run.info.run_id, "fit_seconds")}
    assert fit_steps == set(range(exp.n_initial, 20))
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"trials.csv", "convergence.png"} <= artifacts
    # The decision report and the analyses' plots; the experiment opens as model training.
    assert {"decision_report.html", "regimes.png", "basins.png"} <= artifacts
    assert mlflow_exp.tags["mlflow.experimentKind"] == "custom_model_development"

    # Every fit's held-out scores are logged at the step of the trial it decided.
    for key in ("cv_rmse", "cv_r2", "cv_nlpd", "cv_picp", "cv_mpiw"):
        steps = {m.step for m in client.get_metric_history(run.info.run_id, key)}
        assert steps == set(range(exp.n_initial, 20)), key
    final = run.data.metrics
    assert 0.0 <= final["final_cv_picp"] <= 1.0 and final["final_cv_mpiw"] > 0
    assert final["final_cv_r2"] > 0.5, "the GP explains most of Branin's variance"
    assert run.data.tags["surrogate.final"] == "gp"
    assert {"calibration.png", "predicted_vs_observed.png", "surrogate"} <= artifacts

    # The final surrogate loads as an MLflow model and predicts in the objective's units,
    # as Optimizer.predict does from the store.
    local = client.download_artifacts(run.info.run_id, "surrogate", str(tmp_path))
    model = mlflow.pyfunc.load_model(local)
    points = pd.DataFrame({"x1": [best.params["x1"], -5.0], "x2": [best.params["x2"], 15.0]})
    loaded = model.predict(points)
    direct = opt.predict(points)
    assert list(loaded.columns) == ["x1", "x2", "y_mean", "y_lower", "y_upper"]
    pd.testing.assert_frame_equal(loaded, direct, rtol=1e-6)
    assert loaded["y_mean"][0] < 5 < loaded["y_mean"][1], "near the best vs far corner (y=17.5)"
    assert (loaded["y_lower"] < loaded["y_mean"]).all() and (
        loaded["y_mean"] < loaded["y_upper"]
    ).all()

    # Running again with the budget spent evaluates nothing and keeps every trial.
    again = optimize(
        str(ROOT / "experiments" / "branin.py"), budget=20, storage=store, tracking_uri=tracking
    )
    assert again["n_completed"] == 20
    assert len(opt.all_trials()) == 20


def test_failing_evaluations_become_failed_trials(
    tmp_path: Path, write_experiment: Callable[[str, str], Path]
) -> None:
    path = write_experiment(
        "faulty",
        """
        import math, time
        from bayesopt import Experiment, Float, Objective

        def evaluate(x: float):
            bucket = int(x * 1000) % 5
            if bucket == 0:
                raise RuntimeError("instrument offline")
            if bucket == 1:
                return {"y": math.nan}
            if bucket == 2:
                return {"loss": 1.0}
            if bucket == 3:
                time.sleep(5)
            return (x - 0.3) ** 2

        experiment = Experiment(
            name="faulty", parameters=[Float("x", 0.0, 1.0)], objectives=[Objective("y")],
            evaluate=evaluate, budget=12, timeout=0.5, retries=1, retry_delay=0.0,
            initial_trials=12, seed=1,
        )
        """,
    )
    store = f"sqlite:///{tmp_path / 'faulty.db'}"
    summary = optimize(str(path), storage=store, tracking_uri=f"sqlite:///{tmp_path / 'ml.db'}")

    opt = Optimizer(load_experiment(path), storage=store)
    trials = opt.all_trials()
    assert len(trials) == 12 and all(t.status.is_finished for t in trials)
    reasons = {int(t.params["x"] * 1000) % 5: t.failure_reason for t in trials if t.failure_reason}
    expected = {
        0: "RuntimeError: instrument offline",
        1: "not a finite number",
        2: "missing objective(s) ['y']",
        3: "timed out after 0.5 s",
    }
    for bucket, text in expected.items():
        if bucket in reasons:
            assert text in reasons[bucket]
    assert len(reasons) >= 3, f"the Sobol points should hit most fault kinds: {reasons}"
    for t in trials:
        bucket = int(t.params["x"] * 1000) % 5
        assert (t.status == TrialStatus.COMPLETED) == (bucket == 4)
    assert summary["n_failed"] == sum(t.status == TrialStatus.FAILED for t in trials)


def test_pending_trials_are_evaluated_first(tmp_path: Path) -> None:
    """A point suggested by hand (or re-queued) is run by the flow, not suggested again."""
    path = ROOT / "experiments" / "branin.py"
    store = f"sqlite:///{tmp_path / 'b.db'}"
    opt = Optimizer(load_experiment(path), storage=store, seed=0)
    manual = opt.attach({"x1": 3.14159, "x2": 2.275})
    optimize(str(path), budget=3, storage=store, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")
    done = opt.get(manual.id)
    assert done.status == TrialStatus.COMPLETED
    assert done.values is not None and abs(done.values["y"] - BRANIN_MIN) < 1e-3
    assert len(opt.all_trials()) == 3

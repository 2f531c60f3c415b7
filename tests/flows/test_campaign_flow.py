"""A real campaign through the flow and the CLI: two objectives, an outcome constraint,
a mixture, context and measured noise, with the store and MLflow read back."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from bayesopt import Optimizer, TrialStatus
from flows.cli import app
from flows.loading import load_experiment
from flows.optimize import optimize

ROOT = Path(__file__).resolve().parents[2]
REACTOR = str(ROOT / "experiments" / "reactor.py")
BRANIN = str(ROOT / "experiments" / "branin.py")


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_the_reactor_campaign_through_the_flow(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'reactor.db'}"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = optimize(REACTOR, budget=12, seed=0, storage=store, tracking_uri=tracking)

    exp = load_experiment(REACTOR)
    opt = Optimizer(exp, storage=store)
    trials = opt.all_trials()
    assert len(trials) == 12 and all(t.status == TrialStatus.COMPLETED for t in trials)
    for t in trials:  # the mixture holds for design points and model steps alike
        assert math.isclose(t.params["water"] + t.params["ethanol"] + t.params["toluene"], 1.0)
    assert trials[-1].generator == "gp+qLogNEHVI"
    front = opt.pareto()
    assert front and all(t.values["purity"] >= 0.9 for t in front)  # type: ignore[index]
    assert summary["n_completed"] == 12 and summary["pareto_trials"] == [t.id for t in front]

    client = MlflowClient(tracking)
    (run,) = client.search_runs([client.get_experiment_by_name("reactor").experiment_id])
    assert run.info.status == "FINISHED"
    assert "purity >= 0.9" in run.data.params["constraints"]
    assert "yield (max, threshold 20)" in run.data.params["objectives"]
    hv = sorted(client.get_metric_history(run.info.run_id, "hypervolume"), key=lambda m: m.step)
    assert hv and all(b.value >= a.value - 1e-9 for a, b in itertools.pairwise(hv))
    assert math.isclose(hv[-1].value, opt.hypervolume(), rel_tol=1e-9)
    feasible = client.get_metric_history(run.info.run_id, "feasible")
    assert sorted(m.step for m in feasible) == list(range(12))
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"trials.csv", "convergence.png", "pareto_front.png"} <= artifacts
    assert run.data.tags["pareto_trials"] == ", ".join(str(t.id) for t in front)

    runner = CliRunner()
    out = runner.invoke(app, ["best", REACTOR, "--json", "--storage", store])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert [row["id"] for row in shown["pareto"]] == [t.id for t in front]
    assert math.isclose(shown["hypervolume"], opt.hypervolume())
    out = runner.invoke(app, ["status", REACTOR, "--storage", store])
    assert out.exit_code == 0 and "Pareto front of" in out.output and "hypervolume" in out.output


def test_context_and_measured_noise_from_the_command_line(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'branin.db'}"
    runner = CliRunner()
    out = runner.invoke(app, ["suggest", BRANIN, "--fixed", "x2=2.5", "--json", "--storage", store])
    assert out.exit_code == 0, out.output
    row = json.loads(out.output)
    assert row["params"]["x2"] == 2.5
    out = runner.invoke(app, ["observe", BRANIN, str(row["id"]), "y=12.5+-0.4", "--storage", store])
    assert out.exit_code == 0, out.output
    (trial,) = Optimizer(load_experiment(BRANIN), storage=store).all_trials()
    assert trial.values == {"y": 12.5} and trial.sems == {"y": 0.4}
    out = runner.invoke(app, ["status", BRANIN, "--storage", store])
    assert "12.5 ± 0.4" in out.output

    bad = runner.invoke(app, ["suggest", BRANIN, "--fixed", "x2=99", "--storage", store])
    assert bad.exit_code != 0
    assert "fixed: 'x2' = 99.0 is outside [0.0, 15.0]" in str(bad.exception)
    bad = runner.invoke(app, ["suggest", BRANIN, "--fixed", "x9=1", "--storage", store])
    assert "'x9'" in str(bad.exception)
    assert len(Optimizer(load_experiment(BRANIN), storage=store).all_trials()) == 1

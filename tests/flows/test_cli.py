"""The `bayesopt` command line against a real SQLite store (in-process, Typer's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bayesopt import Optimizer, TrialStatus
from flows.cli import app
from flows.loading import load_experiment

ROOT = Path(__file__).resolve().parents[2]
BRANIN = str(ROOT / "experiments" / "branin.py")


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_ask_tell_by_hand(store: str) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["suggest", BRANIN, "-n", "2", "--json", "--storage", store])
    assert out.exit_code == 0, out.output
    suggested = [json.loads(line) for line in out.output.splitlines()]
    assert [s["id"] for s in suggested] == [0, 1]
    assert set(suggested[0]["params"]) == {"x1", "x2"}

    out = runner.invoke(app, ["observe", BRANIN, "0", "y=12.5", "--storage", store])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["observe", BRANIN, "1", "3.25", "--storage", store])
    assert out.exit_code == 0, out.output

    out = runner.invoke(app, ["best", BRANIN, "--json", "--storage", store])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["id"] == 1

    out = runner.invoke(app, ["status", BRANIN, "--storage", store])
    assert out.exit_code == 0 and "2 completed" in out.output

    opt = Optimizer(load_experiment(BRANIN), storage=store)
    assert [t.values for t in opt.all_trials()] == [{"y": 12.5}, {"y": 3.25}]


def test_observe_refuses_and_keeps_the_record(store: str) -> None:
    runner = CliRunner()
    runner.invoke(app, ["suggest", BRANIN, "--storage", store])
    assert runner.invoke(app, ["observe", BRANIN, "0", "y=1.0", "--storage", store]).exit_code == 0

    again = runner.invoke(app, ["observe", BRANIN, "0", "y=0.5", "--storage", store])
    assert again.exit_code != 0
    assert "trial 0: is completed" in str(again.exception)
    unknown = runner.invoke(app, ["observe", BRANIN, "7", "y=0.5", "--storage", store])
    assert unknown.exit_code != 0 and "trial 7: no such trial" in str(unknown.exception)
    bad = runner.invoke(app, ["observe", BRANIN, "0", "y=abc", "--storage", store])
    assert bad.exit_code != 0 and "'abc' is not a number" in bad.output

    opt = Optimizer(load_experiment(BRANIN), storage=store)
    (trial,) = opt.all_trials()
    assert trial.status == TrialStatus.COMPLETED and trial.values == {"y": 1.0}


def test_observe_fail_records_the_reason(store: str) -> None:
    runner = CliRunner()
    runner.invoke(app, ["suggest", BRANIN, "--storage", store])
    out = runner.invoke(
        app, ["observe", BRANIN, "0", "--fail", "sample spilled", "--storage", store]
    )
    assert out.exit_code == 0, out.output
    opt = Optimizer(load_experiment(BRANIN), storage=store)
    assert opt.get(0).failure_reason == "sample spilled"


def test_bad_experiment_path_is_a_clear_error(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["status", str(tmp_path / "missing.py")])
    assert out.exit_code != 0
    assert "is not a file" in str(out.exception)


def test_status_shows_the_deciding_surrogate_and_predict_uses_it(store: str) -> None:
    exp = load_experiment(BRANIN)
    opt = Optimizer(exp, storage=store, seed=0)
    for _ in range(exp.n_initial + 1):
        (t,) = opt.suggest(1)
        opt.observe(t, {"y": exp.evaluate(**t.params)["y"]})  # type: ignore[index, misc]
    runner = CliRunner(env={"COLUMNS": "250"})
    out = runner.invoke(app, ["status", BRANIN, "--storage", store])
    assert out.exit_code == 0, out.output
    assert "gp+qLogNEI" in out.output and "sobol" in out.output
    assert "held-out NLPD" in out.output

    out = runner.invoke(
        app, ["predict", BRANIN, "x1=3.14", "x2=2.27", "--json", "--storage", store]
    )
    assert out.exit_code == 0, out.output
    row = json.loads(out.output)
    assert row["surrogate"] == "gp" and row["n_train"] == exp.n_initial + 1
    assert row["y_lower"] < row["y_mean"] < row["y_upper"]
    expected = opt.predict({"x1": 3.14, "x2": 2.27}).iloc[0]
    assert row["y_mean"] == pytest.approx(expected["y_mean"], rel=1e-6)

    bad = runner.invoke(app, ["predict", BRANIN, "x1=99", "x2=2", "--storage", store])
    assert bad.exit_code != 0 and "parameter 'x1'" in str(bad.exception) + bad.output

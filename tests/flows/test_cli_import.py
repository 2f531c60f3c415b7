"""`bayesopt import FILE CSV` against a real SQLite store."""

from __future__ import annotations

import subprocess
from pathlib import Path

from typer.testing import CliRunner

from bayesopt import InvalidImportError, Optimizer, TrialStatus
from flows.cli import app
from flows.loading import load_experiment
from tests.flows.conftest import bayesopt_cmd

ROOT = Path(__file__).resolve().parents[2]
BRANIN = str(ROOT / "experiments" / "branin.py")


def _csv(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "earlier.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_adds_the_completed_rows_and_reports_the_skipped(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    path = _csv(
        tmp_path,
        "status,x1,x2,y,y_sem",
        "completed,-3.0,12.0,5.5,0.1",
        "failed,0.0,0.0,,",
        "completed,9.5,2.5,1.25,",
    )
    out = CliRunner().invoke(app, ["import", BRANIN, str(path), "--storage", store])
    assert out.exit_code == 0, out.output
    printed = " ".join(out.output.split())
    assert (
        "imported 2 trial(s) from earlier.csv into experiment 'branin' (1 row(s) skipped: "
        "not completed)" in printed
    )
    assert f"trials: {store}" in printed

    opt = Optimizer(load_experiment(BRANIN), storage=store)
    trials = opt.all_trials()
    assert [(t.params, t.values, t.sems) for t in trials] == [
        ({"x1": -3.0, "x2": 12.0}, {"y": 5.5}, {"y": 0.1}),
        ({"x1": 9.5, "x2": 2.5}, {"y": 1.25}, None),
    ]
    assert {(t.status, t.generator) for t in trials} == {(TrialStatus.COMPLETED, "import")}

    again = CliRunner().invoke(app, ["import", BRANIN, str(path), "--storage", store])
    assert isinstance(again.exception, InvalidImportError)
    assert "same parameters as trial 0" in str(again.exception)
    assert len(opt.all_trials()) == 2


def test_extra_columns_are_kept_when_named(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    path = _csv(tmp_path, "x1,x2,y,seconds", "1.0,2.0,3.0,42")
    refused = CliRunner().invoke(app, ["import", BRANIN, str(path), "--storage", store])
    assert isinstance(refused.exception, InvalidImportError)
    assert "unknown column(s) ['seconds']" in str(refused.exception)

    out = CliRunner().invoke(
        app, ["import", BRANIN, str(path), "--extra", "seconds", "--storage", store]
    )
    assert out.exit_code == 0, out.output
    assert "(0 row(s) skipped" in out.output
    (trial,) = Optimizer(load_experiment(BRANIN), storage=store).all_trials()
    assert trial.values == {"y": 3.0, "seconds": 42.0}


def test_a_bad_row_is_an_error_and_nothing_is_written(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    path = _csv(tmp_path, "x1,x2,y", "1.0,2.0,3.0", "12.5,2.0,1.0")
    out = subprocess.run(
        bayesopt_cmd("import", BRANIN, str(path), "--storage", store),
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2, out.stderr
    assert (
        "error: import: row 2 (earlier.csv line 3), parameter 'x1': 12.5 is outside [-5.0, 10.0]"
        in " ".join(out.stderr.split())
    )
    assert Optimizer(load_experiment(BRANIN), storage=store).all_trials() == []

"""`bayesopt init`: a new experiment file from a template, which runs as written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bayesopt import InvalidExperimentError, Optimizer, TrialStatus, evaluate_point
from bayesopt.steps import design_size
from flows.cli import app
from flows.loading import load_experiment
from flows.scaffold import TEMPLATES, target_path, write_experiment
from tests.flows.conftest import bayesopt_cmd


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_each_template_runs_as_written(template: str, tmp_path: Path) -> None:
    path = write_experiment(f"demo-{template}", template, directory=tmp_path)
    assert path == tmp_path / f"demo_{template}.py"
    text = path.read_text()
    assert "my-experiment" not in text and "my_experiment" not in text
    exp = load_experiment(path)
    assert exp.name == f"demo-{template}"
    # Past the design, so that the model is fitted and decides at least once.
    budget = design_size(exp.space.dim) + 1
    opt = Optimizer(exp.replace(budget=budget), storage=f"sqlite:///{tmp_path / 't.db'}")
    while opt.n_finished < budget:
        for trial in opt.suggest():
            opt.observe(trial, evaluate_point(exp, trial.params))
    trials = opt.all_trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * budget
    assert trials[-1].generator != "sobol"  # the model's decision, not the design's
    assert opt.pareto() if exp.is_multi_objective else opt.best().values


def test_init_writes_a_file_and_never_overwrites_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    out = runner.invoke(app, ["init", "plant-yield", "--template", "sklearn"])
    assert out.exit_code == 0, out.output
    assert "wrote plant_yield.py (template: sklearn)" in out.output
    assert "bayesopt run plant_yield.py" in out.output
    path = tmp_path / "plant_yield.py"
    assert 'name="plant-yield"' in path.read_text()
    path.write_text("# the user's edits\n")

    out = runner.invoke(app, ["init", "plant-yield"])
    assert out.exit_code != 0
    assert isinstance(out.exception, InvalidExperimentError)
    assert "plant_yield.py already exists" in str(out.exception)
    assert "--force" in str(out.exception)
    assert path.read_text() == "# the user's edits\n"  # nothing of the user's is lost

    out = runner.invoke(app, ["init", "plant-yield", "--force"])
    assert out.exit_code == 0, out.output
    assert 'name="plant-yield"' in path.read_text()


def test_init_into_a_directory_by_path(tmp_path: Path) -> None:
    path = write_experiment("campaigns/run.2.py", "branin", directory=tmp_path)
    assert path == tmp_path / "campaigns" / "run_2.py"
    assert load_experiment(path).name == "run.2"


@pytest.mark.parametrize(
    ("name", "template", "message"),
    [
        ("x", "bayes", "template: got 'bayes'; valid templates are 'branin', 'sklearn'"),
        ("-x", "branin", "name: got '-x'; expected an experiment name of 1-200 letters"),
        ("a b", "branin", "name: got 'a b'"),
        ("", "branin", "name: got ''"),
    ],
)
def test_bad_input_names_the_field(name: str, template: str, message: str) -> None:
    with pytest.raises(InvalidExperimentError) as info:
        target_path(name) if template == "branin" else write_experiment(name, template)
    assert message in str(info.value)


def test_a_python_keyword_is_not_a_module_name(tmp_path: Path) -> None:
    name, path = target_path("import", tmp_path)
    assert name == "import" and path.name == "import_experiment.py"


@pytest.mark.slow
def test_init_then_run_is_quiet(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """A new user's first two commands: the file runs as written, and the terminal shows
    the progress and the result, nothing of MLflow's, Prefect's, JAX's or PyTorch's."""
    out = subprocess.run(
        bayesopt_cmd("init", "first"), env=cli_env, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    out = subprocess.run(
        bayesopt_cmd("run", "first.py", "--budget", "7"),
        env={**cli_env, "COLUMNS": "120"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Best of 7 completed (0 failed)" in out.stdout
    assert out.stderr == ""
    noise = ("WARNING", "INFO", "Downloading artifacts", "Warning:", "Traceback", "it/s]")
    for word in noise:
        assert word not in out.stdout, out.stdout
    assert (tmp_path / "runs" / "first.log").is_file()
    # Asked for, the libraries' output is shown.
    out = subprocess.run(
        bayesopt_cmd("run", "first.py", "--budget", "8", "--verbose"),
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Best of 8 completed (0 failed)" in out.stdout

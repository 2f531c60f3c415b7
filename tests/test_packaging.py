"""The distribution: a wheel and an sdist build from the tree, and the wheel works alone.

The wheel is installed into a fresh virtual environment (without its dependencies,
which the project's environment lends, see :mod:`tests.fresh_venv`), away from the
source tree; the installed ``bayesopt`` command
writes an experiment and runs it through the flow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.fresh_venv import fresh_venv

ROOT = Path(__file__).resolve().parents[1]
DIST = "bayesopt_workflows"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob(f"{DIST}-*.whl")
    (sdist,) = out.glob(f"{DIST}-*.tar.gz")
    return wheel, sdist


@pytest.mark.slow
def test_the_wheel_and_sdist_carry_the_packages_and_their_data(built: tuple[Path, Path]) -> None:
    wheel, sdist = built
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for package in ("bayesopt", "surrogates", "flows"):
        assert f"{package}/__init__.py" in names
        assert f"{package}/py.typed" in names  # users' type checkers read our annotations
    for template in ("branin", "sklearn", "numpyro", "multiobjective"):
        assert f"flows/templates/{template}.py" in names
    assert "flows/surrogate_pyfunc.py" in names  # the MLflow model's code
    assert not any(n.startswith(("tests/", "benchmarks/", "experiments/")) for n in names)
    assert "Name: bayesopt-workflows" in meta
    assert "bayesopt = flows.cli:main" in entry
    with tarfile.open(sdist) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert {"pyproject.toml", "README.md", "flows/templates/branin.py"} <= members
    assert not any(m.startswith((".venv/", "runs/")) for m in members)


@pytest.mark.slow
def test_the_installed_wheel_runs_an_experiment(built: tuple[Path, Path], tmp_path: Path) -> None:
    wheel, _ = built
    venv = tmp_path / "venv"
    python, site = fresh_venv(venv)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        timeout=300,
    )
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PREFECT_API_URL")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), COLUMNS="120")
    bayesopt = str(venv / "bin" / "bayesopt")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [*args], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return out

    where = run(
        str(python), "-c", "import bayesopt, flows; print(bayesopt.__file__, flows.__file__)"
    )
    assert str(ROOT) not in where.stdout and site in where.stdout
    assert "Usage: bayesopt" in run(bayesopt, "--help").stdout
    assert "bayesopt-workflows 0.1.0" in run(bayesopt, "--version").stdout
    run(bayesopt, "init", "wheel-check")
    out = run(bayesopt, "run", "wheel_check.py", "--budget", "6")
    assert "Best of 6 completed (0 failed)" in out.stdout
    assert (work / "runs" / "wheel-check.db").is_file()

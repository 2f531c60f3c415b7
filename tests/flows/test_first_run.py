"""The getting-started path, as a script: clone, the example, `bayesopt init`, a run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.fresh_venv import fresh_venv

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_first_run_script_reaches_a_finished_run(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.fail("the first-run script clones the repository: run the tests in a git clone")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PREFECT_API_URL")}
    env.update(
        # A new environment (the script installs the clone into it), with this one's
        # dependencies lent, so that the test does not download them again.
        BAYESOPT_VENV=str(fresh_venv(tmp_path / "venv")[0].parent.parent),
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        COLUMNS="120",
        HOME=str(tmp_path),
    )
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "first_run.sh"), str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Best of 8 completed (0 failed)" in out.stdout  # the example
    assert "wrote my_experiment.py (template: branin)" in out.stdout
    assert "Best of 12 completed (0 failed)" in out.stdout  # the user's own
    assert "first_run:" in out.stdout

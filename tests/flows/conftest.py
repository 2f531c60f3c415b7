from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One real Prefect API (a temporary local server on SQLite) for the session's flows."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def write_experiment(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write an experiment module into tmp_path and return its path."""

    def write(name: str, source: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a `bayesopt` subprocess: its own Prefect home, quiet logs."""
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env.pop("PREFECT_API_URL", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def bayesopt_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "flows", *args]

"""Passwords in storage and tracking URLs reach no output, log, parameter or tag."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from prefect.client.orchestration import get_client
from typer.testing import CliRunner

from bayesopt import Optimizer, TrialStatus
from flows.cli import app
from flows.loading import load_experiment, reveal_secret
from tests.bayesopt.test_workers import POSTGRES_URL

SECRET = "s3cret-pw-" + uuid.uuid4().hex[:6]

pytestmark = pytest.mark.usefixtures("prefect_api")


def _with_password(url: str) -> str:
    # The local server trusts loopback connections, so any password is accepted.
    scheme, rest = url.split("://", 1)
    user_host = rest.split("@", 1)
    host = user_host[-1]
    user = user_host[0].split(":")[0] if len(user_host) == 2 else "postgres"
    return f"{scheme}://{user}:{SECRET}@{host}"


async def _prefect_records() -> str:
    async with get_client() as client:
        runs = await client.read_flow_runs()
        logs = await client.read_logs()
    return " ".join(str(r.parameters) + str(r.name) for r in runs) + " ".join(
        log.message for log in logs
    )


def test_no_password_leaks(
    tmp_path: Path,
    write_experiment: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = f"secret-{uuid.uuid4().hex[:8]}"
    path = write_experiment(
        "secret",
        f"""
        from bayesopt import Experiment, Float, Objective

        def evaluate(x: float):
            return {{"y": (x - 0.5) ** 2}}

        experiment = Experiment(
            name="{name}", parameters=[Float("x", 0.0, 1.0)], objectives=[Objective("y")],
            evaluate=evaluate, budget=3, initial_trials=3, seed=0,
        )
        """,
    )
    storage = _with_password(POSTGRES_URL)
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("BAYESOPT_STORAGE_URL", "")  # restored after the test
    caplog.set_level(logging.DEBUG)

    result = CliRunner().invoke(
        app, ["run", str(path), "--storage", storage, "--tracking-uri", tracking]
    )
    assert result.exit_code == 0, result.output
    assert "***" in result.output  # the store is named, masked
    assert SECRET not in result.output
    assert SECRET not in caplog.text

    trials = Optimizer(load_experiment(path), storage=storage).all_trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3

    client = MlflowClient(tracking)
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["storage"].endswith("@" + storage.split("@", 1)[1])
    assert SECRET not in str(run.data.params) + str(run.data.tags)

    records = asyncio.run(_prefect_records())
    assert storage.split("@", 1)[1] in records  # the flow run's storage parameter, masked
    assert SECRET not in records


def test_a_masked_url_needs_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAYESOPT_STORAGE_URL", raising=False)
    with pytest.raises(ValueError, match="set BAYESOPT_STORAGE_URL to the full URL"):
        reveal_secret("postgresql://u:***@h/db", "BAYESOPT_STORAGE_URL")
    monkeypatch.setenv("BAYESOPT_STORAGE_URL", "postgresql://u:pw@h/db")
    assert reveal_secret("postgresql://u:***@h/db", "BAYESOPT_STORAGE_URL").endswith(":pw@h/db")
    assert reveal_secret("sqlite:///x.db", "BAYESOPT_STORAGE_URL") == "sqlite:///x.db"

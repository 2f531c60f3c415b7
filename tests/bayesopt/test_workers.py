"""Many workers, one store: SQLite on one machine, PostgreSQL across machines.

The PostgreSQL server comes from ``BAYESOPT_TEST_POSTGRES_URL`` (default: the local
server on 127.0.0.1:5432, database ``test``). When it cannot be reached these tests
fail: they are never skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bayesopt import Optimizer, TrialStatus
from bayesopt.storage import Store, trials_table
from tests.bayesopt.many_workers import experiment

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("many_workers.py")
POSTGRES_URL = os.environ.get(
    "BAYESOPT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    try:
        Store(POSTGRES_URL).close()
    except Exception as exc:  # fail loudly: these tests must run against PostgreSQL
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc}); start it or set "
            "BAYESOPT_TEST_POSTGRES_URL"
        )
    yield POSTGRES_URL


@pytest.fixture
def name() -> str:
    return f"workers-{uuid.uuid4().hex[:10]}"


@pytest.mark.slow
def test_four_workers_share_one_store(store_url: str, name: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), store_url, name, "10"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]

    opt = Optimizer(experiment(name), storage=store_url)
    trials = opt.all_trials()
    assert [t.id for t in trials] == list(range(40))
    assert all(t.status == TrialStatus.COMPLETED and t.values for t in trials)
    points = {tuple(sorted(t.params.items())) for t in trials}
    assert len(points) == 40, "two workers evaluated the same point"
    assert len({t.worker for t in trials}) == 4
    assert sum(t.generator == "sobol" for t in trials) == 32


def test_suggest_with_claim_records_running_trials(store_url: str, name: str) -> None:
    opt = Optimizer(experiment(name), storage=store_url, seed=0)
    trials = opt.suggest(2, claim=True)
    assert all(t.status == TrialStatus.RUNNING and t.heartbeat_at for t in trials)
    stored = opt.all_trials(TrialStatus.RUNNING)
    assert [t.id for t in stored] == [t.id for t in trials]
    assert opt.heartbeat(trials) == 2


def test_a_trial_without_heartbeat_is_requeued(store_url: str, name: str) -> None:
    opt = Optimizer(experiment(name), storage=store_url, seed=0)
    (alive, dead) = opt.suggest(2, claim=True)
    # The dead worker is on another machine: only its missing heartbeat tells.
    with opt.store.engine.begin() as conn:
        conn.execute(
            trials_table.update()
            .where(trials_table.c.number == dead.id, trials_table.c.experiment_id == opt._record.id)
            .values(worker="elsewhere:1", heartbeat_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    (requeued,) = opt.recover(grace_seconds=60)
    gone = opt.get(dead.id)
    assert gone.status == TrialStatus.ABANDONED
    assert "sent no heartbeat for 60 s" in (gone.failure_reason or "")
    assert requeued.params == dead.params and requeued.status == TrialStatus.PENDING
    assert opt.get(alive.id).status == TrialStatus.RUNNING  # its own heartbeat is fresh
    opt.observe(alive, {"f": 1.0})
    with pytest.raises(Exception, match="is abandoned"):
        opt.observe(dead, {"f": 1.0})  # a late result of the dead worker is refused


def test_postgres_urls_use_the_installed_driver() -> None:
    store = Store(POSTGRES_URL)
    try:
        assert store.engine.dialect.driver == "psycopg"
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar() == 1
    finally:
        store.close()

"""The trial store on SQLAlchemy: a SQLite file by default, any SQLAlchemy URL accepted.

Every write is one committed transaction, finished before the call returns, so a
process killed at any moment loses nothing it already reported. State changes
are conditional updates (``UPDATE ... WHERE status IN (...)``), so two callers
can never both complete, or both claim, the same trial.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError

from bayesopt.errors import StorageError, TrialStateError
from bayesopt.trial import Trial, TrialStatus

#: How long a writer waits for a lock before it gives up with an error.
LOCK_TIMEOUT_SECONDS = 60

_metadata = sa.MetaData()

experiments_table = sa.Table(
    "bayesopt_experiments",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("stop", sa.JSON, nullable=True),
)


trials_table = sa.Table(
    "bayesopt_trials",
    _metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment_id", sa.ForeignKey("bayesopt_experiments.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("values", sa.JSON, nullable=True),
    sa.Column("sems", sa.JSON, nullable=True),
    sa.Column("generator", sa.String(100), nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("failure_reason", sa.Text, nullable=True),
    sa.Column("worker", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("experiment_id", "number", name="uq_trial_number"),
)

#: Columns added after the first release: a store made before them gets them on open.
_ADDED_COLUMNS = {
    "bayesopt_trials": [trials_table.c.sems],
    "bayesopt_experiments": [experiments_table.c.stop],
}


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``, safe to print or log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def worker_id() -> str:
    """This process, as ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite drops the zone; every timestamp the store writes is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


@dataclass(frozen=True)
class ExperimentRecord:
    id: int
    name: str
    definition: dict[str, Any]
    seed: int


class Store:
    """Trials of any number of experiments in one SQL database.

    Args:
        url: A SQLAlchemy URL, ``sqlite:///path/to/file.db`` by default form;
            ``sqlite://`` keeps everything in memory (nothing survives the process).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = self._create_engine(url)
        _metadata.create_all(self.engine)
        self._add_missing_columns()

    def __repr__(self) -> str:
        return f"Store({mask_url(self.url)!r})"

    @staticmethod
    def _create_engine(url: str) -> Engine:
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise StorageError(
                f"storage: {url!r} is not a SQLAlchemy URL; use e.g. 'sqlite:///runs/x.db' or "
                "'postgresql://user@host/db'"
            ) from exc
        if parsed.drivername == "postgresql":
            # The project installs psycopg (3); plain postgresql:// URLs use it.
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() != "sqlite":
            engine = sa.create_engine(parsed, pool_pre_ping=True)
            if parsed.get_backend_name() == "postgresql":

                @sa.event.listens_for(engine, "begin")
                def _pg_begin(conn: sa.Connection) -> None:
                    # Nobody waits forever on a lock held by a stuck worker.
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'")

            return engine
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(parsed, connect_args={"timeout": LOCK_TIMEOUT_SECONDS})
        else:
            engine = sa.create_engine(
                parsed, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False}
            )

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, open transactions, and take the write
            # lock at BEGIN so that read-then-write sequences are serialized.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_SECONDS * 1000}")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def close(self) -> None:
        self.engine.dispose()

    def _add_missing_columns(self) -> None:
        """Bring a store made by an earlier version up to date (nullable columns only,
        so every row already recorded stays as it was)."""
        inspector = sa.inspect(self.engine)
        for table, columns in _ADDED_COLUMNS.items():
            have = {c["name"] for c in inspector.get_columns(table)}
            for column in columns:
                if column.name in have:
                    continue
                kind = column.type.compile(dialect=self.engine.dialect)
                # A concurrent process may have added it meanwhile.
                with contextlib.suppress(sa.exc.DBAPIError), self.engine.begin() as conn:
                    conn.exec_driver_sql(f'ALTER TABLE {table} ADD COLUMN "{column.name}" {kind}')

    # ------------------------------------------------------------------- stopping
    def record_stop(self, experiment_id: int, stop: dict[str, Any]) -> None:
        """Store why the experiment's run stopped (the latest stop replaces an earlier one)."""
        with self.engine.begin() as conn:
            conn.execute(
                experiments_table.update()
                .where(experiments_table.c.id == experiment_id)
                .values(stop=_jsonable(stop))
            )

    def stop_record(self, experiment_id: int) -> dict[str, Any] | None:
        """Why the experiment's run last stopped early, or ``None``."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(experiments_table.c.stop).where(experiments_table.c.id == experiment_id)
            ).scalar()
        return dict(value) if value else None

    # --------------------------------------------------------------- experiments
    def experiment(self, name: str, definition: dict[str, Any], seed: int) -> ExperimentRecord:
        """Get the experiment called ``name``, creating it if it is new.

        Raises:
            StorageError: the store holds an experiment of that name with another
                search space or objectives.
        """
        definition = _jsonable(definition)
        for _ in range(3):
            with self.engine.begin() as conn:
                row = conn.execute(
                    sa.select(experiments_table).where(experiments_table.c.name == name)
                ).first()
                if row is None:
                    try:
                        res = conn.execute(
                            experiments_table.insert().values(
                                name=name, definition=definition, seed=seed, created_at=_now()
                            )
                        )
                    except IntegrityError:
                        continue
                    pk = res.inserted_primary_key
                    assert pk is not None
                    return ExperimentRecord(int(pk[0]), name, definition, seed)
            stored = dict(row.definition)
            for key in ("space", "objectives"):
                if stored.get(key) != definition.get(key):
                    raise StorageError(
                        f"storage: experiment '{name}' in {mask_url(self.url)} was created with "
                        f"{key} {stored.get(key)}, but this definition has {definition.get(key)}; "
                        "use another experiment name or another storage URL"
                    )
            return ExperimentRecord(int(row.id), name, stored, int(row.seed))
        raise StorageError(f"storage: could not create experiment '{name}'")  # pragma: no cover

    # -------------------------------------------------------------------- trials
    @contextmanager
    def locked(self, experiment_id: int) -> Iterator[sa.Connection]:
        """One transaction that holds the experiment's write lock until it ends.

        Writers that take it (suggesting, numbering new trials) run one at a time
        for an experiment: SQLite's ``BEGIN IMMEDIATE`` locks the database, other
        databases lock the experiment's row (``SELECT ... FOR UPDATE``). Waiting is
        bounded by :data:`LOCK_TIMEOUT_SECONDS`.
        """
        with self.engine.begin() as conn:
            if conn.dialect.name != "sqlite":
                conn.execute(
                    sa.select(experiments_table.c.id)
                    .where(experiments_table.c.id == experiment_id)
                    .with_for_update()
                )
            yield conn

    def add_trials(
        self,
        experiment_id: int,
        rows: Sequence[dict[str, Any]],
        *,
        status: TrialStatus = TrialStatus.PENDING,
        conn: sa.Connection | None = None,
    ) -> list[Trial]:
        """Insert trials (each a dict of ``params``, ``generator``, ``metadata`` and
        optionally ``values`` and ``sems``) with consecutive numbers, in one transaction.

        Args:
            conn: A transaction from :meth:`locked` to join; else one is opened.
        """
        if conn is None:
            with self.locked(experiment_id) as own:
                return self.add_trials(experiment_id, rows, status=status, conn=own)
        now = _now()
        top = conn.execute(
            sa.select(sa.func.max(trials_table.c.number)).where(
                trials_table.c.experiment_id == experiment_id
            )
        ).scalar()
        start = 0 if top is None else int(top) + 1
        records = [
            {
                "experiment_id": experiment_id,
                "number": start + i,
                "status": status.value,
                "params": _jsonable(row["params"]),
                "values": _jsonable(row.get("values")),
                "sems": _jsonable(row.get("sems")),
                "generator": row.get("generator", "manual"),
                "meta": _jsonable(row.get("metadata", {})),
                "failure_reason": row.get("failure_reason"),
                "worker": row.get("worker"),
                "created_at": now,
                "started_at": now if status != TrialStatus.PENDING else None,
                "finished_at": now if status.is_finished else None,
                "heartbeat_at": now if status == TrialStatus.RUNNING else None,
            }
            for i, row in enumerate(rows)
        ]
        if records:
            conn.execute(trials_table.insert(), records)
        return [self._to_trial(r) for r in records]

    def transition(
        self,
        experiment_id: int,
        number: int,
        *,
        allowed: Iterable[TrialStatus],
        status: TrialStatus,
        values: dict[str, float] | None = None,
        sems: dict[str, float] | None = None,
        failure_reason: str | None = None,
        worker: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Trial:
        """Move a trial to ``status`` if it is currently in one of ``allowed``.

        Raises:
            TrialStateError: the trial does not exist, or is in another state; the
                stored trial is then left exactly as it was.
        """
        allowed_values = [s.value for s in allowed]
        changes: dict[str, Any] = {"status": status.value}
        now = _now()
        if status == TrialStatus.RUNNING:
            changes["started_at"] = now
            changes["heartbeat_at"] = now
            changes["worker"] = worker
        if status.is_finished:
            changes["finished_at"] = now
        if values is not None:
            changes["values"] = _jsonable(values)
        if sems:
            changes["sems"] = _jsonable(sems)
        if failure_reason is not None:
            changes["failure_reason"] = failure_reason
        with self.engine.begin() as conn:
            cond = sa.and_(
                trials_table.c.experiment_id == experiment_id, trials_table.c.number == number
            )
            row = conn.execute(sa.select(trials_table).where(cond)).first()
            if row is None:
                raise TrialStateError(
                    f"trial {number}: no such trial in this experiment; "
                    "see Optimizer.trials() for the trials it has"
                )
            if row.status not in allowed_values:
                raise TrialStateError(
                    f"trial {number}: is {row.status}, so it cannot become {status.value} "
                    f"(only a trial that is {' or '.join(allowed_values)} can); nothing was changed"
                )
            if metadata:
                changes["meta"] = _jsonable({**dict(row.meta), **metadata})
            res = conn.execute(
                trials_table.update()
                .where(cond, trials_table.c.status.in_(allowed_values))
                .values(**changes)
            )
            if res.rowcount != 1:  # another worker changed it between our read and write
                raise TrialStateError(
                    f"trial {number}: changed by another worker; nothing was changed"
                )
            merged = {**row._mapping, **changes}
        return self._to_trial(merged)

    def annotate(self, experiment_id: int, number: int, metadata: dict[str, Any]) -> Trial:
        """Merge ``metadata`` into a trial's metadata (its status and values unchanged).

        Raises:
            TrialStateError: the trial does not exist.
        """
        with self.engine.begin() as conn:
            cond = sa.and_(
                trials_table.c.experiment_id == experiment_id, trials_table.c.number == number
            )
            row = conn.execute(sa.select(trials_table.c.meta).where(cond)).first()
            if row is None:
                raise TrialStateError(f"trial {number}: no such trial in this experiment")
            merged = _jsonable({**dict(row.meta or {}), **metadata})
            conn.execute(trials_table.update().where(cond).values(meta=merged))
        return self.trial(experiment_id, number)

    def trial(self, experiment_id: int, number: int) -> Trial:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(trials_table).where(
                    trials_table.c.experiment_id == experiment_id, trials_table.c.number == number
                )
            ).first()
        if row is None:
            raise TrialStateError(f"trial {number}: no such trial in this experiment")
        return self._to_trial(row._mapping)

    def trials(
        self,
        experiment_id: int,
        statuses: Iterable[TrialStatus] | None = None,
        *,
        conn: sa.Connection | None = None,
    ) -> list[Trial]:
        query = sa.select(trials_table).where(trials_table.c.experiment_id == experiment_id)
        if statuses is not None:
            query = query.where(trials_table.c.status.in_([s.value for s in statuses]))
        query = query.order_by(trials_table.c.number)
        if conn is not None:
            rows = conn.execute(query).all()
        else:
            with self.engine.connect() as own:
                rows = own.execute(query).all()
        return [self._to_trial(r._mapping) for r in rows]

    def count(self, experiment_id: int, *, conn: sa.Connection) -> int:
        """Trials ever created for the experiment (they are never deleted)."""
        query = sa.select(sa.func.count()).where(trials_table.c.experiment_id == experiment_id)
        return int(conn.execute(query).scalar() or 0)

    def heartbeat(self, experiment_id: int, numbers: Sequence[int], worker: str) -> int:
        """Mark the running trials ``numbers`` of ``worker`` alive now; returns how many were."""
        if not numbers:
            return 0
        with self.engine.begin() as conn:
            res = conn.execute(
                trials_table.update()
                .where(
                    trials_table.c.experiment_id == experiment_id,
                    trials_table.c.number.in_(list(numbers)),
                    trials_table.c.status == TrialStatus.RUNNING.value,
                    trials_table.c.worker == worker,
                )
                .values(heartbeat_at=_now())
            )
        return int(res.rowcount)

    def stale(self, experiment_id: int, grace_seconds: float) -> list[Trial]:
        """Running trials whose last heartbeat is older than ``grace_seconds``."""
        cutoff = _now() - timedelta(seconds=grace_seconds)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(trials_table).where(
                    trials_table.c.experiment_id == experiment_id,
                    trials_table.c.status == TrialStatus.RUNNING.value,
                    sa.or_(
                        trials_table.c.heartbeat_at.is_(None),
                        trials_table.c.heartbeat_at < cutoff,
                    ),
                )
            ).all()
        return [self._to_trial(r._mapping) for r in rows]

    @staticmethod
    def _to_trial(row: Any) -> Trial:
        return Trial(
            id=int(row["number"]),
            params=dict(row["params"]),
            status=TrialStatus(row["status"]),
            values=None if row["values"] is None else dict(row["values"]),
            sems=dict(row["sems"]) if row.get("sems") else None,
            generator=row["generator"],
            metadata=dict(row["meta"] or {}),
            failure_reason=row["failure_reason"],
            worker=row["worker"],
            created_at=_aware(row["created_at"]),
            started_at=_aware(row["started_at"]),
            finished_at=_aware(row["finished_at"]),
            heartbeat_at=_aware(row.get("heartbeat_at")),
        )

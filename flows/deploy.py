"""Prefect deployments of the optimization flow.

Two ways, as Prefect offers them:

- **serve**: this process registers the deployment and runs its flow runs (each in
  a subprocess) until it is stopped; nothing else to set up.
- **work pool**: the deployment is registered to a work pool, from this project's
  source directory, and a ``prefect worker start --pool NAME`` runs its flow runs.

Each run resumes the experiment from its store, so a scheduled or retried run
never re-evaluates a completed trial.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.settings import PREFECT_API_URL
from sqlalchemy.engine import make_url

from bayesopt import InvalidExperimentError
from flows.optimize import optimize

#: The directory that holds ``flows/``: the source a work-pool worker loads.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = "flows/optimize.py:optimize"


def absolute_sqlite(url: str) -> str:
    """A ``sqlite:///relative.db`` URL made absolute, so that runs started from
    another directory find the same file; other URLs unchanged."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return url
    if parsed.database == ":memory:" or Path(parsed.database).is_absolute():
        return url
    return str(parsed.set(database=str(Path(parsed.database).resolve())))


def require_server() -> str:
    """The Prefect API URL that deployments are registered with.

    Raises:
        InvalidExperimentError: none is configured (deployments need a server).
    """
    url = PREFECT_API_URL.value()
    if not url:
        raise InvalidExperimentError(
            "PREFECT_API_URL: not set; deployments live on a Prefect server. Start one with "
            "`prefect server start --host 127.0.0.1` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return str(url)


def serve(name: str, parameters: dict[str, Any], *, cron: str | None = None) -> None:
    """Register the deployment ``bayesopt-optimize/<name>`` and run its flow runs
    until this process is stopped."""
    require_server()
    optimize.serve(name=name, cron=cron, parameters=parameters, print_starting_message=True)


def register(
    name: str, parameters: dict[str, Any], *, work_pool: str, cron: str | None = None
) -> str:
    """Register the deployment with ``work_pool``; returns its id."""
    require_server()
    source = optimize.from_source(source=str(PROJECT_ROOT), entrypoint=ENTRYPOINT)
    deployment_id = source.deploy(  # type: ignore[union-attr]
        name=name,
        work_pool_name=work_pool,
        cron=cron,
        parameters=parameters,
        print_next_steps=False,
        # Prefect's advice to use .serve for a process pool: `bayesopt deploy` without
        # --work-pool is that; the user who names a pool has chosen it.
        ignore_warnings=True,
    )
    return str(deployment_id)

"""Task runners: where the evaluations of a batch run.

``thread`` (the default) runs them in Prefect's thread pool in this process;
``dask`` runs them on a Dask cluster through Prefect's Dask integration: the
scheduler at ``address``, or a local cluster of ``workers`` processes started for
the run. Any other Prefect task runner (Ray's ``prefect_ray.RayTaskRunner``, for
one) plugs in the same way: ``optimize.with_options(task_runner=...)``.
"""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner


def make_task_runner(kind: str, *, address: str | None = None, workers: int | None = None) -> Any:
    """A Prefect task runner by name.

    Args:
        kind: ``"thread"`` or ``"dask"``.
        address: Dask scheduler address (``tcp://host:8786``); ``None`` starts a
            local cluster for the run.
        workers: Threads of the pool, or processes of the local Dask cluster.

    Raises:
        ValueError: an unknown kind, or options that do not apply to it.
    """
    if kind == "thread":
        if address:
            raise ValueError("--dask-address: applies to --task-runner dask only")
        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            if workers:
                raise ValueError(
                    "--workers: a Dask cluster at --dask-address has its own workers; "
                    "give one or the other"
                )
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": workers or 2,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
                "host": "127.0.0.1",
            }
        )
    raise ValueError(f"--task-runner: got {kind!r}; valid runners are 'thread' and 'dask'")

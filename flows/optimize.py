"""The optimization loop as a Prefect flow: decide, evaluate the batch, record, repeat.

The store is the source of truth: the flow reads it on start, so a rerun (after
Ctrl-C, ``kill -9`` or a Prefect flow retry) resumes with every completed trial
kept and none evaluated twice. Each evaluation is a Prefect task with the
experiment's retries, exponential backoff and timeout; results are recorded as
each one finishes.
"""

from __future__ import annotations

import logging
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.tasks import exponential_backoff

from bayesopt import (
    EvaluationTimeoutError,
    Experiment,
    InvalidOutcomeError,
    Optimizer,
    Trial,
    TrialStatus,
    evaluate_point,
)
from bayesopt.storage import mask_url
from flows.loading import default_storage, default_tracking_uri, load_experiment
from flows.tracking import RunTracker


def _no_retry_on_bad_values(task: Any, task_run: Any, state: Any) -> bool:
    """Retry failures that may pass on a second try; never wrong or non-finite values."""
    try:
        state.result()
    except InvalidOutcomeError:
        return False
    except Exception:
        return True
    return True


@task(name="evaluate", cache_policy=NO_CACHE, retry_condition_fn=_no_retry_on_bad_values)
def evaluate_trial(experiment_path: str, trial_id: int, params: dict[str, Any]) -> dict[str, float]:
    """Evaluate one trial's point (loading the experiment in the worker, so that any
    task runner, thread, process or remote, can run it)."""
    experiment = load_experiment(experiment_path)
    return evaluate_point(experiment, params)


@task(name="suggest", cache_policy=NO_CACHE)
def suggest_trials(optimizer: Optimizer, n: int) -> list[Trial]:
    """Fit the surrogate to the store's trials and choose ``n`` new points."""
    return optimizer.suggest(n)


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, EvaluationTimeoutError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _next_batch(optimizer: Optimizer, room: int) -> list[Trial]:
    """Pending trials first (re-queued or suggested by hand), then new suggestions."""
    batch = optimizer.all_trials(TrialStatus.PENDING)[:room]
    if len(batch) < room:
        batch += suggest_trials(optimizer, room - len(batch))
    return batch


@flow(name="bayesopt-optimize", validate_parameters=True)
def optimize(
    experiment_path: str,
    budget: int | None = None,
    batch_size: int | None = None,
    surrogate: str | None = None,
    seed: int | None = None,
    storage: str | None = None,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Run the experiment at ``experiment_path`` until its budget of finished trials is spent.

    Args:
        experiment_path: A Python file that defines ``experiment = Experiment(...)``.
        budget, batch_size, surrogate, seed: Override the experiment's settings.
        storage: SQLAlchemy URL of the trial store (default ``sqlite:///runs/<name>.db``).
        tracking_uri: MLflow tracking URI (default ``MLFLOW_TRACKING_URI``, else
            ``sqlite:///runs/mlflow.db``).

    Returns:
        A summary: the best trial, counts, the store and the MLflow run.
    """
    log: logging.Logger | logging.LoggerAdapter[Any] = get_run_logger()
    base = load_experiment(experiment_path)
    exp: Experiment = base.replace(
        budget=budget, batch_size=batch_size, surrogate=surrogate, seed=seed
    )
    store_url = default_storage(exp, storage)
    optimizer = Optimizer(exp, storage=store_url, seed=seed)
    requeued = optimizer.recover(this_process=True)
    if requeued:
        log.warning("re-queued %d trial(s) left running by a stopped run", len(requeued))

    tracker = RunTracker(default_tracking_uri(tracking_uri), exp)
    ctx = FlowRunContext.get()
    run_name = ctx.flow_run.name if ctx and ctx.flow_run else exp.name
    previous = optimizer.all_trials()
    tracker.start(
        run_name,
        params={
            **exp.settings(),
            "seed": optimizer.seed,
            "storage": mask_url(store_url),
            "experiment_path": experiment_path,
            "resumed_from_trials": len(previous),
        },
        tags={
            "prefect.flow_run_id": str(ctx.flow_run.id) if ctx and ctx.flow_run else "",
            "bayesopt.experiment": exp.name,
        },
    )
    tracker.seed_best(previous)
    log.info(
        "experiment %s: %d trial(s) in %s, budget %d",
        exp.name,
        len(previous),
        mask_url(store_url),
        exp.budget,
    )
    delays = exponential_backoff(backoff_factor=exp.retry_delay) if exp.retry_delay else 0
    evaluate = evaluate_trial.with_options(retries=exp.retries, retry_delay_seconds=delays)
    status = "FAILED"
    try:
        while (finished := optimizer.n_finished) < exp.budget:
            batch = _next_batch(optimizer, min(exp.batch_size, exp.budget - finished))
            running = [optimizer.start(t) for t in batch]
            mapped = evaluate.map(
                unmapped(experiment_path), [t.id for t in running], [t.params for t in running]
            )
            futures: dict[PrefectFuture[dict[str, float]], Trial] = dict(
                zip(mapped, running, strict=True)
            )
            for future in as_completed(list(futures)):
                trial = futures[future]
                try:
                    values = future.result()
                except Exception as exc:
                    done = optimizer.fail(trial, _failure_reason(exc))
                    log.warning("trial %d failed: %s", trial.id, done.failure_reason)
                else:
                    done = optimizer.observe(trial, values)
                tracker.record(done)
            tracker.flush()
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.finish(optimizer, status=status)

    df = optimizer.trials()
    summary: dict[str, Any] = {
        "experiment": exp.name,
        "storage": mask_url(store_url),
        "tracking_uri": tracker.display_uri,
        "mlflow_experiment_id": tracker.experiment_id,
        "mlflow_run_id": tracker.run_id,
        "n_completed": int((df["status"] == "completed").sum()),
        "n_failed": int((df["status"] == "failed").sum()),
    }
    try:
        best = optimizer.best()
        summary.update(best_trial=best.id, best_params=best.params, best_values=best.values)
    except Exception:
        summary.update(best_trial=None)
    log.info("done: %s", summary)
    return summary

"""The optimization loop as a Prefect flow: decide, evaluate the batch, record, repeat.

The store is the source of truth: the flow reads it on start, so a rerun (after
Ctrl-C, ``kill -9`` or a Prefect flow retry) resumes with every completed trial
kept and none evaluated twice. Each evaluation is a Prefect task with the
experiment's retries, exponential backoff and timeout; results are recorded as
each one finishes.
"""

from __future__ import annotations

import logging
import threading
import time
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
    TrialStateError,
    TrialStatus,
    evaluate_point,
)
from bayesopt.storage import mask_url
from flows.loading import (
    STORAGE_URL_ENV,
    TRACKING_URI_ENV,
    default_storage,
    default_tracking_uri,
    load_experiment,
    reveal_secret,
)
from flows.tracking import RunTracker

#: Seconds between heartbeats of a worker's running trials.
HEARTBEAT_SECONDS = 10.0
#: Seconds without a heartbeat after which another worker re-queues a running trial.
GRACE_SECONDS = 60.0


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
    """Fit the surrogate to the store's trials and choose ``n`` new points, claimed
    for this worker in the same transaction."""
    return optimizer.suggest(n, claim=True)


class _Heartbeat:
    """Tells the store, every ``interval`` seconds, that this worker is still
    evaluating ``trials``, so that other workers do not re-queue them."""

    def __init__(self, optimizer: Optimizer, trials: list[Trial], interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat,
            args=(optimizer, trials, interval),
            daemon=True,
            name="bayesopt-heartbeat",
        )

    def _beat(self, optimizer: Optimizer, trials: list[Trial], interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                optimizer.heartbeat(trials)
            except Exception as exc:  # a missed beat is retried at the next interval
                logging.getLogger("bayesopt").warning("heartbeat failed: %s", exc)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, EvaluationTimeoutError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _next_batch(optimizer: Optimizer, room: int) -> list[Trial]:
    """Claim pending trials first (re-queued or suggested by hand), then new suggestions.

    A pending trial that another worker claims first is skipped.
    """
    batch: list[Trial] = []
    for trial in optimizer.all_trials(TrialStatus.PENDING):
        if len(batch) == room:
            break
        try:
            batch.append(optimizer.start(trial))
        except TrialStateError:
            continue
    if len(batch) < room:
        batch += suggest_trials(optimizer, room - len(batch))
    return batch


def _room(optimizer: Optimizer, budget: int, batch_size: int) -> tuple[int, int]:
    """Finished trials, and how many more this worker may start without overshooting
    the budget (trials running in other workers count as spent)."""
    trials = optimizer.all_trials()
    finished = sum(t.status in (TrialStatus.COMPLETED, TrialStatus.FAILED) for t in trials)
    running = sum(t.status == TrialStatus.RUNNING for t in trials)
    return finished, max(0, min(batch_size, budget - finished - running))


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
            A URL with its password masked (``user:***@host``) is completed from
            ``BAYESOPT_STORAGE_URL``, so that no password shows among the parameters.
        tracking_uri: MLflow tracking URI (default ``MLFLOW_TRACKING_URI``, else
            ``sqlite:///runs/mlflow.db``); a masked one is completed from
            ``BAYESOPT_TRACKING_URI``.

    Returns:
        A summary: the best trial, counts, the store and the MLflow run.
    """
    log: logging.Logger | logging.LoggerAdapter[Any] = get_run_logger()
    base = load_experiment(experiment_path)
    exp: Experiment = base.replace(
        budget=budget, batch_size=batch_size, surrogate=surrogate, seed=seed
    )
    store_url = default_storage(exp, reveal_secret(storage, STORAGE_URL_ENV))
    optimizer = Optimizer(exp, storage=store_url, seed=seed)
    requeued = optimizer.recover(this_process=True)
    if requeued:
        log.warning("re-queued %d trial(s) left running by a stopped run", len(requeued))

    tracker = RunTracker(default_tracking_uri(reveal_secret(tracking_uri, TRACKING_URI_ENV)), exp)
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
        while True:
            optimizer.recover(grace_seconds=GRACE_SECONDS)  # other workers that died
            finished, room = _room(optimizer, exp.budget, exp.batch_size)
            if finished >= exp.budget:
                break
            if room == 0:  # the rest of the budget is being evaluated by other workers
                time.sleep(1.0)
                continue
            running = _next_batch(optimizer, room)
            mapped = evaluate.map(
                unmapped(experiment_path), [t.id for t in running], [t.params for t in running]
            )
            futures: dict[PrefectFuture[dict[str, float]], Trial] = dict(
                zip(mapped, running, strict=True)
            )
            with _Heartbeat(optimizer, running, HEARTBEAT_SECONDS):
                for future in as_completed(list(futures)):
                    trial = futures[future]
                    try:
                        values = future.result()
                        done = optimizer.observe(trial, values)
                    except TrialStateError as exc:  # re-queued by another worker meanwhile
                        log.warning("trial %d: result not recorded: %s", trial.id, exc)
                        continue
                    except Exception as exc:
                        done = optimizer.fail(trial, _failure_reason(exc))
                        log.warning("trial %d failed: %s", trial.id, done.failure_reason)
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
        "ui_hint": tracker.ui_hint(),
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

"""The optimization loop as a Prefect flow: decide, evaluate, record, repeat.

Two loops share the same steps. In batches (the default) the flow suggests
``batch_size`` trials, evaluates them together and waits for the whole batch. With
``asynchronous=True`` it keeps ``batch_size`` evaluations in flight and, each time
one finishes, records it and starts one new trial, decided with the trials still
running as pending points, so that no worker waits for the slowest of a batch
(evaluations that finish while the flow decides are recorded together and replaced
by one decision).

The store is the source of truth: the flow reads it on start, so a rerun (after
Ctrl-C, ``kill -9`` or a Prefect flow retry) resumes with every completed trial
kept and none evaluated twice. Each evaluation is a Prefect task with the
experiment's retries, exponential backoff and timeout; results are recorded as
each one finishes. Before any new trial starts the experiment's stopping rules are
asked; when one fires, no trial starts, those in flight finish and are recorded,
and the run ends with the reason logged to MLflow.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from prefect import Task, flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.tasks import exponential_backoff

from bayesopt import (
    BayesoptError,
    EvaluationTimeoutError,
    Experiment,
    InvalidOutcomeError,
    Optimizer,
    Trial,
    TrialStateError,
    TrialStatus,
    evaluate_point,
)
from bayesopt.stopping import Stop
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
    evaluating the trials in flight, so that other workers do not re-queue them.

    The trials in flight start as ``trials`` and change with :meth:`add` and
    :meth:`discard`; each beat covers those in flight at that moment.
    """

    def __init__(self, optimizer: Optimizer, trials: list[Trial], interval: float) -> None:
        self._in_flight = {t.id: t for t in trials}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat,
            args=(optimizer, interval),
            daemon=True,
            name="bayesopt-heartbeat",
        )

    def add(self, trial: Trial) -> None:
        with self._lock:
            self._in_flight[trial.id] = trial

    def discard(self, trial: Trial) -> None:
        with self._lock:
            self._in_flight.pop(trial.id, None)

    def _beat(self, optimizer: Optimizer, interval: float) -> None:
        while not self._stop.wait(interval):
            with self._lock:
                trials = list(self._in_flight.values())
            if not trials:
                continue
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


class _InFlight:
    """The evaluations in flight, each with its trial, in the order they finish."""

    def __init__(self) -> None:
        self._trials: dict[PrefectFuture[dict[str, float]], Trial] = {}
        self._finished: queue.SimpleQueue[PrefectFuture[dict[str, float]]] = queue.SimpleQueue()

    def __len__(self) -> int:
        return len(self._trials)

    def add(self, future: PrefectFuture[dict[str, float]], trial: Trial) -> None:
        self._trials[future] = trial
        future.add_done_callback(self._finished.put)  # at once if it has already finished

    def finished(self) -> list[tuple[Trial, PrefectFuture[dict[str, float]]]]:
        """Wait until an evaluation finishes; return it and any others finished meanwhile."""
        done = [self._finished.get()]
        while not self._finished.empty():
            done.append(self._finished.get())
        return [(self._trials.pop(future), future) for future in done]


Log = logging.Logger | logging.LoggerAdapter[Any]


#: Set by ``bayesopt run``'s SIGINT handler. The loop checks it at every step, so an
#: interrupt that Python swallowed still stops the run: a KeyboardInterrupt raised while
#: a garbage-collection callback runs (JAX registers one) is only printed.
INTERRUPTED = threading.Event()


def _check_interrupt() -> None:
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt


@dataclass
class _Loop:
    """The steps of one run: start trials, record their results, ask the stopping rules.

    Attributes:
        optimizer: The run's optimizer; its store is the source of truth.
        tracker: The run's MLflow run.
        evaluate: The ``evaluate`` task, with the experiment's retries and backoff.
        experiment_path: What the evaluation tasks load.
        log: The flow run's logger.
    """

    optimizer: Optimizer
    tracker: RunTracker
    evaluate: Task[..., dict[str, float]]
    experiment_path: str
    log: Log

    def _capacity(self, busy: int = 0) -> tuple[int, int]:
        """Finished trials, and how many more may start with ``busy`` of this worker's
        evaluations in flight (see :func:`_room`)."""
        self.optimizer.recover(grace_seconds=GRACE_SECONDS)  # other workers that died
        exp = self.optimizer.experiment
        return _room(self.optimizer, exp.budget, exp.batch_size - busy)

    def _should_stop(self) -> Stop | None:
        """Ask the stopping rules; a stop is logged here and to MLflow."""
        stop = self.optimizer.should_stop()
        if stop is not None:
            self.log.info("stopping early (%s): %s", stop.rule, stop.reason)
            self.tracker.record_stop(stop)
        return stop

    def _submit(self, trial: Trial) -> PrefectFuture[dict[str, float]]:
        return self.evaluate.submit(self.experiment_path, trial.id, trial.params)

    def _record(self, trial: Trial, future: PrefectFuture[dict[str, float]]) -> None:
        """Record a finished evaluation: observed, or failed with the reason."""
        try:
            values = future.result()
            done = self.optimizer.observe(trial, values)
        except TrialStateError as exc:  # re-queued by another worker meanwhile
            self.log.warning("trial %d: result not recorded: %s", trial.id, exc)
            return
        except Exception as exc:
            done = self.optimizer.fail(trial, _failure_reason(exc))
            self.log.warning("trial %d failed: %s", trial.id, done.failure_reason)
        self.tracker.record(done)

    def in_batches(self) -> Stop | None:
        """Suggest a batch, evaluate it, record each result as it arrives, repeat.

        Returns:
            The stop, when a stopping rule ended the run before its budget.
        """
        while True:
            _check_interrupt()
            finished, room = self._capacity()
            if finished >= self.optimizer.experiment.budget:
                return None
            if room == 0:  # the rest of the budget is being evaluated by other workers
                time.sleep(1.0)
                continue
            stop = self._should_stop()
            if stop is not None:
                return stop
            running = _next_batch(self.optimizer, room)
            mapped = self.evaluate.map(
                unmapped(self.experiment_path),
                [t.id for t in running],
                [t.params for t in running],
            )
            futures: dict[PrefectFuture[dict[str, float]], Trial] = dict(
                zip(mapped, running, strict=True)
            )
            with _Heartbeat(self.optimizer, running, HEARTBEAT_SECONDS):
                for future in as_completed(list(futures)):
                    self._record(futures[future], future)
                    _check_interrupt()
            self.tracker.flush()

    def asynchronously(self) -> Stop | None:
        """Keep ``batch_size`` evaluations in flight: each time one finishes, record it
        and start one new trial (pending ones first), until the budget is spent or a
        stopping rule fires; then let those in flight finish.

        Evaluations that finished while the flow was deciding are recorded together,
        and the slots they free are filled by one decision (``suggest(k)``), so that a
        decision slower than the evaluations does not leave workers idle one by one.

        Returns:
            The stop, when a stopping rule ended the run before its budget.
        """
        in_flight = _InFlight()
        stop: Stop | None = None
        with _Heartbeat(self.optimizer, [], HEARTBEAT_SECONDS) as heartbeat:
            while True:
                _check_interrupt()
                if stop is None:
                    finished, room = self._capacity(busy=len(in_flight))
                    if not in_flight and finished >= self.optimizer.experiment.budget:
                        return None
                    if room:
                        stop = self._should_stop()
                    if room and stop is None:
                        for trial in _next_batch(self.optimizer, room):
                            heartbeat.add(trial)
                            in_flight.add(self._submit(trial), trial)
                if not in_flight:
                    if stop is not None:
                        return stop
                    time.sleep(1.0)  # the rest of the budget is with other workers
                    continue
                for trial, future in in_flight.finished():
                    heartbeat.discard(trial)
                    self._record(trial, future)
                self.tracker.flush()


@flow(name="bayesopt-optimize", validate_parameters=True)
def optimize(
    experiment_path: str,
    budget: int | None = None,
    batch_size: int | None = None,
    surrogate: str | None = None,
    seed: int | None = None,
    storage: str | None = None,
    tracking_uri: str | None = None,
    asynchronous: bool = False,
) -> dict[str, Any]:
    """Run the experiment at ``experiment_path`` until its budget of finished trials is spent.

    Args:
        experiment_path: A Python file that defines ``experiment = Experiment(...)``.
        budget: Overrides the experiment's ``budget`` (trials to finish).
        batch_size: Overrides the experiment's ``batch_size``.
        surrogate: Overrides the experiment's ``surrogate``.
        seed: Overrides the experiment's ``seed``.
        storage: SQLAlchemy URL of the trial store (default ``sqlite:///runs/<name>.db``).
            A URL with its password masked (``user:***@host``) is completed from
            ``BAYESOPT_STORAGE_URL``, so that no password shows among the parameters.
        tracking_uri: MLflow tracking URI (default ``MLFLOW_TRACKING_URI``, else
            ``sqlite:///runs/mlflow.db``); a masked one is completed from
            ``BAYESOPT_TRACKING_URI``.
        asynchronous: Keep ``batch_size`` evaluations in flight and start a new trial
            each time one finishes, instead of waiting for whole batches.

    Returns:
        A summary: the best trial, counts, the store, the MLflow run, and ``stopped``:
        the stopping rule that ended the run early (:meth:`Stop.as_dict`), else ``None``.
    """
    log: Log = get_run_logger()
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
            "asynchronous": asynchronous,
        },
        tags={
            "prefect.flow_run_id": str(ctx.flow_run.id) if ctx and ctx.flow_run else "",
            "bayesopt.experiment": exp.name,
        },
    )
    tracker.seed_best(previous)
    log.info(
        "experiment %s: %d trial(s) in %s, budget %d, %s",
        exp.name,
        len(previous),
        mask_url(store_url),
        exp.budget,
        f"{exp.batch_size} in flight" if asynchronous else f"batches of {exp.batch_size}",
    )
    delays = exponential_backoff(backoff_factor=exp.retry_delay) if exp.retry_delay else 0
    evaluate = evaluate_trial.with_options(retries=exp.retries, retry_delay_seconds=delays)
    loop = _Loop(optimizer, tracker, evaluate, experiment_path, log)
    status = "FAILED"
    try:
        stop = loop.asynchronously() if asynchronous else loop.in_batches()
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
        "stopped": stop.as_dict() if stop is not None else None,
    }
    try:
        if exp.is_multi_objective:
            front = optimizer.pareto()
            summary.update(
                best_trial=None,
                pareto_trials=[t.id for t in front],
                hypervolume=optimizer.hypervolume(),
            )
        else:
            best = optimizer.best()
            summary.update(best_trial=best.id, best_params=best.params, best_values=best.values)
    except BayesoptError:  # nothing completed, or nothing feasible yet
        summary.update(best_trial=None)
    log.info("done: %s", summary)
    return summary

"""The ask/tell optimizer: suggest points, observe results, everything in the store.

Example:
    >>> from bayesopt import Experiment, Float, Objective, Optimizer
    >>> exp = Experiment(name="doc", parameters=[Float("x", 0.0, 1.0)], objectives=[Objective("y")])
    >>> opt = Optimizer(exp, seed=0)
    >>> for _ in range(3):
    ...     (trial,) = opt.suggest(1)
    ...     _ = opt.observe(trial, {"y": (trial.params["x"] - 0.3) ** 2})
    >>> len(opt.trials()), opt.best().status.value
    (3, 'completed')
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from bayesopt.device import resolve_device
from bayesopt.errors import TrialStateError
from bayesopt.experiment import Experiment
from bayesopt.prediction import FittedSurrogate, Points
from bayesopt.storage import Store, worker_id
from bayesopt.strategy import History, Strategy
from bayesopt.trial import Trial, TrialStatus

logger = logging.getLogger("bayesopt")

TrialRef = Trial | int

_ACTIVE = (TrialStatus.PENDING, TrialStatus.RUNNING)

#: Decisions made on a snapshot before one is made under the store's lock.
SUGGEST_ATTEMPTS = 4


class Optimizer:
    """Suggests trials for an experiment and records their results.

    Args:
        experiment: The experiment definition.
        storage: SQLAlchemy URL of the trial store. ``None`` uses the experiment's
            ``storage``, else an in-memory SQLite database (gone with the process).
        seed: Seed of the Sobol design and model steps. ``None`` uses the experiment's
            seed, else the seed stored with the experiment, else a fresh random one
            (stored, so a resumed run makes the same decisions).
        device: Torch device for the models; CUDA when available by default.
    """

    def __init__(
        self,
        experiment: Experiment,
        *,
        storage: str | None = None,
        seed: int | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        self.experiment = experiment
        self.store = Store(storage or experiment.storage or "sqlite://")
        wanted = seed if seed is not None else experiment.seed
        initial = wanted if wanted is not None else random.SystemRandom().randrange(2**31)
        self._record = self.store.experiment(experiment.name, experiment.definition(), initial)
        self.seed = wanted if wanted is not None else self._record.seed
        self.device = resolve_device(device)
        self.strategy = Strategy(experiment, seed=self.seed, device=self.device)

    def __repr__(self) -> str:
        return f"Optimizer({self.experiment.name!r}, store={self.store!r}, seed={self.seed})"

    # ---------------------------------------------------------------- asking
    def suggest(self, n: int = 1, *, claim: bool = False) -> list[Trial]:
        """Choose ``n`` new points and record them as pending trials.

        With ``claim=True`` they are recorded as running in this process instead,
        in the same transaction, so that no other worker can take them.

        Pending and running trials are passed to the acquisition function as
        ``X_pending``, so a batch, or suggestions made while others run, spread out.

        Returns:
            A list of ``n`` :class:`Trial`, each with ``.id`` and ``.params``.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n: got {n!r}; expected an integer >= 1")
        status = TrialStatus.RUNNING if claim else TrialStatus.PENDING
        exp_id = self._record.id
        # Optimistic concurrency: decide on a snapshot without holding a lock, then
        # record only if no other worker added trials meanwhile; else decide again
        # with their points pending. The last attempt decides under the lock, so a
        # busy store still makes progress.
        created: list[Trial] = []
        for attempt in range(SUGGEST_ATTEMPTS):
            last = attempt == SUGGEST_ATTEMPTS - 1
            if not last:
                snapshot = self.store.trials(exp_id)
                candidates = self.strategy.generate(self._history(snapshot), n)
            with self.store.locked(exp_id) as conn:
                if last:
                    snapshot = self.store.trials(exp_id, conn=conn)
                    candidates = self.strategy.generate(self._history(snapshot), n)
                elif self.store.count(exp_id, conn=conn) != len(snapshot):
                    continue
                rows = [
                    {
                        "params": c.params,
                        "generator": c.generator,
                        "metadata": c.metadata,
                        "worker": worker_id() if claim else None,
                    }
                    for c in candidates
                ]
                created = self.store.add_trials(exp_id, rows, status=status, conn=conn)
                break
        for t in created:
            logger.info("trial %d suggested by %s: %s", t.id, t.generator, t.params)
        return created

    def _history(self, trials: list[Trial]) -> History:
        space = self.experiment.space
        obj = self.experiment.objective.name
        done = [t for t in trials if t.status == TrialStatus.COMPLETED and t.values]
        active = [t for t in trials if t.status in _ACTIVE]
        d = space.dim
        return History(
            X=np.array([space.encode(t.params) for t in done]).reshape(-1, d),
            Y=np.array([t.values[obj] for t in done if t.values], dtype=np.float64),
            X_pending=np.array([space.encode(t.params) for t in active]).reshape(-1, d),
            n_trials=sum(t.status != TrialStatus.ABANDONED for t in trials),
            n_sobol=sum(t.generator == "sobol" for t in trials),
        )

    # --------------------------------------------------------------- telling
    def _id(self, trial: TrialRef) -> int:
        if isinstance(trial, Trial):
            return trial.id
        if isinstance(trial, int) and not isinstance(trial, bool):
            return trial
        raise TrialStateError(f"trial: got {trial!r}; expected a Trial or a trial id (int)")

    def start(self, trial: TrialRef) -> Trial:
        """Mark a pending trial as running in this process (a worker claims it)."""
        return self.store.transition(
            self._record.id,
            self._id(trial),
            allowed=[TrialStatus.PENDING],
            status=TrialStatus.RUNNING,
            worker=worker_id(),
        )

    def observe(self, trial: TrialRef, values: Mapping[str, float] | float) -> Trial:
        """Record the outcome of a pending or running trial; it becomes completed.

        Args:
            trial: The trial or its id.
            values: ``{outcome: value}`` with every objective, or a number when the
                experiment has one objective. Extra outcomes are kept too.

        Raises:
            InvalidOutcomeError: a value is missing or not finite (the trial is left
                as it was; use :meth:`fail` to record a failed evaluation).
            TrialStateError: the trial is unknown or already finished.
        """
        number = self._id(trial)
        checked = self.experiment.check_values(values)
        done = self.store.transition(
            self._record.id,
            number,
            allowed=_ACTIVE,
            status=TrialStatus.COMPLETED,
            values=checked,
        )
        logger.info("trial %d completed: %s", number, checked)
        return done

    def fail(self, trial: TrialRef, reason: str) -> Trial:
        """Record that a trial's evaluation failed, and why."""
        done = self.store.transition(
            self._record.id,
            self._id(trial),
            allowed=_ACTIVE,
            status=TrialStatus.FAILED,
            failure_reason=str(reason),
        )
        logger.warning("trial %d failed: %s", done.id, reason)
        return done

    def abandon(self, trial: TrialRef, reason: str = "abandoned") -> Trial:
        """Give up a pending or running trial without a result; it no longer counts."""
        done = self.store.transition(
            self._record.id,
            self._id(trial),
            allowed=_ACTIVE,
            status=TrialStatus.ABANDONED,
            failure_reason=str(reason),
        )
        logger.info("trial %d abandoned: %s", done.id, reason)
        return done

    def attach(
        self,
        params: Mapping[str, Any],
        values: Mapping[str, float] | float | None = None,
        *,
        generator: str = "manual",
    ) -> Trial:
        """Add a trial chosen outside the loop: completed when ``values`` are given
        (warm-starting from earlier data), else pending (to be evaluated).

        Raises:
            InvalidSpaceError: the point is not in the space.
            InvalidOutcomeError: the values are not usable.
        """
        point = self.experiment.space.validate(params)
        row: dict[str, Any] = {"params": point, "generator": generator}
        status = TrialStatus.PENDING
        if values is not None:
            row["values"] = self.experiment.check_values(values)
            status = TrialStatus.COMPLETED
        (trial,) = self.store.add_trials(self._record.id, [row], status=status)
        return trial

    def heartbeat(self, trials: list[Trial]) -> int:
        """Tell the store that this process is still evaluating ``trials``."""
        return self.store.heartbeat(self._record.id, [t.id for t in trials], worker_id())

    def recover(
        self, *, grace_seconds: float | None = None, this_process: bool = False
    ) -> list[Trial]:
        """Re-queue the trials whose worker is gone.

        A running trial is taken as orphaned when its worker is a process on this
        host that no longer exists, when its last heartbeat is older than
        ``grace_seconds``, or (with ``this_process``) when this process left it
        running. Each is abandoned with the reason, and its point is added again
        as a new pending trial, so nothing is silently dropped or run twice.

        Args:
            grace_seconds: How long a running trial may go without a heartbeat;
                ``None`` leaves heartbeats out (workers that send none).
            this_process: Also re-queue trials that this process left running (a
                runner calls this on start, when none of its evaluations is in flight).

        Returns:
            The new pending trials.
        """
        host, me = socket.gethostname(), worker_id()
        stale = (
            {t.id for t in self.store.stale(self._record.id, grace_seconds)}
            if grace_seconds is not None
            else set()
        )
        requeued = []
        for t in self.store.trials(self._record.id, [TrialStatus.RUNNING]):
            if this_process and t.worker == me:
                reason = f"worker {t.worker} restarted during the evaluation"
            elif t.worker and _local_process_gone(t.worker, host):
                reason = f"worker {t.worker} stopped during the evaluation"
            elif t.id in stale and t.worker != me:
                reason = (
                    f"worker {t.worker} sent no heartbeat for {grace_seconds:g} s "
                    f"(last at {t.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)"
                    if t.heartbeat_at
                    else f"worker {t.worker} sent no heartbeat"
                )
            else:
                continue
            try:
                self.abandon(t, f"{reason}; point re-queued")
            except TrialStateError:
                continue  # finished or re-queued by someone else meanwhile
            (new,) = self.store.add_trials(
                self._record.id,
                [
                    {
                        "params": t.params,
                        "generator": t.generator,
                        "metadata": {**t.metadata, "requeued_from": t.id},
                    }
                ],
            )
            logger.warning("trial %d re-queued as trial %d: %s", t.id, new.id, reason)
            requeued.append(new)
        return requeued

    # ------------------------------------------------------------- predicting
    def fitted(self) -> FittedSurrogate:
        """The surrogate behind the latest decision, fitted to every completed trial.

        The surrogate is the one recorded with the latest model-based trial (for
        ``"auto"``, the candidate it chose), else the experiment's. The fit made for
        that decision is reused when no trial has completed since; otherwise the
        surrogate is fitted again, seeded, on what the store holds now.

        Raises:
            TrialStateError: fewer than 2 completed trials.
        """
        history = self._history(self.store.trials(self._record.id))
        if len(history.Y) < 2:
            raise TrialStateError(
                f"predict: experiment '{self.experiment.name}' has {len(history.Y)} completed "
                "trial(s); a surrogate needs at least 2"
            )
        last = self.strategy.last_fit
        if last is not None and last.n_train == len(history.Y):
            return last
        name = self.experiment.surrogate
        for t in reversed(self.all_trials()):
            used = (t.metadata or {}).get("surrogate")
            if isinstance(used, str) and t.generator != "sobol":
                name = used
                break
        surrogate, _, choice = name.partition(":")
        fitted = self.strategy.fit(history, choice or surrogate)
        self.strategy.last_fit = fitted
        return fitted

    def predict(self, points: Points) -> pd.DataFrame:
        """Posterior mean and 95% predictive interval of the objective at ``points``.

        Args:
            points: A dict of parameter values, a list of them, or a DataFrame with
                one column per parameter (other columns are ignored).

        Returns:
            One row per point: the parameters, ``<objective>_mean``, ``<objective>_lower``
            and ``<objective>_upper``, in the units the objective is measured in, from
            the surrogate behind the latest decision (see :meth:`fitted`).
        """
        return self.fitted().predict(points)

    # --------------------------------------------------------------- reading
    def get(self, trial: TrialRef) -> Trial:
        return self.store.trial(self._record.id, self._id(trial))

    def all_trials(self, *statuses: TrialStatus) -> list[Trial]:
        """Trials in id order, optionally only those in the given statuses."""
        return self.store.trials(self._record.id, statuses or None)

    @property
    def n_finished(self) -> int:
        """Completed and failed trials: what the budget counts."""
        return len(self.all_trials(TrialStatus.COMPLETED, TrialStatus.FAILED))

    def best(self) -> Trial:
        """The completed trial with the best objective value (the first one on ties).

        Raises:
            TrialStateError: no trial is completed yet.
        """
        obj = self.experiment.objective
        done = [t for t in self.all_trials(TrialStatus.COMPLETED) if t.values]
        if not done:
            raise TrialStateError(
                f"best: experiment '{self.experiment.name}' has no completed trial yet"
            )
        return max(done, key=lambda t: (obj.sign() * t.values[obj.name], -t.id))  # type: ignore[index]

    def trials(self) -> pd.DataFrame:
        """One row per trial: id, status, each parameter, each outcome, and how it was made."""
        rows = []
        for t in self.all_trials():
            row: dict[str, Any] = {"id": t.id, "status": t.status.value}
            row.update(t.params)
            row.update(t.values or {})
            row.update(
                generator=t.generator,
                failure_reason=t.failure_reason,
                created_at=t.created_at,
                finished_at=t.finished_at,
            )
            rows.append(row)
        columns = [
            "id",
            "status",
            *self.experiment.space.names,
            *[o.name for o in self.experiment.objectives],
        ]
        df = pd.DataFrame(rows)
        for col in columns:
            if col not in df.columns:
                df[col] = pd.Series(dtype=object)
        return df[columns + [c for c in df.columns if c not in columns]]


def _local_process_gone(worker: str, host: str) -> bool:
    worker_host, _, pid = worker.rpartition(":")
    if worker_host != host or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False

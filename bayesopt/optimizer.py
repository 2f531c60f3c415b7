"""The ask/tell optimizer: suggest points, observe results, everything in the store.

Examples:
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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from bayesopt._results import feasible_completed, trials_table
from bayesopt.active import Holdout, HoldoutSource, LevelEstimate, mc_size
from bayesopt.active import holdout_scores as _holdout_scores
from bayesopt.active import level_region as _level_region
from bayesopt.active import mean_std as _mean_std
from bayesopt.active import space_points as _space_points
from bayesopt.device import resolve_device
from bayesopt.errors import TrialStateError
from bayesopt.experiment import Experiment, Observation
from bayesopt.fidelity import at_target, record_costs, with_target
from bayesopt.pareto import (
    feasible,
    hypervolume,
    pareto_mask,
    reference_point,
    signed_objectives,
)
from bayesopt.prediction import FittedSurrogate, Points
from bayesopt.stopping import Progress, Stop, first_stop, progress_of
from bayesopt.storage import Store, worker_id
from bayesopt.strategy import History, Strategy
from bayesopt.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from bayesopt.analysis.regimes import Drift, Regimes

logger = logging.getLogger("bayesopt")

#: The generator of trials attached as repeated measurements of a reference point.
REFERENCE = "reference"

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
        #: The held-out test set (``Experiment(holdout=...)`` or :meth:`holdout`).
        self.test_set: Holdout | None = experiment.holdout_data

    def __repr__(self) -> str:
        return f"Optimizer({self.experiment.name!r}, store={self.store!r}, seed={self.seed})"

    # ---------------------------------------------------------------- asking
    def suggest(
        self, n: int = 1, *, claim: bool = False, fixed: Mapping[str, Any] | None = None
    ) -> list[Trial]:
        """Choose ``n`` new points and record them as pending trials.

        With ``claim=True`` they are recorded as running in this process instead,
        in the same transaction, so that no other worker can take them.

        With ``fixed`` (the context: parameter -> today's value, such as
        ``{"temperature": 21.5}``) those parameters keep the given values and only
        the others are optimized (BoTorch's ``fixed_features``); the model still
        learns from every trial, whatever its context was.

        Pending and running trials are passed to the acquisition function as
        ``X_pending``, so a batch, or suggestions made while others run, spread out.

        Returns:
            A list of ``n`` :class:`Trial`, each with ``.id`` and ``.params``.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n: got {n!r}; expected an integer >= 1")
        status = TrialStatus.RUNNING if claim else TrialStatus.PENDING
        context = self.experiment.space.fixed_columns(fixed) if fixed else None
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
                candidates = self.strategy.generate(self._history(snapshot), n, fixed=context)
            with self.store.locked(exp_id) as conn:
                if last:
                    snapshot = self.store.trials(exp_id, conn=conn)
                    candidates = self.strategy.generate(self._history(snapshot), n, fixed=context)
                elif self.store.count(exp_id, conn=conn) != len(snapshot):
                    continue
                if self.experiment.space.fidelity is not None:  # what each will cost
                    metadata = [c.metadata for c in candidates]
                    params = [c.params for c in candidates]
                    record_costs(self.experiment, metadata, params, snapshot)
                if self.test_set is not None:  # the deciding model's scores on it
                    self._score_decision(candidates)
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
        names = self.experiment.modelled_outcomes
        done = [
            t
            for t in trials
            if t.status == TrialStatus.COMPLETED and t.values and all(k in t.values for k in names)
        ]
        active = [t for t in trials if t.status in _ACTIVE]
        d, k = space.dim, len(names)
        Y = np.array([[t.values[m] for m in names] for t in done if t.values], dtype=np.float64)
        sems = np.array(
            [[(t.sems or {}).get(m, np.nan) for m in names] for t in done], dtype=np.float64
        ).reshape(-1, k)
        Y = Y.reshape(-1, k)
        return History(
            X=np.array([space.encode(t.params) for t in done]).reshape(-1, d),
            Y=Y[:, 0] if k == 1 else Y,
            X_pending=np.array([space.encode(t.params) for t in active]).reshape(-1, d),
            n_trials=sum(t.status != TrialStatus.ABANDONED for t in trials),
            n_sobol=sum(t.generator == "sobol" for t in trials),
            Yvar=sems**2 if not np.isnan(sems).all() else None,
            records=tuple(trials),
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

    def observe(self, trial: TrialRef, values: Observation) -> Trial:
        """Record the outcome of a pending or running trial; it becomes completed.

        Args:
            trial: The trial or its id.
            values: ``{outcome: value}`` with every objective and constrained outcome,
                or a number when the experiment has one objective. A value may be a
                ``(mean, sem)`` pair: a measurement with its standard error, which the
                model then takes as the known noise of that observation. Extra outcomes
                are kept too.

        Raises:
            InvalidOutcomeError: a value is missing or not finite (the trial is left
                as it was; use :meth:`fail` to record a failed evaluation).
            TrialStateError: the trial is unknown or already finished.
        """
        number = self._id(trial)
        checked, sems = self.experiment.check_observation(values)
        done = self.store.transition(
            self._record.id,
            number,
            allowed=_ACTIVE,
            status=TrialStatus.COMPLETED,
            values=checked,
            sems=sems or None,
        )
        logger.info("trial %d completed: %s", number, checked)
        if self.experiment.analyses:  # the monitored analyses due now, stored with it
            from bayesopt.analysis.schedule import completed_in_order, monitor

            records = self.store.trials(self._record.id)
            signed = self.strategy.signed_values(completed_in_order(records))
            found = monitor(self.experiment, records, signed, self.strategy.seed)
            if found:
                done = self.store.annotate(self._record.id, number, found)
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
        values: Observation | None = None,
        *,
        generator: str = "manual",
    ) -> Trial:
        """Add a trial chosen outside the loop: completed when ``values`` are given
        (warm-starting from earlier data), else pending (to be evaluated).

        With ``generator="reference"`` the trial is a repeated measurement of a reference
        point, and :meth:`drift` checks at once whether the process drifted.

        Raises:
            InvalidSpaceError: the point is not in the space.
            InvalidOutcomeError: the values are not usable.
        """
        point = self.experiment.space.validate(params)
        row: dict[str, Any] = {"params": point, "generator": generator, "metadata": {}}
        if self.experiment.space.fidelity is not None:
            record_costs(self.experiment, [row["metadata"]], [point], self.all_trials())
        status = TrialStatus.PENDING
        if values is not None:
            row["values"], sems = self.experiment.check_observation(values)
            row["sems"] = sems or None
            status = TrialStatus.COMPLETED
        (trial,) = self.store.add_trials(self._record.id, [row], status=status)
        if generator == REFERENCE and values is not None:
            self.drift()  # warns when the reference point has probably drifted
        return trial

    def import_trials(
        self,
        source: pd.DataFrame | str | os.PathLike[str],
        *,
        extras: list[str] | tuple[str, ...] = (),
    ) -> list[Trial]:
        """Add completed trials from earlier work or another tool, all or none.

        Every tunable parameter and every modelled outcome must be a column; fixed
        parameters may be left out, ``<outcome>_sem`` columns give standard errors,
        and the bookkeeping columns of :meth:`trials` are ignored (with a ``status``
        column, only completed rows are imported). Every row is checked against the
        space and the outcomes, and a row that repeats a point (of the table, or of a
        trial already completed here) is refused, so the same file cannot be imported
        twice. The trials are recorded with generator ``"import"`` and count toward
        the initial design: the next :meth:`suggest` learns from them. See
        :mod:`bayesopt.importing` for every rule.

        For example, ``opt.import_trials("earlier.csv")`` with a file whose header is
        ``x1,x2,y,y_sem`` adds one completed trial per line; ``opt.trials()`` of another
        store of the same experiment, written with ``to_csv``, imports the same way.

        Args:
            source: A pandas DataFrame, or the path of a CSV file.
            extras: Further columns to keep as extra outcomes (outcomes that
                ``evaluate`` returns or that the store holds are kept without this).

        Returns:
            The created trials, in the order of the rows.

        Raises:
            InvalidImportError: a column is missing or unknown, or a row does not fit;
                the message names the row and the column, and nothing was written.
        """
        from bayesopt.importing import import_trials

        return import_trials(self, source, extras=extras)

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
    def fitted(self, outcome: str | None = None) -> FittedSurrogate:
        """The surrogate behind the latest decision, fitted to every completed trial.

        The surrogate is the one recorded with the latest model-based trial (for
        ``"auto"``, the candidate it chose), else the experiment's. The fit made for
        that decision is reused when no trial has completed since; otherwise the
        surrogate is fitted again, seeded, on what the store holds now.

        Args:
            outcome: Which modelled outcome (an objective or a constrained outcome);
                the first objective by default.

        Raises:
            TrialStateError: fewer than 2 completed trials.
            KeyError: ``outcome`` is not modelled by this experiment.
        """
        names = self.experiment.modelled_outcomes
        target = outcome or names[0]
        if target not in names:
            raise KeyError(f"outcome: {target!r} is not modelled; modelled outcomes are {names}")
        history = self._history(self.store.trials(self._record.id))
        if len(history.Y) < 2:
            raise TrialStateError(
                f"predict: experiment '{self.experiment.name}' has {len(history.Y)} completed "
                "trial(s); a surrogate needs at least 2"
            )
        last = self.strategy.last_fits.get(target)
        if last is not None and last.n_train == len(history.Y):
            return last
        name = self.experiment.surrogate
        for t in reversed(self.all_trials()):
            used = (t.metadata or {}).get("surrogate")
            if isinstance(used, str) and t.generator != "sobol":
                name = used
                break
        surrogate, _, choice = name.partition(":")
        fitted = self.strategy.fit(history, choice or surrogate, outcome=target)
        self.strategy.last_fits[target] = fitted
        if target == names[0]:
            self.strategy.last_fit = fitted
        return fitted

    def predict(self, points: Points) -> pd.DataFrame:
        """Posterior mean and 95% predictive interval of every modelled outcome at ``points``.

        Args:
            points: A dict of parameter values, a list of them, or a DataFrame with
                one column per parameter (other columns are ignored).

        Returns:
            One row per point: the parameters, then for each objective and constrained
            outcome ``<name>_mean``, ``<name>_lower`` and ``<name>_upper``, in the
            units it is measured in, from the surrogate behind the latest decision
            (see :meth:`fitted`). With a Fidelity parameter, points that leave it out
            are predicted at its target.
        """
        points = with_target(self.experiment.space, points)
        df = self.fitted().predict(points)
        for name in self.experiment.modelled_outcomes[1:]:
            other = self.fitted(name).predict(points)
            df = pd.concat([df, other[[f"{name}_mean", f"{name}_lower", f"{name}_upper"]]], axis=1)
        return df

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
        """The feasible completed trial with the best objective value (the first one on ties).

        With a Fidelity parameter only trials evaluated at its target count.

        Raises:
            TrialStateError: the experiment has several objectives (use :meth:`pareto`),
                no trial is completed yet (at the target fidelity), or none satisfies the
                outcome constraints.
        """
        exp = self.experiment
        if exp.is_multi_objective:
            raise TrialStateError(
                f"best: experiment '{exp.name}' has {len(exp.objectives)} objectives "
                f"({[o.name for o in exp.objectives]}), so no single trial is best; use "
                "pareto() for the trials that no other trial beats on every objective"
            )
        obj = exp.objective
        done = self._feasible_completed("best")
        return max(done, key=lambda t: (obj.sign() * t.values[obj.name], -t.id))  # type: ignore[index]

    def pareto(self) -> list[Trial]:
        """The feasible completed trials that no other feasible trial dominates, in id order.

        A trial dominates another when it is at least as good on every objective and
        better on one. With one objective this is the best trial (ties included).

        Raises:
            TrialStateError: no trial is completed yet, or none satisfies the outcome
                constraints.
        """
        done = self._feasible_completed("pareto")
        mask = pareto_mask(signed_objectives(self.experiment, done))
        return [t for t, keep in zip(done, mask.tolist(), strict=True) if keep]

    def basins(self, *, fraction: float = 0.25, truncation: int = 8) -> pd.DataFrame:
        """The distinct optima: the basins of the best completed, feasible trials.

        The best ``fraction`` of the trials (at least 6, or all; at most 64) are grouped
        by a Dirichlet process mixture in the encoded space
        (:func:`bayesopt.analysis.basins.find_basins`, seeded with the optimizer's seed),
        which is what ``BO(spread="basins")`` spreads a batch across. With a Fidelity
        parameter only trials at its target count.

        Args:
            fraction: Share of the completed, feasible trials taken as good, in (0, 1].
            truncation: Components of the stick-breaking prior, 2 to 32.

        Returns:
            One row per basin, best first: ``basin`` (its rank), ``trial`` (the id of its
            best trial), that trial's parameters and objective value, ``size`` (its
            members among the good trials), ``probability`` (the posterior probability
            that it holds a trial at all) and ``weight`` (its posterior share of the good
            trials). ``attrs`` holds ``n_basins``, ``count_probs`` (the posterior
            distribution of the number of basins), ``n_points``, ``seconds`` and
            ``members`` (each basin's trial ids).

        Raises:
            TrialStateError: several objectives, or no completed, feasible trial.
            InvalidAnalysisError: a bad ``fraction`` or ``truncation``, named.
        """
        from bayesopt.analysis.basins import basins_table

        completed = self.all_trials(TrialStatus.COMPLETED)
        return basins_table(
            self.experiment, completed, fraction=fraction, truncation=truncation, seed=self.seed
        )

    def _feasible_completed(self, what: str) -> list[Trial]:
        return feasible_completed(self.experiment, self.all_trials(TrialStatus.COMPLETED), what)

    def hypervolume(self) -> float:
        """Hypervolume of the feasible Pareto front (several objectives), with the
        reference point of :func:`bayesopt.pareto.reference_point`; 0 with no feasible trial."""
        exp = self.experiment
        done = feasible(exp, [t for t in self.all_trials(TrialStatus.COMPLETED) if t.values])
        done = [t for t in done if at_target(exp.space, t.params)]
        Y = signed_objectives(exp, done)
        return hypervolume(Y, reference_point(exp, Y))

    # -------------------------------------------------------------- learning
    def holdout(self, source: HoldoutSource) -> Holdout:
        """Keep a held-out test set in memory, to score the model on (replaces any other).

        Every later decision records the deciding model's scores on it in the trial's
        metadata (``holdout_rmse``, ``holdout_nlpd``, ``holdout_picp``; for a further
        modelled outcome, with ``.<outcome>`` appended), and :meth:`holdout_scores`
        scores the current model. ``Experiment(holdout=...)`` sets one for every run.

        Args:
            source: A DataFrame, or the path of a CSV file, with a column per tunable
                parameter and per modelled outcome, one row per measured point. Rows
                are checked as :meth:`import_trials` checks them (bounds, integers,
                categories, constraints, finite outcomes); repeated points are kept.

        Returns:
            The checked test set.

        Raises:
            InvalidImportError: a column is missing or unknown, or a row does not fit;
                the message names the row (and for a file its line) and the column.
        """
        from bayesopt.active import read_holdout

        self.test_set = read_holdout(self.experiment, source)
        return self.test_set

    def holdout_scores(self, outcome: str | None = None) -> dict[str, float]:
        """Scores of the current model (see :meth:`fitted`) on the held-out test set.

        Args:
            outcome: Which modelled outcome; the first objective by default.

        Returns:
            ``rmse``, ``nlpd`` (Gaussian, of the predictive distribution of a new
            measurement), ``picp`` (share of the test values inside the central 95%
            predictive interval) and ``n`` (test points), in the outcome's units.

        Raises:
            TrialStateError: no test set was given, or fewer than 2 trials completed.
            KeyError: ``outcome`` is not modelled by this experiment.
        """
        if self.test_set is None:
            raise TrialStateError(
                f"holdout_scores: experiment '{self.experiment.name}' has no test set; give "
                "one with Optimizer.holdout(df) or Experiment(holdout=...)"
            )
        fitted = self.fitted(outcome)
        target = outcome or self.experiment.modelled_outcomes[0]
        return _holdout_scores(_mean_std(fitted), self.test_set.X, self.test_set.values(target))

    def _score_decision(self, candidates: list[Any]) -> None:
        """Add the deciding model's scores on the test set to model-based candidates."""
        test = self.test_set
        fits = self.strategy.last_fits
        if test is None or not fits:
            return
        made = [c for c in candidates if c.metadata.get("n_train") is not None]
        first = self.experiment.modelled_outcomes[0]
        scores: dict[str, float] = {}
        for name, fit in fits.items():
            if not made or fit.n_train != made[0].metadata["n_train"]:
                return  # decided by another step's model
            try:
                found = _holdout_scores(_mean_std(fit), test.X, test.values(name))
            except Exception as exc:  # a score must not stop a decision
                logger.warning("holdout scores of '%s' failed: %s", name, exc)
                continue
            suffix = "" if name == first else f".{name}"
            for key in ("rmse", "nlpd", "picp"):
                scores[f"holdout_{key}{suffix}"] = round(found[key], 9)
        for c in made:
            c.metadata.update(scores)

    def level_region(self, n: int | None = None) -> tuple[pd.DataFrame, float]:
        """The region where the current model puts the level goal's outcome above its level.

        Args:
            n: Points spread over the space (scrambled Sobol, feasible); ``None``: 256 per
                dimension, rounded up to a power of two (512 to 4096).

        Returns:
            ``(points, share)``: one row per point with its parameters, ``probability``
            (``P(outcome >= level)`` under the model) and ``inside`` (probability above
            0.5); and the share of the points inside, the region's estimated share of
            the space. ``points.attrs`` holds ``share``, ``misclassified`` (the expected
            share of points on the wrong side), the ``outcome`` and the ``level``.

        Raises:
            TrialStateError: the goal is not a level, or fewer than 2 trials completed.
        """
        exp = self.experiment
        level = exp.level
        if level is None:
            raise TrialStateError(
                f"level_region: experiment '{exp.name}' has goal {exp.goal!r}; a region needs "
                "goal=('level', outcome, value)"
            )
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(f"n: got {n!r}; expected an integer >= 1")
        outcome, value = level
        fitted = self.fitted(outcome)
        points = _space_points(exp, n or mc_size(exp.space.dim), self.seed + 7919)
        decoded = [exp.space.decode(p) for p in points]
        X = fitted.encode(decoded)
        estimate: LevelEstimate = _level_region(fitted.model, X, value, fitted.objective.sign())
        df = pd.DataFrame(decoded, columns=list(exp.space.names))
        df["probability"] = estimate.probability
        df["inside"] = estimate.probability > 0.5
        df.attrs.update(
            share=estimate.share,
            misclassified=estimate.misclassified,
            outcome=outcome,
            level=value,
        )
        return df, estimate.share

    # -------------------------------------------------------------- stopping
    def progress(self) -> Progress:
        """The run's progress as the stopping rules read it (see :mod:`bayesopt.stopping`)."""
        return progress_of(self.experiment, self.all_trials())

    def regimes(self, states: int = 3) -> Regimes:
        """The regimes of the run so far (improving, refining, stalled): a hidden Markov
        model of the completed trials' trace, decoded per trial (see
        :mod:`bayesopt.analysis.regimes`).

        Args:
            states: 3 (improving, refining, stalled) or 2 (improving, stalled).
        """
        from bayesopt.analysis.regimes import fit_regimes

        return fit_regimes(self.progress(), states=states)

    def drift(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        outcome: str | None = None,
        threshold: float = 0.9,
    ) -> Drift:
        """Whether the process drifted, from repeated measurements of a reference point.

        The measurements are the completed trials at ``params`` or, without, the trials
        attached with ``generator="reference"``, in the order they were measured; the
        change-point model of :func:`bayesopt.analysis.regimes.detect_drift` gives the
        probability that the process had drifted by each. When that probability at the
        latest measurement exceeds ``threshold``, a warning says so, with the size and
        start of the shift.

        Args:
            params: The reference point; ``None``: the trials attached as references.
            outcome: The outcome measured; the first objective by default.
            threshold: The probability of drift above which to warn, in ``(0, 1)``.

        Raises:
            InvalidAnalysisError: ``threshold`` is not in ``(0, 1)``, or ``outcome`` is not
                an outcome of the experiment.
            InvalidSpaceError: ``params`` is not a point of the space.
        """
        from bayesopt.analysis.regimes import drift_of

        completed = self.all_trials(TrialStatus.COMPLETED)
        return drift_of(
            self.experiment,
            completed,
            params,
            outcome=outcome,
            threshold=threshold,
            reference=REFERENCE,
        )

    def should_stop(self) -> Stop | None:
        """Apply the experiment's stopping rules to the store; the first that fires is
        recorded in the store with its reason and returned. ``None``: go on."""
        rules = self.experiment.stopping
        if not rules:
            return None
        stop = first_stop(rules, self.progress())
        if stop is not None:
            self.store.record_stop(self._record.id, stop.as_dict())
            logger.info("stopping rule '%s' fired: %s", stop.rule, stop.reason)
        return stop

    def stop_record(self) -> dict[str, Any] | None:
        """Why the experiment's run last stopped early (a :class:`Stop` as a dict), or ``None``."""
        return self.store.stop_record(self._record.id)

    def trials(self) -> pd.DataFrame:
        """One row per trial: id, status, each parameter, each outcome (with ``<outcome>_sem``
        where a standard error was measured), ``feasible`` when there are outcome
        constraints, ``at_target`` and ``evaluation_cost`` (the cost model's value at the
        trial's fidelity) with a Fidelity parameter, and how the trial was made."""
        return trials_table(self.experiment, self.all_trials())


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

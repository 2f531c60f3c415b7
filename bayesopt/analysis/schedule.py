"""When the analyses of the history run: a switch and a cadence for each.

``Experiment(analyses={"regimes": 5, "basins": 10})`` turns the regime analysis
(:mod:`bayesopt.analysis.regimes`) and the basins analysis
(:mod:`bayesopt.analysis.basins`) on, each every ``k`` completed trials:

- as a monitor: when the ``k``-th, ``2k``-th, ... trial completes, the analysis runs on
  the completed trials and its result is stored with that trial
  (``metadata["analysis.regimes"]``, ``metadata["analysis.basins"]``), so MLflow charts
  the regime probabilities (``analysis.regimes.p_<state>``) and the number of basins
  (``analysis.basins.n_basins``) over the run, and the store keeps what the run looked
  like at each point;
- for the decisions that read it (``TrustRegion(after_regime=...)``, the
  :class:`bayesopt.Stalled` stopping rule, ``BO(spread="basins")``): the analysis sees
  the first ``k * floor(n / k)`` completed trials, so it is refitted only every ``k``
  completions and reused in between. What a decision sees is a function of the stored
  trials alone, so a resumed run decides as an uninterrupted one would.

An analysis not named runs only where a decision reads it, at every completed trial
(cadence 1), and is not monitored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bayesopt.errors import InvalidExperimentError, describe

if TYPE_CHECKING:
    from bayesopt.experiment import Experiment
    from bayesopt.trial import Trial

logger = logging.getLogger(__name__)

#: The analyses that can be scheduled.
ANALYSES = ("regimes", "basins")
#: Where a monitored analysis's result is stored in the trial's metadata.
KEYS = {name: f"analysis.{name}" for name in ANALYSES}


def check_analyses(value: object) -> dict[str, int]:
    """``analyses`` as given to the experiment, checked: analysis -> every how many
    completed trials it runs.

    Raises:
        InvalidExperimentError: not a mapping, an unknown analysis, or a cadence that is
            not a positive integer, named.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidExperimentError(
            f"analyses: got {describe(value)}; expected a dict of analysis -> every how many "
            "completed trials it runs, such as {'regimes': 5, 'basins': 10}"
        )
    out: dict[str, int] = {}
    for name, every in value.items():
        if name not in ANALYSES:
            raise InvalidExperimentError(
                f"analyses: unknown analysis {describe(name)}; valid names are {list(ANALYSES)}"
            )
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise InvalidExperimentError(
                f"analyses[{name!r}]: got {describe(every)}; expected every how many completed "
                "trials it runs, an integer >= 1"
            )
        out[name] = every
    return out


def cadence(experiment: Experiment, name: str) -> int:
    """Every how many completed trials ``name`` is refitted (1 unless scheduled)."""
    return int(getattr(experiment, "analyses", {}).get(name, 1))


def seen(experiment: Experiment, name: str, done: Sequence[Trial]) -> list[Trial]:
    """The completed trials (in completion order) that analysis ``name`` sees now: the
    first ``k * floor(n / k)`` of them, ``k`` its cadence."""
    k = cadence(experiment, name)
    return list(done[: k * (len(done) // k)])


def completed_in_order(records: Sequence[Trial]) -> list[Trial]:
    """The completed trials with values, in the order they completed."""
    from bayesopt.trial import TrialStatus

    done = [t for t in records if t.status == TrialStatus.COMPLETED and t.values]
    return sorted(done, key=lambda t: (t.finished_at or t.created_at or 0, t.id))


def monitor(
    experiment: Experiment, records: Sequence[Trial], signed: Sequence[float], seed: int
) -> dict[str, Any]:
    """The monitored analyses due now (the number of completed trials is a multiple of
    their cadence), as metadata for the trial that just completed. An analysis that fails
    is recorded as ``{"error": ...}``; it never stops the run.

    Args:
        records: Every trial of the experiment.
        signed: The objective of each completed trial (in completion order), larger is
            better, ``-inf`` where infeasible.
        seed: Seeds the basins' fit.
    """
    done = completed_in_order(records)
    out: dict[str, Any] = {}
    for name in ANALYSES:
        every = getattr(experiment, "analyses", {}).get(name)
        if every is None or not done or len(done) % every:
            continue
        t0 = time.perf_counter()
        try:
            result = _run(name, experiment, done, signed, seed)
        except Exception as exc:  # an analysis must not stop the run
            logger.warning("%s analysis failed: %s: %s", name, type(exc).__name__, exc)
            result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        if result is not None:
            result["seconds"] = round(time.perf_counter() - t0, 6)
            result["n_trials"] = len(done)
            out[KEYS[name]] = result
    return out


def _run(
    name: str, experiment: Experiment, done: list[Trial], signed: Sequence[float], seed: int
) -> dict[str, Any] | None:
    import numpy as np

    if name == "regimes":
        if experiment.goal != "optimize" or len(done) <= experiment.n_initial:
            return None  # nothing to improve on, or still the design
        from bayesopt.analysis.regimes import fit_regimes
        from bayesopt.stopping import progress_of

        return dict(fit_regimes(progress_of(experiment, done)).latest())
    if experiment.is_multi_objective or experiment.goal != "optimize" or len(done) < 4:
        return None  # basins are of one objective to optimize
    from bayesopt.analysis.basins import find_basins

    space = experiment.space
    X = np.array([space.encode(t.params) for t in done]).reshape(-1, space.dim)
    found = find_basins(X, list(signed), seed=seed)
    summary = found.summary()
    summary["best_trials"] = [done[b.best].id for b in found.basins]
    return summary

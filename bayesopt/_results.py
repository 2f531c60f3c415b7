"""What a run's trials say: the completed trials that count, and the table of all trials.

These read plain lists of trials (as :meth:`bayesopt.Optimizer.all_trials` returns them),
so that :class:`bayesopt.Optimizer` and the analyses of :mod:`bayesopt.analysis` share
them without a store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from bayesopt.errors import TrialStateError
from bayesopt.fidelity import at_target
from bayesopt.pareto import feasible

if TYPE_CHECKING:
    from bayesopt.experiment import Experiment
    from bayesopt.trial import Trial


def feasible_completed(
    experiment: Experiment, completed: Sequence[Trial], what: str
) -> list[Trial]:
    """The completed trials that count for a result: with values, at the target fidelity
    (with a Fidelity parameter) and satisfying the outcome constraints, in the given order.

    Args:
        experiment: The experiment of the trials.
        completed: Its completed trials.
        what: The result asked for, named in the messages (``"best"``, ``"pareto"``, ...).

    Raises:
        TrialStateError: no trial is completed yet (at the target fidelity), or none
            satisfies the outcome constraints.
    """
    exp = experiment
    done = [t for t in completed if t.values]
    if not done:
        raise TrialStateError(f"{what}: experiment '{exp.name}' has no completed trial yet")
    fidelity = exp.space.fidelity
    if fidelity is not None:  # results count at the target fidelity only
        cheaper = len(done)
        done = [t for t in done if at_target(exp.space, t.params)]
        if not done:
            raise TrialStateError(
                f"{what}: none of the {cheaper} completed trials of '{exp.name}' was "
                f"evaluated at the target fidelity {fidelity.name}={fidelity.target!r} yet, "
                "and results count only there; run more trials, or attach one evaluated "
                "at the target"
            )
    ok = feasible(exp, done)
    if not ok:
        worst = {
            str(c): sum(not c.holds(t.values) for t in done if t.values)
            for c in exp.outcome_constraints
        }
        raise TrialStateError(
            f"{what}: none of the {len(done)} completed trials of '{exp.name}' is feasible "
            f"yet; trials violating each outcome constraint: {worst}"
        )
    return ok


def trials_table(experiment: Experiment, trials: Sequence[Trial]) -> pd.DataFrame:
    """One row per trial, as :meth:`bayesopt.Optimizer.trials` describes it.

    Args:
        experiment: The experiment of the trials.
        trials: The trials, in the order of the rows.
    """
    rows = []
    for t in trials:
        row: dict[str, Any] = {"id": t.id, "status": t.status.value}
        row.update(t.params)
        row.update(t.values or {})
        row.update({f"{k}_sem": v for k, v in (t.sems or {}).items()})
        if experiment.outcome_constraints:
            row["feasible"] = experiment.is_feasible(t.values) if t.values else None
        if experiment.space.fidelity is not None:
            row["at_target"] = at_target(experiment.space, t.params)
            row["evaluation_cost"] = t.metadata.get("cost")
        row.update(
            step=t.metadata.get("step"),
            generator=t.generator,
            failure_reason=t.failure_reason,
            created_at=t.created_at,
            finished_at=t.finished_at,
        )
        rows.append(row)
    columns = [
        "id",
        "status",
        *experiment.space.names,
        *experiment.modelled_outcomes,
    ]
    df = pd.DataFrame(rows)
    for col in columns:
        if col not in df.columns:
            df[col] = pd.Series(dtype=object)
    return df[columns + [c for c in df.columns if c not in columns]]

"""How an :class:`bayesopt.Experiment` describes itself: to the store and to MLflow.

:meth:`bayesopt.Experiment.definition` and :meth:`bayesopt.Experiment.settings` return
what these functions make of the experiment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bayesopt.steps import describe_strategy

if TYPE_CHECKING:
    from bayesopt.experiment import Experiment


def _label(value: object) -> str:
    """A short readable name for an option value that is not a plain scalar."""
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if name:
        return f"{getattr(value, '__module__', '')}.{name}".lstrip(".")
    return repr(value)[:200]


def definition_of(experiment: Experiment) -> dict[str, Any]:
    """What identifies the experiment in a store: space and objectives."""
    return {
        "space": experiment.space.describe(),
        "objectives": [{"name": o.name, "minimize": o.minimize} for o in experiment.objectives],
    }


def settings_of(experiment: Experiment) -> dict[str, Any]:
    """The run settings, as logged to MLflow."""
    exp = experiment
    return {
        "budget": exp.budget,
        "batch_size": exp.batch_size,
        "surrogate": exp.surrogate,
        **{
            f"surrogate.{k}": v if isinstance(v, int | float | str | bool) else _label(v)
            for k, v in exp.surrogate_options.items()
        },
        "cv_folds": exp.cv_folds,
        "acquisition": exp.acquisition,
        "initial_trials": exp.n_initial,
        "timeout": exp.timeout,
        "retries": exp.retries,
        "seed": exp.seed,
        "dim": exp.space.dim,
        **_objective_settings(exp),
        "constraints": "; ".join(str(c) for c in exp.constraints) or "none",
        "stopping": "; ".join(repr(r) for r in exp.stopping) or "none",
        "strategy": describe_strategy(exp.strategy),
        "analyses": "; ".join(f"{k} every {v}" for k, v in exp.analyses.items()) or "none",
        **_fidelity_settings(exp),
        **_learning_settings(exp),
    }


def _objective_settings(exp: Experiment) -> dict[str, Any]:
    if not exp.is_multi_objective:
        return {"objective": exp.objective.name, "minimize": exp.objective.minimize}
    return {
        "objectives": ", ".join(
            f"{o.name} ({'min' if o.minimize else 'max'}"
            + (f", threshold {o.threshold:g})" if o.threshold is not None else ")")
            for o in exp.objectives
        )
    }


def _fidelity_settings(exp: Experiment) -> dict[str, Any]:
    fidelity = exp.space.fidelity
    if fidelity is None:
        return {}
    cost = exp.cost if isinstance(exp.cost, str) or exp.cost is None else _label(exp.cost)
    return {
        "fidelity": f"{fidelity.name} in [{fidelity.low:g}, {fidelity.high:g}], "
        f"target {fidelity.target:g}",
        "cost": cost or f"default: {fidelity.target / 4:g} + {fidelity.name}",
    }


def _learning_settings(exp: Experiment) -> dict[str, Any]:
    out: dict[str, Any] = {}
    level = exp.level
    if exp.learns:
        out["goal"] = "learn" if level is None else f"level: {level[0]} >= {level[1]:g}"
    if exp.holdout_data is not None:
        out["holdout"] = f"{exp.holdout_data.source} ({len(exp.holdout_data)} rows)"
    return out

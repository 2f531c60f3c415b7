"""The decision report: one self-contained HTML page per run, logged to MLflow.

A person reviewing a run in the MLflow UI opens ``decision_report.html`` among the
run's artifacts (the UI shows HTML artifacts in its viewer) and reads, top to bottom:

- the summary: the best trial (or the Pareto front), the counts, why the run stopped;
- the convergence curve;
- the regimes of the run and the basins of good points, where those analyses ran;
- the model checks: how the deciding models' predictions of each new result held up
  (standardized surprise ``z = (y - predicted mean) / predicted sd``, whose share
  within one and two standard deviations should be near 68% and 95%), the trials
  they predicted worst, and the latest held-out scores;
- every decision: the strategy step, the surrogate and acquisition that made it, what
  the model expected, what came back, and its held-out scores.

The page has no external references (its figures are inline PNG data), so it reads
the same offline, from the artifact store, or downloaded.
"""

from __future__ import annotations

import base64
import contextlib
import html
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bayesopt import BayesoptError, Experiment, Optimizer, Trial, TrialStatus
from bayesopt.steps import describe_strategy
from flows.plots import basins_plot, convergence_plot, hypervolume_plot

#: The artifact's file name.
REPORT_NAME = "decision_report.html"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem 2rem;
       color: #1d2330; max-width: 78rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d0d5dd; }
p.meta { color: #5b6475; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #d0d5dd; padding: 0.2rem 0.45rem; text-align: left;
         vertical-align: top; }
th { background: #f2f4f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fff1f0; }
img { max-width: 100%; }
.note { color: #5b6475; font-size: 0.85rem; }
"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], classes: Sequence[str] = ()
) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        cells = "".join(
            f'<td class="num">{_esc(_fmt(c))}</td>'
            if isinstance(c, int | float) and not isinstance(c, bool)
            else f"<td>{_esc(_fmt(c))}</td>"
            for c in row
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _png(fig_path: Path, alt: str) -> str:
    data = base64.b64encode(fig_path.read_bytes()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def surprise(trial: Trial, experiment: Experiment) -> float | None:
    """How many predicted standard deviations the result fell from what the deciding
    model expected (``None`` for trials that no model decided, or not completed)."""
    if trial.status != TrialStatus.COMPLETED or not trial.values:
        return None
    mean, sd = _number(trial.metadata.get("pred_mean")), _number(trial.metadata.get("pred_sd"))
    name = experiment.modelled_outcomes[0]
    y = _number(trial.values.get(name))
    if mean is None or sd is None or y is None or sd <= 0:
        return None
    return (y - mean) / sd


def _summary(opt: Optimizer, trials: list[Trial], stop: dict[str, Any] | None) -> str:
    exp = opt.experiment
    counts = {s: sum(t.status == s for t in trials) for s in TrialStatus}
    done = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n) or "No trials"
    parts = [f"<p>{done} of a budget of {exp.budget}.</p>"]
    names = exp.space.names
    try:
        if exp.is_multi_objective:
            best = opt.pareto()
            title = f"Pareto front: {len(best)} trial(s)"
        else:
            best = [opt.best()]
            title = "Best trial"
        outcomes = list(exp.modelled_outcomes)
        rows = [
            [t.id, *(t.params.get(n) for n in names), *((t.values or {}).get(o) for o in outcomes)]
            for t in best
        ]
        parts.append(f"<h3>{_esc(title)}</h3>")
        parts.append(_table(["trial", *names, *outcomes], rows))
    except BayesoptError as exc:
        parts.append(f'<p class="note">{_esc(exc)}</p>')
    if stop:
        parts.append(
            f"<p><b>Stopped early</b> ({_esc(stop.get('rule'))}) after "
            f"{_esc(stop.get('n_finished'))} finished trials: {_esc(stop.get('reason'))}</p>"
        )
    return "".join(parts)


def _convergence(opt: Optimizer, tmp: Path) -> str:
    exp = opt.experiment
    df = opt.trials()
    if not len(df):
        return '<p class="note">No trials yet.</p>'
    if exp.is_multi_objective:
        path = hypervolume_plot(opt.progress().best, tmp / "convergence.png")
    else:
        obj = exp.objective
        path = convergence_plot(df, obj.name, obj.minimize, tmp / "convergence.png")
    return _png(path, "convergence")


def _regimes(opt: Optimizer, trials: list[Trial], tmp: Path) -> str:
    """The regimes of the run (improving, refining, stalled), decoded per completed trial
    by the hidden Markov model of :mod:`bayesopt.analysis.regimes`, under the
    convergence curve; and the decisions that acted on a regime."""
    if opt.experiment.learns:
        return '<p class="note">Regimes describe an optimization run; this run learns.</p>'
    try:
        found = opt.regimes()
    except Exception as exc:  # too few trials, a failed fit: said, never fatal
        return f'<p class="note">No regime analysis: {_esc(exc)}</p>'
    if not len(found.probabilities):
        return '<p class="note">Too few completed trials for a regime analysis.</p>'
    x = list(found.trial_ids) or list(range(len(found.probabilities)))
    fig, ax = plt.subplots(figsize=(7, 2.4), dpi=110)
    ax.stackplot(x, found.probabilities.T, labels=found.states, alpha=0.85, step="post")
    ax.set_ylim(0, 1)
    ax.set_xlabel("trial")
    ax.set_ylabel("P(regime)")
    ax.legend(loc="upper left", fontsize=8, ncol=len(found.states))
    ax.set_title("Regimes of the run")
    fig.tight_layout()
    path = tmp / "regimes.png"
    fig.savefig(path)
    plt.close(fig)
    latest = found.latest()
    parts = [
        _png(path, "regime timeline"),
        f"<p>At trial {_esc(latest.get('trial'))} the run is most probably "
        f"<b>{_esc(latest.get('state'))}</b> ("
        + ", ".join(f"{_esc(s)} {latest.get(f'p_{s}', 0.0):.2f}" for s in found.states)
        + ").</p>",
    ]
    acted = [t for t in trials if isinstance(t.metadata.get("regime"), dict)]
    if acted:
        parts.append(
            f"<p>{len(acted)} decision(s) read the regimes (a strategy step waiting for a "
            "regime): trials " + ", ".join(str(t.id) for t in acted) + ".</p>"
        )
    return "".join(parts)


def _basins(opt: Optimizer, trials: list[Trial], tmp: Path) -> str:
    """The distinct basins of the good trials (:meth:`Optimizer.basins`), as a table and
    in a 2-D projection of the encoded space."""
    exp = opt.experiment
    if exp.is_multi_objective or exp.learns:
        return '<p class="note">Basins group the good trials of one objective to optimize.</p>'
    try:
        df = opt.basins()
    except Exception as exc:  # too few trials, a failed fit: said, never fatal
        return f'<p class="note">No basins: {_esc(exc)}</p>'
    if df is None or not len(df):
        return '<p class="note">No basins found.</p>'
    header = [str(c) for c in df.columns]
    rows = [list(r) for r in df.itertuples(index=False)]
    done = [t for t in trials if t.status == TrialStatus.COMPLETED]
    probs = ", ".join(f"{k}: {v:.2f}" for k, v in sorted(df.attrs["count_probs"].items()))
    parts = [
        f"<p>{len(df)} distinct basin(s) among the best {df.attrs['n_points']} trials "
        f"(posterior of the number of basins: {_esc(probs)}).</p>",
        _table(header, rows),
    ]
    if done and df.attrs.get("members"):
        path = basins_plot(
            np.array([exp.space.encode(t.params) for t in done]),
            [t.id for t in done],
            df.attrs["members"],
            list(df["trial"]),
            exp.space.names,
            tmp / "basins.png",
        )
        parts.append(_png(path, "basins"))
    return "".join(parts)


def _model_checks(exp: Experiment, trials: list[Trial]) -> str:
    scored = [(t, z) for t in trials if (z := surprise(t, exp)) is not None]
    if not scored:
        return '<p class="note">No model-decided trial has a result yet.</p>'
    zs = [z for _, z in scored]
    n = len(zs)
    within1 = sum(abs(z) <= 1 for z in zs) / n
    within2 = sum(abs(z) <= 2 for z in zs) / n
    mean = sum(zs) / n
    sd = math.sqrt(sum((z - mean) ** 2 for z in zs) / max(n - 1, 1))
    outcome = exp.modelled_outcomes[0]
    parts = [
        f"<p>Standardized surprise of {n} model-decided result(s) of <b>{_esc(outcome)}</b> "
        "(z = (observed - predicted mean) / predicted sd, under the model that chose the point):"
        "</p>",
        _table(
            ["measure", "observed", "a calibrated model"],
            [
                ["share with |z| ≤ 1", f"{within1:.0%}", "68%"],
                ["share with |z| ≤ 2", f"{within2:.0%}", "95%"],
                ["mean z", mean, 0.0],
                ["sd of z", sd, 1.0],
            ],
        ),
    ]
    worst = sorted(scored, key=lambda p: -abs(p[1]))[:5]
    parts.append("<h3>Worst-predicted trials</h3>")
    parts.append(
        _table(
            ["trial", "observed", "predicted mean", "predicted sd", "z"],
            [
                [
                    t.id,
                    (t.values or {}).get(outcome),
                    t.metadata.get("pred_mean"),
                    t.metadata.get("pred_sd"),
                    z,
                ]
                for t, z in worst
            ],
        )
    )
    latest = next((t for t in reversed(trials) if "cv_nlpd" in t.metadata), None)
    if latest is not None:
        m = latest.metadata
        parts.append(
            f"<p>Latest held-out scores (trial {latest.id}, cross-validated): NLPD "
            f"{_fmt(m.get('cv_nlpd'))}, coverage of the 95% interval (PICP) "
            f"{_fmt(m.get('cv_picp'))}, RMSE {_fmt(m.get('cv_rmse'))}.</p>"
        )
    return "".join(parts)


def _decisions(exp: Experiment, trials: list[Trial]) -> str:
    outcomes = list(exp.modelled_outcomes)
    header = [
        "trial",
        "status",
        "step",
        "decided by",
        "surrogate",
        "acquisition",
        *exp.space.names,
        *outcomes,
        "predicted",
        "z",
        "held-out NLPD",
        "PICP",
        "note",
    ]
    rows, classes = [], []
    for t in trials:
        m = t.metadata
        mean, sd = _number(m.get("pred_mean")), _number(m.get("pred_sd"))
        predicted = f"{mean:.4g} ± {sd:.3g}" if mean is not None and sd is not None else ""
        note = t.failure_reason or m.get("fallback") or m.get("auto_reason") or ""
        rows.append(
            [
                t.id,
                t.status.value,
                t.step_label,
                t.generator,
                m.get("surrogate", ""),
                m.get("acquisition", ""),
                *(t.params.get(n) for n in exp.space.names),
                *((t.values or {}).get(o) for o in outcomes),
                predicted,
                surprise(t, exp),
                _number(m.get("cv_nlpd")),
                _number(m.get("cv_picp")),
                str(note)[:160],
            ]
        )
        classes.append("decision failed" if t.status == TrialStatus.FAILED else "decision")
    return f"<p>{len(trials)} decision(s), in order.</p>" + _table(header, rows, classes)


def decision_report(
    optimizer: Optimizer,
    *,
    run_id: str | None = None,
    stop: dict[str, Any] | None = None,
    figures: Path | None = None,
) -> str:
    """The run's decision report as one HTML page (see the module's description).

    Args:
        optimizer: The run's optimizer, on its store.
        run_id: The MLflow run the report belongs to, shown in its header.
        stop: The early stop's record (``Optimizer.stop_record()``), if the run stopped
            before its budget.
        figures: A directory to keep the page's figures in as PNG files as well
            (``convergence.png``, ``regimes.png``, ``basins.png``); by default they
            live in the page only.
    """
    exp = optimizer.experiment
    trials = sorted(optimizer.all_trials(), key=lambda t: t.id)
    stop = stop if stop is not None else optimizer.stop_record()
    with contextlib.ExitStack() as stack:
        if figures is not None:
            figures.mkdir(parents=True, exist_ok=True)
            tmp = figures
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sections = [
            ("Summary", _summary(optimizer, trials, stop)),
            ("Convergence", _convergence(optimizer, tmp)),
            ("Regimes", _regimes(optimizer, trials, tmp)),
            ("Basins", _basins(optimizer, trials, tmp)),
            ("Model checks", _model_checks(exp, trials)),
            ("Decisions", _decisions(exp, trials)),
            (
                "Stopping",
                f"<p>{_esc(stop['reason'])}</p>"
                if stop
                else f"<p>No stopping rule fired; the run went on to its budget of {exp.budget}"
                " trials or was stopped by hand.</p>",
            ),
        ]
    objectives = ", ".join(f"{o.name} ({'min' if o.minimize else 'max'})" for o in exp.objectives)
    meta = (
        f"objectives: {_esc(objectives)} · strategy: {_esc(describe_strategy(exp.strategy))}"
        f" · surrogate: {_esc(exp.surrogate)} · acquisition: {_esc(exp.acquisition)}"
        + (f" · MLflow run {_esc(run_id)}" if run_id else "")
        + f" · written {_esc(time.strftime('%Y-%m-%d %H:%M:%S'))}"
    )
    body = "".join(f"<h2>{_esc(title)}</h2>{content}" for title, content in sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Decision report: {_esc(exp.name)}</title><style>{_STYLE}</style></head>"
        f'<body><h1>Decision report: {_esc(exp.name)}</h1><p class="meta">{meta}</p>'
        f"{body}</body></html>\n"
    )


def write_report(optimizer: Optimizer, path: Path, **kwargs: Any) -> Path:
    """Write :func:`decision_report` to ``path``; return it."""
    path.write_text(decision_report(optimizer, **kwargs), encoding="utf-8")
    return path

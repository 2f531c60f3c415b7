"""Figures logged with each run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from surrogates.validation import HeldOut


def convergence_plot(df: pd.DataFrame, objective: str, minimize: bool, path: Path) -> Path:
    """Objective value of each completed trial and the best value so far, against trial id."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    done = df[df["status"] == "completed"].sort_values("id")
    failed = df[df["status"] == "failed"]
    if len(done):
        values = done[objective].astype(float)
        worst = float("inf") if minimize else float("-inf")
        if "feasible" in done:  # only feasible trials can be best
            values = values.where(done["feasible"].astype(bool), worst)
        if "at_target" in done:  # with a Fidelity, only trials at its target can be best
            values = values.where(done["at_target"].astype(bool), worst)
        best = values.cummin() if minimize else values.cummax()
        by_gen = done.groupby("generator") if "generator" in done else [("trials", done)]
        for gen, part in by_gen:
            ax.scatter(part["id"], part[objective].astype(float), s=18, label=str(gen), alpha=0.8)
        ax.step(done["id"], best, where="post", color="black", label="best (feasible) so far")
    for trial_id in failed["id"]:
        ax.axvline(trial_id, color="red", alpha=0.25, lw=1)
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{objective} ({'lower' if minimize else 'higher'} is better)")
    ax.set_title(f"Convergence ({len(done)} completed, {len(failed)} failed)")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def hypervolume_plot(trace: Sequence[float | None], path: Path) -> Path:
    """Hypervolume of the feasible Pareto front after each completed trial."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    values = [float("nan") if v is None else v for v in trace]
    ax.step(range(1, len(values) + 1), values, where="post", color="black")
    ax.set_xlabel("completed trials")
    ax.set_ylabel("hypervolume (higher is better)")
    ax.set_title(f"Hypervolume after {len(values)} completed trials")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def pareto_plot(
    df: pd.DataFrame, objectives: Sequence[str], front: Sequence[int], experiment: Any, path: Path
) -> Path:
    """Completed trials in the plane of the first two objectives, the Pareto front marked.

    Infeasible trials (outcome constraints) are drawn hollow; objective thresholds as
    dashed lines; with more than two objectives, the other ones are not shown.
    """
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=110)
    a, b = objectives[0], objectives[1]
    done = df[df["status"] == "completed"]
    feasible = done["feasible"].astype(bool) if "feasible" in done else pd.Series(True, done.index)
    ok, bad = done[feasible], done[~feasible]
    ax.scatter(ok[a], ok[b], s=16, alpha=0.6, label="feasible trials")
    if len(bad):
        ax.scatter(bad[a], bad[b], s=16, facecolors="none", edgecolors="grey", label="infeasible")
    on_front = done[done["id"].isin(list(front))].sort_values(a)
    ax.plot(on_front[a], on_front[b], "o-", color="crimson", ms=5, label="Pareto front")
    for obj in experiment.objectives[:2]:
        if obj.threshold is not None:
            line = ax.axvline if obj.name == a else ax.axhline
            line(obj.threshold, color="grey", ls="--", lw=1)
    senses = {o.name: "min" if o.minimize else "max" for o in experiment.objectives}
    ax.set_xlabel(f"{a} ({senses[a]})")
    ax.set_ylabel(f"{b} ({senses[b]})")
    ax.set_title(f"Pareto front: {len(on_front)} of {len(done)} completed trials", fontsize=9)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def calibration_plot(held_out: HeldOut, objective: str, path: Path) -> Path:
    """Observed coverage of central predictive intervals against their nominal level.

    Each held-out point counts as inside the central ``p`` interval when its PIT is
    within ``p / 2`` of one half; a calibrated surrogate lies on the diagonal, an
    over-confident one below it.
    """
    levels = torch.linspace(0.0, 1.0, 21, dtype=torch.float64)
    observed = held_out.coverage(levels).numpy()
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="calibrated")
    ax.plot(levels.numpy(), observed, marker="o", ms=3, label="surrogate")
    ax.set_xlabel("nominal level of the central interval")
    ax.set_ylabel("share of held-out points inside")
    picp = held_out.scores()["picp"]
    ax.set_title(f"Calibration of {objective} ({held_out.method}, PICP95 = {picp:.2f})", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def predicted_vs_observed_plot(held_out: HeldOut, objective: str, path: Path) -> Path:
    """Held-out predictive means with their 95% intervals against the observed values."""
    obs = held_out.observed[:, 0].cpu().numpy()
    mean = held_out.mean[:, 0].cpu().numpy()
    lower = held_out.lower[:, 0].cpu().numpy()
    upper = held_out.upper[:, 0].cpu().numpy()
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    ax.errorbar(obs, mean, yerr=[mean - lower, upper - mean], fmt="o", ms=3, alpha=0.7, lw=0.8)
    lo, hi = float(min(obs.min(), lower.min())), float(max(obs.max(), upper.max()))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    s = held_out.scores()
    ax.set_xlabel(f"observed {objective}")
    ax.set_ylabel(f"held-out prediction ({held_out.method})")
    ax.set_title(f"RMSE {s['rmse']:.3g}, R² {s['r2']:.3f}, NLPD {s['nlpd']:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def basins_plot(
    points: np.ndarray,
    ids: Sequence[int],
    members: dict[int, list[int]],
    best: Sequence[int],
    names: Sequence[str],
    path: Path,
) -> Path:
    """The completed trials in a 2-D projection of the encoded space, each basin's
    members in its colour and its best trial starred; the others grey.

    With two parameters the axes are the parameters (encoded, 0 to 1); with more, the
    first two principal directions of the basins' members.
    """
    X = np.asarray(points, dtype=float).reshape(len(ids), -1)
    where = {trial: i for i, trial in enumerate(ids)}
    chosen = [where[t] for ts in members.values() for t in ts if t in where]
    if X.shape[1] == 1:
        P, labels = np.column_stack([X[:, 0], np.zeros(len(X))]), (names[0], "")
    elif X.shape[1] == 2:
        P, labels = X, (f"{names[0]} (encoded)", f"{names[1]} (encoded)")
    else:
        centre = X[chosen].mean(0) if chosen else X.mean(0)
        basis = np.linalg.svd((X[chosen] if len(chosen) > 1 else X) - centre)[2][:2]
        P, labels = (X - centre) @ basis.T, ("first principal direction", "second")
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=110)
    ax.scatter(P[:, 0], P[:, 1], s=10, color="0.75", label="other trials")
    for k, trials in sorted(members.items()):
        rows = [where[t] for t in trials if t in where]
        ax.scatter(P[rows, 0], P[rows, 1], s=22, label=f"basin {k} ({len(rows)})")
    top = [where[t] for t in best if t in where]
    ax.scatter(P[top, 0], P[top, 1], s=160, marker="*", color="black", label="best of each")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(f"{len(members)} basin(s) of the good trials")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

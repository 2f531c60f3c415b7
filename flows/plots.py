"""Figures logged with each run."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd


def convergence_plot(df: pd.DataFrame, objective: str, minimize: bool, path: Path) -> Path:
    """Objective value of each completed trial and the best value so far, against trial id."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    done = df[df["status"] == "completed"].sort_values("id")
    failed = df[df["status"] == "failed"]
    if len(done):
        values = done[objective].astype(float)
        best = values.cummin() if minimize else values.cummax()
        by_gen = done.groupby("generator") if "generator" in done else [("trials", done)]
        for gen, part in by_gen:
            ax.scatter(part["id"], part[objective].astype(float), s=18, label=str(gen), alpha=0.8)
        ax.step(done["id"], best, where="post", color="black", label="best so far")
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

"""Helpers shared by the peer benchmarks (``multi_objective.py``, ``constrained.py``,
``stopping.py``): quiet peers, timed ask/tell, seeded Sobol points, summary statistics
and the run's environment line.

Not a benchmark itself; the scripts import it as a sibling module when run from the
repository root (``.venv/bin/python benchmarks/<name>.py``).
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

import torch
from torch.quasirandom import SobolEngine

T = TypeVar("T")

#: Threads per process: the machine has 2 cores shared with other jobs, and Optuna's
#: GPSampler limits torch to 1 thread inside its own steps anyway, so every method gets 1.
THREADS = 1


def set_threads(threads: int = THREADS) -> None:
    torch.set_num_threads(threads)


def silence_peers() -> None:
    """Quiet Ax and Optuna, and import them now so that no run's timing pays for it."""
    logging.disable(logging.INFO)  # Ax logs at INFO while it is imported
    import ax.api  # noqa: F401
    import optuna
    from ax.utils.common.logger import set_ax_logger_levels, set_stderr_log_level

    logging.disable(logging.NOTSET)
    set_ax_logger_levels(logging.WARNING)
    set_stderr_log_level(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # optuna.terminator is deprecated since Optuna 4.9 (FutureWarning on each Terminator).
    warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")
    logging.getLogger("bayesopt").setLevel(logging.ERROR)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the wall seconds it took."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def sobol_points(dim: int, n: int, seed: int) -> list[list[float]]:
    """``n`` points of the scrambled Sobol sequence in ``[0, 1]^dim``, seeded."""
    engine = SobolEngine(dim, scramble=True, seed=seed)
    return engine.draw(n, dtype=torch.float64).tolist()


def median(xs: Sequence[float]) -> float:
    """Median of the values that are not NaN (``inf`` counts: a run that found nothing)."""
    good = [x for x in xs if not math.isnan(x)]
    return statistics.median(good) if good else math.nan


def iqr(xs: Sequence[float]) -> tuple[float, float]:
    """25th and 75th percentiles (inclusive method) of the values that are not NaN."""
    good = sorted(x for x in xs if not math.isnan(x))
    if not good:
        return math.nan, math.nan
    if len(good) == 1:
        return good[0], good[0]
    if any(math.isinf(x) for x in good):  # quantiles() cannot interpolate with inf
        k = len(good) - 1
        return good[round(0.25 * k)], good[round(0.75 * k)]
    q1, _, q3 = statistics.quantiles(good, n=4, method="inclusive")
    return q1, q3


def fmt(x: float, digits: int = 2) -> str:
    if math.isnan(x):
        return "failed"
    if math.isinf(x):
        return "none" if x > 0 else "-inf"
    return f"{x:.{digits}f}"


def ratio(ours: float, theirs: float, method: str = "") -> str:
    """Our seconds over theirs, e.g. ``3.10x`` (``n/a`` where either is missing, ``-``
    for the Sobol floor, which makes no decision worth timing)."""
    if method == "sobol":
        return "-"
    if math.isnan(ours) or math.isnan(theirs) or theirs <= 0:
        return "n/a"
    return f"{ours / theirs:.2f}x"


def environment(budgets: dict[str, int], seeds: list[int]) -> str:
    import ax
    import botorch
    import optuna

    return (
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; machine: {os.cpu_count()} CPUs, "
        f"shared with other jobs, so seconds are indicative (torch threads "
        f"{torch.get_num_threads()}); torch {torch.__version__}, botorch {botorch.__version__}, "
        f"ax {ax.__version__}, optuna {optuna.__version__}; budgets (trials): "
        f"{', '.join(f'{k}={v}' for k, v in budgets.items())}; seeds: {seeds}"
    )


def command(argv: Sequence[str] | None, script: str) -> str:
    """The command line that made a report, as it would be typed from the repository root."""
    import shlex
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join([".venv/bin/python", f"benchmarks/{script}", *map(shlex.quote, args)])


#: Trials after which every method here decides with its model: this project's Sobol
#: design has max(5, 2d) points (12 at d=6), Optuna's samplers start with 10 random
#: trials, Ax's Client with 5 (the centre, then Sobol points).
MODEL_FROM = 12


def decision_seconds(ask_s: Sequence[float]) -> tuple[float, float]:
    """Mean seconds per decision over all trials, and over trials after ``MODEL_FROM``."""
    if not ask_s:
        return math.nan, math.nan
    late = ask_s[MODEL_FROM:]
    return statistics.fmean(ask_s), statistics.fmean(late) if late else math.nan

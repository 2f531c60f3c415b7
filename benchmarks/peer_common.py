"""Helpers shared by the peer benchmarks (``compare_peers.py``, ``high_dim.py``,
``multi_objective.py``, ``constrained.py``, ``stopping.py``, ...): quiet peers, timed
ask/tell, seeded Sobol points, summary statistics, the run's environment line, and runs
spread over forked worker processes (``run_tasks``).

Not a benchmark itself; the scripts import it as a sibling module when run from the
repository root (``.venv/bin/python benchmarks/<name>.py``).
"""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch.quasirandom import SobolEngine

T = TypeVar("T")
R = TypeVar("R")

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
    import numpy
    import optuna
    import scipy

    return (
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; machine: {os.cpu_count()} CPUs, "
        f"shared with other jobs, so seconds are indicative (torch threads "
        f"{torch.get_num_threads()}); torch {torch.__version__}, botorch {botorch.__version__}, "
        f"ax {ax.__version__}, optuna {optuna.__version__}, numpy {numpy.__version__}, "
        f"scipy {scipy.__version__}; budgets (trials): "
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


#: Random trials before Optuna's samplers (TPE and GP) use their model.
OPTUNA_STARTUP = 10


def optuna_ask_tell(
    sampler: object,
    bounds: dict[str, tuple[float, float]],
    budget: int,
    evaluate: Callable[[dict[str, float]], float],
) -> tuple[list[float], list[bool]]:
    """``budget`` trials of a minimizing Optuna study with ``sampler`` over float inputs
    (name -> bounds), one ``ask`` / ``tell`` at a time. Returns the seconds inside each
    ``ask`` and whether it was past the random start-up (``OPTUNA_STARTUP``)."""
    import optuna
    from optuna.distributions import BaseDistribution, FloatDistribution

    study = optuna.create_study(direction="minimize", sampler=sampler)  # type: ignore[arg-type]
    space: dict[str, BaseDistribution] = {
        n: FloatDistribution(lo, hi) for n, (lo, hi) in bounds.items()
    }
    ask_s: list[float] = []
    for _ in range(budget):
        trial, seconds = timed(lambda: study.ask(fixed_distributions=space))
        ask_s.append(seconds)
        study.tell(trial, evaluate(trial.params))
    return ask_s, [i >= OPTUNA_STARTUP for i in range(budget)]


def write_report(text: str, output: Path) -> None:
    """Print the finished report and write it to ``output``."""
    print(text)
    output.write_text(text)
    print(f"written to {output}", file=sys.stderr)


#: The calls ``run_tasks`` hands to its forked workers: they inherit this list when
#: they are forked, so that only an index is pickled (closures and test functions need
#: not be picklable); results come back pickled.
_FORKED: list[Callable[[], Any]] = []


def _forked(index: int) -> Any:
    return _FORKED[index]()


def run_tasks(
    tasks: Sequence[T],
    fn: Callable[[T], R],
    jobs: int,
    on_result: Callable[[T, R], None],
    initializer: Callable[[], None] | None = None,
) -> None:
    """``fn(task)`` for every task, and ``on_result(task, result)`` in this process as
    each one finishes.

    ``jobs <= 1``: one after the other in this process, in order. Otherwise ``jobs``
    worker processes forked from this one (call ``set_threads`` first: they inherit
    the torch thread count) take the tasks in order and ``on_result`` sees them in the
    order they finish; each run is timed inside its own process. ``fn``'s result must
    be picklable; an exception that escapes ``fn`` is raised here.

    ``initializer`` (a warm-up, say) runs once in every process that runs tasks,
    before its first task. Run warm-ups there rather than before forking: a parent
    whose JAX runtime has started its threads (a NUTS fit) can deadlock its forks.
    """
    if jobs <= 1:
        if initializer is not None:
            initializer()
        for task in tasks:
            on_result(task, fn(task))
        return
    _FORKED[:] = [functools.partial(fn, task) for task in tasks]
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=initializer
        ) as pool:
            futures = {pool.submit(_forked, i): task for i, task in enumerate(tasks)}
            for future in as_completed(futures):
                on_result(futures[future], future.result())
    finally:
        _FORKED.clear()

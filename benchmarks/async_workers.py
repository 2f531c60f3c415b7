"""Synchronous batches against asynchronous workers, through the real flow.

The same experiment runs twice per seed through ``flows.optimize.optimize`` (Prefect's
local API, MLflow on SQLite, Prefect's thread pool task runner with ``q = 4``
threads): once in batches of 4 (suggest 4, wait for all 4, repeat) and once with
``asynchronous=True`` (4 evaluations in flight; each time one ends, the next trial
is decided with the other 3 as pending points and started).

The objective is Branin (``botorch.test_functions.Branin``, minimized; regret is the
best value found minus its known optimum 0.397887) whose evaluation sleeps a time
drawn from a wide distribution: lognormal with median 1 s and sigma 1, capped at 8 s.
The ``k``-th evaluation to start in a run sleeps the ``k``-th draw of a sequence
seeded by the run's seed, so both modes of a seed meet the same durations in the
same order. Same budget, same seeds, same Sobol design (8 points) for both modes.

Per mode (medians over seeds): wall time of the flow, trials completed per minute,
log10 simple regret after the budget (the same number of trials in both modes),
worker utilisation (the time spent evaluating divided by ``q x wall``), and the
seconds spent deciding (surrogate fits and acquisition optimization, which the flow
does one at a time: ``budget / q`` joint decisions in batches, up to one per trial
asynchronously). Printed and written to ``benchmarks/results/async_workers.md``.

Run from the repository root::

    .venv/bin/python benchmarks/async_workers.py            # 3 seeds, 24 trials (2-5 min)
    .venv/bin/python benchmarks/async_workers.py --quick    # smoke run: 1 seed, 12 short trials
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results" / "async_workers.md"
WORKERS = 4
N_SOBOL = 8
CAP_SECONDS = 8.0

EXPERIMENT = """
import itertools, json, time
from pathlib import Path

import torch
from botorch.test_functions import Branin

from bayesopt import Experiment, Float, Objective

SLEEPS = {sleeps!r}
LOG = Path(__file__).with_suffix(".jsonl")
_started = itertools.count()  # the module is imported once per process
_branin = Branin()


def evaluate(x1: float, x2: float):
    k = next(_started)
    start = time.time()
    time.sleep(SLEEPS[k % len(SLEEPS)])
    y = float(_branin.evaluate_true(torch.tensor([[x1, x2]], dtype=torch.float64)).item())
    with LOG.open("a") as f:
        f.write(json.dumps({{"k": k, "start": start, "end": time.time()}}) + "\\n")
    return {{"y": y}}


experiment = Experiment(
    name="{name}", parameters=[Float("x1", -5.0, 10.0), Float("x2", 0.0, 15.0)],
    objectives=[Objective("y")], evaluate=evaluate, budget={budget}, batch_size={workers},
    initial_trials={n_sobol}, seed={seed},
)
"""


@dataclass(frozen=True)
class Run:
    mode: str
    seed: int
    wall: float
    busy: float
    completed: int
    log10_regret: float
    deciding: float

    @property
    def per_minute(self) -> float:
        return self.completed / self.wall * 60

    @property
    def utilisation(self) -> float:
        return self.busy / (WORKERS * self.wall)


def sleeps(seed: int, n: int, median: float) -> list[float]:
    """``n`` evaluation times: lognormal with the given median and sigma 1, capped."""
    rng = np.random.default_rng(seed)
    draws = median * rng.lognormal(mean=0.0, sigma=1.0, size=n)
    return [round(min(float(s), CAP_SECONDS * median), 3) for s in draws]


def write_experiment(
    folder: Path, name: str, seed: int, budget: int, durations: list[float]
) -> Path:
    path = folder / f"{name}.py"
    path.write_text(
        EXPERIMENT.format(
            sleeps=durations,
            name=name,
            budget=budget,
            workers=WORKERS,
            n_sobol=min(N_SOBOL, budget),
            seed=seed,
        )
    )
    return path


def one_run(folder: Path, mode: str, seed: int, budget: int, median: float) -> Run:
    from botorch.test_functions import Branin

    from bayesopt import Optimizer, TrialStatus
    from flows.loading import load_experiment
    from flows.optimize import optimize
    from flows.runners import make_task_runner

    name = f"{mode}_{seed}"
    path = write_experiment(folder, name, seed, budget, sleeps(seed, budget, median))
    store = f"sqlite:///{folder / f'{name}.db'}"
    flow = optimize.with_options(task_runner=make_task_runner("thread", workers=WORKERS))
    t0 = time.perf_counter()
    flow(
        str(path),
        seed=seed,
        storage=store,
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        asynchronous=mode == "async",
    )
    wall = time.perf_counter() - t0
    spans = [json.loads(line) for line in path.with_suffix(".jsonl").read_text().splitlines()]
    done = Optimizer(load_experiment(path), storage=store).all_trials(TrialStatus.COMPLETED)
    # One decision per suggest call: the trials of a batch share their fit and acquisition.
    decisions = {
        (t.created_at, t.metadata["fit_seconds"], t.metadata["acq_seconds"])
        for t in done
        if "acq_seconds" in t.metadata
    }
    best = min(t.values["y"] for t in done if t.values)
    regret = max(best - Branin().optimal_value, 1e-12)
    return Run(
        mode,
        seed,
        wall,
        busy=sum(s["end"] - s["start"] for s in spans),
        completed=len(done),
        log10_regret=math.log10(regret),
        deciding=sum(fit + acq for _, fit, acq in decisions),
    )


def warm_up(folder: Path) -> None:
    """Start Prefect's local API and create MLflow's database: one-time costs of neither mode."""
    from flows.optimize import optimize

    path = write_experiment(folder, "warm_up", 0, 1, [0.0])
    optimize(
        str(path),
        storage=f"sqlite:///{folder / 'warm_up.db'}",
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
    )


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def tables(runs: list[Run]) -> str:
    modes = ["sync", "async"]
    by_mode = {m: [r for r in runs if r.mode == m] for m in modes}
    base_wall = median([r.wall for r in by_mode["sync"]])
    lines = [
        "| mode | median wall s | wall vs sync | trials/min | median log10 regret "
        "| worker utilisation | deciding s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in modes:
        rs = by_mode[m]
        wall = median([r.wall for r in rs])
        label = f"batches of {WORKERS}" if m == "sync" else f"async, {WORKERS} in flight"
        lines.append(
            f"| {label} | {wall:.1f} | {wall / base_wall:.2f}x "
            f"| {median([r.per_minute for r in rs]):.1f} "
            f"| {median([r.log10_regret for r in rs]):.2f} "
            f"| {median([r.utilisation for r in rs]):.0%} "
            f"| {median([r.deciding for r in rs]):.1f} |"
        )
    lines += ["", "Per seed:", ""]
    lines.append(
        "| mode | seed | wall s | busy s | deciding s | trials | trials/min | log10 regret | use |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in sorted(runs, key=lambda r: (r.seed, r.mode != "sync")):
        lines.append(
            f"| {r.mode} | {r.seed} | {r.wall:.1f} | {r.busy:.1f} | {r.deciding:.1f} "
            f"| {r.completed} "
            f"| {r.per_minute:.1f} | {r.log10_regret:.2f} | {r.utilisation:.0%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synchronous batches against async workers.")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1")
    parser.add_argument("--budget", type=int, default=24, help="trials per run")
    parser.add_argument("--median", type=float, default=1.0, help="median evaluation seconds")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 12 short trials")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="threads of the model fits (on a shared 2-core machine 2 threads contend and "
        "make each decision several times slower)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.budget, args.median = 1, 12, 0.25
    torch.set_num_threads(args.torch_threads)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

    start = time.perf_counter()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        warm_up(Path(tmp))
        for seed in range(args.seeds):  # modes interleaved per seed, so contention is shared
            for mode in ("sync", "async"):
                run = one_run(Path(tmp), mode, seed, args.budget, args.median)
                runs.append(run)
                print(
                    f"[{time.perf_counter() - start:6.1f}s] {mode} seed={seed}: {run.wall:.1f} s, "
                    f"{run.completed} trials, log10 regret {run.log10_regret:.2f}, "
                    f"utilisation {run.utilisation:.0%}",
                    file=sys.stderr,
                    flush=True,
                )
    total = time.perf_counter() - start

    report = (
        f"# Asynchronous workers{' (quick)' if args.quick else ''}\n\n"
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; machine: {os.cpu_count()} CPUs "
        f"(torch threads {torch.get_num_threads()}); Branin, {args.budget} trials "
        f"({N_SOBOL} Sobol), q = {WORKERS} threads, evaluation time lognormal with median "
        f"{args.median:g} s and sigma 1, capped at {CAP_SECONDS * args.median:g} s; seeds "
        f"0..{args.seeds - 1}; total runtime {total / 60:.1f} min.\n\n"
        f"{tables(runs)}\n"
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 0 if all(r.completed == args.budget for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())

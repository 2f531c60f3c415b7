"""Orchestration overhead and multi-worker throughput, measured in one run.

1. Overhead: the same experiment with a zero-cost objective, run as the bare
   ask/tell loop and as the Prefect flow with MLflow tracking (Prefect's local API,
   MLflow on SQLite); seconds per trial of each and their difference. Sobol-only
   (``initial_trials = budget``), so that model time does not hide the orchestration.
2. Throughput: N worker processes (1, 2, 4) share one store, each suggesting with
   ``claim=True`` and evaluating a 0.5 s sleep; trials per minute, on SQLite and on
   PostgreSQL (``BAYESOPT_TEST_POSTGRES_URL``, default the local server).

Run from the repository root::

    .venv/bin/python benchmarks/orchestration.py [--trials 40] [--sleep 0.5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "BAYESOPT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

EXPERIMENT = """
import time
from bayesopt import Experiment, Float, Objective

SLEEP = {sleep}

def evaluate(x1: float, x2: float, x3: float):
    if SLEEP:
        time.sleep(SLEEP)
    return {{"y": (x1 - 0.3) ** 2 + (x2 - 0.6) ** 2 + x3}}

experiment = Experiment(
    name="{name}", parameters=[Float("x1", 0, 1), Float("x2", 0, 1), Float("x3", 0, 1)],
    objectives=[Objective("y")], evaluate=evaluate, budget={budget},
    initial_trials={budget}, seed=0,
)
"""

WORKER = """
import sys
from flows.loading import load_experiment
from bayesopt import Optimizer, evaluate_point
exp = load_experiment(sys.argv[1])
opt = Optimizer(exp, storage=sys.argv[2], device="cpu")
for _ in range(int(sys.argv[3])):
    (trial,) = opt.suggest(1, claim=True)
    opt.observe(trial, evaluate_point(exp, trial.params))
"""


def write_experiment(folder: Path, sleep: float, budget: int) -> Path:
    path = folder / f"bench_{uuid.uuid4().hex[:8]}.py"
    path.write_text(EXPERIMENT.format(sleep=sleep, budget=budget, name=path.stem))
    return path


def overhead(trials: int) -> tuple[float, float]:
    from bayesopt import Optimizer, evaluate_point
    from flows.loading import load_experiment
    from flows.optimize import optimize

    with tempfile.TemporaryDirectory() as tmp:
        path = write_experiment(Path(tmp), 0.0, trials)
        exp = load_experiment(path)
        opt = Optimizer(exp, storage=f"sqlite:///{tmp}/bare.db")
        t0 = time.perf_counter()
        for _ in range(trials):
            (trial,) = opt.suggest(1)
            opt.observe(trial, evaluate_point(exp, trial.params))
        bare = (time.perf_counter() - t0) / trials
        # Warm Prefect's local API and MLflow's database first: one-time start-up
        # costs are not per-trial overhead.
        optimize(str(path), budget=1, storage=f"sqlite:///{tmp}/warm.db",
                 tracking_uri=f"sqlite:///{tmp}/ml.db")  # fmt: skip
        t0 = time.perf_counter()
        optimize(str(path), storage=f"sqlite:///{tmp}/flow.db",
                 tracking_uri=f"sqlite:///{tmp}/ml.db")  # fmt: skip
        flow = (time.perf_counter() - t0) / trials
    return bare, flow


def throughput(url: str, workers: int, trials: int, sleep: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_experiment(Path(tmp), sleep, trials)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        script = textwrap.dedent(WORKER)
        # Imports and connection set-up are not throughput: create the experiment first.
        subprocess.run([sys.executable, "-c", script, str(path), url, "0"], env=env, check=True)
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(path), url, str(trials // workers)], env=env
            )
            for _ in range(workers)
        ]
        for p in procs:
            if p.wait() != 0:
                raise RuntimeError("a worker failed")
        return trials / ((time.perf_counter() - t0) / 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--sleep", type=float, default=0.5)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

    bare, flow = overhead(args.trials)
    print(f"## Orchestration overhead ({args.trials} trials, zero-cost objective, Sobol)\n")
    print("| loop | s/trial | ratio |\n|---|---:|---:|")
    print(f"| bare ask/tell | {bare:.4f} | 1.00x |")
    print(f"| Prefect flow + MLflow | {flow:.4f} | {flow / bare:.1f}x |")
    print(f"\nadded by orchestration: {flow - bare:.3f} s per trial\n")

    print(f"## Throughput ({args.trials} trials of a {args.sleep} s objective)\n")
    print("| store | workers | trials/min | ideal |\n|---|---:|---:|---:|")
    for label, url in (("SQLite", None), ("PostgreSQL", POSTGRES_URL)):
        for n in (1, 2, 4):
            with tempfile.TemporaryDirectory() as tmp:
                store = url or f"sqlite:///{tmp}/tp.db"
                rate = throughput(store, n, args.trials, args.sleep)
            print(f"| {label} | {n} | {rate:.0f} | {n * 60 / args.sleep:.0f} |", flush=True)


if __name__ == "__main__":
    main()

"""Ax inside the workflow: what our store, flow and tracking add around Ax's own strategy.

The same problem (Branin on [0, 1]^2, zero-cost objective, one trial at a time) run
three ways, seeds 0..S-1:

1. ``ax bare``: ``ax.api.Client`` driven by hand (``get_next_trials`` /
   ``complete_trial``), the floor.
2. ``ask/tell``: ``Experiment(strategy="ax")`` through ``Optimizer.suggest`` /
   ``observe`` on a SQLite store (Ax decides; every trial is written to our store,
   and the Client is kept between decisions).
3. ``flow``: the same experiment through the Prefect flow with MLflow tracking
   (Prefect's local API and MLflow on SQLite, both warmed first so that one-time
   start-up is not counted).

Per-trial wall seconds (median over seeds) and the overhead of 2 and 3 over 1, in
seconds per trial and as a ratio. Ax's own decision time grows with its model phase,
so the difference, not the ratio, is the overhead.

Run from the repository root::

    .venv/bin/python benchmarks/ax_overhead.py [--trials 20] [--seeds 3]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from peer_common import command, median, set_threads, silence_peers

RESULTS = Path(__file__).resolve().parent / "results" / "ax_overhead.md"

EXPERIMENT = """
import math
from bayesopt import Experiment, Float, Objective

def evaluate(x1: float, x2: float):
    a, b = 15 * x1 - 5, 15 * x2
    return {{"y": (b - 5.1 / (4 * math.pi**2) * a**2 + 5 / math.pi * a - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(a) + 10}}

experiment = Experiment(
    name="{name}", parameters=[Float("x1", 0.0, 1.0), Float("x2", 0.0, 1.0)],
    objectives=[Objective("y")], evaluate=evaluate, budget={budget}, strategy="ax",
    seed={seed},
)
"""


def branin(x1: float, x2: float) -> float:
    a, b = 15 * x1 - 5, 15 * x2
    return (
        (b - 5.1 / (4 * math.pi**2) * a**2 + 5 / math.pi * a - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(a)
        + 10
    )


def bare(trials: int, seed: int) -> float:
    from ax.api import Client, RangeParameterConfig

    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name=n, bounds=(0.0, 1.0), parameter_type="float")
            for n in ("x1", "x2")
        ],
        name="bare",
    )
    client.configure_optimization(objective="-y")
    t0 = time.perf_counter()
    for _ in range(trials):
        ((index, params),) = client.get_next_trials(max_trials=1).items()
        client.complete_trial(
            trial_index=index, raw_data={"y": branin(float(params["x1"]), float(params["x2"]))}
        )
    return (time.perf_counter() - t0) / trials


def write(folder: Path, trials: int, seed: int) -> Path:
    name = f"ax_{uuid.uuid4().hex[:8]}"
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(EXPERIMENT.format(name=name, budget=trials, seed=seed)))
    return path


def ask_tell(trials: int, seed: int) -> float:
    from bayesopt import Optimizer, evaluate_point
    from flows.loading import load_experiment

    with tempfile.TemporaryDirectory() as tmp:
        exp = load_experiment(write(Path(tmp), trials, seed))
        opt = Optimizer(exp, storage=f"sqlite:///{tmp}/s.db")
        t0 = time.perf_counter()
        for _ in range(trials):
            (trial,) = opt.suggest(1)
            opt.observe(trial, evaluate_point(exp, trial.params))
        return (time.perf_counter() - t0) / trials


def flow(trials: int, seed: int) -> float:
    from flows.optimize import optimize

    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), trials, seed)
        tracking = f"sqlite:///{tmp}/ml.db"
        warm = write(Path(tmp), 1, seed)
        optimize(str(warm), storage=f"sqlite:///{tmp}/warm.db", tracking_uri=tracking)
        t0 = time.perf_counter()
        optimize(str(path), storage=f"sqlite:///{tmp}/flow.db", tracking_uri=tracking)
        return (time.perf_counter() - t0) / trials


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    set_threads()
    silence_peers()
    import ax

    started = time.perf_counter()
    rows: dict[str, list[float]] = {"ax bare": [], "ask/tell (our store)": [], "flow": []}
    for seed in range(args.seeds):
        rows["ax bare"].append(bare(args.trials, seed))
        rows["ask/tell (our store)"].append(ask_tell(args.trials, seed))
        rows["flow"].append(flow(args.trials, seed))
        print(f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in rows.items()))
    floor = median(rows["ax bare"])
    lines = [
        "# Ax inside the workflow: per-trial overhead",
        "",
        f"Command: `{command(argv, 'ax_overhead.py')}`",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs shared "
        f"with other jobs (seconds are indicative); ax {ax.__version__}; Branin on [0, 1]^2, "
        f"{args.trials} trials one at a time, zero-cost objective, seeds 0..{args.seeds - 1}; "
        f"total {(time.perf_counter() - started) / 60:.1f} min.",
        "",
        "| loop | median s/trial | overhead s/trial | ratio to bare Ax |",
        "|---|---:|---:|---:|",
    ]
    for name, values in rows.items():
        m = median(values)
        lines.append(f"| {name} | {m:.3f} | {m - floor:+.3f} | {m / floor:.2f}x |")
    lines += ["", "Per seed (s/trial):", "", "| loop | " + " | ".join(
        str(s) for s in range(args.seeds)) + " |", "|---|" + "---:|" * args.seeds]  # fmt: skip
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.output.write_text(text)


if __name__ == "__main__":
    main()

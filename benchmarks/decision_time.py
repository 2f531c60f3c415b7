"""Seconds per decision on each device: how long ``Optimizer.suggest(1)`` makes a user wait.

A decision fits one surrogate per modelled outcome and optimizes the acquisition.
For each scenario and device, ``n`` completed trials at seeded uniform points are
imported into an in-memory store (one transaction), then ``suggest(1)`` is timed
``--repeats`` times (the first call, which loads CUDA kernels and compiles, is a
warm-up and not counted); the table gives the median, and the CPU/GPU ratio where
both ran. Scenarios:

* ``hartmann6 n``: one objective (Hartmann6, d = 6), exact GP + qLogNEI;
* ``hartmann6+c n``: the same with the outcome constraint ``sum(x) <= 3`` (two models);
* ``branincurrin n``: two objectives (BoTorch's BraninCurrin, d = 2), qLogNEHVI.

Run from the repository root::

    .venv/bin/python benchmarks/decision_time.py                 # every available device
    .venv/bin/python benchmarks/decision_time.py --quick         # small n only
    .venv/bin/python benchmarks/decision_time.py --output FILE   # where the table goes
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from botorch.test_functions import Hartmann
from botorch.test_functions.multi_objective import BraninCurrin

from bayesopt import Experiment, Float, Objective, Optimizer

RESULTS = Path(__file__).resolve().parent / "results" / "decision_time.md"


@dataclass(frozen=True)
class Scenario:
    name: str
    n: int
    experiment: Callable[[], Experiment]
    outcomes: Callable[[np.ndarray], dict[str, np.ndarray]]
    dim: int


def _hartmann(constrained: bool) -> Callable[[], Experiment]:
    def build() -> Experiment:
        return Experiment(
            name="hartmann6" + ("-c" if constrained else ""),
            parameters=[Float(f"x{i}", 0.0, 1.0) for i in range(6)],
            objectives=[Objective("f")],
            constraints=["c <= 3"] if constrained else [],
        )

    return build


def _hartmann_values(X: np.ndarray) -> dict[str, np.ndarray]:
    f = Hartmann(dim=6)(torch.as_tensor(X)).numpy()
    return {"f": f, "c": X.sum(axis=1)}


def _branincurrin() -> Experiment:
    return Experiment(
        name="branincurrin",
        parameters=[Float("x0", 0.0, 1.0), Float("x1", 0.0, 1.0)],
        objectives=[Objective("f0"), Objective("f1")],
    )


def _branincurrin_values(X: np.ndarray) -> dict[str, np.ndarray]:
    Y = BraninCurrin()(torch.as_tensor(X)).numpy()
    return {"f0": Y[:, 0], "f1": Y[:, 1]}


def scenarios(quick: bool) -> list[Scenario]:
    sizes = [50, 200] if quick else [50, 200, 1000, 2000]
    out = [Scenario(f"hartmann6 n={n}", n, _hartmann(False), _hartmann_values, 6) for n in sizes]
    out += [
        Scenario(f"hartmann6+c n={n}", n, _hartmann(True), _hartmann_values, 6) for n in sizes[:3]
    ]
    out += [
        Scenario(f"branincurrin n={n}", n, _branincurrin, _branincurrin_values, 2)
        for n in sizes[:3]
    ]
    return out


def time_decisions(scenario: Scenario, device: str, repeats: int) -> float:
    """Median seconds of ``suggest(1)`` after a warm-up call."""
    exp = scenario.experiment()
    opt = Optimizer(exp, seed=0, device=device)
    rng = np.random.default_rng(0)
    X = rng.random((scenario.n, scenario.dim))
    table = pd.DataFrame(X, columns=list(exp.space.names))
    for name, values in scenario.outcomes(X).items():
        if name in exp.modelled_outcomes:
            table[name] = values
    opt.import_trials(table)
    times = []
    for i in range(repeats + 1):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        (trial,) = opt.suggest(1)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t0)
        assert "fallback" not in trial.metadata, trial.metadata["fallback"]
        opt.abandon(trial, "timing only")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--devices", default="", help="comma list; default: cpu and cuda if any")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    argv = argv if argv is not None else sys.argv[1:]
    devices = [d for d in args.devices.split(",") if d] or (
        ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    )
    rows = []
    for scenario in scenarios(args.quick):
        cells = {d: time_decisions(scenario, d, args.repeats) for d in devices}
        rows.append((scenario.name, cells))
        print(scenario.name, {d: round(s, 3) for d, s in cells.items()}, flush=True)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = [
        "# Seconds per decision",
        "",
        f"{datetime.now():%Y-%m-%d}: `python benchmarks/decision_time.py {' '.join(argv or [])}`",
        f"CPU threads: {torch.get_num_threads()} ({os.cpu_count()} cores); GPU: {gpu}; "
        f"torch {torch.__version__}. Median of {args.repeats} decisions after a warm-up.",
        "",
        "| scenario | "
        + " | ".join(f"{d} s" for d in devices)
        + (" | cpu / cuda |" if len(devices) > 1 else " |"),
        "|---|" + "---:|" * (len(devices) + (1 if len(devices) > 1 else 0)),
    ]
    for name, cells in rows:
        ratio = f" | {cells['cpu'] / cells['cuda']:.2f}" if len(devices) > 1 else ""
        lines.append(f"| {name} | " + " | ".join(f"{cells[d]:.3f}" for d in devices) + ratio + " |")
    text = "\n".join(lines) + "\n"
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

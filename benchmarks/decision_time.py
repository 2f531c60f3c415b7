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

``--breakdown`` times the default's single-objective decision where runs spend their
time instead (Branin, d = 2, and Hartmann6, d = 6, at n = 10, 30 and 60), split into
the parts each trial records: the GP fit (``fit_seconds``), the held-out diagnostics
(``cv_seconds``), the acquisition's optimization (``acq_seconds``) and the rest (store,
history, encoding).

Run from the repository root::

    .venv/bin/python benchmarks/decision_time.py                 # every available device
    .venv/bin/python benchmarks/decision_time.py --quick         # small n only
    .venv/bin/python benchmarks/decision_time.py --output FILE   # where the table goes
    .venv/bin/python benchmarks/decision_time.py --breakdown --devices cpu --repeats 5 \
        --output benchmarks/results/decision_breakdown.md
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
from botorch.test_functions import Branin, Hartmann
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


def _branin() -> Experiment:
    return Experiment(
        name="branin",
        parameters=[Float("x0", 0.0, 1.0), Float("x1", 0.0, 1.0)],
        objectives=[Objective("f", minimize=True)],
    )


def _branin_values(X: np.ndarray) -> dict[str, np.ndarray]:
    return {"f": Branin()(torch.as_tensor(X) * 15 + torch.tensor([-5.0, 0.0])).numpy()}


def breakdown_scenarios() -> list[Scenario]:
    out = []
    for n in (10, 30, 60):
        out.append(Scenario(f"branin n={n}", n, _branin, _branin_values, 2))
        out.append(Scenario(f"hartmann6 n={n}", n, _hartmann(False), _hartmann_values, 6))
    return out


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
    return time_parts(scenario, device, repeats)["total"]


def time_parts(scenario: Scenario, device: str, repeats: int) -> dict[str, float]:
    """Medians of ``suggest(1)``'s seconds after a warm-up call: ``total`` and the parts
    the trial records (``fit``, ``cv``, ``acq``) and the rest (``other``)."""
    exp = scenario.experiment()
    opt = Optimizer(exp, seed=0, device=device)
    rng = np.random.default_rng(0)
    X = rng.random((scenario.n, scenario.dim))
    table = pd.DataFrame(X, columns=list(exp.space.names))
    for name, values in scenario.outcomes(X).items():
        if name in exp.modelled_outcomes:
            table[name] = values
    opt.import_trials(table)
    times: list[float] = []
    parts: dict[str, list[float]] = {"fit": [], "cv": [], "acq": []}
    for i in range(repeats + 1):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        (trial,) = opt.suggest(1)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t0)
            for part in parts:
                parts[part].append(float(trial.metadata.get(f"{part}_seconds", 0.0)))
        assert "fallback" not in trial.metadata, trial.metadata["fallback"]
        opt.abandon(trial, "timing only")
    out = {"total": statistics.median(times)}
    out.update({part: statistics.median(v) for part, v in parts.items()})
    out["other"] = statistics.median(
        [t - sum(parts[p][i] for p in parts) for i, t in enumerate(times)]
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--devices", default="", help="comma list; default: cpu and cuda if any")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--breakdown", action="store_true", help="split the default's decision into its parts"
    )
    args = parser.parse_args(argv)
    argv = argv if argv is not None else sys.argv[1:]
    if args.breakdown:
        return breakdown(args, argv)
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


def breakdown(args: argparse.Namespace, argv: list[str]) -> int:
    torch.set_num_threads(1)
    device = (args.devices.split(",")[0] if args.devices else "") or "cpu"
    lines = [
        "# Where a decision's time goes",
        "",
        f"{datetime.now():%Y-%m-%d}: `python benchmarks/decision_time.py {' '.join(argv)}`",
        f"Device {device}, torch threads 1 ({os.cpu_count()} cores, shared), torch "
        f"{torch.__version__}. The default's decision (exact GP with its unit priors, "
        "qLogNEI in closed form) after n completed trials at seeded uniform points; "
        f"medians of {args.repeats} decisions after a warm-up, in seconds.",
        "",
        "| scenario | total | GP fit | held-out (LOO) | acquisition | other |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for scenario in breakdown_scenarios():
        t = time_parts(scenario, device, args.repeats)
        print(scenario.name, {k: round(v, 3) for k, v in t.items()}, flush=True)
        lines.append(
            f"| {scenario.name} | {t['total']:.3f} | {t['fit']:.3f} | {t['cv']:.4f} "
            f"| {t['acq']:.3f} | {t['other']:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

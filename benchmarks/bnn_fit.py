"""Fit time and held-out quality of the ``"bnn"`` surrogate (SVI, default settings) at large N.

Data: Friedman's function #1 in d = 10 dimensions (Friedman 1991), of which 5 inputs
matter, ``f(x) = 10 sin(pi x1 x2) + 20 (x3 - 1/2)^2 + 10 x4 + 5 x5``, with inputs
uniform on the unit cube and Gaussian noise of standard deviation 1 (its outcome
standard deviation is about 5). For each N (1,000 and 10,000) and seed (0, 1, 2) the
training set is drawn with that seed, ``BayesianNN()`` (default options: one hidden
layer of 32 units, 1,000 SVI steps, minibatches of 512) is fitted with
``FitSpec(seed=seed)``, and 2,000 held-out noisy points are scored:

* fit seconds: wall time of ``fit`` (guide sampling included; CUDA synchronized), and
  the process CPU time it took (on shared cores, closer to the uncontended wall time);
* RMSE of the predictive mean against the noisy held-out outcomes (the noise floor is
  1.0; the mean predictor scores about 5);
* PICP: the share of held-out outcomes inside the central 95% predictive interval
  (ideally 0.95), and MPIW its mean width.

The table gives medians over seeds; it is printed and written to
``benchmarks/results/bnn_fit.md``. CUDA is used when available (``--device`` overrides).
On the CPU torch runs on one thread unless ``--threads`` says otherwise: a Pyro SVI
step on a network this small is dominated by Python overhead, and two threads on
two shared cores were 4-5 times slower than one.

Run from the repository root::

    .venv/bin/python benchmarks/bnn_fit.py            # full run (about 3 min on 2 cores)
    .venv/bin/python benchmarks/bnn_fit.py --quick    # smoke run: N = 1,000, one seed
    .venv/bin/python benchmarks/bnn_fit.py --sizes 1000 --seeds 5 --device cpu
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch

from surrogates.base import FitSpec, SurrogateFallbackWarning, fit_info
from surrogates.bnn import BayesianNN
from surrogates.predictive import predictive

RESULTS = Path(__file__).resolve().parent / "results" / "bnn_fit.md"
DIM = 10
NOISE = 1.0
TEST_POINTS = 2000
LEVEL = 0.95


def friedman1(X: torch.Tensor) -> torch.Tensor:
    """Friedman #1 on ``n x d`` inputs (``d >= 5``); an ``n x 1`` tensor."""
    x = X.T
    f = 10 * torch.sin(math.pi * x[0] * x[1]) + 20 * (x[2] - 0.5) ** 2 + 10 * x[3] + 5 * x[4]
    return f.unsqueeze(-1)


def draw(n: int, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, DIM, generator=gen, dtype=torch.float64)
    Y = friedman1(X) + NOISE * torch.randn(n, 1, generator=gen, dtype=torch.float64)
    return X.to(device), Y.to(device)


@dataclass(frozen=True)
class Run:
    n: int
    seed: int
    seconds: float
    cpu_seconds: float
    rmse: float
    picp: float
    mpiw: float
    mean_rmse: float
    note: str = ""


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def one_run(n: int, seed: int, device: torch.device) -> Run:
    X, Y = draw(n, seed, device)
    test_X, test_Y = draw(TEST_POINTS, 10_000 + seed, device)
    bounds = torch.stack([torch.zeros(DIM), torch.ones(DIM)]).to(X)
    spec = FitSpec(bounds=bounds, seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SurrogateFallbackWarning)
        sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        model = BayesianNN().fit(X, Y, spec)
        sync(device)
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    note = "; ".join(str(w.message) for w in caught if w.category is SurrogateFallbackWarning)
    pred = predictive(model, test_X)
    lower, upper = pred.interval(LEVEL)
    rmse = float(((pred.mean - test_Y) ** 2).mean().sqrt())
    picp = float(((lower <= test_Y) & (test_Y <= upper)).double().mean())
    mpiw = float((upper - lower).mean())
    mean_rmse = float(((Y.mean() - test_Y) ** 2).mean().sqrt())
    info = fit_info(model)
    if info.get("inference") != "svi":
        note = f"{note} inference={info.get('inference')}".strip()
    return Run(n, seed, seconds, cpu_seconds, rmse, picp, mpiw, mean_rmse, note)


def median(xs: list[float]) -> float:
    good = [x for x in xs if not math.isnan(x)]
    return statistics.median(good) if good else math.nan


def table(runs: list[Run], device: torch.device) -> str:
    lines = [
        "| N | d | device | median fit s | fit s per seed | median CPU s | RMSE "
        "| mean-predictor RMSE | PICP (95%) | MPIW |",
        "|---:|---:|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for n in sorted({r.n for r in runs}):
        rs = [r for r in runs if r.n == n]
        per_seed = ", ".join(f"{r.seconds:.1f}" for r in rs)
        lines.append(
            f"| {n:,} | {DIM} | {device.type} | {median([r.seconds for r in rs]):.1f} "
            f"| {per_seed} | {median([r.cpu_seconds for r in rs]):.1f} "
            f"| {median([r.rmse for r in rs]):.3f} "
            f"| {median([r.mean_rmse for r in rs]):.3f} | {median([r.picp for r in rs]):.3f} "
            f"| {median([r.mpiw for r in rs]):.2f} |"
        )
    notes = [f"N={r.n} seed={r.seed}: {r.note}" for r in runs if r.note]
    if notes:
        lines += ["", "Notes:", "", *[f"- {note}" for note in notes]]
    return "\n".join(lines)


def environment(device: torch.device, seeds: list[int]) -> str:
    import botorch
    import pyro

    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{os.cpu_count()} CPUs (torch threads {torch.get_num_threads()})"
    )
    defaults = BayesianNN()
    return (
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; machine: {where}; "
        f"torch {torch.__version__}, pyro {pyro.__version__}, botorch {botorch.__version__}; "
        f"BayesianNN defaults: hidden={tuple(defaults.hidden)}, activation={defaults.activation}, "
        f"guide={defaults.guide}, steps={defaults.steps}, batch_size={defaults.batch_size}, "
        f"num_samples={defaults.num_samples}; Friedman #1, d={DIM}, noise sd {NOISE}, "
        f"{TEST_POINTS} held-out points; seeds: {seeds}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time and score BayesianNN's default SVI fit.")
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if any)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: these small networks fit several times faster on "
        "one thread than on shared cores)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: N = 1,000, one seed")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    args = parser.parse_args(argv)

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.set_num_threads(args.threads)
    sizes = [1000] if args.quick else args.sizes
    seeds = [0] if args.quick else list(range(args.seeds))
    # Warm up imports and kernels so the first timed fit does not pay for them.
    X, Y = draw(64, 0, device)
    bounds = torch.stack([torch.zeros(DIM), torch.ones(DIM)]).to(X)
    BayesianNN(steps=5, num_samples=2).fit(X, Y, FitSpec(bounds=bounds))

    start = time.perf_counter()
    runs: list[Run] = []
    for n in sizes:
        for seed in seeds:
            run = one_run(n, seed, device)
            runs.append(run)
            print(
                f"[{time.perf_counter() - start:7.1f}s] N={n} seed={seed}: fit {run.seconds:.1f} s,"
                f" RMSE {run.rmse:.3f}, PICP {run.picp:.3f} {run.note}",
                file=sys.stderr,
                flush=True,
            )
    total = time.perf_counter() - start
    report = (
        f"# BNN fit time and held-out quality{' (quick)' if args.quick else ''}\n\n"
        f"{environment(device, seeds)}; total runtime {total / 60:.1f} min.\n\n"
        f"{table(runs, device)}\n"
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 1 if any(r.note for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())

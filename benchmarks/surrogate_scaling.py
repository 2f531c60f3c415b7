"""How fitting and predicting cost grows with the number of observations: exact vs sparse GP.

For each ``N`` (250 doubling upwards) and seed, both surrogates are fitted to ``N``
noisy observations of Hartmann6 (6-D, inputs uniform on the unit cube, noise sd 0.05,
about an eighth of the function's sd) and then predict 1,000 fresh points
(:func:`surrogates.predictive`). Per run: fit seconds, predict seconds, their sum,
the held-out RMSE against the noise-free function (noise sd 0.05 is the floor only
for noisy targets, not for this), and the share of noisy held-out observations
inside the 95% predictive intervals (coverage; 0.95 is calibrated).

* ``exact``: :class:`surrogates.gp.ExactGP` (BoTorch ``SingleTaskGP``; beyond 800
  points GPyTorch switches from Cholesky to conjugate gradients and Lanczos).
* ``sparse``: :class:`surrogates.sparse_gp.SparseGP` with its default options.

The table gives medians over seeds: 3 seeds, but a single seed once one fit of that
method took longer than ``--single-seed-above`` seconds (the table says how many).
A method stops growing ``N`` once a fit took longer than ``--limit`` seconds, or when
its projected time (the last time times the last measured growth) exceeds 3 times that,
or its ``N x N`` kernel matrices would not fit comfortably in memory. The sparse GP
always runs to ``--max-n``.

Summary lines: the growth exponent of each curve (least-squares slope of log seconds
against log ``N`` over the upper half of its ``N`` values) and the crossover ``N`` from
which the sparse GP is faster than the exact GP (log-log interpolation between the two
grid points where the sign of the time difference changes). Results are printed and
written to ``benchmarks/results/surrogate_scaling.md``. Uses the GPU when CUDA is
available, else 2 CPU threads (``torch.set_num_threads(2)``).

Run from the repository root::

    .venv/bin/python benchmarks/surrogate_scaling.py            # full run (15-30 min on 2 cores)
    .venv/bin/python benchmarks/surrogate_scaling.py --threads 1   # what made the results file
    .venv/bin/python benchmarks/surrogate_scaling.py --quick    # smoke run: 1 seed, N <= 1000
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch
from botorch.test_functions import Hartmann

from surrogates import FitSpec, SurrogateFallbackWarning, predictive
from surrogates.base import Surrogate, fit_info
from surrogates.gp import ExactGP
from surrogates.sparse_gp import SparseGP

RESULTS = Path(__file__).resolve().parent / "results" / "surrogate_scaling.md"
DTYPE = torch.float64
DIM = 6
NOISE_SD = 0.05
N_TEST = 1000
METHODS: dict[str, Callable[[], Surrogate]] = {"exact": ExactGP, "sparse": SparseGP}


@dataclass(frozen=True)
class Run:
    method: str
    n: int
    seed: int
    fit_s: float
    predict_s: float
    rmse: float
    coverage: float
    note: str = ""

    @property
    def total_s(self) -> float:
        return self.fit_s + self.predict_s


def hartmann6(X: torch.Tensor) -> torch.Tensor:
    """Hartmann6 on the unit cube (its native domain), as a ``n x 1`` tensor."""
    return Hartmann(dim=DIM).to(X).evaluate_true(X).unsqueeze(-1)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def one_run(method: str, n: int, seed: int, device: torch.device) -> Run:
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, DIM, generator=gen, dtype=DTYPE)
    Y = hartmann6(X) + NOISE_SD * torch.randn(n, 1, generator=gen, dtype=DTYPE)
    test_X = torch.rand(N_TEST, DIM, generator=gen, dtype=DTYPE)
    test_f = hartmann6(test_X)
    test_Y = test_f + NOISE_SD * torch.randn(N_TEST, 1, generator=gen, dtype=DTYPE)
    X, Y, test_X, test_f, test_Y = (t.to(device) for t in (X, Y, test_X, test_f, test_Y))
    bounds = torch.stack([torch.zeros(DIM), torch.ones(DIM)]).to(X)
    spec = FitSpec(bounds=bounds, seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SurrogateFallbackWarning)
        sync(device)
        t0 = time.perf_counter()
        model = METHODS[method]().fit(X, Y, spec)
        sync(device)
        t1 = time.perf_counter()
        pred = predictive(model, test_X)
        mean = pred.mean
        lower, upper = pred.interval(0.95)
        sync(device)
        t2 = time.perf_counter()
    rmse = (mean - test_f).pow(2).mean().sqrt().item()
    coverage = ((test_Y >= lower) & (test_Y <= upper)).to(DTYPE).mean().item()
    notes = [str(w.message) for w in caught if issubclass(w.category, SurrogateFallbackWarning)]
    info = fit_info(model)
    if "steps" in info:
        notes.insert(0, f"{info['num_inducing']} inducing, {info['steps']} steps")
    return Run(method, n, seed, t1 - t0, t2 - t1, rmse, coverage, "; ".join(notes))


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def growth_exponent(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of log seconds against log N over the upper half of ``points``."""
    upper = sorted(points)[len(points) // 2 :]
    if len(upper) < 2:
        return math.nan
    xs = [math.log(n) for n, _ in upper]
    ys = [math.log(s) for _, s in upper]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def crossover(exact: dict[int, float], sparse: dict[int, float]) -> tuple[float, str]:
    """The N from which the sparse GP is faster, and how it was found."""
    common = sorted(set(exact) & set(sparse))
    if not common:
        return math.nan, "no N measured for both"
    ratio = {n: math.log(sparse[n] / exact[n]) for n in common}  # < 0: sparse faster
    if ratio[common[0]] < 0:
        return float(common[0]), f"sparse already faster at the smallest N={common[0]}"
    for lo, hi in itertools.pairwise(common):
        if ratio[lo] >= 0 > ratio[hi]:
            w = ratio[lo] / (ratio[lo] - ratio[hi])
            n = math.exp(math.log(lo) + w * (math.log(hi) - math.log(lo)))
            return n, f"between N={lo} and N={hi} (log-log interpolation)"
    last = [n for n in sorted(sparse) if n > common[-1]]
    if last:
        return float(last[0]), (
            f"exact GP stopped after N={common[-1]} (still faster there); the sparse GP "
            f"is the only practical choice from N={last[0]}"
        )
    return math.nan, f"the exact GP is faster at every N up to {common[-1]}"


def memory_ok(n: int, device: torch.device) -> bool:
    """Whether a few ``n x n`` float64 matrices fit in a quarter of the memory."""
    need = 4 * 8 * n * n
    if device.type == "cuda":
        return need < torch.cuda.get_device_properties(device).total_memory / 4
    pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return need < pages * size / 4


def table(runs: list[Run], sizes: list[int], skipped: dict[str, str]) -> str:
    lines = [
        "| N | method | seeds | fit s | predict s | total s | RMSE | 95% coverage | note |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for n in sizes:
        for method in METHODS:
            rs = [r for r in runs if (r.method, r.n) == (method, n)]
            if not rs:
                continue
            notes = sorted({r.note for r in rs if r.note})
            lines.append(
                f"| {n} | {method} | {len(rs)} | {median([r.fit_s for r in rs]):.2f} "
                f"| {median([r.predict_s for r in rs]):.3f} "
                f"| {median([r.total_s for r in rs]):.2f} "
                f"| {median([r.rmse for r in rs]):.4f} "
                f"| {median([r.coverage for r in rs]):.3f} | {'; '.join(notes)} |"
            )
    for method, why in skipped.items():
        lines.append(f"\n{method}: {why}")
    return "\n".join(lines)


def measure(
    args: argparse.Namespace, sizes: list[int], seeds: list[int], device: torch.device
) -> tuple[list[Run], dict[str, str], dict[str, dict[int, float]]]:
    """Run every method at every N it can afford; return the runs, why methods stopped,
    and the median total seconds by method and N."""
    start = time.perf_counter()
    runs: list[Run] = []
    skipped: dict[str, str] = {}
    totals: dict[str, dict[int, float]] = {m: {} for m in METHODS}
    slow: dict[str, bool] = dict.fromkeys(METHODS, False)
    for n in sizes:
        for method in METHODS:
            times = totals[method]
            if method == "exact" and times and method not in skipped:
                (prev_n, prev_s), (last_n, last_s) = [(0, 0.0), *sorted(times.items())][-2:]
                # Growth since the previous N (cubic before there is one), at least linear.
                slope = math.log(last_s / prev_s) / math.log(last_n / prev_n) if prev_n else 3.0
                projected = last_s * (n / last_n) ** max(slope, 1.0)
                last_fit = median([r.fit_s for r in runs if (r.method, r.n) == (method, last_n)])
                if last_fit > args.limit:
                    skipped[method] = f"stopped after N={last_n}: a fit took {last_fit:.0f} s"
                elif projected > 3 * args.limit:
                    skipped[method] = (
                        f"stopped after N={last_n}: projected {projected:.0f} s at N={n}"
                    )
                elif not memory_ok(n, device):
                    skipped[method] = f"stopped after N={last_n}: N x N matrices at N={n}"
            if method in skipped:
                continue
            mine: list[Run] = []
            for seed in seeds:
                if seed > 0 and slow[method]:
                    break
                run = one_run(method, n, seed, device)
                mine.append(run)
                slow[method] = slow[method] or run.fit_s > args.single_seed_above
                print(
                    f"[{time.perf_counter() - start:7.1f}s] threads={torch.get_num_threads()} "
                    f"N={n} {method} seed={seed}: fit {run.fit_s:.2f} s, predict "
                    f"{run.predict_s:.3f} s, RMSE {run.rmse:.4f}, coverage {run.coverage:.3f} "
                    f"{run.note}",
                    file=sys.stderr,
                    flush=True,
                )
            runs += mine
            times[n] = median([r.total_s for r in mine])
    return runs, skipped, totals


def summary(totals: dict[str, dict[int, float]]) -> tuple[str, float]:
    """Growth exponents and the crossover, as Markdown lines, and the crossover N."""
    lines = []
    for method, t in totals.items():
        lower = sorted(t)[len(t) // 2] if t else "n/a"
        k = growth_exponent(list(t.items()))
        lines.append(
            f"- growth exponent of {method} (total s ~ N^k over N >= {lower}): k = {k:.2f}"
        )
    cross_n, how = crossover(totals["exact"], totals["sparse"])
    lines.append(f"- crossover: the sparse GP is faster from N ~ {cross_n:.0f} ({how})")
    return "\n".join(lines), cross_n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fit and predict time against N: exact vs sparse GP."
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per N, 0..k-1")
    parser.add_argument("--max-n", type=int, default=128_000, help="largest N (sparse GP)")
    parser.add_argument("--limit", type=float, default=120.0, help="stop a method past this fit s")
    parser.add_argument(
        "--single-seed-above", type=float, default=30.0, help="1 seed once a fit takes this long"
    )
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[2], help="torch CPU threads; one table each"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, N <= 1000")
    parser.add_argument("--note", default="", help="a paragraph to add to the report")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    args = parser.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    seeds = [0] if args.quick else list(range(args.seeds))
    max_n = min(args.max_n, 1000) if args.quick else args.max_n
    sizes = [250 * 2**k for k in range(20) if 250 * 2**k <= max_n]
    thread_counts = args.threads if device.type == "cpu" else [args.threads[0]]
    sections = []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        where = (
            torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else f"CPU, torch threads {torch.get_num_threads()} of {os.cpu_count()} CPUs"
        )
        load_before, start = os.getloadavg(), time.perf_counter()
        runs, skipped, totals = measure(args, sizes, seeds, device)
        minutes, load_after = (time.perf_counter() - start) / 60, os.getloadavg()
        lines, _ = summary(totals)
        sections.append(
            f"## {where}\n\n{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; 1-min load "
            f"average {load_before[0]:.1f} before, {load_after[0]:.1f} after; {minutes:.1f} "
            f"min.\n\n{table(runs, sizes, skipped)}\n\n{lines}\n"
        )
    import botorch
    import gpytorch

    report = (
        f"# Surrogate scaling: exact vs sparse GP{' (quick)' if args.quick else ''}\n\n"
        f"torch {torch.__version__}, botorch {botorch.__version__}, gpytorch "
        f"{gpytorch.__version__}; Hartmann6 (d={DIM}) + N(0, {NOISE_SD}^2) noise; {N_TEST} "
        f"test points; seeds {seeds}. Medians over the seeds counted in each table. RMSE: "
        "held-out, against the noise-free function (Hartmann6's sd on the cube is about "
        "0.38). Coverage: share of noisy held-out observations inside the 95% predictive "
        "interval. Times are wall seconds; other processes shared the CPUs (see the load "
        "averages).\n\n" + (f"{args.note}\n\n" if args.note else "") + "\n".join(sections)
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

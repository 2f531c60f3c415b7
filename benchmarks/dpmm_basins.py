"""Basins of good points (the Dirichlet process mixture of ``bayesopt.analysis.basins``):
does it find known clusters, does a batch spread across basins find better optima, and
what does the analysis cost per decision.

(a) Clusters. Synthetic mixtures in the unit cube with 1 to 5 clusters in 2, 3 and 5
    dimensions, several seeds each: cluster centres uniform in ``[0.15, 0.85]^d`` and at
    least 0.3 apart (Euclidean; "apart") or at least 0.15 ("close"), each cluster 5 to 12
    points, an isotropic standard deviation of 0.02 to 0.05 per cluster, drawn from
    ``numpy.random.default_rng([k, d, seed, 100 * gap])``, clipped to the cube.
    ``cluster(points, seed=seed)`` is scored by the number of clusters it finds and the
    adjusted Rand index against the true labels (``sklearn.metrics.adjusted_rand_score``;
    goal: 0.8 or more).

(b) Spread batches. ``BO(spread="basins")`` against the plain q-batch (``BO()``), batches
    of q = 4, the same design (``Sobol(n=design_size(d))``), the same evaluations, the
    same seeds, on multimodal problems with shifted optima: Ackley in 3 inputs (budget
    40, 10 batches), Michalewicz in 2 inputs (budget 32) and in 5 (budget 60), from
    ``benchmarks/compare_peers.py`` (its ``synthetic`` problem twin and its shift: each
    seed evaluates ``f(x - s)``, ``s`` uniform in +-15% of the box's width per input).
    Both methods use the same acquisition optimizer settings (``num_restarts=4,
    raw_samples=256``, lighter than the default 10 and 512 so the benchmark fits in a few
    minutes on 2 cores). Scores: the final log10 regret (the lowest true value among the
    evaluated points minus the optimum, floored at 1e-12), its median over seeds, and on
    how many seeds spread was better.

(c) Cost. For every spread decision of (b): the analysis's own seconds
    (``metadata["basins_seconds"]``: selecting the good trials, the fit, the posterior
    draws; the first one in the process includes importing JAX and compiling) against
    the GP fit's seconds (``metadata["fit_seconds"]``), and the number of basins found.

Printed and written to ``benchmarks/results/dpmm_basins.md``. Run from the repository
root::

    .venv/bin/python benchmarks/dpmm_basins.py --jobs 1            # about 8 min on 2 cores
    .venv/bin/python benchmarks/dpmm_basins.py --quick             # smoke run
    .venv/bin/python benchmarks/dpmm_basins.py --parts a --seeds 5
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from botorch.test_functions import Ackley, Michalewicz
from compare_peers import Problem, synthetic
from peer_common import command, run_tasks, set_threads

RESULTS = Path(__file__).resolve().parent / "results" / "dpmm_basins.md"
FLOOR = 1e-12
Q = 4
SHIFT = 0.15  # as compare_peers.SHIFT


def michalewicz_optimum(dim: int) -> float:
    """The minimum of Michalewicz (m = 10) over ``[0, pi]^dim``: each input's term is
    minimized on its own (a 200,001-point grid, then a local polish by golden section)."""
    total = 0.0
    for i in range(1, dim + 1):

        def term(x: np.ndarray, i: int = i) -> np.ndarray:
            return -np.sin(x) * np.sin(i * x**2 / math.pi) ** 20

        grid = np.linspace(0.0, math.pi, 200_001)
        j = int(np.argmin(term(grid)))
        lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]
        g = (math.sqrt(5) - 1) / 2
        for _ in range(100):
            a, b = hi - g * (hi - lo), lo + g * (hi - lo)
            if term(np.array(a)) < term(np.array(b)):
                hi = b
            else:
                lo = a
        total += float(term(np.array((lo + hi) / 2)))
    return total


def problems() -> dict[str, Problem]:
    margin = SHIFT + 1e-6
    ackley, ackley_box = synthetic(Ackley, {"dim": 3}, margin)
    mich2, mich2_box = synthetic(Michalewicz, {"dim": 2}, margin)
    mich5, mich5_box = synthetic(Michalewicz, {"dim": 5}, margin)
    return {
        "ackley3": Problem("ackley3", 31, ackley, ackley_box, 40, 0.0, shifted=True),
        "michalewicz2": Problem(
            "michalewicz2", 32, mich2, mich2_box, 32, michalewicz_optimum(2), shifted=True
        ),
        "michalewicz5": Problem(
            "michalewicz5", 33, mich5, mich5_box, 60, michalewicz_optimum(5), shifted=True
        ),
    }


# ------------------------------------------------------------------ (a) clusters
@dataclass(frozen=True)
class ClusterRun:
    k: int
    d: int
    seed: int
    gap: float
    n: int
    found: int
    ari: float
    seconds: float


def mixture(k: int, d: int, seed: int, gap: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Points of ``k`` clusters in ``d`` dimensions, centres at least ``gap`` apart, and
    their true labels."""
    rng = np.random.default_rng([k, d, seed, round(100 * gap)])
    centres: list[np.ndarray] = []
    while len(centres) < k:
        c = rng.uniform(0.15, 0.85, d)
        if all(np.linalg.norm(c - o) >= gap for o in centres):
            centres.append(c)
    points, labels = [], []
    for j, c in enumerate(centres):
        size = int(rng.integers(5, 13))
        sd = float(rng.uniform(0.02, 0.05))
        points.append(rng.normal(c, sd, size=(size, d)))
        labels += [j] * size
    return np.clip(np.vstack(points), 0.0, 1.0), np.array(labels)


def cluster_run(task: tuple[int, int, int, float]) -> ClusterRun:
    from sklearn.metrics import adjusted_rand_score

    from bayesopt.analysis.basins import cluster

    k, d, seed, gap = task
    points, truth = mixture(k, d, seed, gap)
    t0 = time.perf_counter()
    fit = cluster(points, seed=seed)
    seconds = time.perf_counter() - t0
    ari = float(adjusted_rand_score(truth, fit.labels))
    return ClusterRun(k, d, seed, gap, len(points), fit.n_components, ari, seconds)


def clusters_report(runs: list[ClusterRun]) -> str:
    ks = sorted({r.k for r in runs})
    ds = sorted({r.d for r in runs})
    lines = [
        "## (a) Known clusters",
        "",
        "Per true number of clusters k, dimension d and least distance between centres",
        "(0.3: apart, 6 to 15 standard deviations; 0.15: close, 3 to 7.5): clusters found",
        "(median, and the share of seeds where it is exactly k), the adjusted Rand index",
        "(mean and minimum).",
        "",
        "| centres | k | d | seeds | points (median) | found (median) | found = k | ARI mean "
        "| ARI min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for gap in sorted({r.gap for r in runs}, reverse=True):
        for k in ks:
            for d in ds:
                rs = [r for r in runs if r.k == k and r.d == d and r.gap == gap]
                if not rs:
                    continue
                lines.append(
                    f"| {gap:g} apart | {k} | {d} | {len(rs)} | "
                    f"{statistics.median(r.n for r in rs):g} | "
                    f"{statistics.median(r.found for r in rs):g} | "
                    f"{sum(r.found == k for r in rs)}/{len(rs)} | "
                    f"{statistics.fmean(r.ari for r in rs):.3f} | {min(r.ari for r in rs):.3f} |"
                )
    lines.append("")
    for gap in sorted({r.gap for r in runs}, reverse=True):
        rs = [r for r in runs if r.gap == gap]
        aris = [r.ari for r in rs]
        mean = statistics.fmean(aris)
        lines.append(
            f"- Centres at least {gap:g} apart, {len(rs)} mixtures: mean ARI **{mean:.3f}** "
            f"(goal 0.8 or more: {'met' if mean >= 0.8 else 'not met'}), ARI >= 0.8 on "
            f"{sum(a >= 0.8 for a in aris)}/{len(rs)}, the number of clusters exact on "
            f"{sum(r.found == r.k for r in rs)}/{len(rs)}."
        )
    times = sorted(r.seconds for r in runs)
    lines.append(
        f"- Seconds per fit: median {statistics.median(times):.3f}, max {times[-1]:.2f} (the "
        "max includes importing JAX and compiling, once per process, dimension and size class)."
    )
    return "\n".join(lines)


# ------------------------------------------------------------------ (b) spread
@dataclass
class SpreadRun:
    problem: str
    method: str
    seed: int
    best: float
    regret: float
    wall: float
    decisions: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


def spread_run(task: tuple[str, str, int]) -> SpreadRun:
    from bayesopt import BO, Experiment, Float, Objective, Optimizer, Sobol
    from bayesopt.acquisition import AcquisitionOptions
    from bayesopt.steps import design_size

    name, method, seed = task
    p = PROBLEMS[name]
    inst = p.instance(seed)
    trace = inst.trace()
    exp = Experiment(
        name=f"{name}-{method}-{seed}",
        parameters=[Float(n, lo, hi) for n, (lo, hi) in zip(p.inputs, p.bounds, strict=True)],
        objectives=[Objective("y")],
        budget=p.budget,
        batch_size=Q,
        seed=seed,
        strategy=[Sobol(n=design_size(p.dim)), BO(spread="basins" if method == "spread" else None)],
    )
    opt = Optimizer(exp, seed=seed, device="cpu")
    opt.strategy.options = AcquisitionOptions(num_restarts=4, raw_samples=256)
    t0 = time.perf_counter()
    decisions = []
    while len(trace.values) < p.budget:
        batch = opt.suggest(min(Q, p.budget - len(trace.values)))
        model = [t.metadata for t in batch if "fit_seconds" in t.metadata]
        if model:
            first = model[0]
            decisions.append(
                {
                    "fit_seconds": first["fit_seconds"],
                    "acq_seconds": first.get("acq_seconds"),
                    "basins_seconds": first.get("basins_seconds"),
                    "n_basins": first.get("n_basins"),
                    "placed": sum(t.metadata.get("basin") is not None for t in batch),
                }
            )
        for t in batch:
            opt.observe(t, {"y": inst(t.params, trace)})
    wall = time.perf_counter() - t0
    best = min(trace.true)
    assert p.optimum is not None
    regret = math.log10(max(best - p.optimum, FLOOR))
    fallbacks = sum("fallback" in t.metadata for t in opt.all_trials())
    note = f"{fallbacks} fallback(s)" if fallbacks else ""
    if trace.outside:
        note += f" {trace.outside} outside"
    return SpreadRun(name, method, seed, best, regret, wall, decisions, note.strip())


def spread_report(runs: list[SpreadRun]) -> str:
    names = sorted({r.problem for r in runs})
    lines = [
        "## (b) Basin-spread batches against plain q-batches (q = 4)",
        "",
        "Final log10 regret after the same evaluations: median over seeds [min, max];",
        "'spread better' counts the seeds where the spread run ended lower (ties: equal",
        "within 0.01 decade).",
        "",
        "| problem | d | budget | seeds | plain | spread | spread better / equal / worse |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        p = PROBLEMS[name]
        by = {
            m: {r.seed: r.regret for r in runs if r.problem == name and r.method == m}
            for m in ("plain", "spread")
        }
        seeds = sorted(set(by["plain"]) & set(by["spread"]))
        if not seeds:
            continue

        def cell(xs: Sequence[float]) -> str:
            return f"{statistics.median(xs):.2f} [{min(xs):.2f}, {max(xs):.2f}]"

        diff = [by["spread"][s] - by["plain"][s] for s in seeds]
        better = sum(x < -0.01 for x in diff)
        worse = sum(x > 0.01 for x in diff)
        plain = cell([by["plain"][s] for s in seeds])
        spread = cell([by["spread"][s] for s in seeds])
        equal = len(seeds) - better - worse
        lines.append(
            f"| {name} | {p.dim} | {p.budget} | {len(seeds)} | {plain} | {spread} | "
            f"{better} / {equal} / {worse} |"
        )
    lines += ["", "Every run:", "", "| problem | seed | method | log10 regret | wall s | note |"]
    lines.append("|---|---|---|---|---|---|")
    for r in sorted(runs, key=lambda r: (r.problem, r.seed, r.method)):
        lines.append(
            f"| {r.problem} | {r.seed} | {r.method} | {r.regret:.2f} | {r.wall:.1f} | {r.note} |"
        )
    return "\n".join(lines)


def cost_report(runs: list[SpreadRun]) -> str:
    spread = [d for r in runs if r.method == "spread" for d in r.decisions]
    spread = [d for d in spread if d["basins_seconds"] is not None]
    if not spread:
        return "## (c) Cost\n\nNo spread decision was made."
    basins = [d["basins_seconds"] for d in spread]
    fits = [d["fit_seconds"] for d in spread]
    ratio = [b / f for b, f in zip(basins, fits, strict=True) if f > 0]
    counts = [d["n_basins"] for d in spread]
    hist = {c: counts.count(c) for c in sorted(set(counts))}
    plain_fit = [d["fit_seconds"] for r in runs if r.method == "plain" for d in r.decisions]
    return "\n".join(
        [
            "## (c) The analysis's cost per decision",
            "",
            "| | decisions | median s | 90th percentile s | max s |",
            "|---|---|---|---|---|",
            _cost_row("basins analysis (spread runs)", basins),
            _cost_row("GP fit (spread runs)", fits),
            _cost_row("GP fit (plain runs)", plain_fit),
            _cost_row("acquisition, spread runs", [d["acq_seconds"] for d in spread]),
            _cost_row(
                "acquisition, plain runs",
                [d["acq_seconds"] for r in runs if r.method == "plain" for d in r.decisions],
            ),
            "",
            f"Analysis seconds over the fit's seconds, per decision: median "
            f"{statistics.median(ratio):.2f}, max {max(ratio):.2f}. The runs share one process: "
            "a decision pays for compiling only where its dimension and size class are new to "
            "the process (after part (a), none is; a fresh process is timed below). Basins "
            "found per spread decision (number of basins: decisions): "
            f"{hist}; candidates placed in a basin per batch: "
            f"{statistics.fmean(d['placed'] for d in spread):.2f} on average.",
            "",
            first_call(),
        ]
    )


def first_call() -> str:
    """The first analysis in a fresh process (importing JAX, compiling) and the next ones,
    timed in a subprocess for 12 good points in 2 and in 5 dimensions."""
    import subprocess

    code = (
        "import time, numpy as np\n"
        "from bayesopt.analysis.basins import find_basins\n"
        "for d in (2, 5):\n"
        "    x = np.random.default_rng(d).uniform(0, 1, (48, d)); y = -x.sum(axis=1)\n"
        "    for i in range(3):\n"
        "        t = time.perf_counter(); find_basins(x, y, seed=i)\n"
        "        print(d, i, time.perf_counter() - t)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    times = [line.split() for line in out if line.strip()]
    cells = {(int(d), int(i)): float(t) for d, i, t in times}
    return (
        "In a fresh process (12 good points of 48): the first analysis took "
        f"{cells[2, 0]:.1f} s in 2 dimensions (importing JAX and compiling), the next two "
        f"{cells[2, 1]:.3f} and {cells[2, 2]:.3f} s; the first in 5 dimensions (compiled "
        f"again) {cells[5, 0]:.1f} s, the next {cells[5, 1]:.3f} and {cells[5, 2]:.3f} s."
    )


def _cost_row(label: str, xs: list[float]) -> str:
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return f"| {label} | 0 | | | |"
    p90 = xs[min(len(xs) - 1, round(0.9 * (len(xs) - 1)))]
    return f"| {label} | {len(xs)} | {statistics.median(xs):.3f} | {p90:.3f} | {xs[-1]:.3f} |"


# ------------------------------------------------------------------ main
PROBLEMS = problems()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="abc", help="Which parts: a, b (with c), or both.")
    parser.add_argument("--seeds", type=int, default=None, help="Seeds (a: 3, b: 5).")
    parser.add_argument("--problems", nargs="*", default=sorted(PROBLEMS))
    parser.add_argument("--jobs", type=int, default=1, help="Worker processes.")
    parser.add_argument("--quick", action="store_true", help="A smoke run: 1 seed, fewer cases.")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    set_threads()
    logging.getLogger("bayesopt").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    sections = []
    if "a" in args.parts:
        seeds = 1 if args.quick else args.seeds or 3
        ks, ds = ([1, 3], [2]) if args.quick else ([1, 2, 3, 4, 5], [2, 3, 5])
        tasks = [
            (k, d, s, gap) for gap in (0.3, 0.15) for k in ks for d in ds for s in range(seeds)
        ]
        found: list[ClusterRun] = []

        def got_cluster(task: tuple[int, int, int, float], run: ClusterRun) -> None:
            found.append(run)
            print(
                f"  gap={run.gap} k={run.k} d={run.d} seed={run.seed}: found {run.found}, "
                f"ARI {run.ari:.3f}, {run.seconds:.2f} s",
                file=sys.stderr,
            )

        run_tasks(tasks, cluster_run, args.jobs, got_cluster)
        sections.append(clusters_report(found))
    if "b" in args.parts or "c" in args.parts:
        seeds = 1 if args.quick else args.seeds or 5
        spread_tasks = [
            (name, method, s)
            for name in args.problems
            for s in range(seeds)
            for method in ("plain", "spread")
        ]
        runs: list[SpreadRun] = []

        def got_spread(task: tuple[str, str, int], run: SpreadRun) -> None:
            runs.append(run)
            print(
                f"  {run.problem} seed={run.seed} {run.method}: log10 regret {run.regret:.2f}, "
                f"{run.wall:.1f} s {run.note}",
                file=sys.stderr,
            )

        run_tasks(spread_tasks, spread_run, args.jobs, got_spread)
        sections += [spread_report(runs), cost_report(runs)]
    text = "\n\n".join(
        [
            "# Basins of good points: clusters, spread batches, cost",
            f"Made with `{command(argv, 'dpmm_basins.py')}` on "
            f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {os.cpu_count()} CPUs shared "
            f"with other jobs (torch threads {torch.get_num_threads()}), so seconds are "
            f"indicative; {time.perf_counter() - t0:.0f} s in all. See the script's "
            "docstring for the set-up.",
            *sections,
        ]
    )
    print(text)
    args.output.write_text(text + "\n")
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

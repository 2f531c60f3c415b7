"""What the monitored analyses cost a run, by cadence (``Experiment(analyses=...)``).

For each problem and seed, the default strategy runs its budget with
``analyses={"regimes": k, "basins": k}`` for each cadence ``k``; every analysis that ran
stored its seconds with the trial that had just completed. Reported per problem and
cadence: the median seconds of one regime analysis (HMM fit and decoding) and of one
basins analysis (DPMM fit), the median seconds of the GP fit behind a decision, and the
analyses' seconds per completed trial (their total over the number of trials) against
that fit: below 1, the analyses cost a trial less on average than the fit itself. The
first analysis of a process pays Pyro's and JAX's compilation; it is included.

Run from the repository root::

    .venv/bin/python benchmarks/analysis_cadence.py            # 3 seeds, k = 1, 5, 10
    .venv/bin/python benchmarks/analysis_cadence.py --quick    # one seed, Branin only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from compare_peers import OBJECTIVE, PROBLEMS
from peer_common import environment, set_threads, silence_peers

RESULTS = Path(__file__).resolve().parent / "results" / "analysis_cadence.md"


def one_run(problem: str, seed: int, every: int) -> dict[str, Any]:
    from bayesopt import Experiment, Float, Objective, Optimizer

    p = PROBLEMS[problem]()
    inst = p.instance(seed)
    exp = Experiment(
        name=f"{problem}-{seed}-{every}",
        parameters=[Float(n, lo, hi) for n, (lo, hi) in zip(p.inputs, p.bounds, strict=True)],
        objectives=[Objective(OBJECTIVE, minimize=True)],
        budget=p.budget,
        seed=seed,
        analyses={"regimes": every, "basins": every},
    )
    opt = Optimizer(exp, seed=seed)
    trace = inst.trace()
    t0 = time.perf_counter()
    for _ in range(p.budget):
        (trial,) = opt.suggest(1)
        opt.observe(trial, {OBJECTIVE: inst(trial.params, trace)})
    wall = time.perf_counter() - t0
    trials = opt.all_trials()
    fits = [float(t.metadata["fit_seconds"]) for t in trials if "fit_seconds" in t.metadata]
    out: dict[str, Any] = {"fit": fits, "n": len(trials), "wall": wall}
    for name in ("regimes", "basins"):
        found = [t.metadata.get(f"analysis.{name}") for t in trials]
        out[name] = [float(f["seconds"]) for f in found if isinstance(f, dict) and "seconds" in f]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cadences", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--problems", nargs="+", default=["branin", "hartmann6", "ackley5"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.problems, args.cadences = 1, ["branin"], [1, 5]
    set_threads(1)
    silence_peers()
    start = time.perf_counter()
    rows = []
    for problem in args.problems:
        for every in args.cadences:
            runs = [one_run(problem, s, every) for s in range(args.seeds)]
            fit = statistics.median(x for r in runs for x in r["fit"])
            reg = [x for r in runs for x in r["regimes"]]
            bas = [x for r in runs for x in r["basins"]]
            per_trial = statistics.median(
                (sum(r["regimes"]) + sum(r["basins"])) / r["n"] for r in runs
            )
            rows.append(
                f"| {problem} | {every} | {len(reg) / len(runs):.0f} | "
                f"{statistics.median(reg) if reg else float('nan'):.3f} | "
                f"{statistics.median(bas) if bas else float('nan'):.3f} | {fit:.3f} | "
                f"{per_trial:.3f} | {per_trial / fit:.2f}x |"
            )
            print(rows[-1], flush=True)
    minutes = (time.perf_counter() - start) / 60
    given = " ".join(argv if argv is not None else sys.argv[1:])
    budgets = {p: PROBLEMS[p]().budget for p in args.problems}
    text = (
        "# Monitored analyses: cost by cadence\n\n"
        f"Command: `.venv/bin/python benchmarks/analysis_cadence.py {given}`\n\n"
        f"{environment(budgets, list(range(args.seeds)))}; total runtime {minutes:.1f} min. "
        "How each number is made: the docstring of `benchmarks/analysis_cadence.py`.\n\n"
        "| problem | cadence k | regime analyses per run | median s per regime analysis | "
        "median s per basins analysis | median s per GP fit | analyses' s per trial | "
        "per trial / GP fit |\n|---|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

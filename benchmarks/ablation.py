"""Ablation of the default's decision mechanism on the peer suite of ``compare_peers.py``.

Each variant changes one setting of this project's default (``Experiment(strategy=None)``)
or goes back to the earlier default in all of them, on the same problems, seeds and
instances as the peer comparison:

* ``default``: the GP's unit-lengthscale priors (``surrogates/gp.py``) on warped or
  plain outcomes, whichever predicts held-out trials better (``warp="auto"``), a Sobol
  design of ``design_size(d)`` points, qLogNEI in closed form for one point at a time.
* ``dimension_scaled``: BoTorch's dimension-scaled priors
  (``surrogate_options={"priors": "dimension_scaled"}``).
* ``design_2d``: a design of ``max(5, 2 d)`` points (``initial_trials``).
* ``no_warp``: the GP fitted to the outcomes as they are, without the Yeo-Johnson warp
  (``surrogate_options={"warp": False}``, :mod:`surrogates.warp`).
* ``warp_always``: the warp at every fit (``{"warp": True}``) instead of the default's
  choice between the warped and the plain GP by leave-one-out density (``"auto"``).
* ``warp_declustered``: the warp's power fitted with the trials weighted down where
  they crowd together (``{"decluster": True}``) instead of each counted once.
* ``monte_carlo``: qLogNEI by Monte Carlo throughout
  (``AcquisitionOptions(analytic_single=False)``).
* ``previous``: all four at once: the default before these changes.

Per problem: the median over seeds of the final log10 regret of each variant, its
difference to the default's (negative: the variant ends lower, better), on how many seeds
the variant ends lower than the default, and the median seconds per model decision.
Printed and written to ``benchmarks/results/ablation.md``.

Run from the repository root::

    .venv/bin/python benchmarks/ablation.py --seeds 3 --jobs 2       # the full run
    .venv/bin/python benchmarks/ablation.py --quick                   # smoke run
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from compare_peers import (
    METHODS,
    PROBLEMS,
    Instance,
    Problem,
    Run,
    Trace,
    log10_regret,
    one_run,
    optimum_of,
    run_bayesopt,
    warm_up,
)
from peer_common import (
    command,
    environment,
    fmt,
    median,
    run_tasks,
    set_threads,
    silence_peers,
    write_report,
)

RESULTS = Path(__file__).resolve().parent / "results" / "ablation.md"


def _design_2d(inst: Instance, budget: int, **kw: Any) -> Trace:
    return run_bayesopt(inst, budget, initial_trials=max(5, 2 * inst.problem.dim), **kw)


VARIANTS: dict[str, tuple[str, Callable[[Instance, int], Trace]]] = {
    "default": ("the default", run_bayesopt),
    "dimension_scaled": (
        "BoTorch's dimension-scaled GP priors",
        partial(run_bayesopt, surrogate_options={"priors": "dimension_scaled"}),
    ),
    "design_2d": ("design of max(5, 2d) points", _design_2d),
    "no_warp": (
        "no Yeo-Johnson warp of the outcomes",
        partial(run_bayesopt, surrogate_options={"warp": False}),
    ),
    "warp_always": (
        "the warp at every fit, not chosen by held-out density",
        partial(run_bayesopt, surrogate_options={"warp": True}),
    ),
    "warp_declustered": (
        "the warp's power fitted with crowded trials weighted down (declustered)",
        partial(run_bayesopt, surrogate_options={"decluster": True}),
    ),
    "monte_carlo": ("qLogNEI by Monte Carlo", partial(run_bayesopt, analytic_single=False)),
    "previous": (
        "all four (the earlier default)",
        partial(
            _design_2d,
            surrogate_options={"priors": "dimension_scaled", "warp": False},
            analytic_single=False,
        ),
    ),
}


def report(
    argv: Sequence[str] | None,
    runs: list[Run],
    problems: list[Problem],
    keys: list[str],
    budgets: dict[str, int],
    seeds: list[int],
    total: float | None,
) -> str:
    lines = [
        "# Ablation of the default's decision mechanism"
        + ("" if total is not None else " (partial: the run is still going)"),
        "",
        f"Command: `{command(argv, 'ablation.py')}`",
        "",
        f"{environment(budgets, seeds)}"
        + (f"; total runtime {total / 60:.1f} min." if total is not None else "."),
        "",
        "Problems, instances and regrets as in `compare_peers.md`. Variants: "
        + "; ".join(f"`{k}`: {VARIANTS[k][0]}" for k in keys)
        + ". Each cell: median log10 regret over seeds, then (in brackets) its "
        "difference to the default's median (negative: lower, better) and the seeds on "
        "which the variant ended lower than the default / seeds. Last rows: the median "
        "over problems of those differences, and of the seconds per model decision.",
        "",
        "| problem | " + " | ".join(keys) + " |",
        "|---|" + "---:|" * len(keys),
    ]
    diffs: dict[str, list[float]] = {k: [] for k in keys}
    secs: dict[str, list[float]] = {k: [] for k in keys}
    for p in problems:
        opt = optimum_of(p, runs)
        mine = [r for r in runs if r.problem == p.name]
        reg = {k: {r.seed: log10_regret(r.best, opt) for r in mine if r.method == k} for k in keys}
        base = median(list(reg["default"].values())) if reg.get("default") else math.nan
        cells = []
        if not mine:
            continue  # not run yet (a partial report)
        for k in keys:
            if not reg[k]:
                cells.append("-")
                continue
            med = median(list(reg[k].values()))
            secs[k].append(median([r.s_model for r in mine if r.method == k]))
            if k == "default" or math.isnan(base):
                cells.append(fmt(med))
                continue
            both = [s for s in reg[k] if s in reg.get("default", {})]
            lower = sum(reg[k][s] < reg["default"][s] for s in both)
            diffs[k].append(med - base)
            cells.append(f"{fmt(med)} ({med - base:+.2f}; {lower}/{len(both)})")
        lines.append(f"| {p.name} (d={p.dim}, {budgets[p.name]}) | " + " | ".join(cells) + " |")
    lines.append(
        "| median difference to the default | "
        + " | ".join("-" if k == "default" else f"{median(diffs[k]):+.2f}" for k in keys)
        + " |"
    )
    lines.append(
        "| s per model decision (median over problems) | "
        + " | ".join(fmt(median(secs[k]), 3) for k in keys)
        + " |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ablation of the default's mechanism.")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1")
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 2d + 10 trials")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, forked processes")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    args = parser.parse_args(argv)

    set_threads()
    for key, (label, fn) in VARIANTS.items():  # one_run looks methods up by key
        METHODS[f"ablation:{key}"] = (label, fn)
    problems = [PROBLEMS[name]() for name in args.problems]
    seeds = [0] if args.quick else list(range(args.seeds))
    keys = list(dict.fromkeys(["default", *args.variants]))
    budgets = {p.name: min(p.budget, 2 * p.dim + 10) if args.quick else p.budget for p in problems}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    silence_peers()

    start = time.perf_counter()
    runs: list[Run] = []
    tasks = [(p, seed, key) for p in problems for seed in seeds for key in keys]

    def record(task: tuple[Problem, int, str], run: Run) -> None:
        p, seed, key = task
        runs.append(replace(run, method=key))
        print(
            f"[{time.perf_counter() - start:7.1f}s] {p.name} {key} seed={seed}: "
            f"log10 regret {fmt(log10_regret(run.best, optimum_of(p, runs)))}, "
            f"{fmt(run.s_model, 3)} s/model decision {run.note}",
            file=sys.stderr,
            flush=True,
        )
        args.output.write_text(report(argv, runs, problems, keys, budgets, seeds, None))

    run_tasks(
        tasks,
        lambda t: one_run(t[0].instance(t[1]), f"ablation:{t[2]}", budgets[t[0].name]),
        args.jobs,
        record,
        initializer=lambda: warm_up(["bayesopt"]),
    )
    text = report(argv, runs, problems, keys, budgets, seeds, time.perf_counter() - start)
    write_report(text, args.output)
    return 1 if any(math.isnan(r.best) for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())

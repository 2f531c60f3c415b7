"""Active learning: held-out RMSE against evaluations, ``goal="learn"`` against Sobol and
uniform random points; level sets: the share of a fine grid misclassified after a budget.

Problems (noiseless BoTorch test functions on the unit cube, inputs rescaled to their
domains): Branin (d=2, 30 evaluations), Hartmann3 (d=3, 45) and Hartmann6 (d=6, 60).

Methods, each with this project's exact GP (``surrogate="gp"``) as the model whose
accuracy is measured, so that only where the points are differs:

* ``learn``: ``Experiment(goal="learn")``: a Sobol design of ``design_size(d)`` points
  (``bayesopt.steps``: 5 at d=2, 6 at d=3, 10 at d=6),
  then one point at a time maximizing the default learning acquisition ``"variation"``:
  the negative integrated posterior variance weighted towards where the response varies
  (``bayesopt.active.variation_weights``), closed form, default optimizer settings.
* ``qnipv``: the same with ``acquisition="qNIPV"``, the unweighted integrated variance
  (BoTorch's ``qNegIntegratedPosteriorVariance``, closed form).
* ``sobol``: this project with ``initial_trials=budget`` (its seeded, scrambled Sobol
  design for the whole budget; the same first points as ``learn``).
* ``random``: uniform random points (NumPy, seeded).

Accuracy: the RMSE of the GP's posterior mean on a fixed test set of 2,000 scrambled Sobol
points (seed 12345, disjoint from the designs), after ``n`` evaluations. For ``learn``
it is the ``holdout_rmse`` recorded with each decision (the deciding model; test set
given with ``Optimizer.holdout``) and the final model's ``Optimizer.holdout_scores()``;
for the others the same surrogate fitted, with the same seed, to the first ``n`` points.
'Evaluations to reach Sobol's final RMSE': the first ``n`` from which the median (over
seeds) learn curve stays at or below the median RMSE of Sobol after the full budget
(and the median over seeds of the same per seed, each against its own Sobol run).

Level sets: Branin with the level at its 30% quantile (over a 200 x 200 grid),
``goal=("level", "y", T)`` (acquisition ``"level"``, the targeted integrated variance)
against Sobol and random points; the share of a 100 x 100 grid whose side of the level
the fitted GP gets wrong (``P(f >= T) > 0.5`` against the truth), after ``n``
evaluations.

Medians over seeds, printed and written to ``benchmarks/results/active_learning.md``.

Run from the repository root::

    .venv/bin/python benchmarks/active_learning.py            # full run (about 11 min on 2 cores)
    .venv/bin/python benchmarks/active_learning.py --quick    # smoke run: 1 seed, half budgets
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from botorch.test_functions import Branin, Hartmann
from botorch.test_functions.synthetic import SyntheticTestFunction
from peer_common import command, environment, fmt, iqr, median, set_threads, sobol_points

from bayesopt import Experiment, Float, Objective, Optimizer
from bayesopt.active import holdout_scores, level_region, mean_std
from bayesopt.device import DTYPE
from bayesopt.steps import design_size
from bayesopt.strategy import History, Strategy

RESULTS = Path(__file__).resolve().parent / "results" / "active_learning.md"
TEST_POINTS = 2000
TEST_SEED = 12345
#: Level of the level-set problem: this quantile of the function over a fine grid.
LEVEL_QUANTILE = 0.30


@dataclass(frozen=True)
class Problem:
    name: str
    fn: SyntheticTestFunction
    budget: int

    @property
    def dim(self) -> int:
        return int(self.fn.dim)

    @property
    def names(self) -> list[str]:
        return [f"x{i}" for i in range(self.dim)]

    def values(self, U: np.ndarray) -> np.ndarray:
        """The function at ``n x d`` points of the unit cube."""
        lb, ub = self.fn.bounds
        X = lb + (ub - lb) * torch.as_tensor(U, dtype=DTYPE)
        return self.fn.evaluate_true(X).numpy()

    def experiment(self, seed: int, budget: int, **kw: object) -> Experiment:
        settings: dict = {
            "name": self.name,
            "parameters": [Float(n, 0.0, 1.0) for n in self.names],
            "objectives": [Objective("y")],
            "budget": budget,
            "seed": seed,
        }
        settings.update(kw)
        return Experiment(**settings)


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": lambda: Problem("branin", Branin(), 30),
    "hartmann3": lambda: Problem("hartmann3", Hartmann(dim=3), 45),
    "hartmann6": lambda: Problem("hartmann6", Hartmann(dim=6), 60),
}
LEVEL_PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": lambda: Problem("branin-level", Branin(), 30),
}
METHODS = ("learn", "qnipv", "sobol", "random")
LEVEL_METHODS = ("learn", "sobol", "random")


@dataclass
class Curve:
    """RMSE on the test set after ``n`` evaluations, by ``n``."""

    rmse: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------- helpers
def points_of(opt: Optimizer) -> np.ndarray:
    space = opt.experiment.space
    return np.array([space.encode(t.params) for t in opt.all_trials()])


def fit_at(exp: Experiment, seed: int, U: np.ndarray, y: np.ndarray, n: int) -> object:
    """The experiment's surrogate fitted (seeded) to the first ``n`` points."""
    history = History(X=U[:n], Y=y[:n], X_pending=np.empty((0, U.shape[1])), n_trials=n, n_sobol=n)
    return Strategy(exp, seed=seed, device=torch.device("cpu")).fit(history)


def rmse_at(exp: Experiment, seed: int, U: np.ndarray, y: np.ndarray, n: int, test: tuple) -> float:
    fitted = fit_at(exp, seed, U, y, n)
    return holdout_scores(mean_std(fitted), test[0], test[1])["rmse"]  # type: ignore[arg-type]


def checkpoints(p: Problem, budget: int) -> list[int]:
    """Where the curves are compared: the design size, then about every budget/6."""
    start = design_size(p.dim)
    step = max(1, round(budget / 6))
    out = sorted({start, *range(step * math.ceil(start / step), budget, step), budget})
    return [n for n in out if start <= n <= budget]


def test_set(p: Problem) -> tuple[np.ndarray, np.ndarray]:
    U = np.array(sobol_points(p.dim, TEST_POINTS, TEST_SEED))
    return U, p.values(U)


# ------------------------------------------------------------------ methods
def run_learn(
    p: Problem, seed: int, budget: int, test: tuple, acquisition: str | None = None
) -> Curve:
    exp = p.experiment(seed, budget, goal="learn", acquisition=acquisition)
    opt = Optimizer(exp, seed=seed, device="cpu")
    opt.holdout(pd.DataFrame(np.column_stack([test[0], test[1]]), columns=[*p.names, "y"]))
    out = Curve()
    t0 = time.perf_counter()
    for _ in range(budget):
        (trial,) = opt.suggest(1)
        u = exp.space.encode(trial.params)
        opt.observe(trial, float(p.values(u[None])[0]))
    out.seconds = time.perf_counter() - t0
    for t in opt.all_trials():
        if "holdout_rmse" in t.metadata:
            out.rmse[int(t.metadata["n_train"])] = float(t.metadata["holdout_rmse"])
        if "fallback" in t.metadata:
            out.notes.append(f"trial {t.id} fell back: {t.metadata['fallback']}")
    out.rmse[budget] = opt.holdout_scores()["rmse"]
    U = points_of(opt)
    y = p.values(U)
    for n in range(2, design_size(p.dim)):  # the design points, as for Sobol
        out.rmse[n] = rmse_at(exp, seed, U, y, n, test)
    opt.store.close()
    return out


def run_sobol(p: Problem, seed: int, budget: int, test: tuple) -> Curve:
    exp = p.experiment(seed, budget, initial_trials=budget)
    opt = Optimizer(exp, seed=seed, device="cpu")
    trials = opt.suggest(budget)
    U = np.array([exp.space.encode(t.params) for t in trials])
    opt.store.close()
    return _fitted_curve(p, exp, seed, U, budget, test)


def run_random(p: Problem, seed: int, budget: int, test: tuple) -> Curve:
    exp = p.experiment(seed, budget)
    U = np.random.default_rng(seed).random((budget, p.dim))
    return _fitted_curve(p, exp, seed, U, budget, test)


def _fitted_curve(
    p: Problem, exp: Experiment, seed: int, U: np.ndarray, budget: int, test: tuple
) -> Curve:
    y = p.values(U)
    out = Curve()
    t0 = time.perf_counter()
    for n in checkpoints(p, budget):
        out.rmse[n] = rmse_at(exp, seed, U, y, n, test)
    out.seconds = time.perf_counter() - t0
    return out


RUNS: dict[str, Callable[[Problem, int, int, tuple], Curve]] = {
    "learn": run_learn,
    "qnipv": lambda p, seed, budget, test: run_learn(p, seed, budget, test, "qNIPV"),
    "sobol": run_sobol,
    "random": run_random,
}


# --------------------------------------------------------------- level sets
def level_grid(p: Problem, side: int) -> tuple[np.ndarray, np.ndarray]:
    g = (np.arange(side) + 0.5) / side
    U = np.stack(np.meshgrid(*[g] * p.dim, indexing="ij"), -1).reshape(-1, p.dim)
    return U, p.values(U)


def misclassified(
    exp: Experiment, seed: int, U: np.ndarray, y: np.ndarray, n: int, grid: tuple, level: float
) -> float:
    fitted = fit_at(exp, seed, U, y, n)
    X = torch.as_tensor(grid[0], dtype=DTYPE)
    estimate = level_region(fitted.model, X, level, fitted.objective.sign())  # type: ignore[attr-defined]
    return float(np.mean((estimate.probability > 0.5) != (grid[1] >= level)))


def run_level(
    p: Problem, method: str, seed: int, budget: int, level: float, grid: tuple, ns: list[int]
) -> dict[int, float]:
    if method == "learn":
        exp = p.experiment(seed, budget, goal=("level", "y", level))
        opt = Optimizer(exp, seed=seed, device="cpu")
        for _ in range(budget):
            (trial,) = opt.suggest(1)
            u = exp.space.encode(trial.params)
            opt.observe(trial, float(p.values(u[None])[0]))
        U = points_of(opt)
        opt.store.close()
    elif method == "sobol":
        exp = p.experiment(seed, budget, goal=("level", "y", level), initial_trials=budget)
        opt = Optimizer(exp, seed=seed, device="cpu")
        U = np.array([exp.space.encode(t.params) for t in opt.suggest(budget)])
        opt.store.close()
    else:
        exp = p.experiment(seed, budget, goal=("level", "y", level))
        U = np.random.default_rng(seed).random((budget, p.dim))
    y = p.values(U)
    return {n: misclassified(exp, seed, U, y, n, grid, level) for n in ns}


# ------------------------------------------------------------------ report
def reach(curve: dict[int, float], target: float, budget: int) -> int | None:
    """First ``n`` from which ``curve`` stays at or below ``target`` up to the budget."""
    found = None
    for n in sorted(curve):
        below = curve[n] <= target
        found = (n if found is None else found) if below else None
    return found if found is not None and found <= budget else None


def rmse_tables(
    curves: dict[tuple[str, str, int], Curve],
    problems: list[Problem],
    budgets: dict[str, int],
    seeds: list[int],
) -> tuple[str, dict[str, float]]:
    out: list[str] = []
    savings: dict[str, float] = {}
    for p in problems:
        B = budgets[p.name]
        ns = checkpoints(p, B)
        out += [
            f"**{p.name}** (d={p.dim}, budget {B}; test RMSE, median over seeds [IQR at n={B}])",
            "",
            "| method | " + " | ".join(f"n={n}" for n in ns) + f" | IQR at n={B} |",
            "|---|" + "---:|" * (len(ns) + 1),
        ]
        for m in METHODS:
            got = [curves[(p.name, m, s)] for s in seeds if (p.name, m, s) in curves]
            cells = [fmt(median([c.rmse.get(n, math.nan) for c in got]), 3) for n in ns]
            lo, hi = iqr([c.rmse.get(B, math.nan) for c in got])
            out.append(f"| {m} | " + " | ".join(cells) + f" | {fmt(lo, 3)} – {fmt(hi, 3)} |")
        out.append("")
        learn = [curves[(p.name, "learn", s)] for s in seeds if (p.name, "learn", s) in curves]
        sobol = {s: curves[(p.name, "sobol", s)] for s in seeds if (p.name, "sobol", s) in curves}
        target = median([c.rmse[B] for c in sobol.values()])
        every = sorted({n for c in learn for n in c.rmse})
        med = {n: median([c.rmse.get(n, math.nan) for c in learn]) for n in every}
        n_med = reach(med, target, B)
        per_seed = []
        for s in seeds:
            if (p.name, "learn", s) in curves and s in sobol:
                r = reach(curves[(p.name, "learn", s)].rmse, sobol[s].rmse[B], B)
                per_seed.append(float(r) if r is not None else math.inf)
        n_seed = median(per_seed)
        saved = 1.0 - (n_med / B) if n_med is not None else -math.inf
        savings[p.name] = saved
        secs = [c.seconds for c in learn]
        reached = (
            f"learn reaches it (median curve) after **{n_med}** evaluations of {B}: "
            f"**{100 * saved:.0f}% fewer**"
            if n_med is not None
            else f"the median learn curve does not stay below it within {B} evaluations"
        )
        seeds_text = ", ".join("never" if math.isinf(v) else str(int(v)) for v in per_seed)
        out.append(
            f"Sobol's final RMSE (median): {target:.4g}; {reached}; per seed (each against "
            f"its own Sobol run): median {fmt(n_seed, 1)} ({seeds_text}). Learn run wall "
            f"time: median {fmt(median(secs), 1)} s per seed ({fmt(median(secs) / B, 2)} s "
            "per evaluation, decisions included).\n"
        )
    return "\n".join(out), savings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Active learning: RMSE against evaluations.")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1")
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--no-level", action="store_true", help="skip the level-set part")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, half budgets")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    args = parser.parse_args(argv)

    set_threads()
    logging.getLogger("bayesopt").setLevel(logging.ERROR)
    seeds = [0] if args.quick else list(range(args.seeds))
    problems = [PROBLEMS[name]() for name in args.problems]
    budgets = {p.name: max(p.budget // 2, 2) if args.quick else p.budget for p in problems}
    start = time.perf_counter()
    failed = False
    curves: dict[tuple[str, str, int], Curve] = {}
    for p in problems:
        test = test_set(p)
        for seed in seeds:
            for m in METHODS:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        curve = RUNS[m](p, seed, budgets[p.name], test)
                except Exception:
                    traceback.print_exc()
                    failed = True
                    continue
                curves[(p.name, m, seed)] = curve
                B = budgets[p.name]
                print(
                    f"[{time.perf_counter() - start:7.1f}s] {p.name} {m} seed={seed}: RMSE "
                    f"{fmt(curve.rmse.get(B, math.nan), 4)} after {B} {'; '.join(curve.notes)}",
                    file=sys.stderr,
                    flush=True,
                )
    rmse_text, savings = rmse_tables(curves, problems, budgets, seeds)

    level_text = ""
    level_budgets: dict[str, int] = {}
    if not args.no_level:
        rows = []
        for name, make in LEVEL_PROBLEMS.items():
            p = make()
            B = max(p.budget // 2, 2) if args.quick else p.budget
            level_budgets[p.name] = B
            fine = level_grid(p, 200)
            level = float(np.quantile(fine[1], LEVEL_QUANTILE))
            grid = level_grid(p, 100)
            ns = sorted({n for n in (10, 15, 20, B) if design_size(p.dim) <= n <= B})
            found: dict[str, list[dict[int, float]]] = {m: [] for m in LEVEL_METHODS}
            for seed in seeds:
                for m in LEVEL_METHODS:
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            found[m].append(run_level(p, m, seed, B, level, grid, ns))
                    except Exception:
                        traceback.print_exc()
                        failed = True
                        continue
                    print(
                        f"[{time.perf_counter() - start:7.1f}s] {p.name} {m} seed={seed}: "
                        f"misclassified {fmt(found[m][-1][B], 4)} after {B}",
                        file=sys.stderr,
                        flush=True,
                    )
            rows.append(
                f"**{name}**, level {level:.4g} (its {LEVEL_QUANTILE:.0%} quantile; the region "
                f"y >= level covers {np.mean(grid[1] >= level):.0%} of the grid), budget {B}: "
                "share of the 100 x 100 grid misclassified, median over seeds [IQR at the "
                "budget]\n"
            )
            rows.append("| method | " + " | ".join(f"n={n}" for n in ns) + " | IQR |")
            rows.append("|---|" + "---:|" * (len(ns) + 1))
            for m in LEVEL_METHODS:
                cells = [fmt(median([r[n] for r in found[m]]), 4) for n in ns]
                lo, hi = iqr([r[B] for r in found[m]])
                rows.append(f"| {m} | " + " | ".join(cells) + f" | {fmt(lo, 4)} – {fmt(hi, 4)} |")
            rows.append("")
        level_text = "\n".join(rows)
    total = time.perf_counter() - start

    summary = ", ".join(
        f"{name}: {'not reached' if math.isinf(v) else f'{100 * v:.0f}% fewer'}"
        for name, v in savings.items()
    )
    report = (
        f"# Active learning: held-out RMSE against evaluations{' (quick)' if args.quick else ''}"
        f"\n\nCommand: `{command(argv, 'active_learning.py')}`\n\n"
        f"{environment({**budgets, **level_budgets}, seeds)}; total runtime "
        f"{total / 60:.1f} min.\n\n"
        "Every method's accuracy is that of this project's exact GP fitted (seeded) to its "
        f"points: the RMSE of the posterior mean on {TEST_POINTS:,} scrambled Sobol test "
        f'points (seed {TEST_SEED}). `learn`: `Experiment(goal="learn")` (Sobol design of '
        "design_size(d), then the weighted integrated variance, `variation`, one point at a "
        'time); `qnipv`: the same with `acquisition="qNIPV"` (unweighted); `sobol`: this '
        "project with "
        "`initial_trials=budget`; `random`: uniform points. Evaluations needed by `learn` to "
        "reach Sobol's final RMSE (the first n from which the median curve stays at or "
        f"below it): {summary}.\n\n"
        f"## RMSE against evaluations\n\n{rmse_text}\n"
        + (f"## Level sets\n\n{level_text}\n" if level_text else "")
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

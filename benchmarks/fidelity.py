"""Cheap fidelities: regret at the target fidelity against cumulative cost.

Problems (minimized, noiseless, the fidelity ``s`` in ``[0, 1]`` as the last input and
``s = 1`` the target; BoTorch's multi-fidelity test functions):

* ``AugmentedBranin`` (2 parameters + fidelity), minimum 0.397887 at ``s = 1``; its
  cheaper fidelities shift the minimum's location.
* ``AugmentedHartmann`` (6 parameters + fidelity), minimum -3.32237.

Cost of an evaluation: the project's default, ``cost = 0.25 + s`` (BoTorch's
``AffineFidelityCostModel`` with a fixed cost of 1/5 of the target's), so the cheapest
evaluation costs 1/5 of one at the target. Each run spends a budget of cost (given in
evaluations at the target, ``budget x 1.25``); the trial that crosses it still runs.

Methods, each an ask/tell loop of one trial at a time with the project's defaults:

* ``multi-fidelity``: the space has ``Fidelity("s", 0, 1)``; the strategy chooses ``x``
  by qLogNEI at the target and ``s`` by variance reduction per cost
  (:mod:`bayesopt.fidelity`), after a Sobol design over all columns.
* ``single-fidelity``: the same experiment with the fidelity fixed at the target (a plain
  ``Float`` space of the other parameters, each evaluation at ``s = 1``, cost 1.25).

Scores, from the library's own outputs: the regret of ``best()`` (the best trial evaluated
at the target; ``none`` while there is no such trial) once 25%, 50%, 75% and 100% of the
budget is spent (trials whose cumulative cost fits within it); the regret of the final
model's recommendation (the observed point with the best posterior mean at the target,
by ``predict``, evaluated at the target); the cost spent until ``best()`` first had a
regret below a threshold; trials made and the share at the target; seconds per decision
(inside ``suggest``). Medians and interquartile ranges over seeds, printed and written
to ``benchmarks/results/fidelity.md``.

Run from the repository root::

    .venv/bin/python benchmarks/fidelity.py             # full run (about 12 min on 2 cores)
    .venv/bin/python benchmarks/fidelity.py --quick     # smoke run: 1 seed, a third of the budget
    .venv/bin/python benchmarks/fidelity.py --problems branin --seeds 3
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import torch
from botorch.test_functions.multi_fidelity import AugmentedBranin, AugmentedHartmann
from botorch.test_functions.synthetic import SyntheticTestFunction
from peer_common import command, fmt, iqr, median, set_threads, timed

RESULTS = Path(__file__).resolve().parent / "results" / "fidelity.md"
#: The share of the budget at which the regret is read.
CHECKPOINTS = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Problem:
    """A multi-fidelity test function, its optimum at the target, a cost budget (in
    evaluations at the target) and the regret threshold of the cost-to-reach score."""

    name: str
    fn: SyntheticTestFunction
    budget: int
    threshold: float
    seeds: int

    @property
    def names(self) -> list[str]:
        return [f"x{i}" for i in range(self.fn.dim - 1)]

    @property
    def optimum(self) -> float:
        return float(self.fn.optimal_value)

    def bounds(self, i: int) -> tuple[float, float]:
        return float(self.fn.bounds[0, i]), float(self.fn.bounds[1, i])

    def __call__(self, params: dict[str, float], s: float) -> float:
        """The noiseless value at ``params`` and fidelity ``s``."""
        x = [float(params[n]) for n in self.names] + [float(s)]
        return float(self.fn.evaluate_true(torch.tensor([x], dtype=torch.float64))[0])


def cost_of(s: float) -> float:
    """The project's default cost of the fidelity ``Fidelity("s", 0, 1)``."""
    from bayesopt import Fidelity
    from bayesopt.fidelity import default_cost

    return default_cost(Fidelity("s", 0.0, 1.0))(s)


@dataclass
class Trace:
    """Per trial: its cost, its true value at the target when evaluated there (else
    ``None``), its fidelity, decision seconds and whether a model made it; the final
    recommendation's regret."""

    cost: list[float] = field(default_factory=list)
    at_target: list[float | None] = field(default_factory=list)
    fidelity: list[float] = field(default_factory=list)
    ask_s: list[float] = field(default_factory=list)
    by_model: list[bool] = field(default_factory=list)
    recommended: float = math.nan
    notes: list[str] = field(default_factory=list)


def _recommendation(opt: object, problem: Problem) -> float:
    """True value at the target of the observed point with the best posterior mean there."""
    import pandas as pd

    from bayesopt import Optimizer

    assert isinstance(opt, Optimizer)
    done = opt.trials()
    done = done[done["status"] == "completed"]
    points = pd.DataFrame(done[problem.names]).drop_duplicates()
    pred = opt.predict(points)  # at the target fidelity: the fidelity is left out
    row = pred.loc[pred["y_mean"].idxmin()]
    return problem({n: float(row[n]) for n in problem.names}, 1.0)


def run(problem: Problem, seed: int, budget: float, multi: bool) -> Trace:
    from bayesopt import Experiment, Fidelity, Float, Objective, Optimizer

    parameters: list = [Float(n, *problem.bounds(i)) for i, n in enumerate(problem.names)]
    if multi:
        parameters.append(Fidelity("s", 0.0, 1.0))
    exp = Experiment(
        name=f"{problem.name}-{'mf' if multi else 'sf'}",
        parameters=parameters,
        objectives=[Objective("y")],
        budget=10_000,
        seed=seed,
    )
    opt = Optimizer(exp, seed=seed)
    out = Trace()
    while sum(out.cost) < budget:
        (trial,), seconds = timed(lambda: opt.suggest(1))
        s = float(trial.params.get("s", 1.0))
        value = problem(trial.params, s)
        opt.observe(trial, value)
        out.ask_s.append(seconds)
        out.by_model.append(trial.generator != "sobol")
        out.fidelity.append(s)
        out.cost.append(float(trial.metadata["cost"]) if multi else cost_of(1.0))
        out.at_target.append(value if s == 1.0 else None)
    # Library checks: the recorded cost is the default's, best() is the best at the target.
    pairs = zip(out.cost, out.fidelity, strict=True)
    if multi and any(abs(c - cost_of(s)) > 1e-9 for c, s in pairs):
        out.notes.append("recorded cost differs from the default cost model")
    seen = [v for v in out.at_target if v is not None]
    if seen and opt.best().values != {"y": min(seen)}:
        out.notes.append("best() is not the best trial at the target")
    fallbacks = sum("fallback" in t.metadata for t in opt.all_trials())
    if fallbacks:
        out.notes.append(f"{fallbacks} model step(s) fell back")
    out.recommended = _recommendation(opt, problem) - problem.optimum
    opt.store.close()
    return out


@dataclass(frozen=True)
class Result:
    problem: str
    method: str
    seed: int
    regret: tuple[float, ...]  # best() at each checkpoint; inf: no target trial yet
    recommended: float
    cost_to_threshold: float  # inf: never reached
    n_trials: int
    share_at_target: float
    s_decision: float  # mean seconds per model-based decision
    note: str = ""


def score(problem: Problem, method: str, seed: int, trace: Trace, budget: float) -> Result:
    spent, best = 0.0, math.inf
    curve: list[tuple[float, float]] = []  # (cumulative cost, best regret at the target)
    for cost, value in zip(trace.cost, trace.at_target, strict=True):
        spent += cost
        if value is not None:
            best = min(best, value - problem.optimum)
        curve.append((spent, best))

    def regret_at(limit: float) -> float:
        within = [r for c, r in curve if c <= limit + 1e-9]
        return within[-1] if within else math.inf

    reached = next((c for c, r in curve if r <= problem.threshold), math.inf)
    model = [s for s, by_model in zip(trace.ask_s, trace.by_model, strict=True) if by_model]
    return Result(
        problem=problem.name,
        method=method,
        seed=seed,
        regret=tuple(regret_at(f * budget) for f in CHECKPOINTS),
        recommended=trace.recommended,
        cost_to_threshold=reached,
        n_trials=len(trace.cost),
        share_at_target=sum(v is not None for v in trace.at_target) / max(len(trace.cost), 1),
        s_decision=sum(model) / len(model) if model else math.nan,
        note="; ".join(trace.notes),
    )


METHODS: dict[str, tuple[str, bool]] = {
    "mf": ("multi-fidelity", True),
    "sf": ("single-fidelity (at the target)", False),
}
PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": lambda: Problem("branin", AugmentedBranin(), budget=20, threshold=0.1, seeds=5),
    "hartmann": lambda: Problem("hartmann", AugmentedHartmann(), budget=30, threshold=0.3, seeds=3),
}


def one_run(problem: Problem, key: str, seed: int, budget: float) -> Result:
    label, multi = METHODS[key]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trace = run(problem, seed, budget, multi)
    except Exception as exc:  # report it and go on with the other runs
        traceback.print_exc()
        nan = math.nan
        return Result(
            problem.name, label, seed, (nan,) * len(CHECKPOINTS), nan, nan, 0, nan, nan,
            f"{type(exc).__name__}: {exc}",
        )  # fmt: skip
    return score(problem, label, seed, trace, budget)


def seconds(x: float) -> str:
    """Seconds per decision; ``-`` for a run without a model-based decision."""
    return "-" if math.isnan(x) else f"{x:.2f}"


def tables(results: list[Result], problems: list[Problem], budgets: dict[str, float]) -> str:
    heads = " | ".join(f"regret @ {int(f * 100)}% cost" for f in CHECKPOINTS)
    lines = [
        f"| problem | method | {heads} | recommended regret | cost to regret <= thr "
        "| trials | at target | s/decision |",
        "|---|---|" + "---:|" * (len(CHECKPOINTS) + 5),
    ]
    for p in problems:
        for label, _ in METHODS.values():
            rs = [r for r in results if (r.problem, r.method) == (p.name, label)]
            if not rs:
                continue
            cells = []
            for k in range(len(CHECKPOINTS)):
                values = [r.regret[k] for r in rs]
                lo, hi = iqr(values)
                cells.append(f"{fmt(median(values), 3)} ({fmt(lo, 3)} – {fmt(hi, 3)})")
            rec = [r.recommended for r in rs]
            lo, hi = iqr(rec)
            lines.append(
                f"| {p.name} (d={p.fn.dim}, {budgets[p.name]:g} cost, thr {p.threshold:g}) "
                f"| {label} | {' | '.join(cells)} "
                f"| {fmt(median(rec), 3)} ({fmt(lo, 3)} – {fmt(hi, 3)}) "
                f"| {fmt(median([r.cost_to_threshold for r in rs]), 1)} "
                f"| {fmt(median([float(r.n_trials) for r in rs]), 0)} "
                f"| {fmt(median([r.share_at_target for r in rs]), 2)} "
                f"| {seconds(median([r.s_decision for r in rs]))} |"
            )
    lines += ["", "Per seed:", ""]
    lines.append(
        f"| problem | method | seed | {heads} | recommended regret | cost to regret <= thr "
        "| trials | at target | s/decision | note |"
    )
    lines.append("|---|---|---:|" + "---:|" * (len(CHECKPOINTS) + 5) + "---|")
    for r in results:
        regrets = " | ".join(fmt(v, 4) for v in r.regret)
        lines.append(
            f"| {r.problem} | {r.method} | {r.seed} | {regrets} | {fmt(r.recommended, 4)} "
            f"| {fmt(r.cost_to_threshold, 2)} | {r.n_trials} | {fmt(r.share_at_target, 2)} "
            f"| {seconds(r.s_decision)} | {r.note} |"
        )
    return "\n".join(lines)


def environment(budgets: dict[str, float], seeds: dict[str, list[int]]) -> str:
    import botorch

    return (
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; machine: {os.cpu_count()} CPUs, "
        f"shared with other jobs, so seconds are indicative (torch threads "
        f"{torch.get_num_threads()}); torch {torch.__version__}, botorch {botorch.__version__}; "
        f"cost budgets: {', '.join(f'{k}={v:g}' for k, v in budgets.items())}; seeds: "
        f"{', '.join(f'{k}={v}' for k, v in seeds.items())}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regret against cost: multi vs single fidelity.")
    parser.add_argument(
        "--seeds", type=int, help="number of seeds, 0..N-1 (default: 5 branin, 3 hartmann)"
    )
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 1/3 budget")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    args = parser.parse_args(argv)

    set_threads()
    logging.getLogger("bayesopt").setLevel(logging.ERROR)
    problems = [PROBLEMS[name]() for name in args.problems]
    seeds = {p.name: [0] if args.quick else list(range(args.seeds or p.seeds)) for p in problems}
    full = {p.name: p.budget * cost_of(1.0) for p in problems}
    budgets = {k: v / 3 if args.quick else v for k, v in full.items()}

    start = time.perf_counter()
    results: list[Result] = []
    for p in problems:
        for seed in seeds[p.name]:  # methods interleaved per seed: CPU contention is shared
            for key in args.methods:
                r = one_run(p, key, seed, budgets[p.name])
                results.append(r)
                print(
                    f"[{time.perf_counter() - start:7.1f}s] {p.name} {r.method} seed={seed}: "
                    f"regret {fmt(r.regret[-1], 4)} (recommended {fmt(r.recommended, 4)}), "
                    f"{r.n_trials} trials, {fmt(r.share_at_target, 2)} at target, "
                    f"{seconds(r.s_decision)} s/decision {r.note}",
                    file=sys.stderr,
                    flush=True,
                )
    total = time.perf_counter() - start

    report = (
        f"# Cheap fidelities: regret at the target against cost{' (quick)' if args.quick else ''}"
        f"\n\nCommand: `{command(argv, 'fidelity.py')}`\n\n"
        f"{environment(budgets, seeds)}; total runtime {total / 60:.1f} min.\n\n"
        "Cost of an evaluation at fidelity s: 0.25 + s (the project's default: the target "
        "s = 1 costs 1.25, the cheapest 1/5 of that); the budget is in the same units "
        f"({', '.join(f'{p.name}: {p.budget} evaluations at the target' for p in problems)}). "
        "Regret: the true value of `best()` (the best trial evaluated at the target) minus "
        "the optimum, once the given share of the budget is spent ('none': no trial at the "
        "target yet). Recommended regret: the observed point with the best posterior mean at "
        "the target (`predict`), evaluated at the target, after the whole budget. Cost to "
        "regret <= thr: cumulative cost when `best()` first came within the threshold ('none': "
        "never). Seconds per decision: inside `suggest`, the mean over the model-based "
        "trials of a run. Medians over seeds, 25th-75th percentiles in brackets.\n\n"
        f"{tables(results, problems, budgets)}\n"
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 1 if any(math.isnan(r.regret[-1]) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

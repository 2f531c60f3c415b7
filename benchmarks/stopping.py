"""Stopping rules: evaluations saved and regret given up, this project's rules and Optuna's
Terminator, each judged on full-budget runs.

Problems (minimized, noiseless): Branin (d=2, budget 40) and Hartmann6 (d=6, budget 60).

Every seed runs the full budget once per optimizer, and every rule is asked after every
trial whether it would stop there; no rule stops the run, so all rules of an optimizer see
the same trajectory. A rule "stops" at the first trial after which it fires (it never
fires: it uses the whole budget). Per rule: evaluations used and saved, the regret
(best observed value minus the optimum) at that point and after the full budget, and the
regret given up (the difference).

* ``bayesopt (default)`` runs with ``Experiment(stopping=[...])`` holding the three rules:
  ``TargetValue(optimum + 0.01)`` (an oracle, for reference), ``NoImprovement(trials=10,
  tolerance=1e-3)`` (an absolute tolerance, the same for both problems) and
  ``LowExpectedImprovement()`` (its defaults: the relative expected improvement below 1e-3
  for 3 decisions in a row). After each trial, each rule's ``check`` is applied to
  ``Optimizer.progress()``, and ``Optimizer.should_stop()`` is called too (it records the
  first rule that fires and must not prevent further suggestions; checked here).
* ``optuna GPSampler``: ``GPSampler(seed=seed)``, with, after each ``tell``,
  ``Terminator(EMMREvaluator(), MedianErrorEvaluator(emmr)).should_terminate(study)``,
  the setup Optuna documents for objectives without cross-validation scores (Ishibashi et
  al. 2023; the error threshold is 1% of the median EMMR over trials 11-30, so it cannot
  fire before trial 30), and ``Terminator(BestValueStagnationEvaluator())`` (stop after 30
  trials without a new best). ``NoImprovement`` and ``TargetValue`` are also applied to
  this run's trajectory (they read only the best values), so each optimizer's rules are
  compared on the same runs. ``optuna.terminator`` is deprecated since Optuna 4.9 (to be
  removed in 6.0); it is used as it is in 5.0.

Medians over seeds, printed and written to ``benchmarks/results/stopping.md``.

Run from the repository root::

    .venv/bin/python benchmarks/stopping.py            # full run (about 5 min on 2 cores)
    .venv/bin/python benchmarks/stopping.py --quick    # smoke run: 1 seed, half budgets
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from botorch.test_functions import Branin, Hartmann
from botorch.test_functions.synthetic import SyntheticTestFunction
from peer_common import command, environment, fmt, median, set_threads, silence_peers, timed

from bayesopt.stopping import LowExpectedImprovement, NoImprovement, Progress, TargetValue

RESULTS = Path(__file__).resolve().parent / "results" / "stopping.md"
#: Absolute tolerance of NoImprovement, in the objective's units, for both problems.
TOLERANCE = 1e-3
#: TargetValue is set this far above the known optimum (an oracle rule).
TARGET_GAP = 0.01


@dataclass(frozen=True)
class Problem:
    name: str
    fn: SyntheticTestFunction
    budget: int

    @property
    def space(self) -> list[tuple[str, float, float]]:
        bounds: list[list[float]] = torch.as_tensor(self.fn.bounds).T.tolist()
        return [(f"x{i + 1}", lo, hi) for i, (lo, hi) in enumerate(bounds)]

    @property
    def optimum(self) -> float:
        return float(self.fn.optimal_value)

    def __call__(self, params: dict[str, float]) -> float:
        x = torch.tensor([[float(params[n]) for n, _, _ in self.space]], dtype=torch.float64)
        return float(self.fn.evaluate_true(x).item())


def our_rules(problem: Problem) -> list[tuple[str, object]]:
    """(label, rule) in the order the experiment lists them."""
    return [
        (
            f"TargetValue(optimum + {TARGET_GAP}) [oracle]",
            TargetValue(problem.optimum + TARGET_GAP),
        ),
        (f"NoImprovement(trials=10, tolerance={TOLERANCE:g})", NoImprovement(10, TOLERANCE)),
        ("LowExpectedImprovement() [defaults]", LowExpectedImprovement()),
    ]


@dataclass
class Trace:
    """One full-budget run: observed values, and per rule the trial counts after which it
    fired (1-based), with the seconds each check took."""

    values: list[float] = field(default_factory=list)
    fired: dict[str, list[int]] = field(default_factory=dict)
    check_s: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def record(self, label: str, n: int, fires: bool, seconds: float) -> None:
        self.fired.setdefault(label, [])
        self.check_s.setdefault(label, []).append(seconds)
        if fires:
            self.fired[label].append(n)


def best_trace(values: Sequence[float]) -> list[float]:
    out: list[float] = []
    for v in values:
        out.append(v if not out else min(out[-1], v))
    return out


def run_bayesopt(problem: Problem, seed: int, budget: int) -> Trace:
    from bayesopt import Experiment, Float, Objective, Optimizer

    rules = our_rules(problem)
    exp = Experiment(
        name=problem.name,
        parameters=[Float(n, lo, hi) for n, lo, hi in problem.space],
        objectives=[Objective("y", minimize=True)],
        stopping=[rule for _, rule in rules],  # type: ignore[misc]
        budget=budget,
        seed=seed,
    )
    opt = Optimizer(exp, seed=seed)
    out = Trace()
    first_stop: tuple[int, str] | None = None
    for n in range(1, budget + 1):
        (trial,) = opt.suggest(1)  # after a stop too: should_stop() must not prevent it
        out.values.append(problem(trial.params))
        opt.observe(trial, {"y": out.values[-1]})
        progress, seconds = timed(opt.progress)
        for label, rule in rules:
            fired, s = timed(lambda rule=rule, p=progress: rule.check(p))  # type: ignore[attr-defined]
            out.record(label, n, fired is not None, seconds + s)
        stop = opt.should_stop()
        if stop is not None and first_stop is None:
            first_stop = (n, stop.rule)
    # Library checks: the progress the rules read, and what should_stop() recorded.
    best = progress.best[-1]
    if best is None or not math.isclose(best, min(out.values)):
        out.notes.append(f"progress().best[-1]={best} but min observed {min(out.values):.6g}")
    expected = min(((ns[0], i) for i, ns in enumerate(out.fired.values()) if ns), default=None)
    if expected is not None:
        n0, i0 = expected
        name = rules[i0][1].name  # type: ignore[attr-defined]
        if first_stop != (n0, name):
            out.notes.append(f"should_stop() first fired {first_stop}, expected {(n0, name)}")
        record = opt.stop_record()
        if record is None:
            out.notes.append("stop_record() is None after should_stop() fired")
    elif first_stop is not None:
        out.notes.append(f"should_stop() fired {first_stop} but no rule's check did")
    ei = progress.ei_rel
    if ei:
        out.notes.append(f"ei_rel last {ei[-1]:.2g}, min {min(ei):.2g}")
    return out


def run_optuna(problem: Problem, seed: int, budget: int) -> Trace:
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.terminator import (
        BestValueStagnationEvaluator,
        EMMREvaluator,
        MedianErrorEvaluator,
        Terminator,
    )

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.GPSampler(seed=seed))
    space = {n: FloatDistribution(lo, hi) for n, lo, hi in problem.space}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # optuna.terminator is deprecated
        emmr = EMMREvaluator(seed=seed)
        terminators = {
            "Terminator(EMMREvaluator, MedianErrorEvaluator)": Terminator(
                improvement_evaluator=emmr, error_evaluator=MedianErrorEvaluator(emmr)
            ),
            "Terminator(BestValueStagnationEvaluator) [max 30 stagnant trials]": Terminator(
                improvement_evaluator=BestValueStagnationEvaluator()
            ),
        }
    rules = our_rules(problem)[:2]  # rules that read only the best values
    out = Trace()
    for n in range(1, budget + 1):
        trial = study.ask(fixed_distributions=space)
        out.values.append(problem(trial.params))
        study.tell(trial, out.values[-1])
        for label, terminator in terminators.items():
            fires, seconds = timed(lambda t=terminator: t.should_terminate(study))
            out.record(label, n, fires, seconds)
        progress = Progress(
            best=best_trace(out.values),
            ei_rel=[],
            minimize=True,
            multi_objective=False,
            last_trial=n - 1,
            n_finished=n,
        )
        for label, rule in rules:
            fired, seconds = timed(lambda rule=rule, p=progress: rule.check(p))  # type: ignore[attr-defined]
            out.record(label, n, fired is not None, seconds)
    return out


METHODS: dict[str, tuple[str, Callable[[Problem, int, int], Trace]]] = {
    "bayesopt": ("bayesopt (default)", run_bayesopt),
    "optuna": ("optuna GPSampler", run_optuna),
}
PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": lambda: Problem("branin", Branin(), 40),
    "hartmann6": lambda: Problem("hartmann6", Hartmann(dim=6), 60),
}


@dataclass(frozen=True)
class RuleResult:
    problem: str
    method: str
    rule: str
    seed: int
    budget: int
    used: int  # evaluations at the stop (the budget when the rule never fired)
    fired: bool
    regret_stop: float
    regret_full: float
    check_s: float
    note: str = ""


def results_of(
    problem: Problem, method: str, seed: int, budget: int, trace: Trace
) -> list[RuleResult]:
    best = best_trace(trace.values)
    regret = [b - problem.optimum for b in best]
    out = []
    for label, ns in trace.fired.items():
        used = ns[0] if ns else budget
        out.append(
            RuleResult(
                problem.name,
                method,
                label,
                seed,
                budget,
                used,
                bool(ns),
                regret[used - 1],
                regret[-1],
                median(trace.check_s[label]),
                "; ".join(trace.notes),
            )
        )
    return out


def log10(x: float) -> float:
    return math.log10(max(x, 1e-12)) if not math.isnan(x) else math.nan


def tables(results: list[RuleResult], problems: list[Problem], budgets: dict[str, int]) -> str:
    lines = [
        "| problem (budget) | run | rule | fired (seeds) | median evaluations used "
        "| median saved | median log10 regret at stop | median log10 regret at full budget "
        "| median regret given up | max regret given up | median s per check |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in problems:
        mine = [r for r in results if r.problem == p.name]
        keys = list(dict.fromkeys((r.method, r.rule) for r in mine))
        for method, rule in keys:
            rs = [r for r in mine if (r.method, r.rule) == (method, rule)]
            given_up = [r.regret_stop - r.regret_full for r in rs]
            lines.append(
                f"| {p.name} ({budgets[p.name]}) | {method} | {rule} "
                f"| {sum(r.fired for r in rs)}/{len(rs)} "
                f"| {fmt(median([r.used for r in rs]), 1)} "
                f"| {fmt(median([r.budget - r.used for r in rs]), 1)} "
                f"| {fmt(median([log10(r.regret_stop) for r in rs]))} "
                f"| {fmt(median([log10(r.regret_full) for r in rs]))} "
                f"| {fmt(median(given_up), 4)} | {fmt(max(given_up), 4)} "
                f"| {fmt(median([r.check_s for r in rs]), 4)} |"
            )
    lines += ["", "Per seed:", ""]
    lines.append(
        "| problem | run | rule | seed | evaluations used | regret at stop | regret at full "
        "budget | note |"
    )
    lines.append("|---|---|---|---:|---:|---:|---:|---|")
    for r in results:
        lines.append(
            f"| {r.problem} | {r.method} | {r.rule} | {r.seed} "
            f"| {r.used}{'' if r.fired else ' (never fired)'} | {r.regret_stop:.3g} "
            f"| {r.regret_full:.3g} | {r.note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stopping rules: evaluations saved, regret lost.")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1")
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, half budgets")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    args = parser.parse_args(argv)

    set_threads()
    seeds = [0] if args.quick else list(range(args.seeds))
    problems = [PROBLEMS[name]() for name in args.problems]
    budgets = {p.name: max(p.budget // 2, 2) if args.quick else p.budget for p in problems}
    silence_peers()

    start = time.perf_counter()
    results: list[RuleResult] = []
    failed = False
    for p in problems:
        for seed in seeds:
            for key in args.methods:
                label, fn = METHODS[key]
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        trace = fn(p, seed, budgets[p.name])
                except Exception:
                    traceback.print_exc()
                    failed = True
                    continue
                if caught:
                    kinds = ", ".join(sorted({w.category.__name__ for w in caught}))
                    print(f"    {label}: {len(caught)} warnings ({kinds})", file=sys.stderr)
                rs = results_of(p, label, seed, budgets[p.name], trace)
                results += rs
                stops = ", ".join(f"{r.rule.split('(')[0]}@{r.used}" for r in rs)
                print(
                    f"[{time.perf_counter() - start:7.1f}s] {p.name} {label} seed={seed}: "
                    f"final regret {rs[0].regret_full:.3g}; stops {stops} "
                    f"{'; '.join(trace.notes)}",
                    file=sys.stderr,
                    flush=True,
                )
    total = time.perf_counter() - start

    report = (
        f"# Stopping rules: evaluations saved and regret given up"
        f"{' (quick)' if args.quick else ''}\n\n"
        f"Command: `{command(argv, 'stopping.py')}`\n\n"
        f"{environment(budgets, seeds)}; total runtime {total / 60:.1f} min.\n\n"
        "Each seed runs the full budget once per optimizer; after every trial each rule is "
        "asked whether it would stop, without stopping the run, so an optimizer's rules all "
        "see the same trajectory. A rule's stop is the first trial after which it fires; "
        "one that never fires uses the whole budget. Regret: best observed value minus the "
        f"optimum (Branin {PROBLEMS['branin']().optimum:.6f}, Hartmann6 "
        f"{PROBLEMS['hartmann6']().optimum:.5f}); 'regret given up' = regret at the stop "
        "minus regret after the full budget, in the objective's units. The NoImprovement "
        "and TargetValue rows under 'optuna GPSampler' apply this project's rules to the "
        "Optuna run's best values. Seconds per check: the rule's own decision (for this "
        "project, `Optimizer.progress()` reading the store included).\n\n"
        f"{tables(results, problems, budgets)}\n"
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

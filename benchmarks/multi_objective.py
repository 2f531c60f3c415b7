"""Multi-objective: hypervolume after a fixed budget, this project against Ax, Optuna and Sobol.

Problems (both objectives minimized, as the BoTorch test functions define them; noiseless):

* ``BraninCurrin`` (d=2), 30 trials; reference point (18, 6), ``max_hv`` 59.36 (NSGA-II
  estimate given by BoTorch).
* ``DTLZ2`` (d=6, 2 objectives), 50 trials; reference point (1.1, 1.1), ``max_hv``
  1.1^2 - pi/4 = 0.4246 (exact).

Methods, each an ask/tell loop of one trial at a time, all with their default settings:

* ``bayesopt (default)``: this project (Sobol design, then GP + qLogNEHVI; no objective
  thresholds, so it infers its own reference point, as Ax does).
* ``ax (Client default)``: ``ax.api.Client(random_seed=seed)`` with
  ``configure_optimization(objective="-f0, -f1")`` (no objective thresholds).
* ``optuna default (TPE)``: ``create_study(directions=["minimize"] * 2)`` uses
  ``TPESampler`` in Optuna 5.0 (multi-objective TPE); it is passed explicitly only to seed it.
* ``optuna GPSampler``: ``GPSampler(seed=seed)``, which uses LogEHVI with 2+ objectives.
* ``sobol``: scrambled Sobol points (torch's ``SobolEngine``, seeded), the floor.

Scores: the hypervolume of the observed (all feasible: no constraints here) points with
respect to the problem's own ``ref_point``, computed the same way for every method with
BoTorch's ``Hypervolume``; its share of ``max_hv``; and the seconds per decision, i.e. inside
``suggest`` / ``get_next_trials`` / ``ask`` only (evaluation and telling excluded). Medians
and interquartile ranges over seeds, printed and written to
``benchmarks/results/multi_objective.md``.

Run from the repository root::

    .venv/bin/python benchmarks/multi_objective.py             # full run (about 30 min on 2 cores)
    .venv/bin/python benchmarks/multi_objective.py --quick     # smoke run: 1 seed, half budgets
    .venv/bin/python benchmarks/multi_objective.py --problems branincurrin --methods sobol
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from botorch.test_functions.base import MultiObjectiveTestProblem
from botorch.test_functions.multi_objective import DTLZ2, BraninCurrin
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated
from peer_common import (
    MODEL_FROM,
    command,
    decision_seconds,
    environment,
    fmt,
    iqr,
    median,
    ratio,
    set_threads,
    silence_peers,
    sobol_points,
    timed,
)

RESULTS = Path(__file__).resolve().parent / "results" / "multi_objective.md"
OBJECTIVES = ("f0", "f1")


@dataclass(frozen=True)
class Problem:
    name: str
    fn: MultiObjectiveTestProblem
    budget: int

    @property
    def names(self) -> list[str]:
        return [f"x{i}" for i in range(self.fn.dim)]

    def __call__(self, params: dict[str, float]) -> list[float]:
        """Both objectives (to be minimized) at ``params``."""
        x = torch.tensor([[float(params[n]) for n in self.names]], dtype=torch.float64)
        return self.fn.evaluate_true(x)[0].tolist()

    def hypervolume(self, Y: list[list[float]]) -> float:
        """Hypervolume of the minimized points ``Y`` (``n x 2``) up to the problem's
        ``ref_point``: BoTorch maximizes, so both enter negated."""
        ref = -self.fn.ref_point.to(torch.float64)
        pts = -torch.tensor(Y, dtype=torch.float64).reshape(-1, len(ref))
        pts = pts[(pts > ref).all(dim=-1)]
        if len(pts) == 0:
            return 0.0
        return float(Hypervolume(ref_point=ref).compute(pts[is_non_dominated(pts)]))


@dataclass
class Trace:
    """Observed objective rows in trial order, decision seconds, and notes."""

    Y: list[list[float]] = field(default_factory=list)
    ask_s: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    problem: str
    method: str
    seed: int
    hv: float
    s_all: float  # mean seconds per decision over all trials of the run
    s_model: float  # the same over trials after the first MODEL_FROM (model-based for all)
    note: str = ""


def run_bayesopt(problem: Problem, seed: int, budget: int) -> Trace:
    from bayesopt import Experiment, Float, Objective, Optimizer

    exp = Experiment(
        name=problem.name,
        parameters=[Float(n, 0.0, 1.0) for n in problem.names],
        objectives=[Objective(o, minimize=True) for o in OBJECTIVES],
        budget=budget,
        seed=seed,
    )
    opt = Optimizer(exp, seed=seed)
    out = Trace()
    for _ in range(budget):
        (trial,), seconds = timed(lambda: opt.suggest(1))
        out.ask_s.append(seconds)
        out.Y.append(problem(trial.params))
        opt.observe(trial, dict(zip(OBJECTIVES, out.Y[-1], strict=True)))
    fallbacks = sum("fallback" in (t.metadata or {}) for t in opt.all_trials())
    if fallbacks:
        out.notes.append(f"{fallbacks} model step(s) fell back")
    # Library check: pareto() holds the non-dominated observed points.
    n_front = int(is_non_dominated(-torch.tensor(out.Y, dtype=torch.float64)).sum())
    if len(opt.pareto()) != n_front:
        out.notes.append(f"pareto() has {len(opt.pareto())} trials, expected {n_front}")
    return out


def run_ax(problem: Problem, seed: int, budget: int) -> Trace:
    from ax.api import Client, RangeParameterConfig

    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name=n, bounds=(0.0, 1.0), parameter_type="float")
            for n in problem.names
        ],
        name=problem.name,
    )
    client.configure_optimization(objective=", ".join(f"-{o}" for o in OBJECTIVES))
    out = Trace()
    for _ in range(budget):
        trials, seconds = timed(lambda: client.get_next_trials(max_trials=1))
        ((index, params),) = trials.items()
        out.ask_s.append(seconds)
        out.Y.append(problem(params))  # type: ignore[arg-type]
        client.complete_trial(
            trial_index=index, raw_data=dict(zip(OBJECTIVES, out.Y[-1], strict=True))
        )
    return out


def _run_optuna(problem: Problem, budget: int, sampler: object) -> Trace:
    import optuna
    from optuna.distributions import FloatDistribution

    study = optuna.create_study(directions=["minimize"] * len(OBJECTIVES), sampler=sampler)  # type: ignore[arg-type]
    space = {n: FloatDistribution(0.0, 1.0) for n in problem.names}
    out = Trace()
    for _ in range(budget):
        trial, seconds = timed(lambda: study.ask(fixed_distributions=space))
        out.ask_s.append(seconds)
        out.Y.append(problem(trial.params))
        study.tell(trial, out.Y[-1])
    return out


def run_optuna_tpe(problem: Problem, seed: int, budget: int) -> Trace:
    import optuna

    return _run_optuna(problem, budget, optuna.samplers.TPESampler(seed=seed))


def run_optuna_gp(problem: Problem, seed: int, budget: int) -> Trace:
    import optuna

    return _run_optuna(problem, budget, optuna.samplers.GPSampler(seed=seed))


def run_sobol(problem: Problem, seed: int, budget: int) -> Trace:
    out = Trace()
    points, seconds = timed(lambda: sobol_points(problem.fn.dim, budget, seed))
    for x in points:
        out.ask_s.append(seconds / budget)
        out.Y.append(problem(dict(zip(problem.names, x, strict=True))))
    return out


# CLI key -> (label in the table, run function)
METHODS: dict[str, tuple[str, Callable[[Problem, int, int], Trace]]] = {
    "bayesopt": ("bayesopt (default)", run_bayesopt),
    "ax": ("ax (Client default)", run_ax),
    "optuna": ("optuna default (TPE)", run_optuna_tpe),
    "optuna_gp": ("optuna GPSampler", run_optuna_gp),
    "sobol": ("sobol", run_sobol),
}
PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branincurrin": lambda: Problem("branincurrin", BraninCurrin(), 30),
    "dtlz2": lambda: Problem("dtlz2", DTLZ2(dim=6, num_objectives=2), 50),
}
BASELINE = METHODS["bayesopt"][0]


def one_run(problem: Problem, key: str, seed: int, budget: int) -> Run:
    label, fn = METHODS[key]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trace = fn(problem, seed, budget)
    except Exception as exc:  # report it and go on with the other runs
        traceback.print_exc()
        nan = math.nan
        return Run(problem.name, label, seed, nan, nan, nan, f"{type(exc).__name__}: {exc}")
    notes = trace.notes
    if len(trace.Y) != budget:
        notes.append(f"only {len(trace.Y)}/{budget} trials")
    if caught:
        kinds = ", ".join(sorted({w.category.__name__ for w in caught}))
        print(f"    {label}: {len(caught)} warnings ({kinds})", file=sys.stderr)
    s_all, s_model = decision_seconds(trace.ask_s)
    hv = problem.hypervolume(trace.Y)
    return Run(problem.name, label, seed, hv, s_all, s_model, "; ".join(notes))


def warm_up(problem: Problem, keys: list[str]) -> None:
    """One short untimed run per method, so that lazy imports and first-call costs
    (a first model fit can take 20 s cold) are not charged to the first measured run."""
    for key in keys:
        label, fn = METHODS[key]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(problem, 12345, 12)
        except Exception:
            print(f"    warm-up of {label} failed:", file=sys.stderr)
            traceback.print_exc()


def tables(
    runs: list[Run], problems: list[Problem], labels: list[str], budgets: dict[str, int]
) -> str:
    lines = [
        "| problem | method | median HV | HV / max_hv | HV IQR | s/decision, all trials "
        f"| ours / this | s/decision, trials > {MODEL_FROM} | ours / this |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for p in problems:
        mine = {m: [r for r in runs if (r.problem, r.method) == (p.name, m)] for m in labels}
        s_all = {m: median([r.s_all for r in rs]) for m, rs in mine.items()}
        s_model = {m: median([r.s_model for r in rs]) for m, rs in mine.items()}
        base_all, base_model = s_all.get(BASELINE, math.nan), s_model.get(BASELINE, math.nan)
        digits = 3 if p.fn.max_hv < 10 else 2
        for m, rs in mine.items():
            hvs = [r.hv for r in rs]
            hv = median(hvs)
            lo, hi = iqr(hvs)
            lines.append(
                f"| {p.name} (d={p.fn.dim}, {budgets[p.name]} trials) | {m} | {fmt(hv, digits)} "
                f"| {fmt(hv / p.fn.max_hv, 3)} | {fmt(lo, digits)} – {fmt(hi, digits)} "
                f"| {fmt(s_all[m], 3)} | {ratio(base_all, s_all[m], m)} "
                f"| {fmt(s_model[m], 3)} | {ratio(base_model, s_model[m], m)} |"
            )
    lines += ["", "Per seed:", ""]
    lines.append(
        f"| problem | method | seed | HV | s/decision, all | s/decision, > {MODEL_FROM} | note |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---|")
    for r in runs:
        lines.append(
            f"| {r.problem} | {r.method} | {r.seed} | {fmt(r.hv, 4)} "
            f"| {fmt(r.s_all, 3)} | {fmt(r.s_model, 3)} | {r.note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Hypervolume: bayesopt vs Ax, Optuna, Sobol.")
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
    warm_up(problems[0], args.methods)

    start = time.perf_counter()
    runs: list[Run] = []
    for p in problems:
        for seed in seeds:  # methods interleaved per seed, so CPU contention is shared
            for key in args.methods:
                run = one_run(p, key, seed, budgets[p.name])
                runs.append(run)
                print(
                    f"[{time.perf_counter() - start:7.1f}s] {p.name} {run.method} seed={seed}: "
                    f"HV {fmt(run.hv, 4)} ({fmt(run.hv / p.fn.max_hv, 3)} of max), "
                    f"{fmt(run.s_all, 3)} s/decision {run.note}",
                    file=sys.stderr,
                    flush=True,
                )
    total = time.perf_counter() - start

    labels = [METHODS[key][0] for key in args.methods]
    refs = "; ".join(
        f"{p.name}: ref_point {p.fn.ref_point.tolist()}, max_hv {p.fn.max_hv:.4f}" for p in problems
    )
    report = (
        f"# Multi-objective: hypervolume after a fixed budget{' (quick)' if args.quick else ''}\n\n"
        f"Command: `{command(argv, 'multi_objective.py')}`\n\n"
        f"{environment(budgets, seeds)}; total runtime {total / 60:.1f} min.\n\n"
        f"Both objectives minimized; hypervolume of all observed points (no constraints) "
        f"w.r.t. the problem's own reference point, by BoTorch's `Hypervolume`, the same for "
        f"every method ({refs}). Seconds per decision: inside suggest / get_next_trials / ask "
        f"only (evaluation and telling excluded), the mean over a run's trials (all of them, "
        f"initial design included; or only those after trial {MODEL_FROM}, where every method "
        f"decides with its model), then the median over seeds. 'ours / this': our seconds "
        f"per decision divided by that method's (above 1: we are slower). HV IQR: 25th-75th "
        f"percentile over seeds.\n\n"
        f"{tables(runs, problems, labels, budgets)}\n"
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 1 if any(math.isnan(r.hv) for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())

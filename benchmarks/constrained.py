"""Outcome constraints: best feasible value after a fixed budget, this project against Ax,
Optuna and Sobol.

Problems (minimized, noiseless; each constraint is a black-box outcome ``c_i``, feasible
where ``c_i <= 0``):

* ``gramacy``: BoTorch's ``ConstrainedGramacy`` (d=2), 30 trials: minimize ``x1 + x2``
  subject to its two constraints, ``c_i = -evaluate_slack_true(x)_i`` (BoTorch's slack is
  positive where feasible). Optimum 0.599788 (SLSQP from 500 random starts, at
  (0.19512, 0.40467); BoTorch gives 0.5998 from Gramacy et al. 2016).
* ``hartmann6_l1``: Hartmann6 subject to ``||x||_1 <= 3``, i.e. ``c0 = sum(x) - 3 <= 0``,
  50 trials. Optimum -3.322368 (SLSQP from 300 random starts): the constraint is
  inactive there (the unconstrained optimizer has ``sum(x) = 2.073``), but it excludes
  half of the cube (P(sum of 6 uniforms > 3) = 1/2).

Methods, each an ask/tell loop of one trial at a time, all with their default settings:

* ``bayesopt (default)``: this project with ``constraints=["c0 <= 0", ...]`` (GP per
  outcome, qLogNEI weighted by the probability of feasibility).
* ``ax (Client default)``: ``ax.api.Client`` with
  ``configure_optimization(objective="-f", outcome_constraints=["c0 <= 0", ...])``.
* ``optuna GPSampler`` and ``optuna TPE``: ``GPSampler(seed=seed)`` and
  ``TPESampler(seed=seed)``; the constraint values are given with
  ``trial.set_constraint(name, value)`` before ``tell``, which Optuna 5.0 recommends over
  the deprecated ``constraints_func`` (both store the same values for the samplers to read).
* ``sobol``: scrambled Sobol points (torch's ``SobolEngine``, seeded), the floor.

Scores per run: the best feasible observed value, its log10 regret to the optimum (a run
with no feasible point counts as infinitely bad, shown as ``none``), whether any point was
feasible, the share of feasible trials, and the seconds per decision (inside ``suggest`` /
``get_next_trials`` / ``ask`` only). Medians over seeds, printed and written to
``benchmarks/results/constrained.md``.

Run from the repository root::

    .venv/bin/python benchmarks/constrained.py            # full run (about 17 min on 2 cores)
    .venv/bin/python benchmarks/constrained.py --quick    # smoke run: 1 seed, half budgets
    .venv/bin/python benchmarks/constrained.py --problems gramacy --methods sobol optuna_gp
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
from botorch.test_functions import Hartmann
from botorch.test_functions.synthetic import ConstrainedGramacy
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

RESULTS = Path(__file__).resolve().parent / "results" / "constrained.md"
OBJECTIVE = "f"


@dataclass(frozen=True)
class Problem:
    """A minimized objective ``f`` and constraint outcomes ``c0 .. c{k-1}`` (``<= 0``)."""

    name: str
    dim: int
    budget: int
    optimum: float
    n_constraints: int
    evaluate: Callable[[torch.Tensor], tuple[float, list[float]]]

    @property
    def names(self) -> list[str]:
        return [f"x{i}" for i in range(self.dim)]

    def __call__(self, params: dict[str, float]) -> dict[str, float]:
        x = torch.tensor([[float(params[n]) for n in self.names]], dtype=torch.float64)
        f, cs = self.evaluate(x)
        return {OBJECTIVE: f, **{f"c{i}": c for i, c in enumerate(cs)}}

    @property
    def constraints(self) -> list[str]:
        return [f"c{i}" for i in range(self.n_constraints)]


GRAMACY = ConstrainedGramacy()
HARTMANN6 = Hartmann(dim=6)


def gramacy_outcomes(x: torch.Tensor) -> tuple[float, list[float]]:
    slack = GRAMACY.evaluate_slack_true(x)[0]  # positive where feasible
    return float(GRAMACY.evaluate_true(x)[0]), (-slack).tolist()


def hartmann6_l1_outcomes(x: torch.Tensor) -> tuple[float, list[float]]:
    return float(HARTMANN6.evaluate_true(x)[0]), [float(x.sum()) - 3.0]


@dataclass
class Trace:
    """Observed outcomes in trial order, decision seconds, and notes."""

    rows: list[dict[str, float]] = field(default_factory=list)
    ask_s: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    problem: str
    method: str
    seed: int
    best: float  # best feasible value; inf when no trial was feasible
    feasible_share: float
    s_all: float
    s_model: float
    note: str = ""

    @property
    def found(self) -> bool:
        return math.isfinite(self.best)


def feasible(row: dict[str, float]) -> bool:
    return all(v <= 0 for k, v in row.items() if k.startswith("c"))


def run_bayesopt(problem: Problem, seed: int, budget: int) -> Trace:
    from bayesopt import Experiment, Float, Objective, Optimizer
    from bayesopt.errors import TrialStateError

    exp = Experiment(
        name=problem.name,
        parameters=[Float(n, 0.0, 1.0) for n in problem.names],
        objectives=[Objective(OBJECTIVE, minimize=True)],
        constraints=[f"{c} <= 0" for c in problem.constraints],
        budget=budget,
        seed=seed,
    )
    opt = Optimizer(exp, seed=seed)
    out = Trace()
    for _ in range(budget):
        (trial,), seconds = timed(lambda: opt.suggest(1))
        out.ask_s.append(seconds)
        out.rows.append(problem(trial.params))
        opt.observe(trial, out.rows[-1])
    fallbacks = sum("fallback" in (t.metadata or {}) for t in opt.all_trials())
    if fallbacks:
        out.notes.append(f"{fallbacks} model step(s) fell back")
    # Library check: best() is the best feasible observed trial.
    ok = [r[OBJECTIVE] for r in out.rows if feasible(r)]
    try:
        best = (opt.best().values or {}).get(OBJECTIVE, math.nan)
        if not ok or not math.isclose(best, min(ok)):
            out.notes.append(f"best()={best:.6g} but best feasible observed {min(ok, default=0):g}")
    except TrialStateError as exc:
        if ok:
            out.notes.append(f"best() raised {exc}")
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
    client.configure_optimization(
        objective=f"-{OBJECTIVE}", outcome_constraints=[f"{c} <= 0" for c in problem.constraints]
    )
    out = Trace()
    for _ in range(budget):
        trials, seconds = timed(lambda: client.get_next_trials(max_trials=1))
        ((index, params),) = trials.items()
        out.ask_s.append(seconds)
        out.rows.append(problem(params))  # type: ignore[arg-type]
        client.complete_trial(trial_index=index, raw_data=out.rows[-1])  # type: ignore[arg-type]
    return out


def _run_optuna(problem: Problem, budget: int, sampler: object) -> Trace:
    import optuna
    from optuna.distributions import FloatDistribution

    study = optuna.create_study(direction="minimize", sampler=sampler)  # type: ignore[arg-type]
    space = {n: FloatDistribution(0.0, 1.0) for n in problem.names}
    out = Trace()
    for _ in range(budget):
        trial, seconds = timed(lambda: study.ask(fixed_distributions=space))
        out.ask_s.append(seconds)
        out.rows.append(problem(trial.params))
        for c in problem.constraints:
            trial.set_constraint(c, out.rows[-1][c])
        study.tell(trial, out.rows[-1][OBJECTIVE])
    return out


def run_optuna_gp(problem: Problem, seed: int, budget: int) -> Trace:
    import optuna

    return _run_optuna(problem, budget, optuna.samplers.GPSampler(seed=seed))


def run_optuna_tpe(problem: Problem, seed: int, budget: int) -> Trace:
    import optuna

    return _run_optuna(problem, budget, optuna.samplers.TPESampler(seed=seed))


def run_sobol(problem: Problem, seed: int, budget: int) -> Trace:
    out = Trace()
    points, seconds = timed(lambda: sobol_points(problem.dim, budget, seed))
    for x in points:
        out.ask_s.append(seconds / budget)
        out.rows.append(problem(dict(zip(problem.names, x, strict=True))))
    return out


# CLI key -> (label in the table, run function)
METHODS: dict[str, tuple[str, Callable[[Problem, int, int], Trace]]] = {
    "bayesopt": ("bayesopt (default)", run_bayesopt),
    "ax": ("ax (Client default)", run_ax),
    "optuna_gp": ("optuna GPSampler", run_optuna_gp),
    "optuna_tpe": ("optuna TPE", run_optuna_tpe),
    "sobol": ("sobol", run_sobol),
}
PROBLEMS: dict[str, Callable[[], Problem]] = {
    "gramacy": lambda: Problem(
        "gramacy", 2, 30, 0.5997880520069526, GRAMACY.num_constraints, gramacy_outcomes
    ),
    "hartmann6_l1": lambda: Problem(
        "hartmann6_l1", 6, 50, -3.3223680044401833, 1, hartmann6_l1_outcomes
    ),
}
BASELINE = METHODS["bayesopt"][0]


def log10_regret(problem: Problem, best: float) -> float:
    if math.isnan(best) or math.isinf(best):
        return best
    return math.log10(max(best - problem.optimum, 1e-12))


def one_run(problem: Problem, key: str, seed: int, budget: int) -> Run:
    label, fn = METHODS[key]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trace = fn(problem, seed, budget)
    except Exception as exc:  # report it and go on with the other runs
        traceback.print_exc()
        nan = math.nan
        return Run(problem.name, label, seed, nan, nan, nan, nan, f"{type(exc).__name__}: {exc}")
    notes = trace.notes
    if len(trace.rows) != budget:
        notes.append(f"only {len(trace.rows)}/{budget} trials")
    if caught:
        kinds = ", ".join(sorted({w.category.__name__ for w in caught}))
        print(f"    {label}: {len(caught)} warnings ({kinds})", file=sys.stderr)
    ok = [r[OBJECTIVE] for r in trace.rows if feasible(r)]
    share = len(ok) / len(trace.rows) if trace.rows else math.nan
    s_all, s_model = decision_seconds(trace.ask_s)
    best = min(ok, default=math.inf)
    return Run(problem.name, label, seed, best, share, s_all, s_model, "; ".join(notes))


def warm_up(problem: Problem, keys: list[str]) -> None:
    """One short untimed run per method, so that lazy imports and first-call costs
    are not charged to the first measured run."""
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
        "| problem | method | median best feasible | median log10 regret | log10 regret IQR "
        "| seeds with a feasible point | median feasible share of trials "
        f"| s/decision, all trials | ours / this | s/decision, trials > {MODEL_FROM} "
        "| ours / this |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in problems:
        mine = {m: [r for r in runs if (r.problem, r.method) == (p.name, m)] for m in labels}
        s_all = {m: median([r.s_all for r in rs]) for m, rs in mine.items()}
        s_model = {m: median([r.s_model for r in rs]) for m, rs in mine.items()}
        base_all, base_model = s_all.get(BASELINE, math.nan), s_model.get(BASELINE, math.nan)
        for m, rs in mine.items():
            done = [r for r in rs if not math.isnan(r.best)]
            regrets = [log10_regret(p, r.best) for r in rs]
            lo, hi = iqr(regrets)
            lines.append(
                f"| {p.name} (d={p.dim}, {budgets[p.name]} trials, optimum {p.optimum:.4f}) "
                f"| {m} | {fmt(median([r.best for r in rs]), 4)} | {fmt(median(regrets))} "
                f"| {fmt(lo)} – {fmt(hi)} | {sum(r.found for r in done)}/{len(rs)} "
                f"| {fmt(median([r.feasible_share for r in rs]))} "
                f"| {fmt(s_all[m], 3)} | {ratio(base_all, s_all[m], m)} "
                f"| {fmt(s_model[m], 3)} | {ratio(base_model, s_model[m], m)} |"
            )
    lines += ["", "Per seed:", ""]
    lines.append(
        "| problem | method | seed | best feasible | log10 regret | feasible share "
        f"| s/decision, all | s/decision, > {MODEL_FROM} | note |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
    by_name = {p.name: p for p in problems}
    for r in runs:
        lines.append(
            f"| {r.problem} | {r.method} | {r.seed} | {fmt(r.best, 5)} "
            f"| {fmt(log10_regret(by_name[r.problem], r.best))} | {fmt(r.feasible_share)} "
            f"| {fmt(r.s_all, 3)} | {fmt(r.s_model, 3)} | {r.note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Outcome constraints: bayesopt vs Ax, Optuna.")
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
                    f"best feasible {fmt(run.best, 5)}, log10 regret "
                    f"{fmt(log10_regret(p, run.best))}, feasible share "
                    f"{fmt(run.feasible_share)}, {fmt(run.s_all, 3)} s/decision {run.note}",
                    file=sys.stderr,
                    flush=True,
                )
    total = time.perf_counter() - start

    labels = [METHODS[key][0] for key in args.methods]
    report = (
        f"# Outcome constraints: best feasible value after a fixed budget"
        f"{' (quick)' if args.quick else ''}\n\n"
        f"Command: `{command(argv, 'constrained.py')}`\n\n"
        f"{environment(budgets, seeds)}; total runtime {total / 60:.1f} min.\n\n"
        "Minimized; a trial is feasible when every constraint outcome `c_i <= 0`. gramacy: "
        "BoTorch's ConstrainedGramacy, `c_i = -evaluate_slack_true(x)_i`, optimum 0.599788 "
        "(SLSQP, 500 starts; BoTorch: 0.5998). hartmann6_l1: Hartmann6 with "
        "`c0 = sum(x) - 3`, optimum -3.322368 (SLSQP, 300 starts; the constraint is inactive "
        "at the optimum, sum(x) = 2.07, and excludes half of the cube). Regret: best "
        "feasible value minus the optimum (`none`: no feasible point, counted as the worst "
        "in medians). Optuna gets the constraints through `trial.set_constraint` (Optuna "
        "5.0 deprecates `constraints_func`). Seconds per decision: inside suggest / "
        "get_next_trials / ask only, the mean over a run's trials (all, or only those after "
        f"trial {MODEL_FROM}, where every method decides with its model), then the median "
        "over seeds; 'ours / this': our seconds divided by that method's (above 1: we are "
        "slower).\n\n"
        f"{tables(runs, problems, labels, budgets)}\n"
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 1 if any(math.isnan(r.best) for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())

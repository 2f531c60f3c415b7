"""Compare this project's optimizer with Sobol, Ax and Optuna on two BoTorch test functions.

Methods, each an ask/tell loop of one trial at a time:

* ``bayesopt (default)``: this project's default strategy (Sobol design, then GP + qLogNEI).
* ``sobol``: this project with ``initial_trials = budget`` (Sobol only, no model).
* ``ax (Client default)``: ``ax.api.Client(random_seed=seed)`` with its default strategy.
* ``optuna GPSampler``: ``optuna.samplers.GPSampler(seed=seed)`` with default settings.

Problems (minimized, evaluated in float64): Branin (2-D, 30 trials) and Hartmann6 (6-D,
60 trials), seeds 0..4. Per run: final simple regret (best observed value - optimal value)
and wall seconds per trial (the whole run, set-up and evaluations included, divided by the
number of trials). The table gives medians over seeds; it is printed and written to
``benchmarks/results/compare_peers.md``.

Run from the repository root::

    .venv/bin/python benchmarks/compare_peers.py            # full run (10-25 min on 2 cores)
    .venv/bin/python benchmarks/compare_peers.py --quick    # smoke run: 1 seed, half budgets
    .venv/bin/python benchmarks/compare_peers.py --problems branin --methods sobol optuna
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch
from botorch.test_functions import Branin, Hartmann
from botorch.test_functions.synthetic import SyntheticTestFunction

RESULTS = Path(__file__).resolve().parent / "results" / "compare_peers.md"
Outcome = tuple[list[float], str]  # observed values in trial order, and a note


@dataclass(frozen=True)
class Problem:
    name: str
    fn: SyntheticTestFunction
    budget: int

    @property
    def space(self) -> list[tuple[str, float, float]]:
        """``(name, lower, upper)`` per input: ``x1 .. xd``."""
        bounds: list[list[float]] = torch.as_tensor(self.fn.bounds).T.tolist()
        return [(f"x{i + 1}", lo, hi) for i, (lo, hi) in enumerate(bounds)]

    def __call__(self, params: dict[str, float]) -> float:
        x = torch.tensor([[float(params[n]) for n, _, _ in self.space]], dtype=torch.float64)
        return float(self.fn.evaluate_true(x).item())


@dataclass(frozen=True)
class Run:
    problem: str
    method: str
    seed: int
    log10_regret: float
    sec_per_trial: float
    note: str = ""


def run_bayesopt(problem: Problem, seed: int, budget: int, sobol_only: bool = False) -> Outcome:
    from bayesopt import Experiment, Float, Objective, Optimizer

    exp = Experiment(
        name=problem.name,
        parameters=[Float(n, lo, hi) for n, lo, hi in problem.space],
        objectives=[Objective("y", minimize=True)],
        budget=budget,
        initial_trials=budget if sobol_only else None,
    )
    opt = Optimizer(exp, storage="sqlite://", seed=seed)
    values: list[float] = []
    for _ in range(budget):
        (trial,) = opt.suggest(1)
        values.append(problem(trial.params))
        opt.observe(trial, {"y": values[-1]})
    fallbacks = sum("fallback" in (t.metadata or {}) for t in opt.all_trials())
    note = f"{fallbacks} model step(s) fell back" if fallbacks else ""
    best = (opt.best().values or {}).get("y", math.nan)
    if not math.isclose(best, min(values)):
        note += f" best()={best:.6g} but min observed {min(values):.6g}"
    return values, note.strip()


def run_sobol(problem: Problem, seed: int, budget: int) -> Outcome:
    return run_bayesopt(problem, seed, budget, sobol_only=True)


def run_ax(problem: Problem, seed: int, budget: int) -> Outcome:
    from ax.api import Client, RangeParameterConfig

    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name=n, bounds=(lo, hi), parameter_type="float")
            for n, lo, hi in problem.space
        ],
        name=problem.name,
    )
    client.configure_optimization(objective="-y")
    values: list[float] = []
    for _ in range(budget):
        ((index, params),) = client.get_next_trials(max_trials=1).items()
        values.append(problem(params))  # type: ignore[arg-type]
        client.complete_trial(trial_index=index, raw_data={"y": values[-1]})
    return values, ""


def run_optuna(problem: Problem, seed: int, budget: int) -> Outcome:
    import optuna

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.GPSampler(seed=seed))

    def objective(trial: optuna.Trial) -> float:
        return problem({n: trial.suggest_float(n, lo, hi) for n, lo, hi in problem.space})

    study.optimize(objective, n_trials=budget)
    return [float(t.value) for t in study.trials if t.value is not None], ""


# CLI key -> (label in the table, run function)
METHODS: dict[str, tuple[str, Callable[[Problem, int, int], Outcome]]] = {
    "bayesopt": ("bayesopt (default)", run_bayesopt),
    "sobol": ("sobol", run_sobol),
    "ax": ("ax (Client default)", run_ax),
    "optuna": ("optuna GPSampler", run_optuna),
}
PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": lambda: Problem("branin", Branin(), 30),
    "hartmann6": lambda: Problem("hartmann6", Hartmann(dim=6), 60),
}
BASELINE = METHODS["bayesopt"][0]


def silence_peers() -> None:
    """Quiet Ax and Optuna, and import them now so that no run's timing pays for it."""
    logging.disable(logging.INFO)  # Ax logs at INFO while it is imported
    import ax.api  # noqa: F401
    import optuna
    from ax.utils.common.logger import set_ax_logger_levels, set_stderr_log_level

    logging.disable(logging.NOTSET)
    set_ax_logger_levels(logging.WARNING)
    set_stderr_log_level(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def one_run(problem: Problem, key: str, seed: int, budget: int) -> Run:
    label, fn = METHODS[key]
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values, note = fn(problem, seed, budget)
    except Exception as exc:  # report it and go on with the other runs
        traceback.print_exc()
        return Run(problem.name, label, seed, math.nan, math.nan, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - t0
    if len(values) != budget:
        note = f"{note} only {len(values)}/{budget} values".strip()
    if caught:
        kinds = ", ".join(sorted({w.category.__name__ for w in caught}))
        print(f"    {label}: {len(caught)} warnings ({kinds})", file=sys.stderr)
    regret = max(min(values) - problem.fn.optimal_value, 1e-12)
    return Run(problem.name, label, seed, math.log10(regret), seconds / len(values), note)


def fmt(x: float, digits: int = 2) -> str:
    return "failed" if math.isnan(x) else f"{x:.{digits}f}"


def median(xs: list[float]) -> float:
    good = [x for x in xs if not math.isnan(x)]
    return statistics.median(good) if good else math.nan


def tables(runs: list[Run], problems: list[Problem], labels: list[str]) -> str:
    lines = [
        "| problem | method | median log10 regret | median s/trial | s/trial vs default |",
        "|---|---|---:|---:|---:|",
    ]
    for p in problems:
        mine = {m: [r for r in runs if (r.problem, r.method) == (p.name, m)] for m in labels}
        spt = {m: median([r.sec_per_trial for r in rs]) for m, rs in mine.items()}
        base = spt.get(BASELINE, math.nan)
        for m, rs in mine.items():
            ratio = "n/a" if math.isnan(spt[m] / base) else f"{spt[m] / base:.2f}x"
            lr = median([r.log10_regret for r in rs])
            lines.append(
                f"| {p.name} (d={p.fn.dim}) | {m} | {fmt(lr)} | {fmt(spt[m], 3)} | {ratio} |"
            )
    lines += ["", "Per seed:", "", "| problem | method | seed | log10 regret | s/trial | note |"]
    lines.append("|---|---|---:|---:|---:|---|")
    for r in runs:
        lines.append(
            f"| {r.problem} | {r.method} | {r.seed} | {fmt(r.log10_regret)} "
            f"| {fmt(r.sec_per_trial, 3)} | {r.note} |"
        )
    return "\n".join(lines)


def environment(budgets: dict[str, int], seeds: list[int]) -> str:
    import ax
    import botorch
    import optuna

    return (
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; machine: {os.cpu_count()} CPUs "
        f"(torch threads {torch.get_num_threads()}); torch {torch.__version__}, "
        f"botorch {botorch.__version__}, ax {ax.__version__}, optuna {optuna.__version__}; "
        f"budgets: {', '.join(f'{k}={v}' for k, v in budgets.items())}; seeds: {seeds}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compare bayesopt with Sobol, Ax and Optuna.")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1")
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, half budgets")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    args = parser.parse_args(argv)

    seeds = [0] if args.quick else list(range(args.seeds))
    problems = [PROBLEMS[name]() for name in args.problems]
    budgets = {p.name: max(p.budget // 2, 2) if args.quick else p.budget for p in problems}
    silence_peers()

    start = time.perf_counter()
    runs: list[Run] = []
    for p in problems:
        for seed in seeds:  # methods interleaved per seed, so CPU contention is shared
            for key in args.methods:
                run = one_run(p, key, seed, budgets[p.name])
                runs.append(run)
                print(
                    f"[{time.perf_counter() - start:7.1f}s] {p.name} {run.method} seed={seed}: "
                    f"log10 regret {fmt(run.log10_regret)}, {fmt(run.sec_per_trial, 3)} s/trial"
                    f" {run.note}",
                    file=sys.stderr,
                    flush=True,
                )
    total = time.perf_counter() - start

    labels = [METHODS[key][0] for key in args.methods]
    report = (
        f"# Peer comparison{' (quick)' if args.quick else ''}\n\n"
        f"{environment(budgets, seeds)}; total runtime {total / 60:.1f} min.\n\n"
        f"{tables(runs, problems, labels)}\n"
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 1 if any(math.isnan(r.log10_regret) for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Many parameters: best value after a fixed budget at 10, 20 and 30 dimensions, this
project's default, global BO with a larger design or BoTorch's priors, trust region
(TuRBO) and SAAS against Optuna and random search; the measurements behind the default
strategy and design size (``bayesopt.steps.default_strategy``, ``design_size``).

Problems (minimized, noiseless, on the unit cube; each seed gets its own instance, drawn
from ``numpy.random.default_rng([problem index, seed])``, so that no method profits
from where the optimum lies):

* ``hartmann6_30``: Hartmann6 embedded in d=30, 100 trials. Six of the 30 inputs, at
  seeded random positions and in seeded random order, are Hartmann6's; the other 24
  are ignored. Optimum -3.322368 (SLSQP, as in ``constrained.py``; BoTorch: -3.32237).
* ``ackley20``: Ackley in d=20, 100 trials, with its optimum moved off the centre:
  ``f(x) = Ackley(15 (x - s))`` with a seeded shift ``s ~ U[0.2, 0.8]^20``, i.e. the
  cube is Ackley's ``[-5, 10]^20`` of BoTorch's TuRBO tutorial (side 15) with the
  optimum at a random point instead of ``x = 1/3``. Optimum 0.
* ``hartmann6_10``: Hartmann6 embedded in d=10 the same way (4 inputs ignored),
  60 trials; no SAAS.

Methods, each an ask/tell loop of one trial at a time:

* ``default``: this project with ``strategy=None``: ``[Sobol(n), BO()]`` with
  ``n = design_size(d) = min(max(5, 2d), max(10, d // 2))`` (10 at d=10 and 20, 15 at
  d=30), one global GP (the default surrogate with its unit-lengthscale priors, and
  qLogNEI).
* ``bo_2d``: ``[Sobol(2d), BO()]``: the same with the earlier design size ``2d``.
* ``bo_dimension_scaled``: the default strategy with the GP's ``priors=
  "dimension_scaled"`` (BoTorch's own priors, the earlier default).
* ``trust_region``: ``[Sobol(n), TrustRegion()]`` (TuRBO-1: the acquisition is
  optimized in a box around the incumbent, see ``bayesopt/trust_region.py``), the same
  design as the default.
* ``saas``: ``surrogate="saas"`` (SAAS fully Bayesian GP, NUTS) with the default
  strategy and a small NUTS budget (``--saas-*``; d >= 20 only).
* ``optuna_gp`` and ``optuna_tpe``: ``GPSampler(seed=seed)`` and
  ``TPESampler(seed=seed)`` with ``study.ask`` / ``study.tell`` (both start with 10
  random trials).
* ``random``: uniform points, ``numpy.random.default_rng(seed)``, the floor.

Scores per run: the best observed value and its log10 regret to the optimum; seconds per
decision, inside ``suggest`` / ``ask`` only (the mean over all trials of the run, and
over the model's trials only: after the design for this project, trial 11 on for
Optuna); for the trust region, its restarts and the smallest side length it reached;
and any point outside the cube. Medians and interquartile ranges over seeds, printed
and written to ``benchmarks/results/high_dim.md``.

Run from the repository root::

    # the full run (2 processes on 2 cores; SAAS on seed 0 only)
    .venv/bin/python benchmarks/high_dim.py --seeds 5 --jobs 2 --method-seeds saas=1 \
        --saas-problems hartmann6_30 --saas-warmup 32 --saas-samples 32 \
        --saas-thinning 4 --saas-tree-depth 5
    .venv/bin/python benchmarks/high_dim.py --quick   # smoke run: 1 seed, 10 model trials
    .venv/bin/python benchmarks/high_dim.py --problems hartmann6_10 --methods default trust_region
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from botorch.test_functions import Ackley, Hartmann
from peer_common import (
    OPTUNA_STARTUP,
    command,
    environment,
    fmt,
    iqr,
    median,
    optuna_ask_tell,
    ratio,
    run_tasks,
    set_threads,
    silence_peers,
    timed,
    write_report,
)

if TYPE_CHECKING:
    from bayesopt import Experiment
    from bayesopt.steps import Step

RESULTS = Path(__file__).resolve().parent / "results" / "high_dim.md"
OBJECTIVE = "y"
HARTMANN6 = Hartmann(dim=6)
HARTMANN6_OPTIMUM = -3.3223680044401833  # SLSQP; BoTorch gives -3.32237
ACKLEY_SIDE = 15.0  # BoTorch's TuRBO tutorial searches Ackley on [-5, 10]^d


@dataclass(frozen=True)
class Problem:
    """A family of minimized functions on ``[0, 1]^dim``; ``instance(seed)`` draws one."""

    name: str
    index: int  # first word of the instance's random seed
    kind: str  # "hartmann6" (embedded) or "ackley" (shifted)
    dim: int
    budget: int
    optimum: float
    methods: tuple[str, ...]  # the methods that run on it (``--methods`` narrows them)

    @property
    def names(self) -> list[str]:
        return [f"x{i}" for i in range(self.dim)]

    def instance(self, seed: int) -> Instance:
        rng = np.random.default_rng([self.index, seed])
        if self.kind == "hartmann6":
            active = rng.choice(self.dim, size=6, replace=False)

            def f(x: np.ndarray) -> float:
                z = torch.as_tensor(x[active], dtype=torch.float64).reshape(1, 6)
                return float(HARTMANN6.evaluate_true(z)[0])

            where = f"active inputs {sorted(active.tolist())}"
        else:
            shift = rng.uniform(0.2, 0.8, size=self.dim)
            ackley = Ackley(dim=self.dim)

            def f(x: np.ndarray) -> float:
                z = torch.as_tensor(ACKLEY_SIDE * (x - shift), dtype=torch.float64)
                return float(ackley.evaluate_true(z.reshape(1, -1))[0])

            where = f"optimum at x = shift, mean {shift.mean():.3f}"
        return Instance(self, seed, f, where)


@dataclass(frozen=True)
class Instance:
    problem: Problem
    seed: int
    fn: Callable[[np.ndarray], float]
    where: str

    @property
    def dim(self) -> int:
        return self.problem.dim

    @property
    def names(self) -> list[str]:
        return self.problem.names

    def __call__(self, params: dict[str, float], trace: Trace) -> float:
        """The value at ``params``; a point outside the cube is counted in ``trace``."""
        x = np.array([float(params[n]) for n in self.names])
        if not bool(np.all((x >= -1e-9) & (x <= 1 + 1e-9))):
            trace.outside += 1
        return self.fn(x)


@dataclass
class Trace:
    """Observed values in trial order, decision seconds, which decisions used a model."""

    values: list[float] = field(default_factory=list)
    ask_s: list[float] = field(default_factory=list)
    model: list[bool] = field(default_factory=list)
    outside: int = 0
    restarts: int | None = None  # trust region only
    min_length: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    problem: str
    method: str
    seed: int
    best: float
    s_all: float  # mean seconds per decision, all trials
    s_model: float  # the same over the model's trials
    wall: float  # the whole run, evaluations included
    restarts: int | None = None
    min_length: float | None = None
    note: str = ""


# ---------------------------------------------------------------- methods
@dataclass(frozen=True)
class Saas:
    """NUTS settings of the ``saas`` method (``surrogate_options`` of ``surrogates/saas.py``)."""

    warmup_steps: int = 64
    num_samples: int = 64
    thinning: int = 8
    max_tree_depth: int = 6

    def options(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


SAAS = Saas()


def strategy_of(key: str, dim: int) -> list[Step] | None:
    """The ``strategy`` argument of a method of this project (``None``: the default)."""
    from bayesopt import BO, Sobol, TrustRegion
    from bayesopt.steps import design_size

    strategies: dict[str, list[Step] | None] = {
        "default": None,
        "bo_2d": [Sobol(n=2 * dim), BO()],
        "bo_dimension_scaled": None,
        "saas": None,
        "trust_region": [Sobol(n=design_size(dim)), TrustRegion()],
    }
    return strategies[key]


def experiment(key: str, inst: Instance, budget: int) -> Experiment:
    from bayesopt import Experiment, Float, Objective

    extra: dict[str, Any] = {}
    if key == "saas":
        # cv_folds=0: the default 5-fold held-out diagnostics refit NUTS five times per
        # decision (measured: 125 s of a 175 s decision at d=30, n=60); they do not
        # change the decision.
        extra = {"surrogate": "saas", "surrogate_options": SAAS.options(), "cv_folds": 0}
    if key == "bo_dimension_scaled":
        extra = {"surrogate_options": {"priors": "dimension_scaled"}}
    return Experiment(
        name=f"{inst.problem.name}-{key}",
        parameters=[Float(n, 0.0, 1.0) for n in inst.names],
        objectives=[Objective(OBJECTIVE, minimize=True)],
        budget=budget,
        seed=inst.seed,
        strategy=strategy_of(key, inst.dim),
        **extra,
    )


def run_bayesopt(key: str, inst: Instance, budget: int) -> Trace:
    from bayesopt import Optimizer

    opt = Optimizer(experiment(key, inst, budget), seed=inst.seed)
    out = Trace()
    for _ in range(budget):
        (trial,), seconds = timed(lambda: opt.suggest(1))
        out.ask_s.append(seconds)
        out.values.append(inst(trial.params, out))
        opt.observe(trial, {OBJECTIVE: out.values[-1]})
    trials = opt.all_trials()
    out.model = [t.metadata.get("step", "sobol") != "sobol" for t in trials]
    fallbacks = sum("fallback" in (t.metadata or {}) for t in trials)
    if fallbacks:
        out.notes.append(f"{fallbacks} model step(s) fell back")
    states = [t.metadata["trust_region"] for t in trials if "trust_region" in t.metadata]
    if states:
        out.restarts = max(int(s["restarts"]) for s in states)
        out.min_length = min(float(s["length"]) for s in states)
        fresh = sum("trust_region_note" in t.metadata for t in trials)
        if fresh:
            out.notes.append(f"{fresh} trial(s) were a restarted region's first point")
    best = float((opt.best().values or {}).get(OBJECTIVE, math.nan))
    if not math.isclose(best, min(out.values)):
        out.notes.append(f"best()={best:.6g} but best observed {min(out.values):.6g}")
    return out


def _run_optuna(inst: Instance, budget: int, sampler: object) -> Trace:
    out = Trace()

    def evaluate(params: dict[str, float]) -> float:
        out.values.append(inst(params, out))
        return out.values[-1]

    bounds = dict.fromkeys(inst.names, (0.0, 1.0))
    out.ask_s, out.model = optuna_ask_tell(sampler, bounds, budget, evaluate)
    return out


def run_optuna_gp(inst: Instance, budget: int) -> Trace:
    import optuna

    return _run_optuna(inst, budget, optuna.samplers.GPSampler(seed=inst.seed))


def run_optuna_tpe(inst: Instance, budget: int) -> Trace:
    import optuna

    return _run_optuna(inst, budget, optuna.samplers.TPESampler(seed=inst.seed))


def run_random(inst: Instance, budget: int) -> Trace:
    out = Trace()
    points, seconds = timed(lambda: np.random.default_rng(inst.seed).random((budget, inst.dim)))
    for x in points:
        out.ask_s.append(seconds / budget)
        out.model.append(False)
        out.values.append(inst(dict(zip(inst.names, x.tolist(), strict=True)), out))
    return out


def _ours(key: str) -> Callable[[Instance, int], Trace]:
    return lambda inst, budget: run_bayesopt(key, inst, budget)


# CLI key -> (label in the tables, run function)
METHODS: dict[str, tuple[str, Callable[[Instance, int], Trace]]] = {
    "default": ("bayesopt default", _ours("default")),
    "bo_2d": ("bo_2d [Sobol(2d), BO()]", _ours("bo_2d")),
    "bo_dimension_scaled": ("bo, BoTorch's dimension-scaled priors", _ours("bo_dimension_scaled")),
    "trust_region": ("trust_region [Sobol(n), TrustRegion()]", _ours("trust_region")),
    "saas": ("saas [Sobol(n), BO()], surrogate='saas'", _ours("saas")),
    "optuna_gp": ("optuna GPSampler", run_optuna_gp),
    "optuna_tpe": ("optuna TPE", run_optuna_tpe),
    "random": ("random", run_random),
}
OURS = ("default", "bo_2d", "bo_dimension_scaled", "trust_region", "saas")
ALL = tuple(METHODS)
LOW = tuple(k for k in ALL if k != "saas")
PROBLEMS: dict[str, Callable[[], Problem]] = {
    "hartmann6_30": lambda: Problem(
        "hartmann6_30", 1, "hartmann6", 30, 100, HARTMANN6_OPTIMUM, ALL
    ),
    "ackley20": lambda: Problem("ackley20", 2, "ackley", 20, 100, 0.0, ALL),
    "hartmann6_10": lambda: Problem("hartmann6_10", 3, "hartmann6", 10, 60, HARTMANN6_OPTIMUM, LOW),
}
BASELINE = "default"


def log10_regret(problem: Problem, best: float) -> float:
    if math.isnan(best):
        return best
    return math.log10(max(best - problem.optimum, 1e-12))


def same_as(key: str, dim: int, keys: list[str]) -> str | None:
    """The explicit method among ``keys`` whose strategy the default resolves to at ``dim``."""
    if key != "default":
        return None
    from bayesopt import Experiment, Float, Objective

    def resolved(k: str) -> tuple[object, ...]:
        exp = Experiment(
            name="probe",
            parameters=[Float(f"x{i}", 0.0, 1.0) for i in range(dim)],
            objectives=[Objective(OBJECTIVE, minimize=True)],
            strategy=strategy_of(k, dim),
        )
        return tuple(exp.strategy)

    mine = resolved("default")
    return next((k for k in keys if k in ("bo_2d", "trust_region") and resolved(k) == mine), None)


def one_run(inst: Instance, key: str, budget: int) -> Run:
    label, fn = METHODS[key]
    p = inst.problem
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trace = fn(inst, budget)
    except Exception as exc:  # report it and go on with the other runs
        traceback.print_exc()
        nan = math.nan
        return Run(
            p.name, label, inst.seed, nan, nan, nan, nan, note=f"{type(exc).__name__}: {exc}"
        )
    wall = time.perf_counter() - t0
    notes = trace.notes
    if len(trace.values) != budget:
        notes.append(f"only {len(trace.values)}/{budget} trials")
    if trace.outside:
        notes.append(f"{trace.outside} point(s) outside [0, 1]^{inst.dim}")
    if caught:
        kinds = ", ".join(sorted({w.category.__name__ for w in caught}))
        print(f"    {label}: {len(caught)} warnings ({kinds})", file=sys.stderr)
    late = [s for s, m in zip(trace.ask_s, trace.model, strict=True) if m]
    s_all = float(np.mean(trace.ask_s)) if trace.ask_s else math.nan
    s_model = float(np.mean(late)) if late else math.nan
    return Run(
        p.name,
        label,
        inst.seed,
        min(trace.values, default=math.nan),
        s_all,
        s_model,
        wall,
        trace.restarts,
        trace.min_length,
        "; ".join(notes),
    )


def warm_up(problem: Problem, keys: list[str]) -> None:
    """One short untimed run per method (the design and two model trials), so that lazy
    imports and first-call costs (JAX's first compilation for SAAS) are not charged to
    the first measured run."""
    inst = problem.instance(12345)
    for key in keys:
        label, fn = METHODS[key]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(inst, 2 * problem.dim + 2)
        except Exception:
            print(f"    warm-up of {label} failed:", file=sys.stderr)
            traceback.print_exc()


def _paired(runs: list[Run], problem: str, a: str, b: str) -> tuple[int, int]:
    """Seeds where ``a`` ends lower than ``b``, and seeds with both."""
    ra = {r.seed: r.best for r in runs if (r.problem, r.method) == (problem, a)}
    rb = {r.seed: r.best for r in runs if (r.problem, r.method) == (problem, b)}
    both = [s for s in ra if s in rb and not (math.isnan(ra[s]) or math.isnan(rb[s]))]
    return sum(ra[s] < rb[s] for s in both), len(both)


def tables(
    runs: list[Run], problems: list[Problem], keys: dict[str, list[str]], budgets: dict[str, int]
) -> str:
    lines = [
        "| problem | method | seeds | median best | median log10 regret | log10 regret IQR "
        "| s/decision, all trials | s/decision, model trials | default / this "
        "| median min. tr length | median tr restarts |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for p in problems:
        labels = [METHODS[k][0] for k in keys[p.name]]
        mine = {m: [r for r in runs if (r.problem, r.method) == (p.name, m)] for m in labels}
        base = median([r.s_model for r in mine.get(METHODS[BASELINE][0], [])])
        for m, rs in mine.items():
            regrets = [log10_regret(p, r.best) for r in rs]
            lo, hi = iqr(regrets)
            s_model = median([r.s_model for r in rs])
            s_text = "-" if m == "random" else fmt(s_model, 3)
            lengths = [r.min_length for r in rs if r.min_length is not None]
            tr = [r for r in rs if r.min_length is not None]
            lines.append(
                f"| {p.name} (d={p.dim}, {budgets[p.name]} trials, optimum {p.optimum:.4f}) "
                f"| {m} | {len(rs)} | {fmt(median([r.best for r in rs]), 4)} "
                f"| {fmt(median(regrets))} | {fmt(lo)} – {fmt(hi)} "
                f"| {fmt(median([r.s_all for r in rs]), 3)} | {s_text} "
                f"| {ratio(base, s_model, 'sobol' if m == 'random' else m)} "
                f"| {fmt(median(lengths), 3) if tr else '-'} "
                f"| {fmt(median([float(r.restarts or 0) for r in tr]), 0) if tr else '-'} |"
            )
    lines += ["", "Paired by seed (the same instance): seeds where the first ends lower.", ""]
    lines.append("| problem | comparison | seeds first better / seeds |")
    lines.append("|---|---|---:|")
    for p in problems:
        ks = keys[p.name]
        pairs = [(a, b) for a in ("default",) for b in OURS[1:]]
        pairs += [(a, b) for a in ("default", "saas") for b in ("optuna_gp", "optuna_tpe")]
        for a, b in pairs:
            if a in ks and b in ks:
                la, lb = METHODS[a][0], METHODS[b][0]
                wins, n = _paired(runs, p.name, la, lb)
                if n:
                    lines.append(f"| {p.name} | {a} < {b} | {wins}/{n} |")
    lines += ["", "Per seed:", ""]
    lines.append(
        "| problem | method | seed | best | log10 regret | s/decision, all "
        "| s/decision, model | run wall s | min. tr length | tr restarts | note |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    by_name = {p.name: p for p in problems}
    for r in runs:
        lines.append(
            f"| {r.problem} | {r.method} | {r.seed} | {fmt(r.best, 5)} "
            f"| {fmt(log10_regret(by_name[r.problem], r.best))} | {fmt(r.s_all, 3)} "
            f"| {fmt(r.s_model, 3) if r.method != 'random' else '-'} | {fmt(r.wall, 1)} "
            f"| {'-' if r.min_length is None else fmt(r.min_length, 3)} "
            f"| {'-' if r.restarts is None else r.restarts} | {r.note} |"
        )
    return "\n".join(lines)


def report(
    argv: list[str] | None,
    args: argparse.Namespace,
    runs: list[Run],
    problems: list[Problem],
    keys: dict[str, list[str]],
    budgets: dict[str, int],
    seeds: list[int],
    method_seeds: dict[str, list[int]],
    aliases: dict[str, str],
    total: float | None,
) -> str:
    """The Markdown report; ``total`` is ``None`` while the run is still going."""
    from bayesopt.steps import describe_strategy

    order = {m[0]: i for i, m in enumerate(METHODS.values())}
    runs = sorted(runs, key=lambda r: (args.problems.index(r.problem), r.seed, order[r.method]))
    alias_text = "; ".join(
        f"{name}: default = {a}, `{describe_strategy(strategy_of(a, PROBLEMS[name]().dim) or [])}`"
        for name, a in aliases.items()
    )
    fewer = "; ".join(
        f"{k} on seeds {method_seeds[k]}"
        for k in METHODS
        if method_seeds[k] != seeds and any(k in ks for ks in keys.values())
    )
    saas_on = [name for name, ks in keys.items() if "saas" in ks]
    saas_text = (
        f"SAAS (on {', '.join(saas_on)}): NUTS warmup {SAAS.warmup_steps}, samples "
        f"{SAAS.num_samples}, thinning {SAAS.thinning} "
        f"({math.ceil(SAAS.num_samples / SAAS.thinning)} GP draws kept), max tree depth "
        f"{SAAS.max_tree_depth}, 1 chain (the project's defaults are 512 / 256 / 16 / 6), "
        "`cv_folds=0` (the default 5-fold held-out diagnostics refit NUTS 5 times per "
        "decision, about 70% of a decision's time, and do not change the point)"
        if saas_on
        else "SAAS: not run"
    )
    runtime = "still running" if total is None else f"total runtime {total / 60:.1f} min"
    partial = " (partial: the run is still going)" if total is None else ""
    return (
        f"# Many parameters: best value after a fixed budget{' (quick)' if args.quick else ''}"
        f"{partial}\n\n"
        f"Command: `{command(argv, 'high_dim.py')}`\n\n"
        f"{environment(budgets, seeds)}; {runtime}"
        f"{f'; fewer seeds: {fewer}' if fewer else ''}.\n\n"
        "Minimized, noiseless, on the unit cube, one instance per seed (seeded positions of "
        "the active inputs, seeded shift of the optimum). hartmann6_30 / hartmann6_10: "
        "Hartmann6 on 6 of the 30 / 10 inputs (seeded positions and order), optimum "
        "-3.322368. ackley20: `Ackley(15 (x - s))`, `s ~ U[0.2, 0.8]^20` (the cube is "
        "Ackley's [-5, 10]^20 as in BoTorch's TuRBO tutorial, optimum moved off x = 1/3), "
        "optimum 0. Regret: best observed value minus the optimum. The default strategy is "
        "`[Sobol(n), BO()]`, n = `design_size(d)` = min(max(5, 2d), max(10, d // 2)); "
        f"runs listed under the default that are another method's: {alias_text or 'none'}. "
        f"{saas_text}. Seconds per decision: inside "
        "suggest / ask only, the mean over a run's trials (all, or only those the model "
        f"decided: after the Sobol design for this project, from trial {OPTUNA_STARTUP + 1} "
        "for Optuna), then the median over seeds; 'default / this': the default's seconds "
        "per model decision over this method's (above 1: the default is slower). 'min. tr "
        "length': the smallest side length the trust region reached (it starts at 0.8, halves "
        "after max(4, d) failures in a row and restarts below 0.5^7); 'tr restarts': how "
        "often it restarted. IQR: 25th-75th percentile over seeds.\n\n"
        f"{tables(runs, problems, keys, budgets)}\n"
    )


def main(argv: list[str] | None = None) -> int:
    global SAAS
    parser = argparse.ArgumentParser(description="Many parameters: trust region, SAAS, peers.")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1")
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 seed, budget 2d + 10 (10 model trials)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs at once, each in its own process (1 thread)"
    )
    parser.add_argument(
        "--method-seeds",
        nargs="+",
        default=[],
        metavar="METHOD=N",
        help="run these methods on the first N seeds only, e.g. saas=1 trust_region=2",
    )
    parser.add_argument(
        "--saas-problems",
        nargs="+",
        choices=list(PROBLEMS),
        default=[name for name, p in PROBLEMS.items() if "saas" in p().methods],
        help="problems that saas runs on",
    )
    parser.add_argument("--saas-warmup", type=int, default=SAAS.warmup_steps)
    parser.add_argument("--saas-samples", type=int, default=SAAS.num_samples)
    parser.add_argument("--saas-thinning", type=int, default=SAAS.thinning)
    parser.add_argument("--saas-tree-depth", type=int, default=SAAS.max_tree_depth)
    args = parser.parse_args(argv)
    SAAS = Saas(args.saas_warmup, args.saas_samples, args.saas_thinning, args.saas_tree_depth)

    set_threads()
    seeds = [0] if args.quick else list(range(args.seeds))
    limits: dict[str, int] = {}
    for item in args.method_seeds:
        key, _, n = item.partition("=")
        if key not in METHODS or not n.isdigit():
            parser.error(
                f"--method-seeds: {item!r}; expected METHOD=N with METHOD in {list(METHODS)}"
            )
        limits[key] = int(n)
    method_seeds = {k: seeds[: limits.get(k, len(seeds))] for k in METHODS}
    problems = [PROBLEMS[name]() for name in args.problems]
    budgets = {p.name: min(p.budget, 2 * p.dim + 10) if args.quick else p.budget for p in problems}
    keys = {
        p.name: [
            k
            for k in args.methods
            if k in p.methods and (k != "saas" or p.name in args.saas_problems)
        ]
        for p in problems
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    silence_peers()
    smallest = min(problems, key=lambda p: p.dim)
    used = sorted({k for ks in keys.values() for k in ks}, key=list(METHODS).index)

    start = time.perf_counter()
    runs: list[Run] = []
    aliases: dict[str, str] = {}
    tasks: list[tuple[Problem, int, str]] = []
    for p in problems:
        alias = same_as("default", p.dim, keys[p.name]) if "default" in keys[p.name] else None
        if alias:
            aliases[p.name] = alias
        for seed in seeds:  # methods interleaved per seed, so CPU contention is shared
            for key in keys[p.name]:
                if seed in method_seeds[key] and not (key == "default" and alias):
                    tasks.append((p, seed, key))  # an aliased default is listed from its alias

    def record(p: Problem, seed: int, key: str, run: Run) -> None:
        runs.append(run)
        if key == aliases.get(p.name):
            note = f"same strategy as {key}, one run; " + run.note
            runs.append(replace(run, method=METHODS["default"][0], note=note.rstrip("; ")))
        print(
            f"[{time.perf_counter() - start:7.1f}s] {p.name} {key} seed={seed} "
            f"({p.instance(seed).where}): best {fmt(run.best, 5)}, log10 regret "
            f"{fmt(log10_regret(p, run.best))}, {fmt(run.s_all, 3)} s/decision "
            f"({'-' if key == 'random' else fmt(run.s_model, 3)} model), "
            f"run {fmt(run.wall, 1)} s"
            f"{'' if run.restarts is None else f', tr restarts {run.restarts}'}"
            f"{'' if run.min_length is None else f', min length {run.min_length:.3f}'}"
            f" {run.note}",
            file=sys.stderr,
            flush=True,
        )
        partial = report(
            argv, args, runs, problems, keys, budgets, seeds, method_seeds, aliases, None
        )
        args.output.write_text(partial)

    # --jobs > 1: forked workers, one torch thread each; every run is timed inside its
    # own process.
    run_tasks(
        tasks,
        lambda task: one_run(task[0].instance(task[1]), task[2], budgets[task[0].name]),
        args.jobs,
        lambda task, run: record(*task, run),
        initializer=lambda: warm_up(smallest, used),
    )
    total = time.perf_counter() - start
    text = report(argv, args, runs, problems, keys, budgets, seeds, method_seeds, aliases, total)
    write_report(text, args.output)
    return 1 if any(math.isnan(r.best) for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Peer comparison: this project's default strategy against Ax, Optuna (GP and TPE) and
random search on 13 single-objective problems of 2 to 6 inputs, one trial at a time.

Problems (minimized; budgets 10 to 15 trials per input; the search box is the
function's own; evaluated in float64 with ``evaluate_true`` of the
``botorch.test_functions`` class, constants cast to float64, on a twin whose bounds are
widened by the shift range, since ``evaluate_true`` refuses points outside its bounds):

=================== === ====== ======= ===========================================
name                d   trials shifted noise / note
=================== === ====== ======= ===========================================
branin              2   30     no
six_hump_camel      2   30     no
hartmann3           3   40     no
hartmann6           6   60     no
michalewicz5        5   60     no
ackley5             5   60     yes     optimum at the box's centre
levy4               4   50     yes     optimum at (1, ..., 1)
rosenbrock4         4   50     yes     optimum at (1, ..., 1)
styblinski_tang4    4   50     yes     optimum at (-2.9035, ..., -2.9035)
rastrigin3          3   40     yes     optimum at the box's centre
hartmann6_noisy     6   60     no      Gaussian noise, sd 0.1, on every observation
branin_noisy        2   30     no      Gaussian noise, sd 1.0, on every observation
svr_diabetes        3   40     no      real task: SVR on scikit-learn's diabetes data
=================== === ====== ======= ===========================================

* Shifted: the optimum of these sits at the box's centre or at a point with all
  coordinates equal, which a design (Ax's first trial is the centre) or a grid could hit
  by construction. Each seed evaluates ``f(x - s)`` instead, ``s`` drawn from
  ``numpy.random.default_rng([problem index, seed])``, each coordinate uniform in
  +-15% of the box's width; the box is unchanged, so the optimum ``x* + s`` stays inside
  and its value is the same (every one of these functions has its global minimum over
  all of R^d at ``x*``).
* Noisy: the method sees ``f(x) + e``, ``e ~ N(0, sd^2)`` from
  ``default_rng([problem index, seed, 1])`` (the same draws, in trial order, for every
  method on a seed); the regret is measured on the noiseless ``f``: the lowest true value
  among the points the method evaluated.
* ``svr_diabetes``: ``sklearn.svm.SVR`` (RBF kernel) on ``load_diabetes`` (442 x 10),
  inputs ``log10 C`` in [-1, 3], ``log10 gamma`` in [-2, 2], ``log10 epsilon`` in
  [-2, 2]; the value is the mean squared error of 5-fold cross-validation
  (``cross_val_score`` with ``KFold(5, shuffle=True, random_state=0)``, so it is
  deterministic), about 0.02 s per evaluation. No known optimum: ``--reference`` computes
  a reference value once (2,000 scrambled Sobol points, then L-BFGS-B from the best 5),
  hard-coded as ``SVR_REFERENCE``; the regret is ``best - min(reference, lowest value any
  method found on this problem in this run)``.

Methods, each an ask/tell loop of one trial at a time with default settings:

* ``bayesopt``: this project, ``Experiment(..., strategy=None)`` (Sobol design of
  ``design_size(d)`` points, then one GP + qLogNEI), ``Optimizer(exp, seed=seed)`` with
  its in-memory store, ``suggest(1)`` / ``observe``.
* ``ax``: ``ax.api.Client(random_seed=seed)`` with its default strategy (the centre, 4
  Sobol points, then its modular BoTorch model ``MBM``), ``get_next_trials(max_trials=1)``
  / ``complete_trial``.
* ``optuna_gp`` and ``optuna_tpe``: ``GPSampler(seed=seed)`` and ``TPESampler(seed=seed)``
  with ``study.ask(fixed_distributions=...)`` / ``study.tell`` (10 random trials first).
* ``random``: uniform points, ``numpy.random.default_rng(seed)``, the floor.

Scores per run: the final log10 regret (lowest true value among the evaluated points
minus the optimum, floored at 1e-12); seconds per decision, timed inside ``suggest`` /
``get_next_trials`` / ``ask`` only, as the mean over all trials and over the model's
trials only (this project: trials whose ``metadata["step"]`` is not ``"sobol"``; Ax:
trials whose ``generation_node`` in ``Client.summarize()`` is neither
``CenterOfSearchSpace`` nor ``Sobol``; Optuna: trial 11 on). The report gives, per
problem and method, the median and interquartile range over seeds of the log10 regret,
on how many seeds the method ended within 0.1 decade of the best method on that seed, the
median seconds per decision and the default's seconds per model decision over this
method's; then the goals (the default's median regret best or within 0.1 decade of the
best on at least 80% of the problems, at most 0.3 decades behind the best anywhere, its
seconds per model decision at most 0.5x Ax's and at most 2x Optuna GP's, medians over
problems), computed from the runs; then every run. It is printed and written to
``benchmarks/results/compare_peers.md``, rewritten after each finished run.

Run from the repository root::

    # the full run (2 processes on 2 cores, one torch thread each)
    .venv/bin/python benchmarks/compare_peers.py --jobs 2
    .venv/bin/python benchmarks/compare_peers.py --quick   # smoke run: 1 seed, 2d + 10 trials
    .venv/bin/python benchmarks/compare_peers.py --problems branin svr_diabetes \
        --methods bayesopt optuna_gp --seeds 3
    .venv/bin/python benchmarks/compare_peers.py --reference   # recompute SVR_REFERENCE

``bash scripts/bench.sh`` runs it after installing the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from botorch.test_functions import (
    Ackley,
    Branin,
    Hartmann,
    Levy,
    Michalewicz,
    Rastrigin,
    Rosenbrock,
    SixHumpCamel,
    StyblinskiTang,
)
from botorch.test_functions.synthetic import SyntheticTestFunction
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
    sobol_points,
    timed,
    write_report,
)

RESULTS = Path(__file__).resolve().parent / "results" / "compare_peers.md"
OBJECTIVE = "y"
AX_DESIGN_NODES = ("CenterOfSearchSpace", "Sobol")  # Ax's nodes that use no model
SHIFT = 0.15  # shifts are uniform in +-SHIFT * box width, per coordinate
FLOOR = 1e-12  # regrets are floored here before log10
CLOSE = 0.1  # decades: "equal-best"
BASELINE = "bayesopt"

# Goals of the default against its peers (computed in ``summary``).
GOAL_SHARE = 0.8  # best or equal-best median on at least this share of the problems
GOAL_GAP = 0.3  # decades behind the best median, at most
GOAL_AX = 0.5  # seconds per model decision over Ax's, median over problems, at most
GOAL_OPTUNA_GP = 2.0  # ... over Optuna GPSampler's

# Optimal values of the test functions as evaluated here (float64 constants): BoTorch's
# optimizers (and for Michalewicz each coordinate's 1-D term on a 200,001-point grid)
# polished with L-BFGS-B and Nelder-Mead; they agree with BoTorch's rounded
# ``optimal_value`` to within 2e-6.
BRANIN_OPTIMUM = 0.39788735772973816
SIX_HUMP_CAMEL_OPTIMUM = -1.0316284534898774
HARTMANN3_OPTIMUM = -3.862779860974306
HARTMANN6_OPTIMUM = -3.322368004440186
MICHALEWICZ5_OPTIMUM = -4.687658179088148
STYBLINSKI_TANG4_OPTIMUM = -156.6646628150857

# Reference (lowest known) 5-fold CV mean squared error of ``svr_diabetes``, made with
# ``--reference``: 2,000 scrambled Sobol points (seed 0) in the box, then L-BFGS-B
# (finite differences, step 1e-3 in log10 units) from the best 5; the best of all, at
# log10 (C, gamma, epsilon) = (1.8407, 1.0621, 1.4210) (the Sobol points' best was
# 2882.28; made in about 1 min on 2 cores).
SVR_REFERENCE = 2858.7710441720474


# ---------------------------------------------------------------- problems
Box = tuple[tuple[float, float], ...]


def synthetic(
    cls: type[SyntheticTestFunction], kwargs: dict[str, Any], margin: float
) -> tuple[Callable[[np.ndarray], float], Box]:
    """``evaluate_true`` of ``cls(**kwargs)`` at one point, in float64 (constants
    included), and the function's own box.

    The function evaluated is a twin whose bounds are the box widened by ``margin`` times
    its width on each side: BoTorch's ``evaluate_true`` refuses points outside its
    bounds, and a shifted problem evaluates ``f(x - s)``, which may lie outside the box.
    The formulas do not depend on the bounds."""
    box = tuple(
        (float(lo), float(hi)) for lo, hi in torch.as_tensor(cls(**kwargs).bounds).T.tolist()
    )
    wide = [(lo - margin * (hi - lo), hi + margin * (hi - lo)) for lo, hi in box]
    fn = cls(**kwargs, bounds=wide).to(torch.float64)

    def f(x: np.ndarray) -> float:
        return float(fn.evaluate_true(torch.as_tensor(x, dtype=torch.float64).reshape(1, -1))[0])

    return f, box


class SvrCV:
    """5-fold cross-validated mean squared error of ``sklearn.svm.SVR`` on the diabetes
    data at ``x = (log10 C, log10 gamma, log10 epsilon)``; the data are loaded on the
    first call."""

    def __init__(self) -> None:
        self._data: tuple[Any, Any] | None = None

    def __call__(self, x: np.ndarray) -> float:
        from sklearn.datasets import load_diabetes
        from sklearn.model_selection import KFold, cross_val_score
        from sklearn.svm import SVR

        if self._data is None:
            self._data = load_diabetes(return_X_y=True)
        features, target = self._data
        c, gamma, epsilon = (10.0 ** float(v) for v in x)
        scores = cross_val_score(
            SVR(C=c, gamma=gamma, epsilon=epsilon),
            features,
            target,
            cv=KFold(5, shuffle=True, random_state=0),
            scoring="neg_mean_squared_error",
        )
        return float(-np.mean(scores))


@dataclass(frozen=True)
class Problem:
    """A minimized function on a box; ``instance(seed)`` draws a seed's shift."""

    name: str
    index: int  # first word of the instance's random seeds
    fn: Callable[[np.ndarray], float]  # the true function, unshifted
    bounds: tuple[tuple[float, float], ...]
    budget: int
    optimum: float | None  # None: a real task, scored against ``reference``
    shifted: bool = False
    noise_sd: float = 0.0
    names: tuple[str, ...] = ()  # input names; x1 .. xd when empty
    reference: float = math.nan

    @property
    def dim(self) -> int:
        return len(self.bounds)

    @property
    def inputs(self) -> list[str]:
        return list(self.names) or [f"x{i + 1}" for i in range(self.dim)]

    def instance(self, seed: int) -> Instance:
        shift = np.zeros(self.dim)
        if self.shifted:
            width = np.array([hi - lo for lo, hi in self.bounds])
            shift = np.random.default_rng([self.index, seed]).uniform(-SHIFT, SHIFT, self.dim)
            shift = shift * width
        return Instance(self, seed, shift)


@dataclass(frozen=True)
class Instance:
    problem: Problem
    seed: int
    shift: np.ndarray

    @property
    def where(self) -> str:
        if not self.problem.shifted:
            return "-"
        return "shift (" + ", ".join(f"{s:.2f}" for s in self.shift) + ")"

    def trace(self) -> Trace:
        """An empty trace with this run's noise stream."""
        return Trace(noise=np.random.default_rng([self.problem.index, self.seed, 1]))

    def __call__(self, params: Mapping[str, Any], trace: Trace) -> float:
        """The observed value at ``params`` (noisy on a noisy problem), recorded in
        ``trace`` with the true value; a point outside the box is counted there."""
        p = self.problem
        x = np.array([float(params[n]) for n in p.inputs])
        lo, hi = np.array(p.bounds).T
        slack = 1e-9 * (hi - lo)
        if not bool(np.all((x >= lo - slack) & (x <= hi + slack))):
            trace.outside += 1
        true = p.fn(x - self.shift)
        observed = true + p.noise_sd * float(trace.noise.standard_normal()) if p.noise_sd else true
        trace.true.append(true)
        trace.values.append(observed)
        return observed


@dataclass
class Trace:
    """Observed and true values in trial order, decision seconds, which decisions used a
    model."""

    noise: np.random.Generator
    values: list[float] = field(default_factory=list)
    true: list[float] = field(default_factory=list)
    ask_s: list[float] = field(default_factory=list)
    model: list[bool] = field(default_factory=list)
    outside: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    problem: str
    method: str  # CLI key
    seed: int
    best: float  # lowest true value among the evaluated points
    best_observed: float  # lowest observed value (noisy on the noisy problems)
    s_all: float  # mean seconds per decision, all trials
    s_model: float  # the same over the model's trials
    n_model: int  # trials decided by a model
    wall: float  # the whole run, evaluations included
    where: str = "-"
    note: str = ""


def _problems() -> dict[str, Callable[[], Problem]]:
    def make(
        name: str,
        index: int,
        cls: type[SyntheticTestFunction],
        dim: int | None,
        budget: int,
        optimum: float,
        shifted: bool = False,
        noise_sd: float = 0.0,
    ) -> Callable[[], Problem]:
        def problem() -> Problem:
            kwargs: dict[str, Any] = {} if dim is None else {"dim": dim}
            # 1e-6: room for a point on the box's edge, rounded outwards
            fn, box = synthetic(cls, kwargs, (SHIFT if shifted else 0.0) + 1e-6)
            return Problem(name, index, fn, box, budget, optimum, shifted, noise_sd)

        return problem

    svr = lambda: Problem(  # noqa: E731
        "svr_diabetes",
        13,
        SvrCV(),
        ((-1.0, 3.0), (-2.0, 2.0), (-2.0, 2.0)),
        40,
        None,
        names=("log10_C", "log10_gamma", "log10_epsilon"),
        reference=SVR_REFERENCE,
    )
    return {
        "branin": make("branin", 1, Branin, None, 30, BRANIN_OPTIMUM),
        "six_hump_camel": make("six_hump_camel", 2, SixHumpCamel, None, 30, SIX_HUMP_CAMEL_OPTIMUM),
        "hartmann3": make("hartmann3", 3, Hartmann, 3, 40, HARTMANN3_OPTIMUM),
        "hartmann6": make("hartmann6", 4, Hartmann, 6, 60, HARTMANN6_OPTIMUM),
        "michalewicz5": make("michalewicz5", 5, Michalewicz, 5, 60, MICHALEWICZ5_OPTIMUM),
        "ackley5": make("ackley5", 6, Ackley, 5, 60, 0.0, shifted=True),
        "levy4": make("levy4", 7, Levy, 4, 50, 0.0, shifted=True),
        "rosenbrock4": make("rosenbrock4", 8, Rosenbrock, 4, 50, 0.0, shifted=True),
        "styblinski_tang4": make(
            "styblinski_tang4", 9, StyblinskiTang, 4, 50, STYBLINSKI_TANG4_OPTIMUM, shifted=True
        ),
        "rastrigin3": make("rastrigin3", 10, Rastrigin, 3, 40, 0.0, shifted=True),
        "hartmann6_noisy": make(
            "hartmann6_noisy", 11, Hartmann, 6, 60, HARTMANN6_OPTIMUM, noise_sd=0.1
        ),
        "branin_noisy": make("branin_noisy", 12, Branin, None, 30, BRANIN_OPTIMUM, noise_sd=1.0),
        "svr_diabetes": svr,
    }


PROBLEMS = _problems()


# ---------------------------------------------------------------- methods
def run_bayesopt(
    inst: Instance,
    budget: int,
    *,
    initial_trials: int | None = None,
    surrogate_options: dict[str, Any] | None = None,
    analytic_single: bool = True,
) -> Trace:
    """This project's default; the keywords change one of its settings (for
    ``ablation.py``): the design size, the GP's options, the closed-form acquisition."""
    from bayesopt import Experiment, Float, Objective, Optimizer
    from bayesopt.acquisition import AcquisitionOptions

    p = inst.problem
    exp = Experiment(
        name=f"{p.name}-{inst.seed}",
        parameters=[Float(n, lo, hi) for n, (lo, hi) in zip(p.inputs, p.bounds, strict=True)],
        objectives=[Objective(OBJECTIVE, minimize=True)],
        budget=budget,
        seed=inst.seed,
        strategy=None,
        initial_trials=initial_trials,
        surrogate_options=surrogate_options or {},
    )
    opt = Optimizer(exp, seed=inst.seed)
    if not analytic_single:
        opt.strategy.options = AcquisitionOptions(analytic_single=False)
    out = inst.trace()
    for _ in range(budget):
        (trial,), seconds = timed(lambda: opt.suggest(1))
        out.ask_s.append(seconds)
        opt.observe(trial, {OBJECTIVE: inst(trial.params, out)})
    trials = opt.all_trials()
    out.model = [t.metadata.get("step", "sobol") != "sobol" for t in trials]
    fallbacks = sum("fallback" in (t.metadata or {}) for t in trials)
    if fallbacks:
        out.notes.append(f"{fallbacks} model step(s) fell back")
    best = float((opt.best().values or {}).get(OBJECTIVE, math.nan))
    if not p.noise_sd and not math.isclose(best, min(out.values)):
        out.notes.append(f"best()={best:.6g} but best observed {min(out.values):.6g}")
    return out


def run_ax(inst: Instance, budget: int) -> Trace:
    from ax.api import Client, RangeParameterConfig

    p = inst.problem
    client = Client(random_seed=inst.seed)
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name=n, bounds=(lo, hi), parameter_type="float")
            for n, (lo, hi) in zip(p.inputs, p.bounds, strict=True)
        ],
        name=f"{p.name}-{inst.seed}",
    )
    client.configure_optimization(objective=f"-{OBJECTIVE}")
    out = inst.trace()
    for _ in range(budget):
        trials, seconds = timed(lambda: client.get_next_trials(max_trials=1))
        out.ask_s.append(seconds)
        ((index, params),) = trials.items()
        client.complete_trial(trial_index=index, raw_data={OBJECTIVE: inst(params, out)})
    # Which node generated each trial (not timed): the centre and Sobol need no model.
    nodes = client.summarize().sort_values("trial_index")["generation_node"].tolist()
    out.model = [str(n) not in AX_DESIGN_NODES for n in nodes]
    return out


def _run_optuna(inst: Instance, budget: int, sampler: object) -> Trace:
    p = inst.problem
    out = inst.trace()
    bounds = dict(zip(p.inputs, p.bounds, strict=True))
    out.ask_s, out.model = optuna_ask_tell(sampler, bounds, budget, lambda x: inst(x, out))
    return out


def run_optuna_gp(inst: Instance, budget: int) -> Trace:
    import optuna

    return _run_optuna(inst, budget, optuna.samplers.GPSampler(seed=inst.seed))


def run_optuna_tpe(inst: Instance, budget: int) -> Trace:
    import optuna

    return _run_optuna(inst, budget, optuna.samplers.TPESampler(seed=inst.seed))


def run_random(inst: Instance, budget: int) -> Trace:
    p = inst.problem
    lo, hi = np.array(p.bounds).T
    out = inst.trace()
    points, seconds = timed(
        lambda: lo + (hi - lo) * np.random.default_rng(inst.seed).random((budget, p.dim))
    )
    for x in points:
        out.ask_s.append(seconds / budget)
        out.model.append(False)
        inst(dict(zip(p.inputs, x.tolist(), strict=True)), out)
    return out


# CLI key -> (label in the tables, run function)
METHODS: dict[str, tuple[str, Callable[[Instance, int], Trace]]] = {
    "bayesopt": ("bayesopt (default)", run_bayesopt),
    "ax": ("ax (Client default)", run_ax),
    "optuna_gp": ("optuna GPSampler", run_optuna_gp),
    "optuna_tpe": ("optuna TPE", run_optuna_tpe),
    "random": ("random", run_random),
}


def one_run(inst: Instance, key: str, budget: int) -> Run:
    label, fn = METHODS[key]
    p = inst.problem
    # Every run starts from the same global random state, whatever ran before it in this
    # worker process: BoTorch (inside Ax) scrambles the Sobol points its acquisition
    # optimizer starts from with torch's global generator unless given a seed, and this
    # project's optimizer reseeds that generator at each decision, so without this a
    # peer's result on a seed could depend on which runs its worker did before.
    random.seed(inst.seed)
    np.random.seed(inst.seed)
    torch.manual_seed(inst.seed)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trace = fn(inst, budget)
    except Exception as exc:  # report it and go on with the other runs
        traceback.print_exc()
        nan = math.nan
        note = f"failed: {type(exc).__name__}: {exc}"
        return Run(p.name, key, inst.seed, nan, nan, nan, nan, 0, nan, inst.where, note)
    wall = time.perf_counter() - t0
    notes = trace.notes
    if len(trace.values) != budget:
        notes.append(f"only {len(trace.values)}/{budget} trials")
    if trace.outside:
        notes.append(f"{trace.outside} point(s) outside the box")
    if len(trace.model) != len(trace.ask_s):
        notes.append(f"{len(trace.model)} generation records for {len(trace.ask_s)} trials")
    if caught:
        kinds = ", ".join(sorted({w.category.__name__ for w in caught}))
        print(f"    {label}: {len(caught)} warnings ({kinds})", file=sys.stderr)
    late = [s for s, m in zip(trace.ask_s, trace.model, strict=False) if m]
    return Run(
        p.name,
        key,
        inst.seed,
        min(trace.true, default=math.nan),
        min(trace.values, default=math.nan),
        float(np.mean(trace.ask_s)) if trace.ask_s else math.nan,
        float(np.mean(late)) if late else math.nan,
        len(late),
        wall,
        inst.where,
        "; ".join(notes),
    )


def warm_up(keys: list[str]) -> None:
    """One short untimed run per method on Branin (12 trials: past every method's
    design), so that lazy imports and first-call costs are not charged to the first
    measured run (forked workers inherit them)."""
    inst = PROBLEMS["branin"]().instance(12345)
    for key in keys:
        label, fn = METHODS[key]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(inst, OPTUNA_STARTUP + 2)
        except Exception:
            print(f"    warm-up of {label} failed:", file=sys.stderr)
            traceback.print_exc()


# ---------------------------------------------------------------- scores
def optimum_of(p: Problem, runs: Sequence[Run]) -> float:
    """The optimum, or for a real task the lower of its reference and the lowest value
    any method found on it in this run."""
    if p.optimum is not None:
        return p.optimum
    seen = [r.best for r in runs if r.problem == p.name and not math.isnan(r.best)]
    return min([p.reference, *seen]) if not math.isnan(p.reference) else min(seen, default=0.0)


def log10_regret(best: float, optimum: float) -> float:
    if math.isnan(best):
        return best
    return math.log10(max(best - optimum, FLOOR))


@dataclass(frozen=True)
class Row:
    """One problem x method: the numbers of the main table."""

    regrets: dict[int, float]  # seed -> log10 regret (NaN: failed)
    median: float
    q1: float
    q3: float
    close: int  # seeds within CLOSE of the best method on that seed
    seeds: int  # seeds with a result from any method
    s_all: float
    s_model: float


def rows_of(p: Problem, runs: Sequence[Run], keys: list[str]) -> dict[str, Row]:
    opt = optimum_of(p, runs)
    mine = [r for r in runs if r.problem == p.name]
    regrets = {k: {r.seed: log10_regret(r.best, opt) for r in mine if r.method == k} for k in keys}
    seeds = sorted({r.seed for r in mine})
    best_on: dict[int, float] = {}
    for s in seeds:
        good = [v[s] for v in regrets.values() if s in v and not math.isnan(v[s])]
        if good:
            best_on[s] = min(good)
    out: dict[str, Row] = {}
    for k in keys:
        values = list(regrets[k].values())
        lo, hi = iqr(values)
        close = sum(
            1 for s, v in regrets[k].items() if s in best_on and v <= best_on[s] + CLOSE + 1e-12
        )
        rs = [r for r in mine if r.method == k]
        out[k] = Row(
            regrets[k],
            median(values),
            lo,
            hi,
            close,
            len(best_on),
            median([r.s_all for r in rs]),
            median([r.s_model for r in rs]),
        )
    return out


def describe(p: Problem) -> str:
    box = (
        f"[{p.bounds[0][0]:g}, {p.bounds[0][1]:g}]^{p.dim}"
        if len(set(p.bounds)) == 1
        else " x ".join(f"[{lo:g}, {hi:g}]" for lo, hi in p.bounds)
    )
    optimum = (
        f"{p.optimum:.6f}" if p.optimum is not None else f"unknown; reference {fmt(p.reference, 3)}"
    )
    noise = f"{p.noise_sd:g}" if p.noise_sd else "-"
    return (
        f"| {p.name} | {p.dim} | {', '.join(p.inputs)} in {box} | {'yes' if p.shifted else 'no'} "
        f"| {noise} | {optimum} |"
    )


def tables(
    runs: list[Run], problems: list[Problem], keys: list[str], budgets: dict[str, int]
) -> tuple[str, dict[str, dict[str, Row]]]:
    lines = [
        "| problem | method | seeds | median log10 regret | IQR | seeds within 0.1 of the "
        "seed's best | s/decision, all | s/decision, model | default / this (model) |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    all_rows: dict[str, dict[str, Row]] = {}
    for p in problems:
        rows = rows_of(p, runs, keys)
        all_rows[p.name] = rows
        base = rows[BASELINE].s_model if BASELINE in rows else math.nan
        for k, row in rows.items():
            is_random = k == "random"
            lines.append(
                f"| {p.name} (d={p.dim}, {budgets[p.name]} trials) | {METHODS[k][0]} "
                f"| {len(row.regrets)} | {fmt(row.median)} | {fmt(row.q1)} – {fmt(row.q3)} "
                f"| {row.close}/{row.seeds} | {fmt(row.s_all, 3)} "
                f"| {'-' if is_random else fmt(row.s_model, 3)} "
                f"| {ratio(base, row.s_model, 'sobol' if is_random else k)} |"
            )
    return "\n".join(lines), all_rows


def _na(x: float, digits: int = 2) -> str:
    """``fmt``, with ``n/a`` for a missing value (a method not run, or failed)."""
    return "n/a" if math.isnan(x) else fmt(x, digits)


def _status(value: float, goal: float, at_most: bool) -> str:
    if math.isnan(value):
        return "n/a"
    met = value <= goal + 1e-12 if at_most else value >= goal - 1e-12
    return "met" if met else "not met"


def summary(problems: list[Problem], rows: dict[str, dict[str, Row]], keys: list[str]) -> str:
    """The default's goals, computed from the per-problem medians."""
    lines = [
        "| problem | best median (method) | default's median | default behind the best "
        "| default / ax (s per model decision) | default / optuna GP |",
        "|---|---|---:|---:|---:|---:|",
    ]
    best_or_equal: list[bool] = []
    gaps: list[tuple[float, str]] = []
    vs: dict[str, list[float]] = {"ax": [], "optuna_gp": []}
    for p in problems:
        mine = rows[p.name]
        medians = {k: r.median for k, r in mine.items() if not math.isnan(r.median)}
        if not medians:
            continue
        top = min(medians.values())
        leaders = ", ".join(METHODS[k][0] for k, v in medians.items() if v == top)
        base = medians.get(BASELINE, math.nan)
        gap = base - top
        if BASELINE in mine and not math.isnan(base):
            best_or_equal.append(gap <= CLOSE + 1e-12)
            gaps.append((gap, p.name))
        cells = []
        for peer in vs:
            value = math.nan
            if BASELINE in mine and peer in mine and mine[peer].s_model > 0:
                value = mine[BASELINE].s_model / mine[peer].s_model
            if not math.isnan(value):
                vs[peer].append(value)
            cells.append(_na(value))
        lines.append(
            f"| {p.name} | {fmt(top)} ({leaders}) | {_na(base)} | {_na(gap)} "
            f"| {cells[0]} | {cells[1]} |"
        )
    share = sum(best_or_equal) / len(best_or_equal) if best_or_equal else math.nan
    worst, where = max(gaps) if gaps else (math.nan, "")
    ax_ratio = median(vs["ax"])
    gp_ratio = median(vs["optuna_gp"])
    missing = [k for k in METHODS if k not in keys]
    lines += [
        "",
        "| goal of the default | value | target | status |",
        "|---|---:|---:|---|",
        f"| best or equal-best (within {CLOSE} decade) median log10 regret "
        f"| {sum(best_or_equal)}/{len(best_or_equal)} problems ({_na(100 * share, 0)}%) "
        f"| >= {100 * GOAL_SHARE:.0f}% | {_status(share, GOAL_SHARE, at_most=False)} |",
        f"| largest gap behind the best median (decades) | {_na(worst)}"
        f"{f' ({where})' if where else ''} | <= {GOAL_GAP} "
        f"| {_status(worst, GOAL_GAP, at_most=True)} |",
        f"| median over problems of seconds per model decision, default / ax "
        f"| {_na(ax_ratio)} | <= {GOAL_AX} | {_status(ax_ratio, GOAL_AX, at_most=True)} |",
        f"| median over problems of seconds per model decision, default / optuna GP "
        f"| {_na(gp_ratio)} | <= {GOAL_OPTUNA_GP} "
        f"| {_status(gp_ratio, GOAL_OPTUNA_GP, at_most=True)} |",
    ]
    if missing:
        lines += ["", f"Not run here: {', '.join(missing)} (the goals compare with them)."]
    return "\n".join(lines)


def per_seed(runs: list[Run], problems: list[Problem]) -> str:
    lines = [
        "| problem | method | seed | instance | best true value | best observed "
        "| log10 regret | s/decision, all | s/decision, model | model trials | run wall s "
        "| note |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    by_name = {p.name: p for p in problems}
    for r in runs:
        opt = optimum_of(by_name[r.problem], runs)
        model = "-" if r.method == "random" else fmt(r.s_model, 3)
        lines.append(
            f"| {r.problem} | {METHODS[r.method][0]} | {r.seed} | {r.where} | {fmt(r.best, 5)} "
            f"| {fmt(r.best_observed, 5)} | {fmt(log10_regret(r.best, opt))} "
            f"| {fmt(r.s_all, 3)} | {model} | {r.n_model} | {fmt(r.wall, 1)} | {r.note} |"
        )
    return "\n".join(lines)


def report(
    argv: list[str] | None,
    args: argparse.Namespace,
    runs: list[Run],
    problems: list[Problem],
    keys: list[str],
    budgets: dict[str, int],
    seeds: list[int],
    total: float | None,
) -> str:
    """The Markdown report; ``total`` is ``None`` while the run is still going."""
    order = {k: i for i, k in enumerate(METHODS)}
    names = [p.name for p in problems]
    runs = sorted(runs, key=lambda r: (names.index(r.problem), r.seed, order[r.method]))
    runtime = "still running" if total is None else f"total runtime {total / 60:.1f} min"
    partial = " (partial: the run is still going)" if total is None else ""
    quick = " (quick)" if args.quick else ""
    main_table, rows = tables(runs, problems, keys, budgets)
    return (
        f"# Peer comparison: final regret and seconds per decision{quick}{partial}\n\n"
        f"Command: `{command(argv, 'compare_peers.py')}`\n\n"
        f"{environment(budgets, seeds)}; {runtime}.\n\n"
        "## Problems and scores\n\n"
        "| problem | d | inputs | shifted | noise sd | optimum |\n|---|---:|---|---|---:|---|\n"
        + "\n".join(describe(p) for p in problems)
        + "\n\n"
        "All minimized; the synthetic functions are `botorch.test_functions` (`evaluate_true` "
        "in float64). Shifted: each seed evaluates `f(x - s)`, `s` uniform in +-15% of the "
        "box's width per coordinate (`numpy.random.default_rng([problem index, seed])`), in "
        "the unchanged box, so the optimum (at the centre or on the diagonal before) moves "
        "but stays inside and keeps its value. Noisy: every observation gets Gaussian noise "
        "of the given sd, the same draws for every method on a seed; the methods see the "
        "noisy values, and the regret is measured on the noiseless function: the lowest "
        "true value among all points the method evaluated, minus the optimum. svr_diabetes: "
        "`sklearn.svm.SVR` on `load_diabetes`, inputs log10 C, gamma and epsilon, value the "
        "5-fold CV mean squared error (`KFold(5, shuffle=True, random_state=0)`); its "
        "optimum is unknown, so the regret is the best value minus the lower of a reference "
        "(`--reference`: 2,000 Sobol points, then L-BFGS-B from the best 5) and the lowest "
        "value any method found on it in this run.\n\n"
        "Final log10 regret: log10 of (lowest true value evaluated - optimum), floored at "
        "1e-12; median and IQR (25th-75th percentile) over seeds. 'Seeds within 0.1 of the "
        "seed's best': seeds on which this method's log10 regret is within 0.1 decade of the "
        "lowest of all methods on that seed. Seconds per decision: inside `suggest` / "
        "`get_next_trials` / `ask` only (evaluations, observe and tell excluded), the mean "
        "over a run's trials, all or only those a model decided (this project: after its "
        "Sobol design, `metadata['step'] != 'sobol'`; Ax: trials whose `generation_node` in "
        f"`Client.summarize()` is not {' or '.join(AX_DESIGN_NODES)}, i.e. from trial 6 on; "
        f"Optuna: from trial {OPTUNA_STARTUP + 1} on; random has none), then the median over "
        "seeds. 'default / this': the default's seconds per model decision over this "
        "method's (below 1: the default is faster). One torch thread per process.\n\n"
        f"## Results\n\n{main_table}\n\n"
        f"## Goals\n\n{summary(problems, rows, keys)}\n\n"
        f"## Per seed\n\n{per_seed(runs, problems)}\n"
    )


# ---------------------------------------------------------------- reference
def compute_reference(p: Problem, points: int = 2000, starts: int = 5) -> float:
    """The lowest value of ``p`` found by ``points`` scrambled Sobol points (seed 0) and
    L-BFGS-B from the best ``starts`` of them; printed with its point."""
    from scipy.optimize import minimize

    lo, hi = np.array(p.bounds).T
    t0 = time.perf_counter()
    xs = lo + (hi - lo) * np.array(sobol_points(p.dim, points, seed=0))
    values = np.array([p.fn(x) for x in xs])
    print(
        f"{p.name}: {points} Sobol points in {time.perf_counter() - t0:.1f} s, "
        f"best {values.min():.6f}",
        file=sys.stderr,
    )
    best_x, best = xs[int(np.argmin(values))], float(values.min())
    for i in np.argsort(values)[:starts]:
        res = minimize(
            p.fn,
            xs[i],
            method="L-BFGS-B",
            bounds=list(p.bounds),
            options={"eps": 1e-3, "maxiter": 200},
        )
        print(
            f"  L-BFGS-B from {np.round(xs[i], 4).tolist()} ({values[i]:.6f}): {res.fun:.6f} "
            f"at {np.round(res.x, 4).tolist()} ({res.nfev} evaluations)",
            file=sys.stderr,
        )
        if float(res.fun) < best:
            best_x, best = res.x, float(res.fun)
    print(f"{p.name}: reference {best!r} at {best_x.tolist()}")
    return best


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Peer comparison: this project's default vs Ax, Optuna and random search."
    )
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1")
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 seed, budgets min(budget, 2d + 10)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs at once, each in its own process (1 thread)"
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="compute the reference value of the real tasks (no known optimum) and exit",
    )
    args = parser.parse_args(argv)

    set_threads()
    problems = [PROBLEMS[name]() for name in dict.fromkeys(args.problems)]
    if args.reference:
        real = [p for p in problems if p.optimum is None]
        if not real:
            parser.error("--reference: none of the chosen problems is a real task")
        for p in real:
            compute_reference(p)
        return 0

    seeds = [0] if args.quick else list(range(args.seeds))
    keys = list(dict.fromkeys(args.methods))
    budgets = {p.name: min(p.budget, 2 * p.dim + 10) if args.quick else p.budget for p in problems}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    silence_peers()

    start = time.perf_counter()
    runs: list[Run] = []
    # methods interleaved per seed, so CPU contention is shared
    tasks = [(p, seed, key) for p in problems for seed in seeds for key in keys]

    def record(task: tuple[Problem, int, str], run: Run) -> None:
        p, seed, key = task
        runs.append(run)
        print(
            f"[{time.perf_counter() - start:7.1f}s] {p.name} {key} seed={seed} ({run.where}): "
            f"best {fmt(run.best, 5)}, log10 regret "
            f"{fmt(log10_regret(run.best, optimum_of(p, runs)))}, "
            f"{fmt(run.s_all, 3)} s/decision ({'-' if key == 'random' else fmt(run.s_model, 3)}"
            f" model), run {fmt(run.wall, 1)} s {run.note}",
            file=sys.stderr,
            flush=True,
        )
        args.output.write_text(report(argv, args, runs, problems, keys, budgets, seeds, None))

    # --jobs > 1: forked workers, one torch thread each; every run is timed inside its
    # own process.
    run_tasks(
        tasks,
        lambda task: one_run(task[0].instance(task[1]), task[2], budgets[task[0].name]),
        args.jobs,
        record,
        initializer=lambda: warm_up(keys),
    )
    total = time.perf_counter() - start
    text = report(argv, args, runs, problems, keys, budgets, seeds, total)
    write_report(text, args.output)
    return 1 if any(math.isnan(r.best) for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())

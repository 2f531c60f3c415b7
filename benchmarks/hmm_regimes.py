"""Regimes of a run (the hidden Markov model of ``bayesopt.analysis.regimes``): recovery of
known regimes, the ``Stalled`` stopping rule against ``NoImprovement`` and the full budget,
and the analysis's own cost.

(a) Synthetic traces with known regime switches. Each trace is a random sequence of
    segments (improving, refining, stalled; 6 to 15 trials each, starting improving, at
    least one switch of each kind on average), whose signals are drawn from a process
    that is *not* the model's own emissions: improving trials improve the best value on
    half of the trials by 10^U(-2, -0.5) of the range, with expected improvements
    10^N(-2, 0.5) and surprises N(0, 1.5^2); refining trials on a quarter of the trials
    by 10^U(-5, -3), 10^N(-3.7, 0.5), N(0, 1); stalled trials never, 10^N(-6, 0.7),
    N(0, 0.7^2); each trace's acquisition levels are shifted by U(-0.3, 0.3) decades,
    and its first 5 trials are a design (acquisition and surprise missing). Scores per
    trace, over the trials after the design (a design's regime is not defined, and no
    rule reads it): the share of trials whose most probable state is the true one (3
    states; for 2 states, refining counts as stalled: the 2-state model tells runs that
    still improve by much from those that do not), the share of true change points with
    a decoded change point within 2 trials, and the decoded change points that have no
    true one within 2 trials (false alarms).
(b) The stall rule on four problems of ``compare_peers.py`` (Branin, Hartmann6, Ackley5
    and Levy4 with shifted optima) with this project's default strategy: each seed runs
    the full budget once (the in-memory store, no stopping rule), then every rule's
    ``check`` is applied to ``progress_of`` the growing prefix of the history, after each
    trial, and the rule "stops" at the first trial after which it fires (the budget when
    it never does): the same evaluations for every rule. Per rule: evaluations used and
    saved, the log10 regret (lowest true value evaluated minus the optimum) at the stop
    and after the full budget, and the decades of regret given up (the difference). The
    goal: 30% fewer evaluations for at most 0.1 decade given up (medians over seeds).
(c) The cost: the seconds of each ``Stalled`` check (one HMM fit and decoding on the
    whole history) against the GP fit of the decision that followed
    (``metadata["fit_seconds"]``) and the whole decision (``suggest``).

Printed and written to ``benchmarks/results/hmm_regimes.md``.

Run from the repository root::

    .venv/bin/python benchmarks/hmm_regimes.py              # 5 seeds (about 8 min, 2 cores)
    .venv/bin/python benchmarks/hmm_regimes.py --quick      # 1 seed, 2 problems
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from compare_peers import PROBLEMS, Instance, log10_regret
from peer_common import command, fmt, median, run_tasks, set_threads, timed

from bayesopt.analysis.regimes import STATES, fit_signals, synthetic_signals
from bayesopt.stopping import LowExpectedImprovement, NoImprovement, Stalled, progress_of

RESULTS = Path(__file__).resolve().parent / "results" / "hmm_regimes.md"
#: The problems of (b), with their budgets (longer than compare_peers' for Branin, so
#: that a stop has something to save).
BUDGETS = {"branin": 40, "hartmann6": 60, "ackley5": 60, "levy4": 50}
#: The goal of (b): this share of the budget saved for at most this many decades given up.
GOAL_SAVED, GOAL_DECADES = 0.30, 0.1
#: Within this many trials, a decoded change point matches a true one.
CHANGE_WINDOW = 2
#: The synthetic traces' design: its trials have no acquisition and no surprise.
DESIGN = 5


def rules() -> list[tuple[str, Any]]:
    return [
        ("Stalled() [0.9, 5 trials]", Stalled()),
        ("Stalled(threshold=0.8, trials=3)", Stalled(threshold=0.8, trials=3)),
        ("Stalled(states=2)", Stalled(states=2)),
        ("NoImprovement(trials=5)", NoImprovement(trials=5)),
        ("NoImprovement(trials=10)", NoImprovement(trials=10)),
        ("LowExpectedImprovement() [defaults]", LowExpectedImprovement()),
    ]


# ------------------------------------------------------------ (a) synthetic traces
def synthetic(seed: int, length: int = 45) -> tuple[np.ndarray, list[str]]:
    """A trace with known regimes (see the module's docstring) and the truth per trial."""
    rng = np.random.default_rng([20, seed])
    names = STATES[3]
    truth: list[str] = []
    state = "improving"
    while len(truth) < length:
        truth += [state] * int(rng.integers(6, 16))
        state = str(rng.choice([s for s in names if s != state]))
    truth = truth[:length]
    offset = rng.uniform(-0.3, 0.3)
    return synthetic_signals(truth, rng, offset=offset, design=DESIGN), truth


def changes(labels: Sequence[str]) -> list[int]:
    return [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]]


@dataclass(frozen=True)
class Recovery:
    states: int
    seed: int
    share: float
    found: int
    true_changes: int
    false_alarms: int
    seconds: float


def recovery(seed: int, states: int) -> Recovery:
    x, truth = synthetic(seed)
    if states == 2:
        truth = ["improving" if t == "improving" else "stalled" for t in truth]
    fit = fit_signals(x, states=states)
    got = fit.most_probable()[DESIGN:]
    truth = truth[DESIGN:]
    share = float(np.mean([a == b for a, b in zip(got, truth, strict=True)]))
    true_c, got_c = changes(truth), changes(got)
    found = sum(any(abs(c - g) <= CHANGE_WINDOW for g in got_c) for c in true_c)
    false = sum(not any(abs(c - g) <= CHANGE_WINDOW for c in true_c) for g in got_c)
    return Recovery(states, seed, share, found, len(true_c), false, fit.seconds)


# ------------------------------------------------------------------- (b) the rules
@dataclass
class RuleRun:
    problem: str
    seed: int
    budget: int
    regret: list[float]  # log10 regret after each trial
    used: dict[str, int] = field(default_factory=dict)  # rule -> evaluations at its stop
    fired: dict[str, bool] = field(default_factory=dict)
    p_stalled: dict[str, list[float]] = field(default_factory=dict)
    hmm_s: list[float] = field(default_factory=list)  # per Stalled() check
    fit_s: list[float] = field(default_factory=list)  # GP fit of each model decision
    decide_s: list[float] = field(default_factory=list)  # suggest() of each model decision
    wall: float = 0.0


def rule_run(problem: str, seed: int, budget: int) -> RuleRun:
    from bayesopt import Experiment, Float, Objective, Optimizer

    t0 = time.perf_counter()
    p = PROBLEMS[problem]()
    inst: Instance = p.instance(seed)
    exp = Experiment(
        name=f"{p.name}-{seed}",
        parameters=[Float(n, lo, hi) for n, (lo, hi) in zip(p.inputs, p.bounds, strict=True)],
        objectives=[Objective("y", minimize=True)],
        budget=budget,
        seed=seed,
    )
    opt = Optimizer(exp, seed=seed, device="cpu")
    trace = inst.trace()
    decide: list[float] = []
    for _ in range(budget):
        (trial,), seconds = timed(lambda: opt.suggest(1))
        decide.append(seconds)
        opt.observe(trial, {"y": inst(trial.params, trace)})
    trials = opt.all_trials()
    assert p.optimum is not None
    best, regret = math.inf, []
    for v in trace.true:
        best = min(best, v)
        regret.append(log10_regret(best, p.optimum))
    out = RuleRun(problem, seed, budget, regret)
    model = [i for i, t in enumerate(trials) if t.metadata.get("step") != "sobol"]
    out.fit_s = [float(trials[i].metadata.get("fit_seconds", math.nan)) for i in model]
    out.decide_s = [decide[i] for i in model]
    pending = dict(rules())
    for n in range(1, budget + 1):
        progress = progress_of(exp, trials[:n])
        for label, rule in list(pending.items()):
            fired, seconds = timed(lambda rule=rule, progress=progress: rule.check(progress))
            if label.startswith("Stalled()") and n > progress.n_design + rule.trials:
                out.hmm_s.append(seconds)
            if fired is not None:
                out.used[label], out.fired[label] = n, True
                if "p_stalled" in fired[1]:
                    out.p_stalled[label] = fired[1]["p_stalled"]
                del pending[label]
    for label in pending:
        out.used[label], out.fired[label] = budget, False
    # The cost at the full budget too: one Stalled() check on the whole history.
    _, seconds = timed(lambda: Stalled().check(progress_of(exp, trials)))
    out.hmm_s.append(seconds)
    out.wall = time.perf_counter() - t0
    return out


# ----------------------------------------------------------------------- reports
def recovery_table(results: list[Recovery]) -> str:
    lines = [
        "| states | traces | median share of trials recovered | min | mean | change points "
        "found within 2 trials | false alarms per trace | median s per fit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in (3, 2):
        rs = [r for r in results if r.states == k]
        if not rs:
            continue
        found = sum(r.found for r in rs) / max(sum(r.true_changes for r in rs), 1)
        lines.append(
            f"| {k} | {len(rs)} | {median([r.share for r in rs]):.3f} "
            f"| {min(r.share for r in rs):.3f} | {statistics.fmean(r.share for r in rs):.3f} "
            f"| {found:.3f} ({sum(r.found for r in rs)}/{sum(r.true_changes for r in rs)}) "
            f"| {statistics.fmean(r.false_alarms for r in rs):.2f} "
            f"| {median([r.seconds for r in rs]):.3f} |"
        )
    return "\n".join(lines)


def rules_table(runs: list[RuleRun]) -> str:
    lines = [
        "| problem (budget) | rule | fired (seeds) | median evaluations used | median saved "
        "| median log10 regret at stop | median log10 regret at full budget | median decades "
        "given up | max decades given up | goal (>= 30% saved, <= 0.1 decade) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    goals: dict[str, list[bool]] = {}
    for problem in dict.fromkeys(r.problem for r in runs):
        mine = [r for r in runs if r.problem == problem]
        budget = mine[0].budget
        for label, _ in rules():
            used = [r.used[label] for r in mine]
            at_stop = [r.regret[r.used[label] - 1] for r in mine]
            full = [r.regret[-1] for r in mine]
            given = [a - b for a, b in zip(at_stop, full, strict=True)]
            saved = median([budget - u for u in used])
            ok = saved >= GOAL_SAVED * budget and median(given) <= GOAL_DECADES
            goals.setdefault(label, []).append(ok)
            lines.append(
                f"| {problem} ({budget}) | {label} | {sum(r.fired[label] for r in mine)}/"
                f"{len(mine)} | {fmt(median(used), 1)} | {fmt(saved, 1)} "
                f"({saved / budget:.0%}) | {fmt(median(at_stop))} | {fmt(median(full))} "
                f"| {fmt(median(given))} | {fmt(max(given))} | {'met' if ok else 'not met'} |"
            )
    lines += ["", "| rule | problems where the goal is met |", "|---|---:|"]
    for label, oks in goals.items():
        lines.append(f"| {label} | {sum(oks)}/{len(oks)} |")
    return "\n".join(lines)


def cost_table(runs: list[RuleRun]) -> str:
    lines = [
        "| problem | median s per Stalled() check (HMM fit + decoding) | max | median s per "
        "GP fit | HMM / GP fit | median s per model decision (suggest) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for problem in dict.fromkeys(r.problem for r in runs):
        mine = [r for r in runs if r.problem == problem]
        hmm = [s for r in mine for s in r.hmm_s]
        fit = [s for r in mine for s in r.fit_s if not math.isnan(s)]
        dec = [s for r in mine for s in r.decide_s]
        lines.append(
            f"| {problem} | {median(hmm):.3f} | {max(hmm):.3f} | {median(fit):.3f} "
            f"| {median(hmm) / median(fit):.2f}x | {median(dec):.3f} |"
        )
    return "\n".join(lines)


def per_seed(runs: list[RuleRun]) -> str:
    lines = [
        "| problem | seed | final log10 regret | "
        + " | ".join(label for label, _ in rules())
        + " | run s |",
        "|---|---:|---:|" + "---:|" * len(rules()) + "---:|",
    ]
    for r in runs:
        cells = [
            f"{r.used[label]}{'' if r.fired[label] else '*'} ({r.regret[r.used[label] - 1]:.2f})"
            for label, _ in rules()
        ]
        lines.append(
            f"| {r.problem} | {r.seed} | {r.regret[-1]:.2f} | {' | '.join(cells)} | {r.wall:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="HMM regimes: recovery, the stall rule, cost.")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of (b), 0..N-1")
    parser.add_argument("--traces", type=int, default=30, help="synthetic traces of (a)")
    parser.add_argument("--problems", nargs="+", choices=list(BUDGETS), default=list(BUDGETS))
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (1 thread each)")
    parser.add_argument("--quick", action="store_true", help="1 seed, branin and levy4")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    args = parser.parse_args(argv)

    set_threads()
    import logging

    logging.getLogger("bayesopt").setLevel(logging.ERROR)
    start = time.perf_counter()
    seeds = [0] if args.quick else list(range(args.seeds))
    problems = ["branin", "levy4"] if args.quick else list(args.problems)
    traces = 5 if args.quick else args.traces

    recovered = [recovery(seed, k) for k in (3, 2) for seed in range(traces)]
    print(recovery_table(recovered), file=sys.stderr, flush=True)

    runs: list[RuleRun] = []
    tasks = [(p, seed) for seed in seeds for p in problems]

    def record(task: tuple[str, int], run: RuleRun) -> None:
        runs.append(run)
        stops = ", ".join(f"{k.split(' ')[0]}@{v}" for k, v in run.used.items())
        print(
            f"[{time.perf_counter() - start:6.1f}s] {task[0]} seed={task[1]}: final log10 "
            f"regret {run.regret[-1]:.2f}; {stops}",
            file=sys.stderr,
            flush=True,
        )

    run_tasks(tasks, lambda t: rule_run(t[0], t[1], BUDGETS[t[0]]), args.jobs, record)
    runs.sort(key=lambda r: (problems.index(r.problem), r.seed))
    total = time.perf_counter() - start
    import torch

    text = (
        f"# Regimes of a run: recovery, the stall rule, cost{' (quick)' if args.quick else ''}\n\n"
        f"Command: `{command(argv, 'hmm_regimes.py')}`\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; machine: 2 CPUs shared with other jobs, so "
        f"seconds are indicative (torch threads {torch.get_num_threads()}, torch "
        f"{torch.__version__}); seeds {seeds}; synthetic traces {traces}; total runtime "
        f"{total / 60:.1f} min. How each number is made: the docstring of "
        "`benchmarks/hmm_regimes.py`.\n\n"
        "## (a) Known regimes recovered from synthetic traces\n\n"
        f"{recovery_table(recovered)}\n\n"
        "## (b) The stall rule: evaluations saved and regret given up\n\n"
        "Every rule is applied to the same full-budget run of each seed (the default "
        "strategy); a rule that never fired used the whole budget. Decades given up: log10 "
        "regret at the stop minus log10 regret at the full budget.\n\n"
        f"{rules_table(runs)}\n\n"
        "## (c) The analysis's own cost\n\n"
        f"{cost_table(runs)}\n\n"
        "## Per seed\n\n"
        "Evaluations used by each rule (`*`: never fired), with the log10 regret there.\n\n"
        f"{per_seed(runs)}\n"
    )
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

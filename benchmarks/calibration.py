"""Calibration of every surrogate: how often 95% intervals hold, and the predictive density.

For each problem and seed, a surrogate is fitted to ``n`` noisy observations at
scrambled-Sobol points and scored on 500 fresh noisy points drawn uniformly:

* PICP: share of test observations inside the central 95% predictive interval
  (0.95 is calibrated; lower is over-confident, higher is under-confident);
* MPIW: mean width of those intervals, relative to the test outputs' std (narrower
  is better at equal PICP);
* NLPD: mean negative log predictive density of the test observations, with outputs
  standardized by the training std (lower is better);
* RMSE relative to the test outputs' std, and fit seconds.

Problems (inputs scaled to the unit cube, noise sd = 5% of the function's std):
Branin (2-D, n = 30), Hartmann6 (6-D, n = 60) and a 20-D function whose value is
Hartmann6 of 6 of the 20 inputs (n = 60, 14 inactive inputs). Medians over seeds.
``numpyro`` is left out (it needs a model of the user's own process), and so is
``auto`` by default (it uses one of the others; ``--surrogates auto`` scores it).

Run from the repository root::

    .venv/bin/python benchmarks/calibration.py            # full run
    .venv/bin/python benchmarks/calibration.py --quick    # 1 seed, gp and sparse_gp only
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch
from botorch.test_functions import Branin, Hartmann
from torch.quasirandom import SobolEngine

from surrogates import FitSpec, SurrogateFallbackWarning, default_registry, predictive

RESULTS = Path(__file__).resolve().parent / "results" / "calibration.md"
DTYPE = torch.float64
N_TEST = 500


@dataclass(frozen=True)
class Problem:
    name: str
    dim: int
    n_train: int
    f: Callable[[torch.Tensor], torch.Tensor]  # unit-cube inputs -> values


def _scaled(fn: Branin | Hartmann) -> Callable[[torch.Tensor], torch.Tensor]:
    bounds = torch.as_tensor(fn.bounds, dtype=DTYPE)

    def f(u: torch.Tensor) -> torch.Tensor:
        x = bounds[0].to(u) + u * (bounds[1] - bounds[0]).to(u)
        return fn.evaluate_true(x)

    return f


def _embedded(dim: int) -> Callable[[torch.Tensor], torch.Tensor]:
    inner = _scaled(Hartmann(dim=6))
    active = [1, 4, 7, 11, 15, 18]
    assert max(active) < dim
    return lambda u: inner(u[..., active])


PROBLEMS = {
    "branin": Problem("branin", 2, 30, _scaled(Branin())),
    "hartmann6": Problem("hartmann6", 6, 60, _scaled(Hartmann(dim=6))),
    "embedded20": Problem("embedded20", 20, 60, _embedded(20)),
}

#: Options per surrogate for this benchmark (defaults unless stated): SAAS with a
#: quarter of BoTorch's NUTS budget, so that the run takes minutes on 2 cores.
OPTIONS: dict[str, dict[str, object]] = {
    "saas": {"warmup_steps": 128, "num_samples": 128, "thinning": 8},
}


@dataclass(frozen=True)
class Score:
    picp: float
    mpiw: float
    nlpd: float
    rmse: float
    seconds: float


def score(name: str, problem: Problem, seed: int, device: torch.device) -> Score:
    gen = torch.Generator().manual_seed(10_000 + seed)
    d = problem.dim
    scale = float(problem.f(torch.rand(4096, d, generator=gen, dtype=DTYPE)).std())
    noise = 0.05 * scale
    X = SobolEngine(d, scramble=True, seed=seed).draw(problem.n_train, dtype=DTYPE)
    Y = problem.f(X).unsqueeze(-1) + noise * torch.randn(problem.n_train, 1, generator=gen)
    X_test = torch.rand(N_TEST, d, generator=gen, dtype=DTYPE)
    Y_test = problem.f(X_test).unsqueeze(-1) + noise * torch.randn(N_TEST, 1, generator=gen)
    X, Y, X_test, Y_test = (t.to(device) for t in (X, Y, X_test, Y_test))
    spec = FitSpec(
        bounds=torch.stack([torch.zeros(d), torch.ones(d)]).to(device=device, dtype=DTYPE),
        seed=seed,
    )
    surrogate = default_registry().create(name, **OPTIONS.get(name, {}))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SurrogateFallbackWarning)
        model = surrogate.fit(X, Y, spec)
    seconds = time.perf_counter() - t0
    pred = predictive(model, X_test)
    lower, upper = pred.interval(0.95)
    y_std = float(Y.std())
    test_std = float(Y_test.std())
    inside = ((lower <= Y_test) & (Y_test <= upper)).double().mean()
    # Density of standardized outputs: log p(y / s) = log p(y) + log s.
    nlpd = -float(pred.log_prob(Y_test).mean()) - math.log(y_std)
    return Score(
        picp=float(inside),
        mpiw=float((upper - lower).mean()) / test_std,
        nlpd=nlpd,
        rmse=float(((pred.mean - Y_test) ** 2).mean().sqrt()) / test_std,
        seconds=seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = [n for n in default_registry().names() if n != "numpyro"]
    default = [n for n in names if n != "auto"]
    parser.add_argument("--surrogates", nargs="+", default=default, choices=names)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.surrogates = 1, [n for n in args.surrogates if n in ("gp", "sparse_gp")]
    torch.set_num_threads(2)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    lines = [
        f"Surrogate calibration on held-out points ({datetime.now():%Y-%m-%d}, device "
        f"{device}, {torch.get_num_threads()} threads, median over {args.seeds} seed(s)); "
        "PICP goal 0.95; MPIW and RMSE relative to the test std; NLPD of standardized y; "
        f"options {OPTIONS}.",
        "",
        "| problem | n | surrogate | PICP | MPIW | NLPD | RMSE | fit s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for pname in args.problems:
        problem = PROBLEMS[pname]
        for name in args.surrogates:
            runs = [score(name, problem, seed, device) for seed in range(args.seeds)]

            def med(key: str, runs: list[Score] = runs) -> float:
                return statistics.median(getattr(r, key) for r in runs)

            line = (
                f"| {pname} | {problem.n_train} | {name} | {med('picp'):.2f} | "
                f"{med('mpiw'):.2f} | {med('nlpd'):.2f} | {med('rmse'):.2f} | "
                f"{med('seconds'):.1f} |"
            )
            print(line, flush=True)
            lines.append(line)
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()

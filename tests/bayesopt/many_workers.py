"""A worker process for the multi-worker tests: ``python many_workers.py URL NAME N``.

It opens the shared store, then suggests (claiming), evaluates and observes ``N``
trials, one at a time, as a real worker process would.
"""

from __future__ import annotations

import sys

from bayesopt import Experiment, Float, Int, Objective, Optimizer
from bayesopt.acquisition import AcquisitionOptions


def experiment(name: str) -> Experiment:
    return Experiment(
        name=name,
        parameters=[Float("x", 0.0, 1.0), Float("y", 0.0, 1.0), Int("k", 0, 4)],
        objectives=[Objective("f")],
        initial_trials=32,
    )


def value(params: dict) -> float:
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2 + 0.01 * params["k"]


def main() -> None:
    url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    opt = Optimizer(experiment(name), storage=url, seed=0, device="cpu")
    opt.strategy.options = AcquisitionOptions(num_restarts=2, raw_samples=64)
    for _ in range(n):
        (trial,) = opt.suggest(1, claim=True)
        opt.observe(trial, {"f": value(trial.params)})


if __name__ == "__main__":
    main()

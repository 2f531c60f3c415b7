"""Fixtures shared by the core tests: a real SQLite file per test, and a fast optimizer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bayesopt import Experiment, Float, Objective, Optimizer
from bayesopt.acquisition import AcquisitionOptions

#: Few restarts and raw samples: the same code paths as the defaults, a fraction of the time.
FAST_OPTIONS = AcquisitionOptions(num_restarts=2, raw_samples=64)

OpenOptimizer = Callable[..., Optimizer]


@pytest.fixture
def fast_options() -> AcquisitionOptions:
    return FAST_OPTIONS


@pytest.fixture
def db_url(tmp_path) -> str:
    """A SQLAlchemy URL of a fresh SQLite file in the test's own directory."""
    return f"sqlite:///{tmp_path / 'trials.db'}"


@pytest.fixture
def open_optimizer(db_url: str) -> Iterator[OpenOptimizer]:
    """Open an :class:`Optimizer` on a SQLite file (``db_url`` unless given), on the CPU,
    with fast acquisition settings; every store opened is closed after the test."""
    opened: list[Optimizer] = []

    def _open(
        experiment: Experiment, *, seed: int | None = 0, storage: str | None = None
    ) -> Optimizer:
        opt = Optimizer(experiment, storage=storage or db_url, seed=seed, device="cpu")
        opt.strategy.options = FAST_OPTIONS
        opened.append(opt)
        return opt

    yield _open
    for opt in opened:
        opt.store.close()


@pytest.fixture
def quad() -> Experiment:
    """Minimize ``(x - 0.3)^2 + y`` over the unit square; 3 Sobol trials."""
    return Experiment(
        name="quad",
        parameters=[Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)],
        objectives=[Objective("f")],
        initial_trials=3,
    )


def quad_value(params: dict) -> float:
    return (params["x"] - 0.3) ** 2 + params["y"]


@pytest.fixture
def evaluate_quad() -> Callable[[dict], float]:
    return quad_value

"""The decision path on a CUDA device: every campaign feature decides there, in float64.

Skipped where no CUDA device exists (CI); run on a GPU machine with
``pytest tests/bayesopt/test_cuda.py``.
"""

from __future__ import annotations

import pytest
import torch

from bayesopt import Experiment, Float, Int, Objective, Optimizer
from bayesopt.acquisition import AcquisitionOptions

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

FAST = AcquisitionOptions(num_restarts=2, raw_samples=64)


def open_cuda(exp: Experiment, db_url: str) -> Optimizer:
    opt = Optimizer(exp, storage=db_url, seed=0)
    assert opt.device.type == "cuda", "CUDA is chosen automatically when present"
    opt.strategy.options = FAST
    return opt


def test_single_objective_with_constraints_noise_and_context_on_cuda(db_url) -> None:
    exp = Experiment(
        name="cuda-single",
        parameters=[Float("a", 0.0, 1.0), Float("b", 0.0, 1.0), Int("k", 1, 5)],
        objectives=[Objective("f")],
        constraints=["a + b <= 1.5", "c <= 0.8"],
        initial_trials=4,
    )
    opt = open_cuda(exp, db_url)
    for i in range(7):
        fixed = {"k": 3} if i == 6 else None
        (t,) = opt.suggest(1, fixed=fixed)
        p = t.params
        opt.observe(t, {"f": ((p["a"] - 0.4) ** 2 + p["b"], 0.01), "c": p["a"]})
    trials = opt.all_trials()
    model_steps = [t for t in trials if t.generator != "sobol"]
    assert model_steps and all(t.metadata["device"].startswith("cuda") for t in model_steps)
    assert all("fallback" not in t.metadata for t in model_steps)
    assert trials[-1].params["k"] == 3
    assert opt.best().values["c"] <= 0.8  # type: ignore[index]
    pred = opt.predict({"a": 0.4, "b": 0.1, "k": 2})
    assert pred["f_lower"].iloc[0] <= pred["f_mean"].iloc[0] <= pred["f_upper"].iloc[0]


def test_two_objectives_and_a_mixture_on_cuda(db_url) -> None:
    exp = Experiment(
        name="cuda-mo",
        parameters=[Float("a", 0.0, 1.0), Float("b", 0.0, 1.0), Float("c", 0.0, 1.0)],
        objectives=[Objective("f0"), Objective("f1", minimize=False, threshold=-2.0)],
        constraints=["a + b + c == 1"],
        initial_trials=4,
    )
    opt = open_cuda(exp, db_url)
    for _ in range(6):
        (t,) = opt.suggest(1)
        p = t.params
        assert abs(p["a"] + p["b"] + p["c"] - 1) < 1e-6
        opt.observe(t, {"f0": p["a"] ** 2 + p["c"], "f1": -((p["b"] - 0.7) ** 2) - p["c"]})
    last = opt.all_trials()[-1]
    assert last.generator == "gp+qLogNEHVI" and last.metadata["device"].startswith("cuda")
    assert opt.pareto() and opt.hypervolume() > 0

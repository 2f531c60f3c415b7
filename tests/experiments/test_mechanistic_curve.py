"""The worked example of a user's NumPyro model: it loads, decides with its model, predicts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bayesopt import Optimizer
from flows.loading import load_experiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_mechanistic_model_makes_the_decisions() -> None:
    base = load_experiment(ROOT / "experiments" / "mechanistic_curve.py")
    assert base.surrogate == "numpyro" and callable(base.surrogate_options["model"])
    # Fewer NUTS draws than the example uses, to keep the test short.
    exp = base.replace(
        surrogate_options={**base.surrogate_options, "warmup": 100, "num_samples": 100},
        initial_trials=5,
    )
    opt = Optimizer(exp, seed=0)
    for _ in range(6):
        (t,) = opt.suggest(1)
        opt.observe(t, exp.evaluate(**t.params))  # type: ignore[misc]
    decided = opt.all_trials()[-1]
    assert decided.generator == "numpyro+qLogNEI"
    meta = decided.metadata
    assert "fallback" not in meta, meta.get("fallback")
    assert meta["cv_method"] == "psis-loo" and meta["divergences"] >= 0
    # Diagnostics are recorded (with this few draws they need not show convergence).
    assert math.isfinite(meta["r_hat_max"]) and meta["ess_bulk_min"] > 0
    # Predictions are yields in percent, as measured (the objective is maximized).
    df = opt.predict([{"temperature": 55.0, "time": 240.0}, {"temperature": 120.0, "time": 240.0}])
    assert (df["yield_lower"] < df["yield_mean"]).all() and (
        df["yield_mean"] < df["yield_upper"]
    ).all()
    # At 120 degrees for 4 h the product has degraded (true yield near 0); at 55 degrees
    # it is near the optimum (about 81%).
    assert df["yield_mean"][1] < 10.0 and 70.0 < df["yield_mean"][0] < 95.0, df

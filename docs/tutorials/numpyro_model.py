"""Tutorial: your own NumPyro model of the process as the surrogate.

When you know the form of a process but not its constants, write the form as a
NumPyro model with priors on the constants; ``surrogate="numpyro"`` fits it by
NUTS before every decision and every acquisition function works with it
unchanged. Here: the yield of a consecutive reaction A -> B -> C, whose two rates
follow Arrhenius' law in the temperature. (``experiments/mechanistic_curve.py``
is the same example as an experiment file for ``bayesopt run``.)
"""

import math

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd

from bayesopt import Experiment, Float, Objective, Optimizer

pd.set_option("display.width", 120)
R = 8.314e-3  # gas constant, kJ / (mol K)
T_REF = 80.0 + 273.15  # the rate constants are given at 80 °C


# The process, with constants the optimizer does not know. B forms from A at rate
# k1 and degrades to C at rate k2; degradation has the higher activation energy,
# so the best setting trades a longer time against a lower temperature.
def true_yield(temperature: float, time: float) -> float:
    inv = 1.0 / (temperature + 273.15) - 1.0 / T_REF
    k1, k2 = 0.05 * math.exp(-60.0 / R * inv), 0.01 * math.exp(-100.0 / R * inv)
    return 100.0 * k1 / (k2 - k1) * (math.exp(-k1 * time) - math.exp(-k2 * time))


def run_reaction(temperature: float, time: float) -> dict[str, float]:
    """One batch: the yield of B in percent, measured with noise (sd 1.5)."""
    rng = np.random.default_rng(abs(hash((round(temperature, 9), round(time, 9)))))
    return {"yield": true_yield(temperature, time) + 1.5 * float(rng.normal())}


# --8<-- [start:model]
def model(X, y=None):
    # X: one row per trial; columns are the parameters in declaration order, in
    # their own units (degrees Celsius, minutes). y: the measured yield, or None.
    temperature, time = X[:, 0], X[:, 1]
    log_k1 = numpyro.sample("log_k1", dist.Normal(math.log(0.03), 1.0))  # 1/min at 80 °C
    log_k2 = numpyro.sample("log_k2", dist.Normal(math.log(0.01), 1.5))
    ea1 = numpyro.sample("ea1", dist.LogNormal(math.log(70.0), 0.4))  # kJ/mol
    ea2 = numpyro.sample("ea2", dist.LogNormal(math.log(70.0), 0.4))
    sigma = numpyro.sample("sigma", dist.HalfNormal(5.0))  # measurement noise, percent
    inv = 1.0 / (temperature + 273.15) - 1.0 / T_REF
    k1 = jnp.exp(log_k1 - ea1 / R * inv)
    k2 = jnp.exp(log_k2 - ea2 / R * inv)
    # B(t) = k1 / (k2 - k1) (exp(-k1 t) - exp(-k2 t)), written to stay finite (and
    # differentiable) where k1 = k2.
    delta = (k2 - k1) * time
    small = jnp.abs(delta) < 1e-6
    safe = jnp.where(small, 1.0, delta)
    ratio = jnp.where(small, 1.0 - delta / 2.0, -jnp.expm1(-safe) / safe)
    f = numpyro.deterministic("f", 100.0 * k1 * time * jnp.exp(-k1 * time) * ratio)  # shape (n,)
    numpyro.sample("y", dist.Normal(f, sigma), obs=y)  # the measurement


# --8<-- [end:model]


# --8<-- [start:experiment]
experiment = Experiment(
    name="consecutive-reaction",
    parameters=[Float("temperature", 40.0, 120.0), Float("time", 5.0, 240.0, log=True)],
    objectives=[Objective("yield", minimize=False)],
    evaluate=run_reaction,
    surrogate="numpyro",
    # A small NUTS budget keeps this tutorial quick; the defaults are 500 and 500.
    surrogate_options={"model": model, "warmup": 300, "num_samples": 300, "num_members": 64},
    initial_trials=5,
    seed=0,
)
# --8<-- [end:experiment]

# --8<-- [start:loop]
opt = Optimizer(experiment)  # storage=None: an in-memory store
for _ in range(9):
    (trial, *_) = opt.suggest(1)
    values = run_reaction(**trial.params)
    opt.observe(trial, values)
    meta = trial.metadata
    line = f"trial {trial.id}  {trial.generator:<16s}  yield {values['yield']:5.1f}%"
    if trial.generator != "sobol":  # what NUTS and PSIS-LOO said about this decision's fit
        line += (
            f"   R-hat {meta['r_hat_max']:.3f}  ESS {meta['ess_bulk_min']:.0f}"
            f"  divergences {meta['divergences']:.0f}  LOO k-hat {meta['loo_khat_max']:.2f}"
        )
    print(line)

best = opt.best()
print(
    f"\nbest: {best.values['yield']:.1f}% at {best.params['temperature']:.1f} °C, "
    f"{best.params['time']:.0f} min (the true optimum: about 81% near 55 °C and 4 h)"
)
# --8<-- [end:loop]

# --8<-- [start:posterior]
# The posterior of the constants, from the NUTS draws behind the latest decision.
draws = opt.fitted().model.draws
for name, truth in [
    ("log_k1", math.log(0.05)),
    ("log_k2", math.log(0.01)),
    ("ea1", 60.0),
    ("ea2", 100.0),
    ("sigma", 1.5),
]:
    lo, mid, hi = np.quantile(draws[name], [0.05, 0.5, 0.95])
    inside = "inside" if lo <= truth <= hi else "OUTSIDE"
    print(f"{name:>7s}: median {mid:7.3f}, 90% [{lo:7.3f}, {hi:7.3f}], true {truth:7.3f} {inside}")

# Predictions are the posterior predictive of the "y" site, in percent.
grid = pd.DataFrame({"temperature": [55.0, 80.0, 120.0], "time": [240.0, 60.0, 240.0]})
predicted = opt.predict(grid)
predicted["true_yield"] = [
    true_yield(t, m) for t, m in zip(grid.temperature, grid.time, strict=True)
]
print(predicted.round(1).to_string(index=False))
# --8<-- [end:posterior]

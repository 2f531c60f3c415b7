"""A known mechanism with unknown constants: the yield of a consecutive reaction A -> B -> C.

The product B forms from A at rate ``k1`` and degrades to C at rate ``k2``; both
rates follow Arrhenius' law in the temperature, and degradation has the higher
activation energy. The fraction of A that is B after ``t`` minutes is

    B(t) = k1 / (k2 - k1) * (exp(-k1 t) - exp(-k2 t)),

so the yield rises with time and temperature, then falls as B degrades: the best
setting trades a longer time against a lower temperature. The simulated process
below has constants the optimizer does not know; the NumPyro model ``model`` knows
the form and puts priors on the constants, so a dozen trials pin them down far
better than a generic GP would.

Run it:  bayesopt run experiments/mechanistic_curve.py
"""

import math

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from bayesopt import Experiment, Float, Objective

R = 8.314e-3  # gas constant, kJ / (mol K)
T_REF = 80.0 + 273.15  # reference temperature of the rate constants, K


# --------------------------------------------------------------- the process (unknown)
_K1, _EA1 = 0.05, 60.0  # 1/min at T_REF, kJ/mol
_K2, _EA2 = 0.01, 100.0
_NOISE = 1.5  # percentage points


def run_reaction(temperature: float, time: float) -> dict[str, float]:
    """Simulate one batch: the measured yield of B in percent (noisy)."""
    inv = 1.0 / (temperature + 273.15) - 1.0 / T_REF
    k1 = _K1 * math.exp(-_EA1 / R * inv)
    k2 = _K2 * math.exp(-_EA2 / R * inv)
    clean = 100.0 * k1 / (k2 - k1) * (math.exp(-k1 * time) - math.exp(-k2 * time))
    rng = np.random.default_rng(abs(hash((round(temperature, 9), round(time, 9)))))
    return {"yield": clean + _NOISE * float(rng.normal())}


# ------------------------------------------------------------------ the model (known form)
def model(X, y=None):
    """The mechanism with priors on its constants.

    ``X`` holds temperature in degrees Celsius and time in minutes (natural units, in
    the order the parameters are declared); ``y`` is the measured yield in percent.
    """
    temperature, time = X[:, 0], X[:, 1]
    log_k1 = numpyro.sample("log_k1", dist.Normal(math.log(0.03), 1.0))
    log_k2 = numpyro.sample("log_k2", dist.Normal(math.log(0.01), 1.5))
    ea1 = numpyro.sample("ea1", dist.LogNormal(math.log(70.0), 0.4))
    ea2 = numpyro.sample("ea2", dist.LogNormal(math.log(70.0), 0.4))
    sigma = numpyro.sample("sigma", dist.HalfNormal(5.0))
    inv = 1.0 / (temperature + 273.15) - 1.0 / T_REF
    k1 = jnp.exp(log_k1 - ea1 / R * inv)
    k2 = jnp.exp(log_k2 - ea2 / R * inv)
    delta = (k2 - k1) * time
    small = jnp.abs(delta) < 1e-6
    safe = jnp.where(small, 1.0, delta)  # keeps the gradient finite where delta is 0
    ratio = jnp.where(small, 1.0 - delta / 2.0, -jnp.expm1(-safe) / safe)
    f = numpyro.deterministic("f", 100.0 * k1 * time * jnp.exp(-k1 * time) * ratio)
    numpyro.sample("y", dist.Normal(f, sigma), obs=y)


experiment = Experiment(
    name="mechanistic-curve",
    parameters=[Float("temperature", 40.0, 120.0), Float("time", 5.0, 240.0, log=True)],
    objectives=[Objective("yield", minimize=False)],
    evaluate=run_reaction,
    budget=15,
    surrogate="numpyro",
    surrogate_options={"model": model, "warmup": 300, "num_samples": 300, "num_members": 64},
    seed=0,
)

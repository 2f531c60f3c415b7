"""my-experiment: your own NumPyro model as the surrogate, written by ``bayesopt init``.

Template: numpyro. When you know the form of the response (a mechanism, a dose
curve, a physical law) and only its constants are unknown, a model with that form
and priors on the constants learns from far fewer trials than a generic Gaussian
process. The optimizer fits it by NUTS after every batch and decides from its
posterior predictive distribution.

Here the response is a saturating dose curve with an optimum: the effect rises with
the dose as E(d) = e_max * d / (ec50 + d), and a toxicity term takes away
tox * d**2. The best dose balances the two.

    bayesopt run my_experiment.py
"""

import math

import numpyro
import numpyro.distributions as dist

from bayesopt import Experiment, Float, Objective


# The process (unknown to the optimizer; replace it with your measurement).
def evaluate(dose: float) -> dict[str, float]:
    e_max, ec50, tox = 80.0, 3.0, 0.6
    return {"response": e_max * dose / (ec50 + dose) - tox * dose**2}


# The model (the form you know, with priors on what you don't). It is called with
# X, an array of shape (n, number of parameters) in natural units and in the order the
# parameters are declared, and y, the observed objective (None when predicting). It
# must sample the observations at the site "y" and should record the noise-free
# response as the deterministic site "f".
def model(X, y=None):
    dose = X[:, 0]
    e_max = numpyro.sample("e_max", dist.LogNormal(math.log(50.0), 0.7))
    ec50 = numpyro.sample("ec50", dist.LogNormal(math.log(2.0), 0.7))
    tox = numpyro.sample("tox", dist.LogNormal(math.log(0.5), 0.7))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
    f = numpyro.deterministic("f", e_max * dose / (ec50 + dose) - tox * dose**2)
    numpyro.sample("y", dist.Normal(f, sigma), obs=y)


experiment = Experiment(
    name="my-experiment",
    parameters=[Float("dose", 0.1, 15.0)],
    objectives=[Objective("response", minimize=False)],
    evaluate=evaluate,
    budget=10,
    surrogate="numpyro",
    # model: the NumPyro model above; warmup and num_samples: the NUTS budget per fit
    # (more is slower and steadier); num_members: posterior draws the acquisition uses.
    surrogate_options={"model": model, "warmup": 200, "num_samples": 200, "num_members": 32},
    seed=0,
)

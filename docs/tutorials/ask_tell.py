"""Tutorial: ask and tell from a notebook or a script, with no server.

The core library never imports Prefect or MLflow: an ``Optimizer`` suggests
points, you evaluate them however you like, and you tell it the results. Every
suggestion and observation is committed to the store (here a SQLite file) before
the call returns, so a new ``Optimizer`` on the same store carries on.
"""

import math

import pandas as pd

from bayesopt import Experiment, Float, Objective, Optimizer, TrialStateError

pd.set_option("display.width", 120)
pd.set_option("display.precision", 3)


# The function we pretend is expensive: Branin, minimum 0.397887 at three points.
def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


# --8<-- [start:loop]
exp = Experiment(
    name="branin",
    parameters=[Float("x1", -5.0, 10.0), Float("x2", 0.0, 15.0)],
    objectives=[Objective("y", minimize=True)],
)
print(f"{exp.space.dim} parameters; a Sobol design of {exp.n_initial} points comes first")

opt = Optimizer(exp, storage="sqlite:///branin.db", seed=0)
for _ in range(12):
    (trial,) = opt.suggest(1)  # a list of Trial, each with .id and .params
    y = branin(**trial.params)  # run the experiment: here, a formula
    opt.observe(trial, {"y": y})  # (a bare number works too: one objective)
    print(f"trial {trial.id:2d}  {trial.generator:<12s}  y = {y:8.3f}")

best = opt.best()  # the best completed Trial: .params and .values
print(f"\nbest after 12 trials: trial {best.id}, y = {best.values['y']:.4f} at {best.params}")
# --8<-- [end:loop]

# --8<-- [start:table]
# Every trial, with what decided it, as a pandas DataFrame.
df = opt.trials()
print(df[["id", "status", "x1", "x2", "y", "step", "generator"]].to_string(index=False))
# --8<-- [end:table]

# --8<-- [start:predict]
# What the model behind the latest decision predicts: the mean and a 95% interval
# of a new measurement, in the units of y, next to the true value. Two of Branin's
# three minima: the one the run found, and one it has not explored.
points = pd.DataFrame({"x1": [math.pi, -math.pi], "x2": [2.275, 12.275]})
predicted = opt.predict(points)
predicted["true_y"] = [branin(a, b) for a, b in zip(points.x1, points.x2, strict=True)]
print(predicted.to_string(index=False))
# --8<-- [end:predict]

# --8<-- [end:predict]

# --8<-- [start:resume]
# A new Optimizer on the same store continues where the first one stopped (as a
# restarted notebook kernel or another process would): the ids go on, the trials
# are all there, and the seed is the one stored with the experiment.
again = Optimizer(exp, storage="sqlite:///branin.db")
(trial,) = again.suggest(1)
print(f"\nresumed: {len(again.all_trials())} trials in the store, new trial {trial.id}")

# A trial that could not be run is recorded as failed, with the reason.
failed = again.fail(trial, "the sample was contaminated")
print(f"trial {failed.id}: {failed.status.value} ({failed.failure_reason})")

# Results for an unknown or finished trial are refused, and nothing changes.
try:
    again.observe(trial, {"y": 1.0})
except TrialStateError as exc:
    print(f"refused: {exc}")
# --8<-- [end:resume]

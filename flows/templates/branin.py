"""my-experiment: a first experiment, written by ``bayesopt init`` (template: branin).

Edit the three parts below: the function that runs one trial (``evaluate``), the
parameters it takes, and the experiment that ties them together. Then:

    bayesopt run my_experiment.py       # run the budget through the Prefect flow (resumes)
    bayesopt status my_experiment.py    # every trial: parameters, values, what decided it
    bayesopt best my_experiment.py      # the best trial so far
    bayesopt ui                         # browse the runs in the MLflow UI

Trials go to ``runs/<name>.db`` (SQLite) and metrics to ``runs/mlflow.db``, both
relative to where you run the command.
"""

import math

from bayesopt import Experiment, Float, Objective


# 1. One trial. It takes one keyword argument per parameter (the names below) and
#    returns a dict of outcomes (or a single number when there is one objective).
#    Replace the body with your measurement, simulation or training run. An
#    exception here marks the trial failed, with the message as its reason; the run
#    goes on and the trial is kept.
def evaluate(x1: float, x2: float) -> dict[str, float]:
    # The Branin-Hoo function: three global minima of 0.397887.
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    y = (x2 - b * x1**2 + c * x1 - 6.0) ** 2 + 10.0 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
    return {"y": y + 10.0}


experiment = Experiment(
    # The experiment's name: names the trial store (runs/<name>.db) and the MLflow
    # experiment. Letters, digits, '_', '.' and '-'.
    name="my-experiment",
    # 2. The search space. Float(name, low, high, log=False), Int(name, low, high),
    #    Choice(name, [values], ordered=False) and Fixed(name, value), imported from
    #    bayesopt. Each name must match an argument of evaluate.
    parameters=[Float("x1", -5.0, 10.0), Float("x2", 0.0, 15.0)],
    # 3. What to optimize: an outcome that evaluate returns, minimized by default
    #    (minimize=False to maximize). Several objectives give a Pareto front.
    objectives=[Objective("y", minimize=True)],
    # Optional limits on outcomes or on parameters, as text, for example
    # constraints=["x1 + x2 <= 20", "cost <= 5.0"].
    constraints=[],
    evaluate=evaluate,
    # How many trials to finish (completed or failed). The first few are a space-filling
    # design; the rest are chosen by a Gaussian process and an acquisition function.
    budget=20,
    # Trials proposed and evaluated together (in parallel where the runner allows).
    batch_size=1,
    # The seed makes the decisions repeatable; None draws a new one per run.
    seed=0,
)

"""my-experiment: two objectives and a constraint, written by ``bayesopt init``.

Template: multiobjective. A process with a quality to raise and a cost to lower,
subject to a limit on a third outcome. The run finds the Pareto front: the
settings where quality cannot improve without paying more.

    bayesopt run my_experiment.py       # run the budget (resumes where it stopped)
    bayesopt best my_experiment.py      # the Pareto front among the feasible trials
    bayesopt status my_experiment.py    # every trial, with a 'feasible' column
"""

import math

from bayesopt import Experiment, Float, Int, NoImprovement, Objective


# One trial: keyword arguments named as the parameters, a dict of outcomes back.
# Every outcome that an objective or a constraint names must be in the dict.
def evaluate(temperature: float, pressure: float, stages: int) -> dict[str, float]:
    # A made-up process: quality peaks at a temperature that moves with pressure,
    # each extra stage adds quality and cost, and impurity grows with temperature.
    peak = 60.0 + 8.0 * pressure
    quality = 100.0 * math.exp(-(((temperature - peak) / 25.0) ** 2)) * (1 - 0.5**stages)
    cost = 0.05 * temperature + 2.0 * pressure + 1.5 * stages
    impurity = 0.002 * temperature + 0.01 * pressure**2
    return {"quality": quality, "cost": cost, "impurity": impurity}


experiment = Experiment(
    name="my-experiment",
    parameters=[
        Float("temperature", 20.0, 150.0),
        Float("pressure", 1.0, 10.0),
        Int("stages", 1, 5),  # an integer parameter: the optimizer searches the integers
    ],
    # Several objectives: each has a direction and, optionally, a threshold, the worst
    # value still worth having (they form the hypervolume's reference point).
    objectives=[
        Objective("quality", minimize=False, threshold=20.0),
        Objective("cost", minimize=True, threshold=30.0),
    ],
    # An outcome constraint: a trial that breaks it is kept but is not on the front.
    # Linear constraints on parameters are written the same way ("a + b <= 1").
    constraints=["impurity <= 0.5"],
    evaluate=evaluate,
    budget=30,
    # Stop early when the hypervolume has not improved for 12 finished trials.
    stopping=[NoImprovement(trials=12)],
    seed=0,
)

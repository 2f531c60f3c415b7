"""Branin-Hoo, the classic 2-D benchmark: three global minima of 0.397887.

Run it:  bayesopt run experiments/branin.py
"""

import math

from bayesopt import Experiment, Float, Objective


def branin(x1: float, x2: float) -> dict[str, float]:
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    y = (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s
    return {"y": y}


experiment = Experiment(
    name="branin",
    parameters=[Float("x1", -5.0, 10.0), Float("x2", 0.0, 15.0)],
    objectives=[Objective("y", minimize=True)],
    evaluate=branin,
    budget=25,
    seed=0,
)

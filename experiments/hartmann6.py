"""Hartmann6: a 6-D benchmark with a global minimum of -3.32237 and several local ones.

Run it:  bayesopt run experiments/hartmann6.py
"""

import math

from bayesopt import Experiment, Float, Objective

_ALPHA = (1.0, 1.2, 3.0, 3.2)
_A = (
    (10, 3, 17, 3.5, 1.7, 8),
    (0.05, 10, 17, 0.1, 8, 14),
    (3, 3.5, 1.7, 10, 17, 8),
    (17, 8, 0.05, 10, 0.1, 14),
)
_P = (
    (1312, 1696, 5569, 124, 8283, 5886),
    (2329, 4135, 8307, 3736, 1004, 9991),
    (2348, 1451, 3522, 2883, 3047, 6650),
    (4047, 8828, 8732, 5743, 1091, 381),
)


def hartmann6(x1: float, x2: float, x3: float, x4: float, x5: float, x6: float) -> dict[str, float]:
    x = (x1, x2, x3, x4, x5, x6)
    y = -sum(
        alpha
        * math.exp(-sum(a * (xj - p * 1e-4) ** 2 for a, xj, p in zip(row, x, prow, strict=True)))
        for alpha, row, prow in zip(_ALPHA, _A, _P, strict=True)
    )
    return {"y": y}


experiment = Experiment(
    name="hartmann6",
    parameters=[Float(f"x{i}", 0.0, 1.0) for i in range(1, 7)],
    objectives=[Objective("y", minimize=True)],
    evaluate=hartmann6,
    budget=60,
    seed=0,
)

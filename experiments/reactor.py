"""A reactor campaign: yield against cost, a purity requirement, and a solvent mixture.

A simulated batch reactor runs ``A -> B -> C`` (B wanted, C a by-product) with
Arrhenius rates. The temperature and the residence time set how far the reaction
goes; the solvent is a mixture of three components (fractions that add up to one)
that changes the rates. Every trial reports the yield of B (percent, maximized),
its cost (energy for heating plus solvent price, minimized) and the purity of the
product (B among B and C, at least 0.9).

Run it with ``bayesopt run experiments/reactor.py``; ``bayesopt best`` prints the
Pareto front of yield against cost among the pure-enough trials.
"""

import math

from bayesopt import Experiment, Float, NoImprovement, Objective

GAS_CONSTANT = 8.314  # J / (mol K)
SOLVENT_PRICE = {"water": 1.0, "ethanol": 4.0, "toluene": 9.0}  # per batch, at fraction 1


def run_reactor(
    temperature: float, minutes: float, water: float, ethanol: float, toluene: float
) -> dict[str, float]:
    """Yield, cost and purity of one batch (closed form of A -> B -> C, first order)."""
    kelvin = temperature + 273.15
    # The solvent shifts the activation energies (kJ/mol): ethanol speeds the wanted
    # step, toluene slows the side reaction.
    e1 = 62.0 - 6.0 * ethanol + 2.0 * toluene
    e2 = 75.0 - 3.0 * water + 8.0 * toluene
    k1 = 2.0e8 * math.exp(-e1 * 1e3 / (GAS_CONSTANT * kelvin))
    k2 = 5.0e9 * math.exp(-e2 * 1e3 / (GAS_CONSTANT * kelvin))
    a = math.exp(-k1 * minutes)
    b = k1 * minutes * a if abs(k2 - k1) < 1e-12 else k1 / (k2 - k1) * (a - math.exp(-k2 * minutes))
    c = max(1.0 - a - b, 0.0)
    heating = 0.02 * (temperature - 20.0) * (1.0 + minutes / 30.0)
    solvent = sum(
        SOLVENT_PRICE[s] * f for s, f in zip(SOLVENT_PRICE, (water, ethanol, toluene), strict=True)
    )
    return {
        "yield": 100.0 * b,
        "cost": heating + solvent,
        "purity": b / (b + c) if b + c > 0 else 0.0,
    }


experiment = Experiment(
    name="reactor",
    parameters=[
        Float("temperature", 40.0, 120.0),
        Float("minutes", 1.0, 60.0),
        Float("water", 0.0, 1.0),
        Float("ethanol", 0.0, 1.0),
        Float("toluene", 0.0, 1.0),
    ],
    objectives=[
        Objective("yield", minimize=False, threshold=20.0),
        Objective("cost", minimize=True, threshold=8.0),
    ],
    constraints=["water + ethanol + toluene == 1", "purity >= 0.9"],
    outcome_bounds={"purity": (0.0, 1.0), "yield": (0.0, 100.0)},
    stopping=[NoImprovement(trials=15, tolerance=0.01)],
    evaluate=run_reactor,
    budget=30,
)

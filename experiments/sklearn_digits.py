"""Tuning a gradient-boosted classifier on scikit-learn's digits data (ships with it).

The objective is the 3-fold cross-validated accuracy, maximized. The space mixes
integer (tree count, depth), log-scale (learning rate, L2 penalty) and categorical
(loss of the split quality) parameters, and a fixed one.

Run it:  bayesopt run experiments/sklearn_digits.py
"""

from functools import cache

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_score

from bayesopt import Choice, Experiment, Fixed, Float, Int, Objective


@cache
def _data() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X, y


def cv_accuracy(
    max_iter: int,
    max_depth: int,
    learning_rate: float,
    l2_regularization: float,
    max_features: float,
    early_stopping: str,
    random_state: int,
) -> dict[str, float]:
    X, y = _data()
    model = HistGradientBoostingClassifier(
        max_iter=max_iter,
        max_depth=max_depth,
        learning_rate=learning_rate,
        l2_regularization=l2_regularization,
        max_features=max_features,
        early_stopping=early_stopping == "on",
        random_state=random_state,
    )
    scores = cross_val_score(model, X, y, cv=3, n_jobs=1)
    return {"accuracy": float(scores.mean()), "accuracy_std": float(scores.std())}


experiment = Experiment(
    name="sklearn-digits",
    parameters=[
        Int("max_iter", 10, 200, log=True),
        Int("max_depth", 2, 12),
        Float("learning_rate", 1e-3, 0.5, log=True),
        Float("l2_regularization", 1e-6, 10.0, log=True),
        Float("max_features", 0.2, 1.0),
        Choice("early_stopping", ["on", "off"]),
        Fixed("random_state", 0),
    ],
    objectives=[Objective("accuracy", minimize=False)],
    evaluate=cv_accuracy,
    budget=25,
    timeout=120,
    seed=0,
)

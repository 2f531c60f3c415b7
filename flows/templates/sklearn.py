"""my-experiment: tune a scikit-learn model by cross-validation, written by ``bayesopt init``.

Template: sklearn. A support-vector regressor on scikit-learn's diabetes data (it
ships with scikit-learn, no download), scored by 5-fold cross-validated mean squared
error. Swap in your own estimator, data and score: the parameters are the
estimator's hyperparameters, log-scaled where they span decades.

    bayesopt run my_experiment.py
    bayesopt best my_experiment.py
"""

from functools import cache

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from bayesopt import Choice, Experiment, Float, Objective


@cache  # load the data once per process, not once per trial
def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    return X, y


def evaluate(C: float, epsilon: float, gamma: float, kernel: str) -> dict[str, float]:
    X, y = data()
    model = make_pipeline(StandardScaler(), SVR(C=C, epsilon=epsilon, gamma=gamma, kernel=kernel))
    # A fixed fold split, so that two trials differ only by their hyperparameters.
    folds = KFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_score(model, X, y, cv=folds, scoring="neg_mean_squared_error")
    # Report the spread across folds as well; only "mse" is optimized, the rest is
    # recorded with the trial and shown by `bayesopt status`.
    return {"mse": float(-scores.mean()), "mse_fold_std": float(scores.std())}


experiment = Experiment(
    name="my-experiment",
    parameters=[
        # log=True searches the exponent: as much effort between 0.1 and 1 as
        # between 100 and 1000.
        Float("C", 0.1, 1000.0, log=True),
        Float("epsilon", 0.01, 100.0, log=True),
        Float("gamma", 1e-4, 1.0, log=True),
        # An unordered choice: the model treats it as a categorical column.
        Choice("kernel", ["rbf", "sigmoid"]),
    ],
    objectives=[Objective("mse", minimize=True)],
    evaluate=evaluate,
    budget=30,
    # A trial that runs longer than this many seconds is stopped and marked failed.
    timeout=120.0,
    seed=0,
)

"""A fitted surrogate in the user's terms: predictions at parameter settings, and its scores.

:class:`FittedSurrogate` holds the BoTorch model that made a decision together
with the search space and the objective, so it predicts from parameter dicts
(or a DataFrame) in the units the objective was measured in. It pickles, which
is how the flow stores it in MLflow as a loadable model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from botorch.models.model import Model

from bayesopt.device import DTYPE
from bayesopt.errors import InvalidSpaceError, describe
from bayesopt.experiment import Objective
from bayesopt.space import Space
from surrogates.predictive import predictive
from surrogates.validation import LEVEL, HeldOut

Points = Mapping[str, Any] | Sequence[Mapping[str, Any]] | pd.DataFrame


@dataclass
class FittedSurrogate:
    """A fitted surrogate and what it needs to predict in the user's terms.

    Attributes:
        space: The search space the model's inputs encode.
        objective: The modelled outcome; the model sees ``objective.sign() * value``.
        model: The fitted BoTorch model.
        surrogate: The name of the surrogate that fitted it (``"auto:gp"`` when
            ``"auto"`` chose the exact GP).
        n_train: Completed trials it was fitted on.
        held_out: Held-out predictions of the training data, in measured units.
        info: Facts about the fit (seconds, MCMC diagnostics, why ``auto`` chose it).
    """

    space: Space
    objective: Objective
    model: Model
    surrogate: str
    n_train: int
    held_out: HeldOut | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def encode(self, points: Points) -> torch.Tensor:
        """Validate parameter settings and encode them as a ``n x d`` tensor."""
        if isinstance(points, pd.DataFrame):
            rows: list[Mapping[str, Any]] = [
                {k: v for k, v in row.items() if k in self.space.names}
                for row in points.to_dict("records")
            ]
        elif isinstance(points, Mapping):
            rows = [points]
        elif isinstance(points, Sequence) and not isinstance(points, str | bytes):
            rows = list(points)
        else:
            raise InvalidSpaceError(
                f"points: got {describe(points)}; expected a dict of parameter values, a list "
                "of such dicts, or a DataFrame with one column per parameter"
            )
        if not rows:
            raise InvalidSpaceError("points: got no points; give at least one")
        X = np.stack([self.space.encode(r) for r in rows])
        device = next((b.device for b in self.model.buffers()), torch.device("cpu"))
        device = next((p.device for p in self.model.parameters()), device)
        return torch.as_tensor(X, dtype=DTYPE, device=device)

    def predict(self, points: Points, level: float = LEVEL) -> pd.DataFrame:
        """Posterior predictive mean and central interval of the objective at ``points``.

        Returns:
            One row per point: the parameters, then ``<objective>_mean``,
            ``<objective>_lower`` and ``<objective>_upper`` (the ``level`` interval of a
            new measurement), in the units the objective is measured in.
        """
        X = self.encode(points)
        pred = predictive(self.model, X)
        lower, upper = pred.interval(level)
        mean = pred.mean
        if self.objective.sign() < 0:
            mean, lower, upper = -mean, -upper, -lower
        name = self.objective.name
        params = [self.space.decode(row) for row in X.cpu().numpy()]
        df = pd.DataFrame(params, columns=list(self.space.names))
        df[f"{name}_mean"] = mean[:, 0].detach().cpu().numpy()
        df[f"{name}_lower"] = lower[:, 0].detach().cpu().numpy()
        df[f"{name}_upper"] = upper[:, 0].detach().cpu().numpy()
        return df


#: Where the per-candidate predictions travel from the fit to the candidates.
PREDICTED_KEY = "_predicted"


def predicted_at(model: Any, X: torch.Tensor, sign: float) -> list[tuple[float, float]] | None:
    """The deciding model's predictive mean and standard deviation of a new measurement of
    the first modelled outcome at each chosen point, in the outcome's units; recorded with
    each trial, so that the surprise of its result (how many standard deviations it fell
    from what was expected) can be read from the history. ``None`` where the model cannot
    say (the decision itself does not depend on it)."""
    warp = getattr(model, "outcome_warp", None)
    if warp is not None:  # a GP fitted on warped outcomes: back in the outcome's units
        try:
            with torch.no_grad():
                pred = predictive(model, X)
                mean = pred.mean.reshape(len(X), -1)[:, 0] * sign
                sd = pred.sd.reshape(len(X), -1)[:, 0]  # type: ignore[attr-defined]
        except Exception:
            return None
        return _pairs(mean, sd)
    try:
        with torch.no_grad():
            try:
                post = model.posterior(X, observation_noise=True)
            except (NotImplementedError, TypeError, RuntimeError):
                post = model.posterior(X)
            mean = post.mean.reshape(len(X), -1)[:, 0] * sign
            sd = post.variance.reshape(len(X), -1)[:, 0].clamp_min(0.0).sqrt()
    except Exception:
        return None
    return _pairs(mean, sd)


def _pairs(mean: torch.Tensor, sd: torch.Tensor) -> list[tuple[float, float]] | None:
    if not (torch.isfinite(mean).all() and torch.isfinite(sd).all()):
        return None
    return [(float(a), float(b)) for a, b in zip(mean.cpu(), sd.cpu(), strict=True)]

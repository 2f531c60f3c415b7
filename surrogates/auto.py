"""``"auto"``: choose the surrogate by held-out predictive quality, within a time limit.

Each candidate is fitted on all the data, then scored by k-fold cross-validated
NLPD (:mod:`surrogates.validation`); the candidate with the lowest NLPD is used.
A candidate whose projected cross-validation time (``folds`` times its full fit)
does not fit in what is left of ``time_limit`` is skipped, and past ``large_n``
observations the exact GP is replaced by the sparse GP, whose cost grows
linearly in ``n`` (``benchmarks/surrogate_scaling.py`` measures where the two
curves cross). Why the winner won is recorded in the model's fit info
(``auto_choice``, ``auto_reason`` and each candidate's NLPD).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botorch.models.model import Model
from torch import Tensor

from surrogates.base import (
    FitSpec,
    SurrogateError,
    SurrogateFallbackWarning,
    SurrogateRegistry,
    check_training_data,
    set_fit_info,
)
from surrogates.validation import HeldOut, attach_held_out, cross_validate, held_out_of


@dataclass
class AutoSurrogate:
    """Pick among ``candidates`` by k-fold NLPD.

    Args:
        candidates: Surrogate names to compare, cheapest first (the first is always
            scored; later ones only while time is left).
        options: Per-candidate options, e.g. ``{"saas": {"warmup_steps": 128}}``.
        folds: Folds of the cross-validation.
        time_limit: Seconds for fitting and scoring all candidates.
        large_n: From this many observations on, ``"gp"`` is replaced by ``"sparse_gp"``.
        registry: Where candidates are looked up (the package's default registry).
    """

    name: str = "auto"
    candidates: Sequence[str] = ("gp", "bnn", "saas")
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    folds: int = 5
    time_limit: float = 60.0
    large_n: int = 2000
    registry: SurrogateRegistry | None = None

    def _registry(self) -> SurrogateRegistry:
        if self.registry is not None:
            return self.registry
        from surrogates import default_registry  # the default registry holds "auto" itself

        return default_registry()

    def __post_init__(self) -> None:
        known = self._registry().names()
        if isinstance(self.candidates, str) or not self.candidates:
            raise SurrogateError(
                f"auto: candidates={self.candidates!r}; expected a list of surrogate names"
            )
        bad = [c for c in self.candidates if c not in known or c == self.name]
        if bad:
            valid = [k for k in known if k != self.name]
            raise SurrogateError(f"auto: candidates {bad} are not valid; valid names are {valid}")
        if self.folds < 2:
            raise SurrogateError(f"auto: folds={self.folds!r}; expected at least 2")

    def _create(self, name: str) -> Any:
        return self._registry().create(name, **dict(self.options.get(name, {})))

    def _candidates(self, n: int) -> tuple[list[str], list[str]]:
        names, notes = [], []
        for name in self.candidates:
            if name == "gp" and n >= self.large_n:
                notes.append(f"gp replaced by sparse_gp at n={n} >= large_n={self.large_n}")
                name = "sparse_gp"
            if name not in names:
                names.append(name)
        return names, notes

    def fit(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec) -> Model:
        """Fit every affordable candidate, score it, and return the best fitted model.

        Returns:
            The chosen candidate's model fitted on all the data, with the held-out
            predictions that chose it attached (:func:`surrogates.validation.held_out_of`).
        """
        check_training_data(train_X, train_Y, spec, min_points=3)
        names, notes = self._candidates(train_X.shape[0])
        t0 = time.perf_counter()
        scored: dict[str, tuple[float, Model, HeldOut]] = {}
        for name in names:
            left = self.time_limit - (time.perf_counter() - t0)
            if scored and left <= 0:
                notes.append(f"{name} skipped: time limit {self.time_limit:g} s spent")
                continue
            surrogate = self._create(name)
            t_fit = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", SurrogateFallbackWarning)
                    model = surrogate.fit(train_X, train_Y, spec)
            except (SurrogateFallbackWarning, SurrogateError) as exc:
                notes.append(f"{name} not used: {exc}")
                continue
            fit_seconds = time.perf_counter() - t_fit
            left = self.time_limit - (time.perf_counter() - t0)
            projected = fit_seconds * self.folds
            if scored and projected > left:
                notes.append(
                    f"{name} skipped: its {self.folds}-fold cross-validation would take about "
                    f"{projected:.1f} s, {max(left, 0):.1f} s of the limit are left"
                )
                continue
            try:
                # A surrogate that scores itself without refits (PSIS-LOO of a NUTS fit)
                # is taken at its word; the others are cross-validated.
                held = held_out_of(model) or cross_validate(
                    surrogate, train_X, train_Y, spec, folds=self.folds
                )
            except Exception as exc:  # one candidate failing must not stop the choice
                notes.append(f"{name} not scored: {type(exc).__name__}: {exc}")
                continue
            nlpd = held.scores()["nlpd"]
            if not math.isfinite(nlpd):
                notes.append(f"{name} not used: held-out NLPD is {nlpd}")
                continue
            scored[name] = (nlpd, model, held)
        if not scored:
            raise SurrogateError(
                "auto: no candidate could be fitted and scored: " + "; ".join(notes)
            )
        choice = min(scored, key=lambda k: scored[k][0])
        _, model, held = scored[choice]
        ranking = ", ".join(
            f"{k} {v[0]:.3f}" for k, v in sorted(scored.items(), key=lambda kv: kv[1][0])
        )
        reason = f"lowest {held.method} NLPD ({ranking})"
        if notes:
            reason += "; " + "; ".join(notes)
        set_fit_info(
            model,
            auto_choice=choice,
            auto_reason=reason,
            auto_seconds=round(time.perf_counter() - t0, 3),
            **{f"auto_nlpd_{k}": round(v[0], 6) for k, v in scored.items()},
        )
        attach_held_out(model, held)
        return model

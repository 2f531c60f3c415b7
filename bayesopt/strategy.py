"""When to ask the model: a seeded Sobol design, then model-based steps.

The strategy is data (:class:`Strategy`) and a pure function of the history it
is shown, so a resumed run makes the same decisions as an uninterrupted one.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from botorch.utils.sampling import get_polytope_samples
from torch.quasirandom import SobolEngine

from bayesopt.acquisition import AcquisitionOptions, build_acquisition, optimize
from bayesopt.device import DTYPE
from bayesopt.errors import InvalidSpaceError
from bayesopt.experiment import Experiment
from bayesopt.prediction import FittedSurrogate
from surrogates import FitSpec, SurrogateFallbackWarning, SurrogateRegistry, default_registry
from surrogates.base import fit_info
from surrogates.validation import cross_validate, exact_gp_loo, held_out_of

logger = logging.getLogger("bayesopt")


@dataclass(frozen=True)
class History:
    """What the strategy sees of the trials so far.

    Attributes:
        X: A ``n x d`` array of encoded points of completed trials.
        Y: A ``n`` array of their objective values, as measured.
        X_pending: A ``p x d`` array of encoded points still being evaluated.
        n_trials: Trials created so far, abandoned ones excluded.
        n_sobol: Sobol points drawn so far (positions used in the sequence).
    """

    X: np.ndarray
    Y: np.ndarray
    X_pending: np.ndarray
    n_trials: int
    n_sobol: int


@dataclass(frozen=True)
class Candidate:
    """A point to try, with the record of how it was chosen."""

    params: dict[str, Any]
    generator: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Strategy:
    """Sobol for the first ``experiment.n_initial`` trials, then surrogate + acquisition.

    Args:
        experiment: The experiment to decide for.
        seed: Seeds the Sobol sequence and every model step.
        device: Torch device for the model and the acquisition optimizer.
        registry: Where surrogates are looked up by name.
    """

    experiment: Experiment
    seed: int
    device: torch.device
    registry: SurrogateRegistry = field(default_factory=default_registry)
    options: AcquisitionOptions = field(default_factory=AcquisitionOptions)
    #: The fit behind the latest model-based decision made by this object.
    last_fit: FittedSurrogate | None = field(default=None, init=False, repr=False)

    # ------------------------------------------------------------------ Sobol
    def sobol(self, start: int, n: int) -> np.ndarray:
        """Points ``start .. start+n-1`` of the scrambled, seeded, feasible Sobol sequence."""
        space = self.experiment.space
        engine = SobolEngine(space.dim, scramble=True, seed=self.seed)
        if not space.constraints:
            pts = engine.draw(start + n, dtype=DTYPE).numpy()
            return pts[start:]
        # Rejection: keep the Sobol points that are feasible once rounded onto the grid.
        drawn = space.snap(engine.draw(2**12, dtype=DTYPE).numpy())
        feasible = drawn[space.is_feasible(drawn)]
        if len(feasible) >= start + n:
            return feasible[start : start + n]
        # Feasible region too thin for rejection: sample the polytope directly.
        ineq = [
            (torch.tensor(i), torch.tensor(c, dtype=DTYPE), r)
            for i, c, r in space.botorch_inequalities()
        ]
        bounds = torch.stack([torch.zeros(space.dim), torch.ones(space.dim)]).to(DTYPE)
        for attempt in range(4):
            samples = get_polytope_samples(
                8 * n * 4**attempt,
                bounds,
                inequality_constraints=ineq,
                seed=self.seed + start + attempt,
                n_thinning=8,
            )
            snapped = space.snap(samples.numpy())
            ok = snapped[space.is_feasible(snapped)]
            if len(ok) >= n:
                return ok[:n]
        raise InvalidSpaceError(
            "constraints: no point found that satisfies every constraint once integer "
            f"parameters are rounded ({[str(c) for c in space.constraints]}); widen the region"
        )

    # ------------------------------------------------------------- generation
    def generate(self, history: History, n: int) -> list[Candidate]:
        """Choose ``n`` new points given ``history``."""
        exp = self.experiment
        n_sobol = min(n, max(exp.n_initial - history.n_trials, 0))
        out: list[Candidate] = []
        if n_sobol:
            out += self._sobol_candidates(history.n_sobol, n_sobol, reason=None)
        n_model = n - n_sobol
        if n_model:
            pending = history.X_pending
            if out:
                pending = np.vstack([pending, *[exp.space.encode(c.params) for c in out]])
            out += self._model_candidates(
                history, n_model, pending, sobol_start=history.n_sobol + n_sobol
            )
        return out

    def _sobol_candidates(self, start: int, n: int, reason: str | None) -> list[Candidate]:
        pts = self.sobol(start, n)
        meta: dict[str, Any] = {"sobol_index": None}
        if reason:
            meta["fallback"] = reason
        return [
            Candidate(self.experiment.space.decode(p), "sobol", {**meta, "sobol_index": start + i})
            for i, p in enumerate(pts)
        ]

    def _model_candidates(
        self, history: History, n: int, pending: np.ndarray, sobol_start: int
    ) -> list[Candidate]:
        exp = self.experiment
        if len(history.Y) < 2:
            reason = f"{len(history.Y)} completed trial(s); the model needs at least 2"
            logger.warning("model step skipped: %s; using Sobol points", reason)
            return self._sobol_candidates(sobol_start, n, reason=reason)
        generator = f"{exp.surrogate}+{exp.acquisition}"
        step_seed = self.seed * 1_000_003 + history.n_trials
        devices = [self.device] if self.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(step_seed)
                X, value, meta, generator = self._fit_and_optimize(history, n, pending)
        except Exception as exc:  # a failed decision falls back, never stops the loop
            reason = f"{generator} failed ({type(exc).__name__}: {exc})"
            logger.warning("%s; using Sobol points instead", reason)
            return self._sobol_candidates(sobol_start, n, reason=reason)
        cands = []
        for i, row in enumerate(X.cpu().numpy()):
            meta_i = {**meta, "acq_value": float(value.reshape(-1)[min(i, value.numel() - 1)])}
            cands.append(Candidate(exp.space.decode(row), generator, meta_i))
        return cands

    def fit_spec(self, sign: float) -> FitSpec:
        """What the surrogates are told about the encoded inputs and the outcome's sign."""
        space = self.experiment.space
        kw: dict[str, Any] = {"device": self.device, "dtype": DTYPE}
        return FitSpec(
            bounds=torch.stack([torch.zeros(space.dim, **kw), torch.ones(space.dim, **kw)]),
            cat_dims=tuple(space.cat_dims),
            seed=self.seed,
            columns=space.columns(),
            signs=(sign,),
        )

    def fit(self, history: History, surrogate: str | None = None) -> FittedSurrogate:
        """Fit the experiment's surrogate (or the one named) to the completed trials.

        Held-out diagnostics come with the fit: the closed-form leave-one-out of the
        exact GP, the cross-validation ``"auto"`` made while choosing, or a
        ``cv_folds``-fold cross-validation (none when ``cv_folds`` is 0).
        """
        exp = self.experiment
        name = surrogate or exp.surrogate
        options = exp.surrogate_options if name == exp.surrogate else {}
        sign = exp.objective.sign()
        kw: dict[str, Any] = {"device": self.device, "dtype": DTYPE}
        train_X = torch.as_tensor(history.X, **kw)
        train_Y = sign * torch.as_tensor(history.Y, **kw).unsqueeze(-1)
        spec = self.fit_spec(sign)
        model_fitter = self.registry.create(name, **options)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SurrogateFallbackWarning)
            model = model_fitter.fit(train_X, train_Y, spec)
        fit_seconds = time.perf_counter() - t0
        notes = [str(w.message) for w in caught if issubclass(w.category, SurrogateFallbackWarning)]
        for note in notes:
            logger.warning("surrogate fallback: %s", note)
        info: dict[str, Any] = {"fit_seconds": round(fit_seconds, 6), **fit_info(model)}
        if notes:
            info["fallback"] = "; ".join(notes)
        held = held_out_of(model) or exact_gp_loo(model)
        if held is None and exp.cv_folds:
            try:
                held = cross_validate(model_fitter, train_X, train_Y, spec, folds=exp.cv_folds)
            except Exception as exc:  # diagnostics must not stop a decision
                info["cv_error"] = f"{type(exc).__name__}: {exc}"
        if held is not None:
            info.update({f"cv_{k}": round(v, 6) for k, v in held.scores().items()})
            info["cv_method"] = held.method
            info["cv_seconds"] = round(held.seconds, 6)
        choice = info.get("auto_choice")
        used = f"{name}:{choice}" if choice else name
        return FittedSurrogate(
            space=exp.space,
            objective=exp.objective,
            model=model,
            surrogate=used,
            n_train=int(train_X.shape[0]),
            held_out=held.signed(sign) if held is not None else None,
            info=info,
        )

    def _fit_and_optimize(
        self, history: History, n: int, pending: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any], str]:
        exp = self.experiment
        fitted = self.fit(history)
        self.last_fit = fitted
        kw: dict[str, Any] = {"device": self.device, "dtype": DTYPE}
        train_X = torch.as_tensor(history.X, **kw)
        train_Y = exp.objective.sign() * torch.as_tensor(history.Y, **kw).unsqueeze(-1)
        X_pending = torch.as_tensor(pending, **kw) if len(pending) else None
        acqf = build_acquisition(
            exp.acquisition, fitted.model, train_X, train_Y, X_pending, self.options
        )
        t1 = time.perf_counter()
        X, value = optimize(acqf, exp.space, n, self.options, device=self.device)
        meta: dict[str, Any] = {
            "surrogate": fitted.surrogate,
            "acquisition": exp.acquisition,
            **fitted.info,
            "acq_seconds": round(time.perf_counter() - t1, 6),
            "n_train": fitted.n_train,
            "n_pending": 0 if X_pending is None else int(X_pending.shape[0]),
            "device": str(self.device),
        }
        return X, value, meta, f"{fitted.surrogate}+{exp.acquisition}"

"""When to ask the model: a seeded Sobol design, then model-based steps.

The strategy is data (:class:`Strategy`) and a pure function of the history it
is shown, so a resumed run makes the same decisions as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import LogExpectedImprovement as AnalyticLogEI
from botorch.models.model import ModelList
from botorch.utils.sampling import HitAndRunPolytopeSampler, sparse_to_dense_constraints
from torch.quasirandom import SobolEngine

from bayesopt.acquisition import (
    AcquisitionOptions,
    build_acquisition,
    optimize,
    optimize_spread,
    outcome_constraint,
)
from bayesopt.cached_ei import CachedLogEI
from bayesopt.device import DTYPE
from bayesopt.errors import InvalidSpaceError
from bayesopt.experiment import Experiment, Objective
from bayesopt.pareto import hypervolume, reference_point
from bayesopt.prediction import PREDICTED_KEY, FittedSurrogate, predicted_at
from bayesopt.steps import BO, Ax, Sobol, Step, TrustRegion, own, stall
from bayesopt.trial import Trial, TrialStatus
from surrogates import FitSpec, SurrogateFallbackWarning, SurrogateRegistry, default_registry
from surrogates.base import fit_info
from surrogates.gp import STATE_KEY
from surrogates.validation import cross_validate, exact_gp_loo, held_out_of

if TYPE_CHECKING:
    from bayesopt.analysis.basins import Basin

logger = logging.getLogger("bayesopt")
#: Where a spread batch's basin of each candidate travels to the candidates.
PLACED_KEY = "_placed"

#: The polytope stream of the design: burn-in steps of its hit-and-run chain, steps
#: between kept points, points per block, and blocks drawn at most before giving up.
_POLYTOPE_BURNIN = 2_000
_POLYTOPE_THINNING = 32
_POLYTOPE_BLOCK = 32
_POLYTOPE_MAX_BLOCKS = 256


@dataclass(frozen=True)
class History:
    """What the strategy sees of the trials so far.

    Attributes:
        X: A ``n x d`` array of encoded points of completed trials.
        Y: A ``n x k`` array of their modelled outcomes as measured, one column per
            name of ``experiment.modelled_outcomes`` (a ``n`` array for one outcome).
        X_pending: A ``p x d`` array of encoded points still being evaluated.
        n_trials: Trials created so far, abandoned ones excluded.
        n_sobol: Sobol points drawn so far (positions used in the sequence).
        Yvar: Known noise variances of ``Y`` (the squared standard errors given with
            the measurements), the same shape, NaN where none was given; or ``None``.
        records: Every trial of the store, in id order (the strategy steps read which
            step decided each, and a trust region's state, from their metadata).
    """

    X: np.ndarray
    Y: np.ndarray
    X_pending: np.ndarray
    n_trials: int
    n_sobol: int
    Yvar: np.ndarray | None = None
    records: tuple[Trial, ...] = ()

    def outcomes(self) -> np.ndarray:
        """``Y`` as a ``n x k`` array."""
        return self.Y.reshape(len(self.Y), -1)

    def known_noise(self, k: int) -> np.ndarray | None:
        """The ``n`` known noise variances of outcome column ``k`` when every trial has
        one, else ``None`` (the model then infers the noise)."""
        if self.Yvar is None:
            return None
        col = self.Yvar.reshape(len(self.Y), -1)[:, k]
        return col if len(col) and not np.isnan(col).any() else None


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
    #: Every outcome's fit behind that decision, by outcome name.
    last_fits: dict[str, FittedSurrogate] = field(default_factory=dict, init=False, repr=False)

    # ------------------------------------------------------------------ Sobol
    def sobol(self, start: int, n: int, *, fixed: Mapping[int, float] | None = None) -> np.ndarray:
        """Points ``start .. start+n-1`` of the seeded, feasible design sequence.

        - Without constraints: the scrambled, seeded Sobol sequence.
        - With inequalities only: the Sobol points (of the first ``2**12``) that are
          feasible once rounded onto the grid, then, where the region is too thin for
          that, the polytope stream below.
        - With an equality (a mixture such as ``a + b + c == 1``), which Sobol points
          meet with probability zero: the polytope stream from the start, a seeded
          hit-and-run chain on the constrained polytope (BoTorch's
          ``HitAndRunPolytopeSampler``, the sampler behind ``get_polytope_samples``),
          with no rejection except of points that rounding makes infeasible.

        The sequence is prefix-stable: ``sobol(start, n)`` equals
        ``sobol(0, start + n)[start:]``, so a resumed run continues it where it stopped.

        Args:
            start: Position of the first point in the sequence.
            n: Number of points.
            fixed: Encoded column -> unit value (see ``Space.fixed_columns``): every point
                takes those values there, and the other columns are drawn as above under
                the constraints with the fixed values substituted.

        Returns:
            A ``n x d`` array of encoded points.
        """
        space = self.experiment.space
        fixed = dict(fixed or {})
        if space.botorch_equalities(fixed):
            return self._polytope_points(start + n, fixed)[start:]
        engine = SobolEngine(space.dim, scramble=True, seed=self.seed)
        if not space.constraints:
            return self._with_fixed(engine.draw(start + n, dtype=DTYPE).numpy(), fixed)[start:]
        # Rejection: keep the Sobol points that are feasible once rounded onto the grid.
        drawn = self._with_fixed(engine.draw(2**12, dtype=DTYPE).numpy(), fixed)
        drawn = self._with_fixed(space.snap(drawn), fixed)
        feasible = drawn[space.is_feasible(drawn)]
        if len(feasible) >= start + n:
            return feasible[start : start + n]
        # Feasible region too thin for rejection: continue with the polytope stream.
        more = self._polytope_points(start + n - len(feasible), fixed)
        return np.vstack([feasible, more])[start : start + n]

    def _polytope_points(self, count: int, fixed: dict[int, float]) -> np.ndarray:
        """The first ``count`` points of the seeded polytope stream (a ``count x d`` array).

        One hit-and-run chain is drawn in blocks of the same size, so block ``j`` depends
        only on the seed and the blocks before it, whatever ``count`` is: the stream is
        prefix-stable by construction. (One call of ``get_polytope_samples`` for ``count``
        points is not: its random draws differ in their last values with the total size.)
        """
        space = self.experiment.space
        dense = [
            sparse_to_dense_constraints(space.dim, self._as_tensors(rows)) if rows else None
            for rows in (space.botorch_inequalities(fixed), space.botorch_equalities(fixed))
        ]
        ineq, eq = dense
        # BoTorch's inequalities read ``A u >= b``; the sampler takes ``A u <= b``.
        sampler = HitAndRunPolytopeSampler(
            inequality_constraints=(-ineq[0], -ineq[1]) if ineq is not None else None,
            equality_constraints=eq,
            bounds=torch.stack([torch.zeros(space.dim), torch.ones(space.dim)]).to(DTYPE),
            n_burnin=_POLYTOPE_BURNIN,
            n_thinning=_POLYTOPE_THINNING,
            seed=self.seed,
        )
        found: list[np.ndarray] = []
        total = 0
        for block in range(_POLYTOPE_MAX_BLOCKS):
            drawn = self._with_fixed(sampler.draw(_POLYTOPE_BLOCK).numpy(), fixed)
            snapped = self._with_fixed(space.snap(drawn), fixed)
            ok = snapped[space.is_feasible(snapped)]
            found.append(ok)
            total += len(ok)
            if total >= count or (total == 0 and block >= 15):
                break
        if total < count:
            raise InvalidSpaceError(
                "constraints: no point found that satisfies every constraint once integer "
                f"parameters are rounded ({[str(c) for c in space.constraints]}"
                f"{', with fixed columns ' + str(fixed) if fixed else ''}); widen the region"
            )
        return np.vstack(found)[:count]

    @staticmethod
    def _with_fixed(u: np.ndarray, fixed: Mapping[int, float]) -> np.ndarray:
        """A ``n x d`` batch with the ``fixed`` columns set to their values."""
        for i, v in fixed.items():
            u[:, i] = v
        return u

    @staticmethod
    def _as_tensors(
        rows: list[tuple[list[int], list[float], float]],
    ) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
        """BoTorch's sparse ``(indices, coefficients, rhs)`` constraints as CPU tensors."""
        return [(torch.tensor(i), torch.tensor(c, dtype=DTYPE), r) for i, c, r in rows]

    # ------------------------------------------------------------- generation
    def generate(
        self, history: History, n: int, *, fixed: Mapping[int, float] | None = None
    ) -> list[Candidate]:
        """Choose ``n`` new points given ``history``, with the strategy step the run is in
        (see :mod:`bayesopt.steps`); a design that ends within the batch hands the rest
        of it to the next step.

        Args:
            fixed: Encoded column -> unit value of parameters held at today's value
                (the context); only the other columns are chosen.
        """
        exp = self.experiment
        index = self.step_index(history)
        out: list[Candidate] = []
        if isinstance(exp.strategy[index], Sobol):
            n_sobol = min(n, max(exp.n_initial - history.n_trials, 0))
            if index == len(exp.strategy) - 1:
                n_sobol = n  # a design on its own goes on to the budget
            if n_sobol:
                out += self._sobol_candidates(history.n_sobol, n_sobol, reason=None, fixed=fixed)
                for c in out:
                    c.metadata.update(step="sobol", step_index=index)
            if n - n_sobol:
                index = self.step_index(history, extra_trials=n_sobol)
        n_model = n - len(out)
        if n_model:
            pending = history.X_pending
            if out:
                pending = np.vstack([pending, *[exp.space.encode(c.params) for c in out]])
            start = history.n_sobol + len(out)
            step = exp.strategy[index]
            if isinstance(step, Ax):
                made = self._ax_candidates(history, n_model, fixed)
            elif isinstance(step, TrustRegion):
                made = self._trust_region_candidates(
                    step, index, history, n_model, pending, start, fixed
                )
            else:
                made = self._step_strategy(step)._model_candidates(
                    history,
                    n_model,
                    pending,
                    sobol_start=start,
                    fixed=fixed,
                    spread=step.spread if isinstance(step, BO) else None,
                )
            for c in made:
                c.metadata.update(step=step.name, step_index=index)
            out += made
        regime = self.__dict__.get("_regime", {}).pop("regime", None)
        if regime:  # the regime analysis behind this decision's step
            for c in out:
                c.metadata["regime"] = regime
        if fixed:
            context = {exp.space.tunable[i].name: None for i in fixed}
            for c in out:
                c.metadata["fixed"] = {k: c.params[k] for k in context}
        return out

    # ------------------------------------------------------------------ steps
    def step_index(self, history: History, *, extra_trials: int = 0) -> int:
        """Index of the strategy step that decides next: the latest step any trial was
        decided by, moved on while the following step's condition holds."""
        steps = self.experiment.strategy
        recorded = [
            int(t.metadata["step_index"])
            for t in history.records
            if isinstance(t.metadata.get("step_index"), int)
        ]
        index = min(max(recorded, default=0), len(steps) - 1)
        n_trials = history.n_trials + extra_trials
        cache = self.__dict__.setdefault("_regime", {})
        while index + 1 < len(steps):
            nxt = steps[index + 1]
            after_trials = getattr(nxt, "after_trials", None)
            after_stall = getattr(nxt, "after_stall", None)
            after_regime = getattr(nxt, "after_regime", None)
            if after_trials is not None:
                go = n_trials >= after_trials
            elif after_stall is not None:
                go = self.stalled(history, index) >= after_stall
            elif after_regime is not None:
                from bayesopt.analysis.regimes import regime_reached

                go = regime_reached(self.experiment, history.records, index, after_regime, cache)
            else:
                go = isinstance(steps[index], Sobol) and n_trials >= self.experiment.n_initial
            if not go:
                break
            index += 1
        return index

    def signed_values(self, trials: list[Trial]) -> list[float]:
        """The objective of completed trials, signed so that larger is better; an
        infeasible trial counts as ``-inf``."""
        exp = self.experiment
        obj = exp.objectives[0]
        return [
            obj.sign() * float(t.values[obj.name])
            if t.values and exp.is_feasible(t.values)
            else -math.inf
            for t in trials
        ]

    def stalled(self, history: History, index: int) -> int:
        """Completed trials since the best value last improved, counting only those that
        step ``index`` decided (so a new step is not charged with an old stall)."""
        done = _completed(history.records)
        in_step = sum(t.metadata.get("step_index", 0) == index for t in done)
        return min(stall(self.signed_values(done)), in_step)

    def _step_strategy(self, step: Step) -> Strategy:
        """The strategy that makes a model step's decisions: this one, or one for the
        experiment as a ``BO`` step with its own surrogate or acquisition sees it."""
        if not isinstance(step, BO) or (step.surrogate is None and step.acquisition is None):
            return self
        cache = self.__dict__.setdefault("_step_strategies", {})
        if step not in cache:
            cache[step] = Strategy(
                own(self.experiment, step),
                seed=self.seed,
                device=self.device,
                registry=self.registry,
                options=self.options,
            )
        sub: Strategy = cache[step]
        return sub

    def _trust_region_candidates(
        self,
        step: TrustRegion,
        index: int,
        history: History,
        n: int,
        pending: np.ndarray,
        sobol_start: int,
        fixed: Mapping[int, float] | None,
    ) -> list[Candidate]:
        """Model-based points inside the trust region; its state is read from the trial
        that recorded it last, updated with the trials completed since, and recorded
        again with the new trials."""
        from bayesopt.trust_region import TrustRegionState, region_bounds, update

        exp = self.experiment
        done = _completed(history.records)
        decided = [t for t in history.records if "trust_region" in t.metadata]
        if decided:
            last = max(decided, key=lambda t: t.id)
            state = TrustRegionState.from_dict(last.metadata["trust_region"])
            new = done[int(last.metadata.get("trust_region_seen", len(done))) :]
        else:
            state = TrustRegionState.initial(exp.space.dim, n, **step.options())
            new = done
        if new:
            points = [exp.space.encode(t.params).tolist() for t in new]
            state = update(state, self.signed_values(new), points)
        record = state.as_dict()
        seen = len(done)  # the next decision updates the state with the trials after these
        if state.center is None or len(history.Y) < 2:
            reason = "the trust region restarts from a new design point"
            made = self._sobol_candidates(sobol_start, n, reason=None, fixed=fixed)
            for c in made:
                c.metadata.update(
                    trust_region=record, trust_region_seen=seen, trust_region_note=reason
                )
            return made
        center = torch.tensor(state.center, dtype=DTYPE, device=self.device)

        def region(model: Any) -> torch.Tensor:
            from bayesopt.trust_region import lengthscales_of

            return region_bounds(state, center, lengthscales_of(model))

        made = self._model_candidates(
            history, n, pending, sobol_start=sobol_start, fixed=fixed, region=region
        )
        for c in made:
            c.metadata.update(trust_region=record, trust_region_seen=seen)
        return made

    def _ax_candidates(
        self, history: History, n: int, fixed: Mapping[int, float] | None
    ) -> list[Candidate]:
        """Points chosen by Ax's own strategy (``ax.api.Client``) over the store's trials;
        the Client is kept between decisions and rebuilt from the store after a restart."""
        from bayesopt.ax_strategy import AxDecider

        decider = self.__dict__.get("_ax")
        if decider is None:
            decider = AxDecider(self.experiment, seed=self.seed)
            self.__dict__["_ax"] = decider
        context = None
        if fixed:
            tunable = self.experiment.space.tunable
            context = {tunable[i].name: tunable[i].from_unit(v) for i, v in fixed.items()}
        made = decider.propose(list(history.records), n, fixed=context)
        return [
            Candidate(m.params, m.generator, {"ax_node": m.node, "ax_index": m.ax_index})
            for m in made
        ]

    def _sobol_candidates(
        self,
        start: int,
        n: int,
        reason: str | None,
        fixed: Mapping[int, float] | None = None,
    ) -> list[Candidate]:
        pts = self.sobol(start, n, fixed=fixed) if fixed else self.sobol(start, n)
        meta: dict[str, Any] = {"sobol_index": None}
        if reason:
            meta["fallback"] = reason
        return [
            Candidate(self.experiment.space.decode(p), "sobol", {**meta, "sobol_index": start + i})
            for i, p in enumerate(pts)
        ]

    def _model_candidates(
        self,
        history: History,
        n: int,
        pending: np.ndarray,
        sobol_start: int,
        fixed: Mapping[int, float] | None = None,
        region: Callable[[Any], torch.Tensor] | None = None,
        spread: str | None = None,
    ) -> list[Candidate]:
        exp = self.experiment
        if len(history.Y) < 2:
            reason = f"{len(history.Y)} completed trial(s); the model needs at least 2"
            logger.warning("model step skipped: %s; using Sobol points", reason)
            return self._sobol_candidates(sobol_start, n, reason=reason, fixed=fixed)
        generator = f"{exp.surrogate}+{exp.acquisition}"
        step_seed = self.seed * 1_000_003 + history.n_trials
        devices = [self.device] if self.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(step_seed)
                X, value, meta, generator = self._fit_and_optimize(
                    history, n, pending, fixed, region=region, spread=spread
                )
        except Exception as exc:  # a failed decision falls back, never stops the loop
            reason = f"{generator} failed ({type(exc).__name__}: {exc})"
            logger.warning("%s; using Sobol points instead", reason)
            return self._sobol_candidates(sobol_start, n, reason=reason, fixed=fixed)
        cands = []
        predicted = meta.pop(PREDICTED_KEY, None)
        placed = meta.pop(PLACED_KEY, None)
        for i, row in enumerate(X.cpu().numpy()):
            meta_i = {**meta, "acq_value": float(value.reshape(-1)[min(i, value.numel() - 1)])}
            if predicted is not None:  # what the deciding model expected of this point
                meta_i["pred_mean"], meta_i["pred_sd"] = predicted[i]
            if placed is not None:  # the basin a spread batch put this point in
                meta_i["basin"] = placed[i]
            cands.append(Candidate(exp.space.decode(row), generator, meta_i))
        return cands

    def fit_spec(self, sign: float, train_Yvar: torch.Tensor | None = None) -> FitSpec:
        """What the surrogates are told about the encoded inputs and the outcome's sign."""
        space = self.experiment.space
        kw: dict[str, Any] = {"device": self.device, "dtype": DTYPE}
        return FitSpec(
            bounds=torch.stack([torch.zeros(space.dim, **kw), torch.ones(space.dim, **kw)]),
            cat_dims=tuple(space.cat_dims),
            seed=self.seed,
            columns=space.columns(),
            signs=(sign,),
            train_Yvar=train_Yvar,
        )

    def outcome_sign(self, name: str) -> float:
        """The sign the model sees an outcome with: the objective's, else +1."""
        for o in self.experiment.objectives:
            if o.name == name:
                return o.sign()
        return 1.0

    def fit(
        self, history: History, surrogate: str | None = None, *, outcome: str | None = None
    ) -> FittedSurrogate:
        """Fit the experiment's surrogate (or the one named) to one modelled outcome of
        the completed trials (the first objective unless ``outcome`` names another).

        Measurements given with a standard error enter as known noise (when every
        trial has one) for surrogates that take it, such as the exact GP.

        Held-out diagnostics come with the fit: the closed-form leave-one-out of the
        exact GP, the cross-validation ``"auto"`` made while choosing, or a
        ``cv_folds``-fold cross-validation (none when ``cv_folds`` is 0).
        """
        exp = self.experiment
        name = surrogate or exp.surrogate
        options = exp.surrogate_options if name == exp.surrogate else {}
        outcomes = exp.modelled_outcomes
        target = outcome or outcomes[0]
        column = outcomes.index(target)
        sign = self.outcome_sign(target)
        kw: dict[str, Any] = {"device": self.device, "dtype": DTYPE}
        train_X = torch.as_tensor(history.X, **kw)
        train_Y = sign * torch.as_tensor(history.outcomes()[:, column], **kw).unsqueeze(-1)
        noise = history.known_noise(column)
        train_Yvar = torch.as_tensor(noise, **kw).unsqueeze(-1) if noise is not None else None
        spec = self.fit_spec(sign, train_Yvar)
        if not (exp.learns or exp.is_multi_objective) and target == exp.objectives[0].name:
            spec = dataclasses.replace(spec, warp=exp.space.fidelity_column is None)
        if name == "gp":
            spec = dataclasses.replace(spec, warm_start=self._warm_start(history, target))
        if exp.space.fidelity_column is None:
            model_fitter = self.registry.create(name, **options)
        else:  # the multi-fidelity GP
            from bayesopt.fidelity import multi_fidelity_surrogate

            model_fitter = multi_fidelity_surrogate(exp.space, **options)
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
        if noise is not None:
            info["known_noise"] = True
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
        modelled = next(
            (o for o in exp.objectives if o.name == target), Objective(target, minimize=False)
        )
        return FittedSurrogate(
            space=exp.space,
            objective=modelled,
            model=model,
            surrogate=used,
            n_train=int(train_X.shape[0]),
            held_out=held.signed(sign) if held is not None else None,
            info=info,
        )

    def _warm_start(self, history: History, outcome: str) -> dict[str, Any] | None:
        """The GP hyperparameters of the latest decision that recorded them for
        ``outcome`` (read from the store, so a resumed run starts where it would have)."""
        first = outcome == self.experiment.modelled_outcomes[0]
        key = STATE_KEY if first else f"{STATE_KEY}.{outcome}"
        for trial in reversed(history.records):
            state = trial.metadata.get(key)
            if isinstance(state, str):
                try:
                    loaded = json.loads(state)
                except ValueError:
                    return None
                return loaded if isinstance(loaded, dict) else None
        return None

    def _fit_all(self, history: History) -> list[FittedSurrogate]:
        """One fit per modelled outcome (objectives, then constrained outcomes)."""
        return [self.fit(history, outcome=name) for name in self.experiment.modelled_outcomes]

    def _fit_and_optimize(
        self,
        history: History,
        n: int,
        pending: np.ndarray,
        fixed: Mapping[int, float] | None = None,
        *,
        region: Callable[[Any], torch.Tensor] | None = None,
        spread: str | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any], str]:
        exp = self.experiment
        if exp.space.fidelity_column is not None:  # cost-aware choice of the fidelity
            from bayesopt.fidelity import fit_and_optimize

            return fit_and_optimize(self, history, n, pending, fixed, region=region)
        fits = self._fit_all(history)
        self.last_fit = fits[0]
        self.last_fits = dict(zip(exp.modelled_outcomes, fits, strict=True))
        kw: dict[str, Any] = {"device": self.device, "dtype": DTYPE}
        train_X = torch.as_tensor(history.X, **kw)
        signs = torch.tensor([self.outcome_sign(name) for name in exp.modelled_outcomes], **kw)
        train_Y = torch.as_tensor(history.outcomes(), **kw) * signs
        X_pending = torch.as_tensor(pending, **kw) if len(pending) else None
        model = fits[0].model if len(fits) == 1 else ModelList(*[f.model for f in fits])
        index = {name: i for i, name in enumerate(exp.modelled_outcomes)}
        constraints = [
            outcome_constraint(index[c.outcome], float(signs[index[c.outcome]]), c.op, c.bound)
            for c in exp.outcome_constraints
        ]
        m = len(exp.objectives)
        ref = None
        if m > 1:
            ok = torch.ones(len(train_Y), dtype=torch.bool, device=train_Y.device)
            for c in constraints:
                ok &= c(train_Y) <= 0
            ref = reference_point(exp, train_Y[ok, :m].cpu()).to(**kw)
        assert exp.acquisition is not None  # resolved when the experiment was built
        learned: dict[str, Any] = {}

        def acquire(pending_X: torch.Tensor | None, q: int) -> AcquisitionFunction:
            assert exp.acquisition is not None
            return build_acquisition(
                exp.acquisition,
                model,
                train_X,
                train_Y,
                pending_X,
                self.options,
                n_objectives=m,
                constraints=constraints,
                ref_point=ref,
                q=q,
            )

        spread_plan = (
            self._spread_plan(history, n, pending)
            if spread == "basins" and not exp.learns
            else None
        )
        targets = spread_plan[0] if spread_plan is not None else []
        if exp.learns:  # goal "learn" or a level: see bayesopt.active
            from bayesopt.active import learning_step

            acqf, learned = learning_step(
                exp,
                {name: f.model for name, f in self.last_fits.items()},
                {name: self.outcome_sign(name) for name in exp.modelled_outcomes},
                train_Y,
                X_pending,
                self.seed,
                self.device,
            )
        elif not targets:
            acqf = acquire(X_pending, n)
        t1 = time.perf_counter()
        bounds = region(model) if region is not None else None
        placed: list[int | None] | None = None
        if targets:
            boxes = [torch.as_tensor(b.box(), **kw) for b in targets]
            X, value, where, acqf = optimize_spread(
                acquire,
                exp.space,
                boxes,
                n,
                self.options,
                device=self.device,
                X_pending=X_pending,
                fixed=fixed,
            )
            placed = [None if i is None else targets[i].index for i in where]
        else:
            X, value = optimize(
                acqf, exp.space, n, self.options, device=self.device, fixed=fixed, bounds=bounds
            )
        meta: dict[str, Any] = {
            "surrogate": fits[0].surrogate,
            "acquisition": exp.acquisition,
            **({"acquisition_form": "analytic"} if isinstance(acqf, AnalyticLogEI) else {}),
            **({"acq_cached": 1} if isinstance(acqf, CachedLogEI) else {}),
            **fits[0].info,
            "acq_seconds": round(time.perf_counter() - t1, 6),
            "n_train": fits[0].n_train,
            "n_pending": 0 if X_pending is None else int(X_pending.shape[0]),
            "device": str(self.device),
            **learned,
            **(spread_plan[1] if spread_plan is not None else {}),
        }
        for fit, name in zip(fits[1:], exp.modelled_outcomes[1:], strict=True):
            meta.update(
                {
                    f"{k}.{name}": v
                    for k, v in fit.info.items()
                    if k.startswith("cv_") or k in ("fit_seconds", "fallback", STATE_KEY)
                }
            )
        lead = value.reshape(-1)[0] if placed is None else value.reshape(-1).max()
        warp = getattr(fits[0].model, "outcome_warp", None)  # EI on the warped scale
        scale_Y = train_Y if warp is None else warp.forward(train_Y[:, :1])
        ei_rel = self._relative_improvement(float(lead), scale_Y, ref, m)
        if ei_rel is not None:
            meta["ei_rel"] = ei_rel
        predicted = predicted_at(fits[0].model, X, float(signs[0]))
        if predicted is not None:
            meta[PREDICTED_KEY] = predicted
        if spread_plan is not None:
            meta[PLACED_KEY] = placed or [None] * len(X)
        return X, value, meta, f"{fits[0].surrogate}+{exp.acquisition}"

    def _relative_improvement(
        self, log_value: float, train_Y: torch.Tensor, ref: torch.Tensor | None, m: int
    ) -> float | None:
        """The acquisition's largest expected improvement relative to the observed range
        of the objective (to the hypervolume, with several objectives); ``None`` when the
        acquisition is not a log expected improvement or the scale is zero."""
        acquisition = self.experiment.acquisition
        if acquisition not in ("qLogNEI", "qLogEI", "qLogNEHVI") or not math.isfinite(log_value):
            return None
        if m > 1:
            assert ref is not None
            scale = hypervolume(train_Y[:, :m].cpu(), ref.cpu())
        else:
            scale = float(train_Y[:, 0].max() - train_Y[:, 0].min())
        if scale <= 0:
            return None
        return round(math.exp(log_value) / scale, 9)

    # ----------------------------------------------------------- spread batches
    def _spread_plan(
        self, history: History, n: int, pending: np.ndarray
    ) -> tuple[list[Basin], dict[str, Any]] | None:
        """The basins a spread batch places one candidate in each of, best first, and the
        record of the analysis (``None`` for one point with nothing pending: there is
        nothing to spread).

        The basins are those of the completed, feasible trials
        (:func:`bayesopt.analysis.basins.find_basins`); a basin whose box holds a
        pending point is covered already. With one basin, the batch is the plain one.
        An analysis that fails is logged and recorded, and the batch is the plain one.
        """
        from bayesopt.analysis.basins import find_basins
        from bayesopt.analysis.schedule import completed_in_order, seen

        if n + len(pending) < 2:
            return None
        exp = self.experiment
        name = exp.objectives[0].name
        done = [t for t in completed_in_order(history.records) if name in (t.values or {})]
        done = seen(exp, "basins", done)  # refitted at the analysis's cadence
        if not done:  # fewer completed trials than the cadence: a plain batch
            return None
        info: dict[str, Any] = {"spread": "basins"}
        try:
            X = np.array([exp.space.encode(t.params) for t in done]).reshape(-1, exp.space.dim)
            found = find_basins(X, self.signed_values(done), seed=self.seed)
        except Exception as exc:  # an analysis must not stop a decision
            info["basins_error"] = f"{type(exc).__name__}: {exc}"
            logger.warning("basins analysis failed (%s); a plain batch", info["basins_error"])
            return [], info
        covered = {found.basin_of(p) for p in pending}
        targets = [b for b in found.basins if b.index not in covered][:n]
        info.update(
            n_basins=found.n_basins,
            basins_seconds=round(found.seconds, 6),
            basins={
                **found.summary(),
                "best_trials": [done[b.best].id for b in found.basins],
                "covered": sorted(i for i in covered if i is not None),
            },
        )
        return (targets if found.n_basins > 1 else []), info


def _completed(records: tuple[Trial, ...]) -> list[Trial]:
    """Completed trials in the order they completed."""
    done = [t for t in records if t.status == TrialStatus.COMPLETED and t.values]
    return sorted(done, key=lambda t: (t.finished_at or t.created_at or 0, t.id))

"""Regimes of a run: a hidden Markov model of the optimization trace, and drift of a
reference point.

**The trace.** Each completed trial, in the order trials completed, gives three signals
(failed trials give none and are skipped):

- ``improvement``: how much the trial improved the best feasible value so far, as
  ``log10(gain / range) + 6`` floored at 0, where ``range`` is the spread of the
  objective values observed so far. 0 means no improvement (or one below a millionth
  of the range), 6 an improvement as large as everything seen. With several
  objectives, the gain of the hypervolume of the feasible Pareto front relative to
  the hypervolume reached (the first objective alone would call a run stalled that
  still widens its front).
- ``acquisition``: ``log10`` of the largest expected improvement the deciding model
  saw, relative to the observed range (``ei_rel``, recorded by the improvement-based
  acquisitions), clipped to ``[-12, 0]``. Missing for design points, for manual trials
  and for acquisitions that measure no improvement (such as ``qUCB``), whose values
  have no scale to compare across a run.
- ``surprise``: ``(y - pred_mean) / pred_sd``, how many predictive standard deviations
  the measurement of the first objective fell from what the deciding model expected of
  it, signed so that a positive value is better than expected, clipped to ``+-10``.
  Missing where no model decided (design points) or none was recorded.

A missing signal is left out of the emission likelihood of its trial (masked), not
filled in.

**The model.** A hidden Markov model with 3 states (``improving``, ``refining``,
``stalled``) or 2 (``improving``, ``stalled``; then small refinements count as
stalled). Each state emits the improvement as a hurdle (the trial improves with a
probability of the state's own, and then by a Gaussian number of decades) and the
acquisition and the surprise as Gaussians. Most trials of any regime do not improve;
a single Gaussian for the improvement would let the model split a regime into the
trials that improved and those that did not, where the hurdle keeps "how often" apart
from "by how much". Priors: the emission means are Normal around the values that give
each state its meaning (improvements on about half of the trials of ``improving``, by
about ``1e-2`` of the range, with expected improvements near ``1e-2``; on a quarter of
the trials of ``refining``, by about ``1e-4``, expected ``1e-3.5``; on about one in
twenty of ``stalled``, expected ``1e-5.5``), and they are ordered (the size of an
improvement, the probability of one and the acquisition decrease from ``improving`` to
``stalled``), so that the states stay identifiable and a name means the same on every
run; the emission standard deviations have LogNormal priors above a floor of 0.25;
each row of the transition matrix has a sticky Dirichlet prior (8 on the diagonal, 1
elsewhere), the initial state a flat one. The states are marginalized with the
forward algorithm (Pyro's ``DiscreteHMM``); the parameters are fitted by MAP (L-BFGS on
the log joint, from the prior means: no random draws, so the same trace always gives
the same result) and the states decoded as posterior marginals per trial
(forward-backward). A fit of 50 trials takes about 0.1 s on one CPU thread; the
latest fits are kept by trace, so a stopping rule and a strategy step that read the
same history share one.

It acts: :class:`bayesopt.stopping.Stalled` stops a run once ``P(stalled)`` stayed
above a threshold for ``k`` trials, and a strategy step such as
``TrustRegion(after_regime="stalled")`` takes over once the latest trial is most
probably ``stalled`` (:func:`regime_reached`); either stores the probabilities with the
trial it acted on (``metadata["regime"]``) or in the stop record.

**Drift.** :func:`detect_drift` reads repeated measurements of one reference point and
gives, per measurement, the probability that the process had drifted by then: a
two-state model (``stable``, then ``drifted``, which is never left), that is, a change
point, with the two means and the noise variance integrated out in closed form, so the
probabilities are exact. :meth:`bayesopt.Optimizer.drift` applies it to the store and logs a warning
when drift is probable.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyro.distributions as dist
import torch
from pyro.distributions import TorchDistribution, constraints

from bayesopt.errors import InvalidAnalysisError, describe

if TYPE_CHECKING:
    from bayesopt.experiment import Experiment
    from bayesopt.stopping import Progress
    from bayesopt.trial import Trial

logger = logging.getLogger("bayesopt")

#: The signals, in the order of the columns of a trace.
SIGNALS = ("improvement", "acquisition", "surprise")
#: An improvement this many decades below the observed range counts as none.
FLOOR_DECADES = 6.0
#: ``log10(ei_rel)`` is clipped to ``[ACQ_FLOOR, 0]``.
ACQ_FLOOR = -12.0
#: Surprises are clipped to ``+-SURPRISE_CLIP``.
SURPRISE_CLIP = 10.0

#: The state names of a model with 2 or 3 states, from most to least progress.
STATES: dict[int, tuple[str, ...]] = {
    3: ("improving", "refining", "stalled"),
    2: ("improving", "stalled"),
}
#: Every state name a condition may ask for.
REGIME_NAMES = STATES[3]

#: Prior (mean, sd) of each state's emission means, per signal: the size of an
#: improvement when there is one (``improvement > 0``), the acquisition, the surprise.
_PRIOR_MEAN: dict[int, tuple[tuple[tuple[float, float], ...], ...]] = {
    3: (
        ((4.0, 1.0), (-2.0, 1.0), (0.0, 1.0)),  # improving
        ((2.0, 1.0), (-3.5, 1.0), (0.0, 1.0)),  # refining
        ((1.0, 1.0), (-5.5, 1.5), (0.0, 1.0)),  # stalled
    ),
    2: (
        ((3.5, 1.5), (-2.0, 1.0), (0.0, 1.0)),  # improving
        ((1.5, 1.0), (-4.5, 1.5), (0.0, 1.0)),  # stalled
    ),
}
#: Prior median of each state's emission sd (above the floor), per signal; the LogNormal
#: prior has a log-sd of ``_SCALE_SPREAD``.
_PRIOR_SD: dict[int, tuple[tuple[float, ...], ...]] = {
    3: ((1.0, 1.0, 2.0), (1.0, 1.0, 1.2), (1.0, 1.0, 0.8)),
    2: ((1.0, 1.2, 1.5), (1.0, 1.0, 0.8)),
}
#: Beta prior (a, b) of each state's probability that a trial improves at all.
_PRIOR_IMPROVES: dict[int, tuple[tuple[float, float], ...]] = {
    3: ((5.0, 5.0), (2.5, 7.5), (1.0, 19.0)),
    2: ((4.0, 6.0), (1.0, 9.0)),
}
_SCALE_SPREAD = 0.5
#: Emission sds are this much at least (in each signal's units).
SD_FLOOR = 0.25
#: Dirichlet concentration of a transition row: on the diagonal, elsewhere.
STICKY, OTHER = 8.0, 1.0
#: Signals whose emission means are ordered across the states.
_ORDERED = (0, 1)


# ------------------------------------------------------------------- signals
def trace_signals(progress: Progress) -> np.ndarray:
    """The ``T x 3`` trace of signals (columns :data:`SIGNALS`) of the completed trials
    of ``progress``, NaN where a signal is missing; see the module's docstring."""
    best = list(progress.best)
    values = list(progress.values)
    surprise = list(progress.surprise)
    metadata = list(progress.metadata)
    n = len(best)
    out = np.full((n, len(SIGNALS)), np.nan)
    sign = 1.0 if progress.multi_objective or not progress.minimize else -1.0
    low, high = math.inf, -math.inf
    for t in range(n):
        v = values[t] if t < len(values) else None
        if v is not None and math.isfinite(v):
            low, high = min(low, v), max(high, v)
        before, now = (best[t - 1] if t else None), best[t]
        if now is not None and not progress.multi_objective:  # when no values are given
            low, high = min(low, now), max(high, now)
        if now is None:
            out[t, 0] = 0.0  # nothing feasible yet: nothing improved
        elif before is not None:
            gain = (now - before) if progress.multi_objective else sign * (now - before)
            scale = abs(now) if progress.multi_objective else high - low
            if gain > 0 and scale > 0:
                out[t, 0] = max(0.0, math.log10(min(gain / scale, 1.0)) + FLOOR_DECADES)
            else:
                out[t, 0] = 0.0
        meta = metadata[t] if t < len(metadata) else {}
        ei = meta.get("ei_rel")
        if isinstance(ei, int | float) and not isinstance(ei, bool) and math.isfinite(ei):
            out[t, 1] = ACQ_FLOOR if ei <= 0 else min(max(math.log10(ei), ACQ_FLOOR), 0.0)
        z = surprise[t] if t < len(surprise) else None
        if z is not None and math.isfinite(z):
            out[t, 2] = min(max(z, -SURPRISE_CLIP), SURPRISE_CLIP)
    return out


# ---------------------------------------------------------------------- model
@dataclass(frozen=True)
class Regimes:
    """The regimes of a run: posterior state probabilities per completed trial.

    Attributes:
        states: The state names, from most to least progress.
        probabilities: A ``T x K`` array, ``P(state | whole trace)`` per trial (rows in
            the order trials completed).
        signals: The ``T x 3`` trace the model read (NaN: missing).
        trial_ids: The trials of the rows, when known.
        n_design: How many of the first rows the initial design accounts for.
        params: The fitted parameters: ``means`` and ``sds`` (``K x 3``, per state and
            signal; for the improvement, of its size when there is one), ``improves``
            (``K``, the probability that a trial improves at all), ``transition``
            (``K x K``, rows: from), ``initial`` (``K``, the state before the first trial).
        log_joint: The log joint density at the fitted parameters.
        seconds: Time taken by the fit and the decoding.
    """

    states: tuple[str, ...]
    probabilities: np.ndarray
    signals: np.ndarray
    trial_ids: tuple[int, ...] = ()
    n_design: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    log_joint: float = math.nan
    seconds: float = 0.0

    def p(self, state: str) -> np.ndarray:
        """``P(state)`` per trial.

        Raises:
            InvalidAnalysisError: ``state`` is not one of :attr:`states`.
        """
        if state not in self.states:
            raise InvalidAnalysisError(
                f"regime: state={describe(state)}; this model's states are {list(self.states)}"
            )
        return self.probabilities[:, self.states.index(state)]

    def most_probable(self) -> list[str]:
        """The most probable state of each trial."""
        return [self.states[int(i)] for i in np.argmax(self.probabilities, axis=1)]

    def latest(self) -> dict[str, Any]:
        """The probabilities of the latest trial as stored with a decision:
        ``{"p_improving": ..., ..., "state": ..., "trial": ..., "seconds": ...}``."""
        if not len(self.probabilities):
            return {}
        row = self.probabilities[-1]
        out: dict[str, Any] = {
            f"p_{s}": round(float(p), 4) for s, p in zip(self.states, row, strict=True)
        }
        out["state"] = self.states[int(np.argmax(row))]
        if self.trial_ids:
            out["trial"] = int(self.trial_ids[-1])
        out["seconds"] = round(self.seconds, 4)
        return out


def _check_states(states: object) -> int:
    if isinstance(states, bool) or states not in STATES:
        raise InvalidAnalysisError(f"regimes: states={describe(states)}; expected 2 or 3")
    return 3 if states == 3 else 2


def _ordered(raw: torch.Tensor) -> torch.Tensor:
    """Decreasing values from unconstrained ones: the last as it is, each one before it
    larger by a softplus."""
    values = [raw[-1]]
    for j in range(len(raw) - 2, -1, -1):
        values.append(values[-1] + torch.nn.functional.softplus(raw[j]))
    return torch.stack(values[::-1])


def _unordered(values: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_ordered` (gaps floored at 1e-3)."""
    raw = values.astype(np.float64).copy()
    for j in range(len(values) - 1):
        gap = max(float(values[j] - values[j + 1]), 1e-3)
        raw[j] = gap + math.log(-math.expm1(-gap))  # softplus^-1
    return raw


def _torch_params(k: int) -> dict[str, torch.Tensor]:
    """Unconstrained parameters at the prior means (the fit starts here)."""
    means = np.array(_PRIOR_MEAN[k])[:, :, 0]  # K x 3
    raw_means = means.copy()
    for s in _ORDERED:
        raw_means[:, s] = _unordered(means[:, s])
    ab = np.array(_PRIOR_IMPROVES[k])
    p = ab[:, 0] / ab.sum(1)
    counts = np.full((k, k), OTHER) + np.eye(k) * (STICKY - OTHER)
    f64 = torch.float64
    return {
        "means": torch.tensor(raw_means, dtype=f64),
        "log_sds": torch.tensor(np.log(_PRIOR_SD[k]), dtype=f64),
        "improves": torch.tensor(_unordered(np.log(p / (1 - p))), dtype=f64),
        "transition": torch.tensor(np.log(counts / counts.sum(1, keepdims=True)), dtype=f64),
        "initial": torch.zeros(k, dtype=f64),
    }


def _constrained(raw: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Means (ordered), sds (floored), improvement logits (ordered), and normalized log
    transition and initial probabilities."""
    means = raw["means"]
    columns = [
        _ordered(means[:, s]) if s in _ORDERED else means[:, s] for s in range(means.shape[1])
    ]
    return {
        "means": torch.stack(columns, dim=1),
        "sds": SD_FLOOR + raw["log_sds"].exp(),
        "improves": _ordered(raw["improves"]),
        "transition": torch.log_softmax(raw["transition"], dim=-1),
        "initial": torch.log_softmax(raw["initial"], dim=-1),
    }


def _emission_logits(
    x: torch.Tensor, mask: torch.Tensor, c: Mapping[str, torch.Tensor]
) -> torch.Tensor:
    """``T x K`` log densities of each trial's observed signals under each state.

    The improvement is a hurdle: it is 0 with probability ``1 - p_k`` and otherwise
    Normal; the other signals are Normal. Missing signals (``mask`` False) add nothing.
    """
    means, sds = c["means"], c["sds"]
    z = (x.unsqueeze(-2) - means) / sds  # T x K x 3
    normal = -0.5 * z * z - sds.log() - 0.5 * math.log(2 * math.pi)
    improved = (x[:, :1] > 0).to(x.dtype)  # T x 1
    log_p = torch.nn.functional.logsigmoid(c["improves"])  # K
    log_q = torch.nn.functional.logsigmoid(-c["improves"])
    hurdle = improved * (log_p + normal[..., 0]) + (1 - improved) * log_q
    rest = (normal[..., 1:] * mask[:, 1:].unsqueeze(-2)).sum(-1)
    return hurdle * mask[:, :1] + rest


class _Emissions(TorchDistribution):
    """The emissions as Pyro's ``DiscreteHMM`` reads them: batch shape ``(T, K)``, event
    shape ``(3,)``. Their log densities are computed once from the trace
    (:func:`_emission_logits`: a hurdle and masked signals, which no stock distribution
    expresses), so ``log_prob`` returns them for that trace, whatever it is given."""

    arg_constraints: ClassVar[dict[str, Any]] = {}
    support = constraints.real_vector

    def __init__(self, logits: torch.Tensor, signals: int) -> None:
        self.logits = logits
        super().__init__(logits.shape, torch.Size([signals]), validate_args=False)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self.logits


def _prior_terms(k: int) -> dict[str, Any]:
    """The prior's constants for ``k`` states, as tensors (made once)."""
    if k not in _PRIOR_TERMS:
        f64 = torch.float64
        prior = torch.tensor(_PRIOR_MEAN[k], dtype=f64)
        counts = np.full((k, k), OTHER) + np.eye(k) * (STICKY - OTHER)
        constant = -k * len(SIGNALS) * math.log(2 * math.pi)  # the Normals and LogNormals
        constant -= float(prior[..., 1].log().sum()) + k * len(SIGNALS) * math.log(_SCALE_SPREAD)
        constant += sum(_log_beta(row) for row in counts) + _log_beta(np.ones(k))
        constant += sum(_log_beta(np.array(row)) for row in _PRIOR_IMPROVES[k])
        _PRIOR_TERMS[k] = {
            "loc": prior[..., 0],
            "scale": prior[..., 1],
            "log_median": torch.tensor(_PRIOR_SD[k], dtype=f64).log(),
            "ab": torch.tensor(_PRIOR_IMPROVES[k], dtype=f64),
            "counts": torch.as_tensor(counts, dtype=f64),
            "constant": constant,
        }
    return _PRIOR_TERMS[k]


_PRIOR_TERMS: dict[int, dict[str, Any]] = {}


def _log_prior(c: Mapping[str, torch.Tensor], raw: Mapping[str, torch.Tensor], k: int) -> Any:
    """Log prior density: Normal emission means, LogNormal emission sds (above the floor),
    Beta probabilities of improving, Dirichlet transition rows and initial state; written
    out rather than built from distribution objects, since the fit evaluates it often."""
    p = _prior_terms(k)
    lp = (-0.5 * ((c["means"] - p["loc"]) / p["scale"]) ** 2).sum()
    z = (raw["log_sds"] - p["log_median"]) / _SCALE_SPREAD
    lp = lp + (-0.5 * z**2 - raw["log_sds"]).sum()
    log_p = torch.nn.functional.logsigmoid(c["improves"])
    log_q = torch.nn.functional.logsigmoid(-c["improves"])
    lp = lp + ((p["ab"][:, 0] - 1) * log_p + (p["ab"][:, 1] - 1) * log_q).sum()
    lp = lp + ((p["counts"] - 1) * c["transition"]).sum()
    return lp + p["constant"]


def _log_beta(alpha: np.ndarray) -> float:
    """``log Gamma(sum alpha) - sum log Gamma(alpha)``: the Dirichlet's (Beta's) normalizer."""
    return math.lgamma(float(alpha.sum())) - sum(math.lgamma(float(a)) for a in alpha)


def _log_joint(
    raw: Mapping[str, torch.Tensor], x: torch.Tensor, mask: torch.Tensor, k: int
) -> torch.Tensor:
    """The log joint: the trace's likelihood with the states marginalized by the forward
    algorithm (Pyro's ``DiscreteHMM``), plus the log prior."""
    c = _constrained(raw)
    emissions = _Emissions(_emission_logits(x, mask, c), x.shape[-1])
    hmm = dist.DiscreteHMM(c["initial"], c["transition"], emissions, validate_args=False)
    out: torch.Tensor = hmm.log_prob(x) + _log_prior(c, raw, k)
    return out


def _forward_backward(log_e: np.ndarray, log_a: np.ndarray, log_init: np.ndarray) -> np.ndarray:
    """Posterior marginals ``T x K`` of a HMM whose state before the first observation has
    log probabilities ``log_init`` (as in Pyro's ``DiscreteHMM``)."""
    from scipy.special import logsumexp

    n, k = log_e.shape
    first = logsumexp(log_init[:, None] + log_a, axis=0)
    alpha = np.empty((n, k))
    beta = np.zeros((n, k))
    alpha[0] = first + log_e[0]
    for t in range(1, n):
        alpha[t] = logsumexp(alpha[t - 1][:, None] + log_a, axis=0) + log_e[t]
    for t in range(n - 2, -1, -1):
        beta[t] = logsumexp(log_a + (log_e[t + 1] + beta[t + 1])[None, :], axis=1)
    post = alpha + beta
    post -= logsumexp(post, axis=1, keepdims=True)
    return np.exp(post)


#: The latest fits, by trace: a stopping rule and a strategy step that read the same
#: history share one fit.
_FITS: dict[tuple[Any, ...], tuple[np.ndarray, dict[str, Any], float]] = {}
_FITS_KEPT = 8


def _fit(x_np: np.ndarray, k: int, max_iter: int) -> tuple[np.ndarray, dict[str, Any], float]:
    """MAP parameters by L-BFGS from the prior means, then the posterior marginals."""
    n = len(x_np)
    mask_np = np.isfinite(x_np)
    x = torch.as_tensor(np.where(mask_np, x_np, 0.0))
    mask = torch.as_tensor(mask_np).to(torch.float64)
    raw = {key: v.requires_grad_() for key, v in _torch_params(k).items()}
    optimizer = torch.optim.LBFGS(
        list(raw.values()),
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-5,
        tolerance_change=1e-7,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = -_log_joint(raw, x, mask, k) / max(n, 1)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        c = _constrained(raw)
        log_joint = float(_log_joint(raw, x, mask, k))
        log_e = _emission_logits(x, mask, c).numpy()
        probabilities = _forward_backward(log_e, c["transition"].numpy(), c["initial"].numpy())
        params = {
            "means": c["means"].numpy().round(6).tolist(),
            "sds": c["sds"].numpy().round(6).tolist(),
            "improves": torch.sigmoid(c["improves"]).numpy().round(6).tolist(),
            "transition": c["transition"].exp().numpy().round(6).tolist(),
            "initial": c["initial"].exp().numpy().round(6).tolist(),
        }
    return probabilities, params, log_joint


def synthetic_signals(
    regimes: Sequence[str],
    rng: np.random.Generator,
    *,
    offset: float = 0.0,
    design: int = 0,
) -> np.ndarray:
    """A ``T x 3`` trace of signals (columns :data:`SIGNALS`) whose regimes are known, to
    check the detector against (the tests and ``benchmarks/hmm_regimes.py`` use it).

    Per trial, by its regime: improving, an improvement of 1-30% of the range on half
    the trials (log10 of it ``uniform(-2, -0.5)``), a log10 expected improvement near -2
    (sd 0.5) and a surprise of sd 1.5; refining, 1e-5 to 1e-3 on a quarter of the trials,
    -3.7 (sd 0.5), sd 1; stalled, none, -6 (sd 0.7), sd 0.7. Improvements are stored as
    decades above the floor (``gain + FLOOR_DECADES``), as :func:`trace_signals` does.

    Args:
        regimes: The regime of each trial (``"improving"``, ``"refining"``, ``"stalled"``).
        rng: Draws the signals, trial by trial.
        offset: Added to every log10 expected improvement (capped at 0): a run whose
            acquisition sits higher or lower than the prior expects.
        design: The first ``design`` trials have no acquisition value or surprise (NaN),
            as the initial design's trials have none.
    """
    rows = []
    for i, regime in enumerate(regimes):
        if regime == "improving":
            gain = rng.uniform(-2, -0.5) if rng.random() < 0.5 else None
            acq, sd = rng.normal(-2.0, 0.5), 1.5
        elif regime == "refining":
            gain = rng.uniform(-5, -3) if rng.random() < 0.25 else None
            acq, sd = rng.normal(-3.7, 0.5), 1.0
        else:
            gain, acq, sd = None, rng.normal(-6.0, 0.7), 0.7
        improvement = 0.0 if gain is None else max(0.0, gain + FLOOR_DECADES)
        row = [improvement, min(acq + offset, 0.0), rng.normal(0.0, sd)]
        if i < design:
            row[1] = row[2] = math.nan
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(-1, len(SIGNALS))


def fit_signals(
    signals: np.ndarray | Sequence[Sequence[float]],
    *,
    states: int = 3,
    max_iter: int = 200,
    trial_ids: Sequence[int] = (),
    n_design: int = 0,
) -> Regimes:
    """Fit the regime HMM to a ``T x 3`` trace of signals (columns :data:`SIGNALS`, NaN
    where missing) and decode it.

    Args:
        signals: The trace, one row per completed trial in order.
        states: 3 (improving, refining, stalled) or 2 (improving, stalled).
        max_iter: Most L-BFGS iterations of the MAP fit.
        trial_ids: The trial of each row, kept with the result.
        n_design: Rows that the initial design accounts for, kept with the result.

    Raises:
        InvalidAnalysisError: ``states`` is not 2 or 3, or the trace is not ``T x 3``.
    """
    t0 = time.perf_counter()
    k = _check_states(states)
    x_np = np.asarray(signals, dtype=np.float64)
    if x_np.ndim != 2 or x_np.shape[1] != len(SIGNALS):
        raise InvalidAnalysisError(
            f"regimes: signals has shape {x_np.shape}; expected (trials, {len(SIGNALS)}) with "
            f"columns {list(SIGNALS)}"
        )
    names = STATES[k]
    n = len(x_np)
    if n == 0:
        return Regimes(names, np.zeros((0, k)), x_np, tuple(trial_ids), n_design)
    key = (x_np.tobytes(), x_np.shape, k, max_iter)
    if key not in _FITS:
        _FITS[key] = _fit(x_np, k, max_iter)
        while len(_FITS) > _FITS_KEPT:
            _FITS.pop(next(iter(_FITS)))
    probabilities, params, log_joint = _FITS[key]
    return Regimes(
        states=names,
        probabilities=probabilities.copy(),
        signals=x_np,
        trial_ids=tuple(int(i) for i in trial_ids),
        n_design=n_design,
        params=params,
        log_joint=log_joint,
        seconds=time.perf_counter() - t0,
    )


def fit_regimes(progress: Progress, *, states: int = 3) -> Regimes:
    """The regimes of a run, from its progress (``Optimizer.progress()``).

    Examples:
        >>> from bayesopt import Experiment, Float, Objective, Optimizer
        >>> from bayesopt.analysis.regimes import fit_regimes
        >>> exp = Experiment(name="doc-regimes", parameters=[Float("x", 0.0, 1.0)],
        ...                  objectives=[Objective("y")], initial_trials=3)
        >>> opt = Optimizer(exp, seed=0)
        >>> for _ in range(5):
        ...     (trial,) = opt.suggest(1)
        ...     _ = opt.observe(trial, {"y": (trial.params["x"] - 0.3) ** 2})
        >>> found = fit_regimes(opt.progress())
        >>> found.states, found.probabilities.shape
        (('improving', 'refining', 'stalled'), (5, 3))
    """
    return fit_signals(
        trace_signals(progress),
        states=states,
        trial_ids=tuple(progress.trial_ids),
        n_design=progress.n_design,
    )


def regime_reached(
    experiment: Any, records: Sequence[Any], index: int, regime: str, cache: dict[str, Any]
) -> bool:
    """Whether a strategy step with ``after_regime=regime`` takes over from step
    ``index``: at least :data:`MIN_STEP_TRIALS` completed trials were decided by step
    ``index``, and ``regime`` is the most probable state of the latest completed trial
    under the 3-state model. The analysis is kept in ``cache["regime"]`` (the strategy
    stores it with the trials it decides next, with the regime the step waits for as
    ``wanted``), and reused while no trial completes; with a cadence
    (``Experiment(analyses={"regimes": k})``) it sees the first ``k * floor(n / k)``
    completed trials, so it is refitted every ``k`` completions."""
    from bayesopt.analysis.schedule import completed_in_order, seen
    from bayesopt.stopping import progress_of

    done = completed_in_order(records)
    in_step = sum(t.metadata.get("step_index", 0) == index for t in done)
    if in_step < MIN_STEP_TRIALS:
        return False
    done = seen(experiment, "regimes", done)  # refitted at the analysis's cadence
    key = (len(done), max((t.id for t in done), default=-1))
    if cache.get("regime_key") != key:
        found = fit_regimes(progress_of(experiment, done))
        cache["regime_key"] = key
        cache["regime_latest"] = found.latest()
        cache["regime"] = {**found.latest(), "wanted": regime}
    latest = cache["regime_latest"]
    return bool(latest) and latest.get("state") == regime


#: Completed trials a step decides before a regime can end it.
MIN_STEP_TRIALS = 3


# ---------------------------------------------------------------------- drift
@dataclass(frozen=True)
class Drift:
    """Drift of a reference point: ``P(drifted)`` per measurement, in time order.

    Attributes:
        times: The measurement times, sorted.
        values: The measurements, in time order.
        probability: ``P(the process had drifted by this measurement | all of them)``.
        change_at: Index of the most probable first drifted measurement, or ``None``
            when no drift is the most probable explanation.
        shift: Drifted mean minus stable mean at the most probable change (0 without).
        noise_sd: The measurements' noise sd around their state's mean (at the most
            probable change, if any).
        seconds: Time taken.
    """

    times: np.ndarray
    values: np.ndarray
    probability: np.ndarray
    change_at: int | None
    shift: float
    noise_sd: float
    seconds: float = 0.0

    @property
    def latest(self) -> float:
        """``P(drifted)`` at the latest measurement (0 with fewer than 3)."""
        return float(self.probability[-1]) if len(self.probability) else 0.0


#: Prior probability that a series of reference measurements drifted at all; the
#: change point is uniform over the series when it did.
DRIFT_PRIOR = 0.5
#: The prior sd of a segment's mean, in noise sds, around the series' median.
DRIFT_MEAN_SD = 10.0


def _log_ml(segments: Sequence[np.ndarray], m0: float, b0: float) -> float:
    """Log marginal likelihood of segments ``x_j ~ N(mu_j, s^2)`` with one unknown noise
    variance ``s^2 ~ InvGamma(1, b0)`` and means ``mu_j ~ N(m0, (10 s)^2)``: the
    Normal-Inverse-Gamma model, integrated in closed form."""
    a0, kappa0 = 1.0, 1.0 / DRIFT_MEAN_SD**2
    n = sum(len(x) for x in segments)
    a_n, b_n, out = a0 + n / 2, b0, 0.0
    for x in segments:
        k = len(x)
        mean = float(x.mean())
        b_n += 0.5 * float(((x - mean) ** 2).sum()) + kappa0 * k * (mean - m0) ** 2 / (
            2 * (kappa0 + k)
        )
        out += 0.5 * math.log(kappa0 / (kappa0 + k))
    out += a0 * math.log(b0) - a_n * math.log(b_n) + math.lgamma(a_n) - math.lgamma(a0)
    return out - n / 2 * math.log(2 * math.pi)


def detect_drift(times: Sequence[float], values: Sequence[float]) -> Drift:
    """``P(drifted)`` per measurement of a reference point measured repeatedly.

    The model has two states, ``stable`` and ``drifted``; the series starts stable, may
    switch once, and never switches back, so the drifted state starts at one change
    point. Each state has its own mean and both share one noise variance; the means
    (Normal, sd 10 noise sds, around the series' median) and the variance (inverse
    gamma, scaled by the squared median successive difference) are integrated out in
    closed form. A drift has prior probability 0.5, its change point uniform over the
    series, so the posterior over the change point is exact, and ``P(drifted)`` at a
    measurement is the probability that the change came at or before it.

    Args:
        times: When each measurement was taken (any increasing scale; sorted here).
        values: The measurements.

    Raises:
        InvalidAnalysisError: the lengths differ, or a time or value is not a finite
            number.
    """
    t0 = time.perf_counter()
    t = np.asarray([_finite("times", i, v) for i, v in enumerate(times)], dtype=np.float64)
    y = np.asarray([_finite("values", i, v) for i, v in enumerate(values)], dtype=np.float64)
    if len(t) != len(y):
        raise InvalidAnalysisError(
            f"drift: times has {len(t)} entries and values {len(y)}; expected one time per value"
        )
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    n = len(y)
    if n < 3:
        return Drift(t, y, np.zeros(n), None, 0.0, math.nan, time.perf_counter() - t0)
    # The median successive difference is robust to the one jump of a drift.
    spread = float(np.median(np.abs(np.diff(y)))) / 0.954
    spread = max(spread, 1e-9 * max(float(np.max(np.abs(y))), 1.0))
    m0, b0 = float(np.median(y)), spread**2
    log_post = np.empty(n)  # [0]: no drift; [c]: first drifted measurement c (1..n-1)
    log_post[0] = math.log(1 - DRIFT_PRIOR) + _log_ml([y], m0, b0)
    prior_c = math.log(DRIFT_PRIOR / (n - 1))
    for c in range(1, n):
        log_post[c] = prior_c + _log_ml([y[:c], y[c:]], m0, b0)
    post = np.exp(log_post - log_post.max())
    post /= post.sum()
    probability = np.concatenate([[0.0], np.cumsum(post[1:])])
    best = int(np.argmax(post))
    change_at = best if best > 0 else None
    shift, sd = 0.0, float(np.std(y, ddof=1))
    if change_at is not None:
        shift = float(y[best:].mean() - y[:best].mean())
        resid = np.concatenate([y[:best] - y[:best].mean(), y[best:] - y[best:].mean()])
        sd = float(np.sqrt((resid**2).sum() / max(n - 2, 1)))
    return Drift(t, y, probability, change_at, shift, max(sd, 1e-12), time.perf_counter() - t0)


def _finite(name: str, index: int, value: object) -> float:
    ok = isinstance(value, int | float | np.floating | np.integer) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise InvalidAnalysisError(
            f"drift: {name}[{index}]={describe(value)}; expected a finite number"
        )
    return float(value)  # type: ignore[arg-type]


def drift_message(found: Drift, where: str) -> str:
    """A warning in words about a probable drift at ``where`` (a point's description)."""
    p = found.latest
    text = f"the reference point {where} has probably drifted: P(drift) = {p:.2f} at its latest "
    text += f"of {len(found.values)} measurements"
    if found.change_at is not None:
        before = float(found.values[: found.change_at].mean())
        after = float(found.values[found.change_at :].mean())
        sds = found.shift / found.noise_sd
        text += (
            f"; its mean moved from {before:.6g} to {after:.6g} ({sds:+.1f} "
            f"noise sds) from measurement {found.change_at + 1} on, so results since then may "
            "not compare with earlier ones"
        )
    return text


def drift_of(
    experiment: Experiment,
    completed: Sequence[Trial],
    params: Mapping[str, Any] | None = None,
    *,
    outcome: str | None = None,
    threshold: float = 0.9,
    reference: str,
) -> Drift:
    """Whether the process drifted, from repeated measurements of a reference point.

    What :meth:`bayesopt.Optimizer.drift` returns (see there): :func:`detect_drift` of
    the completed trials at ``params`` (or, without, those made by the generator
    ``reference``) in the order they were measured, with a warning from
    :func:`drift_message` when ``P(drift)`` at the latest exceeds ``threshold``.

    Args:
        experiment: The experiment of the trials.
        completed: Its completed trials.
        params: The reference point; ``None``: the trials attached as references.
        outcome: The outcome measured; the first objective by default.
        threshold: The probability of drift above which to warn, in ``(0, 1)``.
        reference: The generator of the trials attached as references.

    Raises:
        InvalidAnalysisError: ``threshold`` is not in ``(0, 1)``, or ``outcome`` is not
            an outcome of the experiment.
        InvalidSpaceError: ``params`` is not a point of the space.
    """
    exp = experiment
    ok = isinstance(threshold, int | float) and not isinstance(threshold, bool)
    if not ok or not 0 < threshold < 1:
        raise InvalidAnalysisError(
            f"drift: threshold={describe(threshold)}; expected a probability strictly "
            "between 0 and 1"
        )
    name = outcome or exp.objectives[0].name
    if name not in exp.modelled_outcomes:
        raise InvalidAnalysisError(
            f"drift: outcome={describe(outcome)}; expected one of {list(exp.modelled_outcomes)}"
        )
    done = [t for t in completed if t.values and name in t.values]
    if params is None:
        chosen = [t for t in done if t.generator == reference]
        where = str(chosen[0].params) if chosen else "(none attached)"
    else:
        point = exp.space.validate(params)
        chosen = [t for t in done if t.params == point]
        where = str(point)
    chosen.sort(key=lambda t: (t.finished_at or t.created_at or 0, t.id))
    times = [float(i) for i in range(len(chosen))]  # the order measured; gaps do not matter
    found = detect_drift(times, [float(t.values[name]) for t in chosen])  # type: ignore[index]
    if found.latest > threshold:
        logger.warning("%s", drift_message(found, where))
    return found

"""Basins of good points: a truncated Dirichlet process mixture of Gaussians.

The best trials of a run (by default the best quarter of the completed, feasible
ones, at least 6) are clustered in the encoded space (``experiment.space.encode``,
the unit cube) by a Dirichlet process mixture of Gaussians, truncated at
``truncation`` components (stick-breaking, Sethuraman 1994)::

    alpha   ~ Gamma(1, 1)                         the concentration
    v_k     ~ Beta(1, alpha),  k < K              the sticks
    w_k     = v_k prod_{j<k} (1 - v_j)            the weights (w_K takes the rest)
    mu_kj   ~ Normal(0.5, 0.5)                    each component's centre, per column
    s_kj    ~ LogNormal(log 0.05, 1)              and its spread (median 0.05 of the cube)
    x_i     ~ sum_k w_k Normal(mu_k, diag s_k^2)

The component of each point is marginalized out (a log-sum-exp over the ``K``
components), and the posterior of ``(alpha, v, mu, s)`` is approximated by a
mean-field guide (a Normal for each ``mu``, a log-normal for each spread and for
``alpha``, a logit-normal for each stick) fitted by stochastic variational inference
in NumPyro (:class:`numpyro.infer.SVI`, ``Trace_ELBO``, Adam). Mixture fits have local
optima, so the fit is made from ``K`` starts at once (vectorized): start ``r`` gives
``r + 1`` components the k-means centres of the points and leaves the others at
their prior with a vanishing weight; the start with the largest evidence lower bound
(averaged over the last quarter of the steps) is kept. The evidence bound pays for
every component a fit uses, so it chooses the number of basins; no floor or threshold
is tuned.

From the fitted guide, 200 posterior draws give each point's probability of
belonging to each component; a point's basin is the component most probable on
average (its *membership* is that probability), and the occupied components are
the basins. The posterior distribution of the number of basins counts the occupied
components when each point's component is drawn too. Basins are ranked by their best
member (basin 0 holds the best point).

The fit is deterministic given the seed (CPU, float64). It is compiled by JAX once per
process for each dimension, truncation and size class of the points (up to 16, up to
64, then powers of two), which takes seconds; after that a fit takes a fraction of a
second (``benchmarks/results/dpmm_basins.md``). With fewer than 4 points there is
nothing to cluster: one basin holds them all.

It acts: ``BO(spread="basins")`` spreads a batch across the basins (see
:mod:`bayesopt.strategy`), and :meth:`bayesopt.Optimizer.basins` lists the distinct
optima.

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal([0.2, 0.2], 0.02, size=(8, 2))
    >>> b = rng.normal([0.8, 0.7], 0.02, size=(8, 2))
    >>> fit = cluster(np.vstack([a, b]), seed=0)
    >>> fit.n_components, sorted(np.bincount(fit.labels).tolist())
    (2, [8, 8])
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesopt.errors import InvalidAnalysisError, TrialStateError, describe

if TYPE_CHECKING:
    import pandas as pd

    from bayesopt.experiment import Experiment
    from bayesopt.trial import Trial

#: Components of the truncated stick-breaking prior.
TRUNCATION = 8
#: Largest truncation accepted (the fit's cost grows with its square: one start each).
MAX_TRUNCATION = 32
#: Share of the completed, feasible trials taken as the good points ...
FRACTION = 0.25
#: ... but at least this many (all of them when there are fewer) ...
MIN_SELECTED = 6
#: ... and at most this many.
MAX_SELECTED = 64
#: Fewer points than this form one basin, with no fit.
MIN_POINTS = 4
#: SVI steps, particles per step and Adam's step size.
STEPS = 100
PARTICLES = 1
LEARNING_RATE = 0.05
#: Posterior draws that give memberships and the distribution of the number of basins.
DRAWS = 200
#: Priors (see the module's docstring).
ALPHA_SHAPE, ALPHA_RATE = 1.0, 1.0
MU_LOC, MU_SD = 0.5, 0.5
SPREAD_MEDIAN, SPREAD_SD = 0.05, 1.0
#: A basin's box for a spread batch: ``BOX_SPREADS`` spreads on each side of its
#: centre, at least ``BOX_MIN`` and at most ``BOX_MAX`` of the cube, and every member.
BOX_SPREADS, BOX_MIN, BOX_MAX = 2.0, 0.05, 0.25


@dataclass(frozen=True)
class Mixture:
    """A fitted mixture of ``n`` points: what :func:`cluster` returns.

    Attributes:
        labels: ``n`` component labels, ``0 .. n_components - 1`` (numbered by first
            appearance among the points).
        membership: ``n`` probabilities of each point's own component.
        centres: ``n_components x d`` posterior means of the components' centres.
        spreads: ``n_components x d`` posterior means of their standard deviations.
        weights: ``n_components`` posterior mean weights, renormalized over them.
        probabilities: ``n_components`` posterior probabilities that each holds a point.
        count_probs: Posterior distribution of the number of occupied components.
        alpha: Posterior mean of the concentration.
        seconds: Wall seconds of the fit, compilation included.
        method: ``"svi"``, or ``"too few points"`` (one component, no fit).
    """

    labels: np.ndarray
    membership: np.ndarray
    centres: np.ndarray
    spreads: np.ndarray
    weights: np.ndarray
    probabilities: np.ndarray
    count_probs: dict[int, float]
    alpha: float
    seconds: float
    method: str

    @property
    def n_components(self) -> int:
        return len(self.centres)


@dataclass(frozen=True)
class Basin:
    """One basin of good points.

    Attributes:
        index: Its rank: 0 holds the best point.
        centre: ``d`` encoded coordinates of its centre (posterior mean).
        spread: ``d`` posterior mean standard deviations along each column.
        members: Positions (in the points given to :func:`find_basins`) of its members.
        best: Position of its best member.
        best_value: That member's value (signed: larger is better).
        weight: Its posterior mean weight in the mixture (renormalized over the basins).
        probability: Posterior probability that it holds a point at all.
        low: ``d`` smallest coordinates of its members.
        high: ``d`` largest coordinates of its members.
    """

    index: int
    centre: np.ndarray
    spread: np.ndarray
    members: tuple[int, ...]
    best: int
    best_value: float
    weight: float
    probability: float
    low: np.ndarray
    high: np.ndarray

    @property
    def size(self) -> int:
        return len(self.members)

    def box(self) -> np.ndarray:
        """The ``2 x d`` box a spread batch searches this basin in: ``BOX_SPREADS``
        spreads on each side of the centre (clipped to ``[BOX_MIN, BOX_MAX]``), widened
        to hold every member, within the unit cube."""
        half = np.clip(BOX_SPREADS * self.spread, BOX_MIN, BOX_MAX)
        low = np.minimum(self.centre - half, self.low)
        high = np.maximum(self.centre + half, self.high)
        return np.clip(np.stack([low, high]), 0.0, 1.0)

    def contains(self, x: np.ndarray) -> bool:
        """Whether the encoded point ``x`` lies in :meth:`box`."""
        lo, hi = self.box()
        return bool(np.all((x >= lo - 1e-12) & (x <= hi + 1e-12)))


@dataclass(frozen=True)
class Basins:
    """The basins of the good points: what :func:`find_basins` returns.

    Attributes:
        basins: The basins, best first.
        selected: Positions of the good points that were clustered (the best ones).
        labels: For each selected point, the index of its basin.
        membership: For each selected point, the probability of its basin.
        count_probs: Posterior distribution of the number of basins.
        seconds: Wall seconds of the analysis.
        method: How the mixture was fitted (see :class:`Mixture`).
    """

    basins: tuple[Basin, ...]
    selected: np.ndarray
    labels: np.ndarray
    membership: np.ndarray
    count_probs: dict[int, float]
    seconds: float
    method: str

    @property
    def n_basins(self) -> int:
        return len(self.basins)

    def basin_of(self, x: np.ndarray) -> int | None:
        """The index of the first (best) basin whose box holds the encoded point ``x``."""
        for basin in self.basins:
            if basin.contains(np.asarray(x, dtype=np.float64)):
                return basin.index
        return None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready record of the analysis, stored with the trials it acted on."""
        return {
            "n_basins": self.n_basins,
            "count_probs": {str(k): round(v, 4) for k, v in self.count_probs.items()},
            "n_points": len(self.selected),
            "seconds": round(self.seconds, 6),
            "method": self.method,
            "centres": [[round(float(c), 6) for c in b.centre] for b in self.basins],
            "spreads": [[round(float(s), 6) for s in b.spread] for b in self.basins],
            "sizes": [b.size for b in self.basins],
        }


# ------------------------------------------------------------------ checks
def check_truncation(truncation: object) -> int:
    """``truncation`` as an int, or an :class:`InvalidAnalysisError` that names it."""
    if (
        isinstance(truncation, bool)
        or not isinstance(truncation, int)
        or not 2 <= truncation <= MAX_TRUNCATION
    ):
        raise InvalidAnalysisError(
            f"truncation: got {describe(truncation)}; expected an integer from 2 to "
            f"{MAX_TRUNCATION} (components of the stick-breaking prior)"
        )
    return truncation


def check_fraction(fraction: object) -> float:
    """``fraction`` as a float, or an :class:`InvalidAnalysisError` that names it."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        raise InvalidAnalysisError(
            f"fraction: got {describe(fraction)}; expected a number in (0, 1] (the share of "
            "the completed trials taken as good points)"
        )
    return float(fraction)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidAnalysisError(f"seed: got {describe(seed)}; expected an integer >= 0")
    return seed


def _check_points(points: object) -> np.ndarray:
    try:
        x = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidAnalysisError(
            f"points: got {describe(points)}; expected an n x d array of encoded points"
        ) from None
    if x.ndim != 2 or x.shape[1] < 1:
        raise InvalidAnalysisError(
            f"points: got an array of shape {x.shape}; expected n x d encoded points (d >= 1)"
        )
    bad = ~np.isfinite(x).all(axis=1) | (x < 0).any(axis=1) | (x > 1).any(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidAnalysisError(
            f"points: row {i} is {describe(x[i].tolist())}; expected encoded points in the "
            "unit cube [0, 1]^d"
        )
    return x


# ---------------------------------------------------------------- clustering
def cluster(
    points: np.ndarray | Sequence[Sequence[float]],
    *,
    truncation: int = TRUNCATION,
    seed: int = 0,
    steps: int = STEPS,
) -> Mixture:
    """Fit the truncated Dirichlet process mixture to ``points`` (see the module).

    Args:
        points: A ``n x d`` array of points in the unit cube.
        truncation: Components of the stick-breaking prior (2 to 32).
        seed: Seeds the starts, the fit and the posterior draws.
        steps: SVI steps.

    Returns:
        The components that hold points, with each point's label and membership.

    Raises:
        InvalidAnalysisError: a bad argument, named.
    """
    x = _check_points(points)
    K = check_truncation(truncation)
    seed = _check_seed(seed)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InvalidAnalysisError(f"steps: got {describe(steps)}; expected an integer >= 1")
    t0 = time.perf_counter()
    n = len(x)
    if n < MIN_POINTS:
        return _one_component(x, time.perf_counter() - t0)
    params = _fit(x, K, seed, steps)
    rng = np.random.default_rng([seed, 1])
    resp, weights = _posterior(x, params, rng)  # (S, n, K), (S, K)
    mean = resp.mean(axis=0)
    hard = mean.argmax(axis=1)
    used = list(dict.fromkeys(hard.tolist()))  # components in order of first appearance
    labels = np.array([used.index(k) for k in hard])
    membership = mean[np.arange(n), hard]
    # Each point's component drawn in each posterior draw: which components are occupied.
    cum = resp.cumsum(axis=2)
    u = rng.random((resp.shape[0], n, 1))
    drawn = np.minimum((u > cum).sum(axis=2), K - 1)  # (S, n)
    occupied = np.zeros((resp.shape[0], K), dtype=bool)
    np.put_along_axis(occupied, drawn, True, axis=1)
    counts = occupied.sum(axis=1)
    count_probs = {int(c): float(np.mean(counts == c)) for c in sorted(set(counts.tolist()))}
    w = weights.mean(axis=0)[used]
    spread = np.exp(params["log_sigma_loc"] + 0.5 * params["log_sigma_scale"] ** 2)
    return Mixture(
        labels=labels,
        membership=membership,
        centres=params["mu_loc"][used],
        spreads=spread[used],
        weights=w / w.sum(),
        probabilities=occupied.mean(axis=0)[used],
        count_probs=count_probs,
        alpha=float(np.exp(params["log_alpha_loc"] + 0.5 * params["log_alpha_scale"] ** 2)),
        seconds=time.perf_counter() - t0,
        method="svi",
    )


def _one_component(x: np.ndarray, seconds: float) -> Mixture:
    n, d = x.shape
    spread = x.std(axis=0) if n > 1 else np.zeros(d)
    return Mixture(
        labels=np.zeros(n, dtype=int),
        membership=np.ones(n),
        centres=x.mean(axis=0, keepdims=True) if n else np.full((1, d), 0.5),
        spreads=np.maximum(spread, SPREAD_MEDIAN)[None, :],
        weights=np.ones(1),
        probabilities=np.ones(1),
        count_probs={1: 1.0},
        alpha=math.nan,
        seconds=seconds,
        method="too few points",
    )


def find_basins(
    points: np.ndarray | Sequence[Sequence[float]],
    values: np.ndarray | Sequence[float],
    *,
    fraction: float = FRACTION,
    truncation: int = TRUNCATION,
    seed: int = 0,
) -> Basins:
    """The basins of the best of ``points``.

    The points with the best ``values`` (larger is better; non-finite values, such as
    infeasible trials, are left out) are taken: the best ``ceil(fraction * n)``, at
    least ``MIN_SELECTED`` (or all), at most ``MAX_SELECTED``; :func:`cluster` groups
    them, and the groups are ranked by their best member.

    Args:
        points: A ``n x d`` array of encoded points (the unit cube).
        values: Their ``n`` values, larger is better.
        fraction: Share of the points taken as good.
        truncation: Components of the stick-breaking prior.
        seed: Seeds the fit.

    Raises:
        InvalidAnalysisError: a bad argument, or no finite value, named.
    """
    x = _check_points(points)
    fraction = check_fraction(fraction)
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(y) != len(x):
        raise InvalidAnalysisError(
            f"values: got {len(y)} values for {len(x)} points; expected one each"
        )
    t0 = time.perf_counter()
    ok = np.flatnonzero(np.isfinite(y))
    if not len(ok):
        raise InvalidAnalysisError(
            "values: no finite value; the basins need at least one good point"
        )
    top = max(math.ceil(fraction * len(ok)), min(len(ok), MIN_SELECTED))
    top = min(top, MAX_SELECTED, len(ok))
    # best first; ties keep the earlier point
    order = ok[np.lexsort((ok, -y[ok]))][:top]
    mix = cluster(x[order], truncation=truncation, seed=seed)
    ranked = sorted(
        range(mix.n_components),
        key=lambda k: (-float(y[order][mix.labels == k].max()), -int((mix.labels == k).sum())),
    )
    basins = []
    for rank, k in enumerate(ranked):
        members = order[mix.labels == k]
        best = int(members[np.argmax(y[members])])
        basins.append(
            Basin(
                index=rank,
                centre=mix.centres[k],
                spread=mix.spreads[k],
                members=tuple(int(m) for m in members),
                best=best,
                best_value=float(y[best]),
                weight=float(mix.weights[k]),
                probability=float(mix.probabilities[k]),
                low=x[members].min(axis=0),
                high=x[members].max(axis=0),
            )
        )
    rank_of = {k: r for r, k in enumerate(ranked)}
    return Basins(
        basins=tuple(basins),
        selected=order,
        labels=np.array([rank_of[int(k)] for k in mix.labels]),
        membership=mix.membership,
        count_probs=mix.count_probs,
        seconds=time.perf_counter() - t0,
        method=mix.method,
    )


def basins_table(
    experiment: Experiment,
    completed: Sequence[Trial],
    *,
    fraction: float = FRACTION,
    truncation: int = TRUNCATION,
    seed: int = 0,
) -> pd.DataFrame:
    """The distinct optima of a run: the basins of its best completed, feasible trials.

    What :meth:`bayesopt.Optimizer.basins` returns (see there for the columns and
    ``attrs``): the completed trials that count (with values, at the target fidelity
    with a Fidelity parameter, feasible) are encoded, and :func:`find_basins` groups the
    best of them.

    Args:
        experiment: The experiment of the trials.
        completed: Its completed trials, in id order.
        fraction: Share of the completed, feasible trials taken as good, in (0, 1].
        truncation: Components of the stick-breaking prior, 2 to 32.
        seed: Seeds the fit.

    Raises:
        TrialStateError: several objectives, or no completed, feasible trial.
        InvalidAnalysisError: a bad ``fraction`` or ``truncation``, named.
    """
    import pandas as pd

    from bayesopt._results import feasible_completed

    check_fraction(fraction)
    check_truncation(truncation)
    exp = experiment
    if exp.is_multi_objective:
        raise TrialStateError(
            f"basins: experiment '{exp.name}' has {len(exp.objectives)} objectives; basins "
            "group the good trials of one objective (use pareto() for the front)"
        )
    obj = exp.objective
    done = feasible_completed(exp, completed, "basins")
    X = np.array([exp.space.encode(t.params) for t in done]).reshape(-1, exp.space.dim)
    values = [obj.sign() * float(t.values[obj.name]) for t in done]  # type: ignore[index]
    found = find_basins(X, values, fraction=fraction, truncation=truncation, seed=seed)
    rows = []
    for b in found.basins:
        best = done[b.best]
        rows.append(
            {
                "basin": b.index,
                "trial": best.id,
                **best.params,
                obj.name: best.values[obj.name],  # type: ignore[index]
                "size": b.size,
                "probability": round(b.probability, 4),
                "weight": round(b.weight, 4),
            }
        )
    df = pd.DataFrame(rows)
    df.attrs.update(
        n_basins=found.n_basins,
        count_probs=found.count_probs,
        n_points=len(found.selected),
        seconds=found.seconds,
        members={b.index: [done[m].id for m in b.members] for b in found.basins},
    )
    return df


# ------------------------------------------------------------------ the fit
def _bucket(n: int) -> int:
    """Rows the data are padded to (one compilation each): 16, else ``MAX_SELECTED``,
    else a power of two."""
    return 16 if n <= 16 else max(MAX_SELECTED, 1 << (n - 1).bit_length())


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 20) -> np.ndarray:
    """``k`` centres by k-means++ seeding and Lloyd's iterations (seeded)."""
    n = len(x)
    centres = [x[rng.integers(n)]]
    for _ in range(1, k):
        dist2 = np.min([((x - c) ** 2).sum(axis=1) for c in centres], axis=0)
        total = dist2.sum()
        pick = rng.choice(n, p=dist2 / total) if total > 0 else rng.integers(n)
        centres.append(x[pick])
    c = np.array(centres)
    for _ in range(iters):
        label = ((x[:, None, :] - c[None]) ** 2).sum(-1).argmin(axis=1)
        new = np.array(
            [x[label == j].mean(axis=0) if (label == j).any() else c[j] for j in range(k)]
        )
        if np.allclose(new, c):
            break
        c = new
    return c


def _starts(x: np.ndarray, K: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``K`` starting points of the guide, stacked: start ``r`` puts ``r + 1`` components
    on the k-means centres of ``x`` with weights by their sizes, the rest at the prior
    with a vanishing weight."""
    n, d = x.shape
    out: dict[str, list[np.ndarray]] = {k: [] for k in _PARAM_NAMES}
    eps = 1e-3
    for r in range(K):
        k0 = min(r + 1, n)
        centres = _kmeans(x, k0, rng)
        label = ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(axis=1)
        sizes = np.bincount(label, minlength=k0).astype(float)
        mu = np.full((K, d), MU_LOC)
        mu_scale = np.full((K, d), MU_SD)
        log_sigma = np.full((K, d), math.log(SPREAD_MEDIAN))
        log_sigma_scale = np.full((K, d), SPREAD_SD)
        mu[:k0] = centres
        mu_scale[:k0] = 0.01
        for j in range(k0):
            members = x[label == j]
            sd = members.std(axis=0) if len(members) > 1 else np.full(d, SPREAD_MEDIAN)
            log_sigma[j] = np.log(np.clip(sd, 0.01, 0.3))
        log_sigma_scale[:k0] = 0.1
        # Sticks that give the k0 components shares by size and leave eps to the rest.
        p = (1 - eps) * sizes / sizes.sum()
        v = np.full(K - 1, 0.5)
        left = 1.0
        for j in range(min(k0, K - 1)):
            v[j] = p[j] / left
            left -= p[j]
        v = np.clip(v, 1e-4, 1 - 1e-4)
        v_scale = np.where(np.arange(K - 1) < k0, 0.1, 1.0)
        out["mu_loc"].append(mu)
        out["mu_scale"].append(mu_scale)
        out["log_sigma_loc"].append(log_sigma)
        out["log_sigma_scale"].append(log_sigma_scale)
        out["v_logit_loc"].append(np.log(v) - np.log1p(-v))
        out["v_logit_scale"].append(v_scale)
        out["log_alpha_loc"].append(np.array(0.0))
        out["log_alpha_scale"].append(np.array(0.5))
    return {k: np.stack(v) for k, v in out.items()}


_PARAM_NAMES = (
    "mu_loc",
    "mu_scale",
    "log_sigma_loc",
    "log_sigma_scale",
    "v_logit_loc",
    "v_logit_scale",
    "log_alpha_loc",
    "log_alpha_scale",
)


def _fit(x: np.ndarray, K: int, seed: int, steps: int) -> dict[str, np.ndarray]:
    """The guide's parameters of the start with the largest evidence lower bound."""
    import jax

    n, d = x.shape
    rows = _bucket(n)
    padded = np.full((rows, d), 0.5)
    padded[:n] = x
    mask = np.zeros(rows)
    mask[:n] = 1.0
    starts = _starts(x, K, np.random.default_rng([seed, 0]))
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.PRNGKey(seed), K)
        params, elbo = _compiled()(keys, padded, mask, starts, steps)
        elbo = np.asarray(elbo)
        params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    elbo = np.where(np.isfinite(elbo), elbo, -np.inf)
    best = int(np.argmax(elbo))
    return {k: v[best] for k, v in params.items()}


@functools.lru_cache(maxsize=1)
def _compiled() -> Any:
    """The vectorized SVI fit over the starts, compiled on first use (per shape)."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.distributions import constraints
    from numpyro.distributions.transforms import SigmoidTransform
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.optim import Adam

    def model(x: Any, mask: Any, start: Any) -> None:
        K, d = start["mu_loc"].shape
        alpha = numpyro.sample("alpha", dist.Gamma(ALPHA_SHAPE, ALPHA_RATE))
        with numpyro.plate("sticks", K - 1):
            v = numpyro.sample("v", dist.Beta(1.0, alpha))
        with numpyro.plate("components", K, dim=-2), numpyro.plate("columns", d, dim=-1):
            mu = numpyro.sample("mu", dist.Normal(MU_LOC, MU_SD))
            sigma = numpyro.sample("sigma", dist.LogNormal(math.log(SPREAD_MEDIAN), SPREAD_SD))
        log_w = _log_weights(jnp, v)
        comp = dist.Normal(mu, sigma).log_prob(x[:, None, :]).sum(-1)  # (n, K)
        log_lik = jax.nn.logsumexp(log_w + comp, axis=-1)
        numpyro.factor("points", jnp.sum(log_lik * mask))

    def guide(x: Any, mask: Any, start: Any) -> None:
        K, d = start["mu_loc"].shape
        p = {
            k: numpyro.param(k, start[k], constraint=constraints.positive)
            if k.endswith("_scale")
            else numpyro.param(k, start[k])
            for k in _PARAM_NAMES
        }
        numpyro.sample("alpha", dist.LogNormal(p["log_alpha_loc"], p["log_alpha_scale"]))
        with numpyro.plate("sticks", K - 1):
            numpyro.sample(
                "v",
                dist.TransformedDistribution(
                    dist.Normal(p["v_logit_loc"], p["v_logit_scale"]), SigmoidTransform()
                ),
            )
        with numpyro.plate("components", K, dim=-2), numpyro.plate("columns", d, dim=-1):
            numpyro.sample("mu", dist.Normal(p["mu_loc"], p["mu_scale"]))
            numpyro.sample("sigma", dist.LogNormal(p["log_sigma_loc"], p["log_sigma_scale"]))

    def one(key: Any, x: Any, mask: Any, start: Any, steps: int) -> tuple[Any, Any]:
        # Adam's step decays tenfold over the steps, so the last ones settle.
        rate = lambda i: LEARNING_RATE * 0.1 ** (i / steps)  # noqa: E731
        svi = SVI(model, guide, Adam(rate), Trace_ELBO(num_particles=PARTICLES))
        state = svi.init(key, x, mask, start)
        tail = steps - steps // 4  # the bound is averaged over the last quarter of the steps

        def step(i: Any, carry: tuple[Any, Any]) -> tuple[Any, Any]:
            state, total = carry
            state, loss = svi.update(state, x, mask, start)
            return state, total + jnp.where(i >= tail, loss, 0.0)

        state, total = jax.lax.fori_loop(0, steps, step, (state, jnp.zeros(())))
        return svi.get_params(state), -total / (steps - tail)

    def run(keys: Any, x: Any, mask: Any, starts: Any, steps: int) -> tuple[Any, Any]:
        return jax.vmap(lambda k, s: one(k, x, mask, s, steps))(keys, starts)

    return jax.jit(run, static_argnames=("steps",))


def _log_weights(xp: Any, v: Any) -> Any:
    """Stick-breaking log weights of ``K`` components from ``K - 1`` sticks (last axis)."""
    log_v = xp.log(v)
    log_rest = xp.cumsum(xp.log1p(-v), axis=-1)
    zeros = xp.zeros((*v.shape[:-1], 1))
    return xp.concatenate([log_v, zeros], axis=-1) + xp.concatenate([zeros, log_rest], axis=-1)


def _posterior(
    x: np.ndarray, params: dict[str, np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``DRAWS`` draws of each point's component probabilities (``S x n x K``) and of
    the weights (``S x K``) under the fitted guide."""
    K, d = params["mu_loc"].shape
    S = DRAWS
    mu = params["mu_loc"] + params["mu_scale"] * rng.standard_normal((S, K, d))
    log_sigma = params["log_sigma_loc"] + params["log_sigma_scale"] * rng.standard_normal((S, K, d))
    logit = params["v_logit_loc"] + params["v_logit_scale"] * rng.standard_normal((S, K - 1))
    v = 1.0 / (1.0 + np.exp(-logit))
    v = np.clip(v, 1e-12, 1 - 1e-12)
    log_w = _log_weights(np, v)  # (S, K)
    z = (x[None, :, None, :] - mu[:, None]) / np.exp(log_sigma)[:, None]  # (S, n, K, d)
    comp = (-0.5 * z**2 - log_sigma[:, None] - 0.5 * math.log(2 * math.pi)).sum(-1)
    logits = log_w[:, None, :] + comp
    logits -= logits.max(axis=-1, keepdims=True)
    resp = np.exp(logits)
    resp /= resp.sum(axis=-1, keepdims=True)
    return resp, np.exp(log_w)

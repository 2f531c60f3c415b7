"""``"numpyro"``: the user's own NumPyro model of their process, fitted by NUTS.

When the form of the process is known (a yield that saturates with time, a rate
that follows Arrhenius' law) but its constants are not, a model written in
NumPyro with priors on those constants predicts far better from a handful of
trials than a generic GP. This surrogate fits such a model with NUTS and turns
the posterior into a BoTorch ensemble model, so every acquisition function works
with it and is optimized by gradients.

The contract
------------
The model is a function called as ``model(X, y)``:

- ``X`` is a JAX ``float64`` array of shape ``(n, d)``, one row per point and one
  column per tunable parameter of the experiment, in the order the parameters
  are declared (``Fixed`` parameters take no column). With ``inputs="natural"``
  (the default) a column holds the parameter's value in the units the user gave
  (``Float("temperature", 20.0, 90.0)`` gives temperatures from 20 to 90; a
  ``log`` parameter its value, not its logarithm; an ``Int`` its value as a float;
  a ``Choice`` the position of its value in ``values``, as a float). With ``inputs="encoded"``
  the model receives the encoded unit-cube values ``u`` instead, where
  ``value = low + u * (high - low)`` (``exp(log low + u * (log high - log low))``
  for a ``log`` parameter). Outside an experiment (a :class:`FitSpec` without
  ``columns``) the model receives ``train_X`` as given.
- ``y`` is a ``float64`` array of shape ``(n,)`` with the outcome **as measured**
  (a minimized objective is not negated), or ``None`` when the framework predicts.
- The model records the noiseless mean of the outcome as
  ``numpyro.deterministic("f", mean)`` with ``mean`` of shape ``(n,)``, in the
  units of the measurement, and observes ``numpyro.sample("y", dist, obs=y)``
  where ``dist`` has batch shape ``(n,)`` (``n`` independent observations, any
  likelihood: ``Normal``, ``StudentT``, ``LogNormal``, ...).
- Every other ``numpyro.sample`` site is an unknown constant of the process: a
  continuous parameter whose shape does not depend on ``n``.
- ``f`` is computed row by row: ``f[i]`` depends on ``X[i]`` and the parameters
  only, never on the other rows (a prediction must not depend on which other
  points are in the batch), and so does the distribution of ``y[i]``. The model is
  written with ``jax.numpy`` (it is traced, vectorized over draws and
  differentiated in ``X``): no ``numpy``, ``math``, ``float()`` or Python ``if`` on
  values that depend on ``X`` or the parameters.

Example of a model (a saturating response ``a (1 - exp(-b x))``)::

    def model(X, y=None):
        a = numpyro.sample("a", dist.LogNormal(0.0, 1.0))
        b = numpyro.sample("b", dist.LogNormal(1.0, 1.0))
        sigma = numpyro.sample("sigma", dist.HalfNormal(0.5))
        f = numpyro.deterministic("f", a * (1.0 - jnp.exp(-b * X[:, 0])))
        numpyro.sample("y", dist.Normal(f, sigma), obs=y)

The contract is checked on every fit before NUTS runs; a model that breaks it
gets a :class:`~surrogates.base.SurrogateError` naming the site and what was
found.

What the framework does with it
-------------------------------
The core passes ``train_Y = sign * measured`` with ``spec.signs = (sign,)`` so
that larger is better; this surrogate multiplies by ``sign`` again before the
fit, so the model sees ``y`` as measured, and returns ``sign * f`` to BoTorch.
NUTS (NumPyro's ``MCMC(NUTS(model))`` with a dense mass matrix, started at the
prior medians, one chain by default, seeded with ``jax.random.PRNGKey(spec.seed)``)
draws the parameters; ``num_members`` of the
retained draws, evenly spaced, are the members of an
:class:`~botorch.models.ensemble.EnsembleModel`, whose member ``s`` at new ``X``
is ``f`` under draw ``s``. It is differentiable in ``X`` (the JAX function is
wrapped in a :class:`torch.autograd.Function` whose backward pass is ``jax.vjp``).
The predictive distribution of new measurements (:meth:`NumPyroEnsembleModel.predictive`)
is the posterior predictive of the ``"y"`` site, whatever its likelihood: draws
of ``y`` under each member, and the log density
``log p(y* | data) = logsumexp_s log p(y* | theta_s) - log S``. Held-out scores come
from Pareto-smoothed importance-sampling leave-one-out (PSIS-LOO, Vehtari,
Gelman & Gabry 2017) over all retained draws, so no extra NUTS runs are needed
for them. All JAX work runs in ``float64`` inside ``jax.enable_x64(True)``, a
thread-local setting; JAX's global configuration is left alone.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from botorch.models.ensemble import EnsembleModel
from botorch.models.model import Model
from torch import Tensor

from surrogates._numpyro_contract import _HINT, _untraceable, check_contract
from surrogates.base import (
    FitSpec,
    SurrogateError,
    check_training_data,
    set_fit_info,
    warn_fallback,
)
from surrogates.mcmc import _arviz, mcmc_diagnostics
from surrogates.predictive import Predictive, SampledPredictive
from surrogates.validation import LEVEL, HeldOut, attach_held_out

__all__ = [
    "LOO_REPLICATES",
    "MIN_ROWS",
    "PREDICTIVE_DRAWS",
    "NumPyroEnsembleModel",
    "NumPyroSurrogate",
    "check_contract",
    "check_rowwise",
]

#: Draws of new measurements that :meth:`NumPyroEnsembleModel.predictive` aims for.
PREDICTIVE_DRAWS = 1024
#: Replicate draws of ``y`` per posterior draw for the PSIS-LOO held-out predictions.
LOO_REPLICATES = 4

_INPUTS = ("natural", "encoded")


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SurrogateError(
            f"numpyro: option '{name}' = {_describe(value)}; expected an integer >= {minimum}"
        )


# ---------------------------------------------------------------------------- JAX side
#: Row counts are padded up to a power of two, at least this, so that JAX compiles a
#: handful of shapes rather than one per batch size the acquisition optimizer tries.
MIN_ROWS = 64


def _bucket(n: int) -> int:
    return max(MIN_ROWS, 1 << max(n - 1, 0).bit_length())


def _pad(a: np.ndarray, rows: int, fill: np.ndarray | None = None) -> np.ndarray:
    """``a`` with rows appended up to ``rows``: copies of ``fill`` (default: its first row)."""
    extra = rows - a.shape[0]
    if extra <= 0:
        return a
    filler = a[:1] if fill is None else fill[None]
    return np.concatenate([a, np.repeat(filler, extra, axis=0)], axis=0)


class _Compiled:
    """The jitted JAX functions of one user model; draws are arguments, so fits share them.

    Every function takes ``draws``, a dict of latent site values with a leading ``S``
    (draws) dimension, and a ``(N, d)`` array of natural-unit input rows. The model is
    called once on all rows: the contract makes ``f`` and ``y`` row by row.
    """

    def __init__(self, model: Callable[..., Any]) -> None:
        import jax
        from numpyro import handlers

        def run(params: Any, X: Any, y: Any, key: Any) -> Any:
            seeded = handlers.seed(model, rng_seed=key)
            return handlers.trace(handlers.substitute(seeded, data=params)).get_trace(X, y)

        def f_one(params: Any, X: Any) -> Any:
            return run(params, X, None, jax.random.PRNGKey(0))["f"]["value"]

        def f_rows(draws: Any, X: Any) -> Any:  # (N, d) -> (S, N)
            return jax.vmap(f_one, in_axes=(0, None))(draws, X)

        def f_vjp(draws: Any, X: Any, g: Any) -> Any:  # g (S, N) -> (N, d)
            return jax.vjp(lambda x: f_rows(draws, x), X)[1](g)[0]

        def f_prior(X: Any, key: Any) -> Any:  # f under one draw of the prior
            return run({}, X, None, key)["f"]["value"]

        def y_one(params: Any, X: Any, key: Any) -> Any:
            return run(params, X, None, key)["y"]["value"]

        def y_rows(draws: Any, X: Any, keys: Any) -> Any:  # keys (S, R) -> (S, R, N)
            inner = jax.vmap(y_one, in_axes=(None, None, 0))
            return jax.vmap(inner, in_axes=(0, None, 0))(draws, X, keys)

        def ll_one(params: Any, X: Any, y: Any) -> Any:
            site = run(params, X, y, jax.random.PRNGKey(0))["y"]
            return site["fn"].log_prob(site["value"])

        self.f = jax.jit(f_rows)
        self.f_vjp = jax.jit(f_vjp)
        self.f_prior = jax.jit(f_prior)
        self.y = jax.jit(y_rows)
        self.loglik = jax.jit(jax.vmap(ll_one, in_axes=(0, None, None)))


@functools.lru_cache(maxsize=8)
def _compiled_cached(model: Callable[..., Any]) -> _Compiled:
    return _Compiled(model)


def _compiled(model: Callable[..., Any]) -> _Compiled:
    try:
        return _compiled_cached(model)
    except TypeError:  # an unhashable callable object
        return _Compiled(model)


def check_rowwise(model: Callable[..., Any], X: np.ndarray) -> None:
    """Refuse a model whose ``f`` at a row depends on the other rows of ``X``.

    ``f`` is evaluated under one prior draw at the rows of ``X`` and at the same rows
    in reverse order; the two must agree row for row. (Compiled once per model and
    row bucket, so it costs little after the first fit.)
    """
    import jax

    n = X.shape[0]
    rows = _bucket(n)
    with jax.enable_x64(True):
        fn, key = _compiled(model).f_prior, jax.random.PRNGKey(0)
        forward = np.asarray(fn(_pad(X, rows), key))[:n]
        backward = np.asarray(fn(_pad(np.ascontiguousarray(X[::-1]), rows), key))[:n][::-1]
    close = np.isclose(forward, backward, rtol=1e-9, atol=1e-12, equal_nan=True)
    if not close.all():
        i = int(np.argmin(close))
        raise SurrogateError(
            f"numpyro: site 'f' at row {i} of X is {forward[i]:.6g} with the rows in one order "
            f"and {backward[i]:.6g} in another; f must be computed row by row (f[i] from X[i] "
            "and the parameters only), so that a prediction does not depend on the other "
            "points in the batch"
        )


class _Runner:
    """The user's model and the member draws: evaluates ``f`` and ``y`` on numpy inputs.

    It pickles (the jitted functions are rebuilt on use) when the user's model does.
    """

    def __init__(self, model: Callable[..., Any], draws: Mapping[str, np.ndarray], seed: int):
        self.model = model
        self.draws = {k: np.asarray(v, dtype=np.float64) for k, v in draws.items()}
        self.seed = seed

    @property
    def size(self) -> int:
        return int(next(iter(self.draws.values())).shape[0])

    def f(self, X: np.ndarray) -> np.ndarray:
        """``(B, S, n)`` member means at ``(B, n, d)`` natural inputs."""
        import jax

        (B, n, d), S = X.shape, self.size
        N = B * n
        if N == 0:
            return np.zeros((B, S, n))
        with jax.enable_x64(True):
            out = _compiled(self.model).f(self.draws, _pad(X.reshape(N, d), _bucket(N)))
            out = np.array(out, dtype=np.float64)[:, :N]
        return out.reshape(S, B, n).transpose(1, 0, 2)

    def f_vjp(self, X: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``g``, a ``(B, S, n)`` array, pulled back through :meth:`f`: a ``(B, n, d)`` array."""
        import jax

        (B, n, d), S = X.shape, self.size
        N = B * n
        if N == 0:
            return np.zeros_like(X)
        rows = _bucket(N)
        g_rows = _pad(g.transpose(1, 0, 2).reshape(S, N).T, rows, np.zeros(S)).T
        with jax.enable_x64(True):
            out = _compiled(self.model).f_vjp(self.draws, _pad(X.reshape(N, d), rows), g_rows)
            out = np.array(out, dtype=np.float64)[:N]
        return out.reshape(B, n, d)

    def y(
        self, X: np.ndarray, reps: int, draws: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """``(S, reps, n)`` draws of new measurements at ``(n, d)`` natural inputs."""
        import jax

        draws = self.draws if draws is None else draws
        size, n = int(next(iter(draws.values())).shape[0]), X.shape[0]
        with jax.enable_x64(True):
            # RBG keys compile several times faster than threefry under vmap; they seed
            # draws of new measurements only, never the NUTS chain.
            key = jax.random.key(self.seed, impl="unsafe_rbg")
            keys = jax.random.split(key, size * reps).reshape(size, reps)
            out = _compiled(self.model).y(draws, _pad(X, _bucket(n)), keys)
            return np.array(out, dtype=np.float64)[..., :n]

    def loglik(
        self, X: np.ndarray, y: np.ndarray, draws: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """``(S, n)`` pointwise log likelihoods of measurements ``y`` at natural inputs ``X``."""
        import jax

        draws = self.draws if draws is None else draws
        n = X.shape[0]
        rows = _bucket(n)
        with jax.enable_x64(True):
            out = _compiled(self.model).loglik(draws, _pad(X, rows), _pad(y, rows))
            return np.array(out, dtype=np.float64)[:, :n]


class _JaxMembers(torch.autograd.Function):
    """Member means as a differentiable torch op: forward in JAX, backward by ``jax.vjp``."""

    @staticmethod
    def forward(ctx: Any, X: Tensor, runner: _Runner) -> Tensor:
        ctx.runner = runner
        ctx.save_for_backward(X)
        out = runner.f(X.detach().cpu().double().numpy())
        return torch.from_numpy(out).to(X)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (X,) = ctx.saved_tensors
        g = ctx.runner.f_vjp(
            X.detach().cpu().double().numpy(), grad.detach().cpu().double().numpy()
        )
        return torch.from_numpy(g).to(X), None


# -------------------------------------------------------------------------- torch side
def _natural(X: Tensor, bounds: Tensor, low: Tensor, span: Tensor, log: Tensor) -> Tensor:
    """Map inputs within ``bounds`` to ``low + u * span`` (exponentiated on log columns)."""
    lo, hi = bounds[0].to(X), bounds[1].to(X)
    z = low.to(X) + (X - lo) / (hi - lo) * span.to(X)
    if not bool(log.any()):
        return z
    return torch.where(log, torch.exp(torch.where(log, z, torch.zeros_like(z))), z)


class NumPyroEnsembleModel(EnsembleModel):
    """The posterior of a user's NumPyro model as an ensemble of ``s`` sampled mean functions.

    Member ``s`` at ``X`` is ``sign * f(X; theta_s)``, with ``theta_s`` a posterior draw
    of the model's parameters; no outcome transform is applied.

    Args:
        runner: The user's model with the member draws.
        sign: ``+1`` or ``-1``; the model's outputs are ``sign * measured``.
        bounds: A ``2 x d``-dim tensor, the bounds of the inputs the model is given.
        low: A ``d``-dim tensor of natural lower bounds (``log low`` for log columns).
        span: A ``d``-dim tensor of natural widths (``log high - log low`` for log columns).
        log: A ``d``-dim bool tensor, the columns decoded on a log scale.
    """

    bounds: Tensor
    low: Tensor
    span: Tensor
    log_columns: Tensor

    def __init__(
        self,
        runner: _Runner,
        sign: float,
        bounds: Tensor,
        low: Tensor,
        span: Tensor,
        log: Tensor,
    ) -> None:
        super().__init__()
        self._runner = runner
        self._sign = float(sign)
        self._num_outputs = 1
        self.register_buffer("bounds", bounds.detach().clone())
        self.register_buffer("low", low.detach().clone())
        self.register_buffer("span", span.detach().clone())
        self.register_buffer("log_columns", log.detach().clone())

    @property
    def ensemble_size(self) -> int:
        return self._runner.size

    @property
    def draws(self) -> dict[str, np.ndarray]:
        """The members' parameter draws by site name, each with a leading ``s`` dimension."""
        return dict(self._runner.draws)

    def natural(self, X: Tensor) -> Tensor:
        """What the user's model receives for ``batch_shape x n x d`` inputs ``X``."""
        return _natural(X, self.bounds, self.low, self.span, self.log_columns)

    def members(self, X: Tensor) -> Tensor:
        """A ``batch_shape x s x n x 1``-dim tensor of member outputs at ``batch_shape x n x d``
        inputs ``X``."""
        batch, (n, d) = X.shape[:-2], X.shape[-2:]
        flat = self.natural(X).reshape(-1, n, d)
        out: Tensor = _JaxMembers.apply(flat, self._runner)
        return (self._sign * out).reshape(*batch, self.ensemble_size, n, 1)

    def forward(self, X: Tensor) -> Tensor:
        return self.members(X)

    def predictive(self, X: Tensor) -> Predictive:
        """The posterior predictive distribution of new measurements at ``n x d`` inputs ``X``.

        Returns:
            A :class:`~surrogates.predictive.SampledPredictive` in the units of the training
            data (``sign * measured``): draws of the ``"y"`` site under each member, and the
            log density averaged over the members, ``logsumexp_s log p(y | theta_s) - log s``.
        """
        self.eval()
        with torch.no_grad():
            Xn = self.natural(X).detach().cpu().double().numpy()
        reps = max(1, math.ceil(PREDICTIVE_DRAWS / self.ensemble_size))
        y = self._runner.y(Xn, reps)  # (S, R, n)
        draws = self._sign * torch.from_numpy(y.reshape(-1, y.shape[-1])).to(X).unsqueeze(-1)
        runner, sign, size = self._runner, self._sign, self.ensemble_size

        def log_prob(Y: Tensor) -> Tensor:
            measured = (sign * Y[..., 0]).detach().cpu().double().numpy()
            ll = torch.from_numpy(runner.loglik(Xn, measured))
            return (torch.logsumexp(ll, dim=0) - math.log(size)).to(Y).unsqueeze(-1)

        return SampledPredictive(draws=draws, log_prob_fn=log_prob)


# ------------------------------------------------------------------------- surrogate
def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cdf = np.cumsum(w) - 0.5 * w
    cdf /= w.sum()
    return float(np.interp(q, cdf, v))


@dataclass
class NumPyroSurrogate:
    """The user's NumPyro model of their process, fitted by NUTS (see the module docstring).

    Args:
        model: The user's model, ``model(X, y=None)``; required.
        warmup: NUTS warmup (adaptation) steps.
        num_samples: NUTS steps after warmup, per chain.
        thinning: Keep every ``thinning``-th draw.
        num_chains: Chains, run in parallel when JAX has that many devices, else in turn.
        num_members: Retained draws (evenly spaced) that form the ensemble; acquisition
            cost grows linearly with it.
        inputs: ``"natural"`` (the model receives parameter values in the units the user
            gave) or ``"encoded"`` (the unit-cube encoding).
        target_accept_prob: NUTS' target acceptance probability; raise it (e.g. 0.95) when
            the fit reports divergences.
        dense_mass: Adapt a dense mass matrix (the posterior covariance of the parameters)
            rather than a diagonal one: much better for the correlated constants of
            mechanistic models; set False for models with hundreds of parameters.
        max_tree_depth: NUTS takes at most ``2 ** max_tree_depth`` steps per draw; lower it
            to bound the cost of a fit on a hard posterior (at some loss of mixing).
        loo: Attach PSIS-LOO held-out predictions, so that the framework needs no k-fold
            cross-validation (which would run NUTS once per fold).

    Examples:
        >>> import jax.numpy as jnp, numpyro, numpyro.distributions as dist, torch
        >>> def model(X, y=None):
        ...     a = numpyro.sample("a", dist.Normal(0.0, 2.0))
        ...     f = numpyro.deterministic("f", a * X[:, 0])
        ...     numpyro.sample("y", dist.Normal(f, 0.1), obs=y)
        >>> X = torch.linspace(0, 1, 6, dtype=torch.float64).unsqueeze(-1)
        >>> spec = FitSpec(bounds=torch.tensor([[0.0], [1.0]], dtype=torch.float64))
        >>> fitted = NumPyroSurrogate(model=model, warmup=50, num_samples=50).fit(X, 2 * X, spec)
        >>> round(fitted.posterior(torch.tensor([[1.0]], dtype=torch.float64)).mean.item(), 1)
        2.0
    """

    name: str = "numpyro"
    model: Callable[..., Any] | None = None
    warmup: int = 500
    num_samples: int = 500
    thinning: int = 1
    num_chains: int = 1
    num_members: int = 128
    inputs: str = "natural"
    target_accept_prob: float = 0.8
    dense_mass: bool = True
    max_tree_depth: int = 10
    loo: bool = True

    def __post_init__(self) -> None:
        if self.model is None:
            raise SurrogateError(
                "numpyro: option 'model' is required: pass your NumPyro model as "
                "surrogate_options={'model': model}, where " + _HINT
            )
        if not callable(self.model):
            raise SurrogateError(
                f"numpyro: option 'model' = {_describe(self.model)} is not callable; {_HINT}"
            )
        _check_int("warmup", self.warmup, 0)
        _check_int("num_samples", self.num_samples, 1)
        _check_int("thinning", self.thinning, 1)
        _check_int("num_chains", self.num_chains, 1)
        _check_int("num_members", self.num_members, 1)
        _check_int("max_tree_depth", self.max_tree_depth, 1)
        if self.num_samples // self.thinning * self.num_chains < 8:
            raise SurrogateError(
                f"numpyro: num_samples={self.num_samples}, thinning={self.thinning} and "
                f"num_chains={self.num_chains} retain "
                f"{self.num_samples // self.thinning * self.num_chains} draws; need at least 8"
            )
        if self.inputs not in _INPUTS:
            raise SurrogateError(
                f"numpyro: option 'inputs' = {_describe(self.inputs)}; expected one of "
                f"{list(_INPUTS)}"
            )
        p = self.target_accept_prob
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 < p < 1.0:
            raise SurrogateError(
                f"numpyro: option 'target_accept_prob' = {_describe(p)}; expected a number "
                "strictly between 0 and 1"
            )
        for key in ("dense_mass", "loo"):
            if not isinstance(getattr(self, key), bool):
                raise SurrogateError(
                    f"numpyro: option '{key}' = {_describe(getattr(self, key))}; expected True "
                    "or False"
                )

    # ------------------------------------------------------------------ inputs
    def _decoding(self, train_X: Tensor, spec: FitSpec) -> tuple[Tensor, Tensor, Tensor]:
        """Natural low, span and log flags per column (identity when not decoding)."""
        d = train_X.shape[-1]
        kw: dict[str, Any] = {"dtype": train_X.dtype, "device": train_X.device}
        if self.inputs == "encoded" or not spec.columns:
            low, span = spec.bounds[0].to(**kw), (spec.bounds[1] - spec.bounds[0]).to(**kw)
            return low, span, torch.zeros(d, dtype=torch.bool, device=train_X.device)
        columns = list(spec.columns)
        if len(columns) != d:
            raise SurrogateError(
                f"numpyro: spec.columns describes {len(columns)} columns; the inputs have {d}"
            )
        for c in columns:
            if c.log and not (c.low > 0 and c.high > 0):
                raise SurrogateError(
                    f"numpyro: column '{c.name}' is on a log scale with bounds "
                    f"[{c.low}, {c.high}]; log bounds must be positive"
                )
        lows = [math.log(c.low) if c.log else c.low for c in columns]
        highs = [math.log(c.high) if c.log else c.high for c in columns]
        low = torch.tensor(lows, **kw)
        span = torch.tensor(highs, **kw) - low
        log = torch.tensor([c.log for c in columns], dtype=torch.bool, device=train_X.device)
        return low, span, log

    # --------------------------------------------------------------------- fit
    def fit(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec) -> Model:
        """Check the model against the contract, run NUTS, and build the ensemble.

        Args:
            train_X: A ``n x d``-dim tensor of inputs within ``spec.bounds``.
            train_Y: A ``n x 1``-dim tensor of ``sign * measured`` outcomes.
            spec: Bounds, seed, ``columns`` (what the inputs mean) and ``signs``.

        Returns:
            A :class:`NumPyroEnsembleModel` in eval mode, with the MCMC diagnostics in its
            fit info. When NUTS fails at run time (no valid initial point, non-finite
            draws, a chain that never moved), the exact GP instead, with a
            :class:`~surrogates.base.SurrogateFallbackWarning` saying why.

        Raises:
            SurrogateError: unusable data, or a model that breaks the contract.
        """
        import jax
        import jax.numpy as jnp

        check_training_data(train_X, train_Y, spec)
        if train_Y.shape[-1] != 1:
            raise SurrogateError(
                f"numpyro: models one outcome; got train_Y with {train_Y.shape[-1]} columns"
            )
        signs = list(spec.signs) or [1.0]
        if len(signs) != 1 or float(signs[0]) not in (1.0, -1.0):
            raise SurrogateError(
                f"numpyro: spec.signs = {list(spec.signs)}; expected (1,) or (-1,)"
            )
        sign = float(signs[0])
        seed = 0 if spec.seed is None else int(spec.seed)
        assert self.model is not None  # checked in __post_init__
        model = self.model
        low, span, log = self._decoding(train_X, spec)
        bounds = spec.bounds.to(train_X)
        with torch.no_grad():
            X_nat = _natural(train_X, bounds, low, span, log).cpu().double().numpy()
        y = sign * train_Y[:, 0].detach().cpu().double().numpy()

        with jax.enable_x64(True):
            X_j, y_j = jnp.asarray(X_nat), jnp.asarray(y)
            latent = check_contract(model, X_j, y_j)
            check_rowwise(model, X_nat)
            try:
                samples, diverging = self._nuts(model, X_j, y_j, seed)
            except jax.errors.JAXTypeError as exc:
                raise _untraceable(exc) from exc
            except Exception as exc:  # NUTS failing at run time must not stop the loop
                return self._fallback(
                    train_X, train_Y, spec, f"NUTS failed ({type(exc).__name__}: {exc})"
                )
        draws = {k: np.asarray(samples[k], dtype=np.float64) for k in latent}
        problem = self._check_draws(draws)
        if problem:
            return self._fallback(train_X, train_Y, spec, problem)
        total = int(next(iter(draws.values())).shape[0])
        keep = np.unique(np.linspace(0, total - 1, min(self.num_members, total)).round())
        members = {k: v[keep.astype(int)] for k, v in draws.items()}
        fitted = NumPyroEnsembleModel(_Runner(model, members, seed), sign, bounds, low, span, log)
        try:
            f_train = fitted._runner.f(X_nat[None])
        except Exception as exc:
            return self._fallback(
                train_X, train_Y, spec, f"evaluating site 'f' failed ({type(exc).__name__}: {exc})"
            )
        if not np.isfinite(f_train).all():
            return self._fallback(
                train_X, train_Y, spec, "site 'f' is not finite at the training inputs"
            )
        fitted.eval()
        try:
            diag = mcmc_diagnostics(draws, diverging, num_chains=self.num_chains)
        except Exception:  # diagnostics must not stop a fit
            diag = {}
        set_fit_info(
            fitted,
            **diag,
            members=int(fitted.ensemble_size),
            warmup=self.warmup,
            num_samples=self.num_samples,
            num_chains=self.num_chains,
            inputs=self.inputs,
        )
        if self.loo:
            try:
                self._attach_loo(fitted, X_nat, y, draws, train_Y)
            except Exception as exc:  # held-out scores must not stop a fit
                set_fit_info(fitted, loo_error=f"{type(exc).__name__}: {exc}"[:500])
        return fitted

    def _nuts(self, model: Callable[..., Any], X: Any, y: Any, seed: int) -> tuple[Any, Any]:
        import jax
        from numpyro.infer import MCMC, NUTS, init_to_median

        kernel = NUTS(
            model,
            target_accept_prob=self.target_accept_prob,
            dense_mass=self.dense_mass,
            max_tree_depth=self.max_tree_depth,
            init_strategy=init_to_median,
        )
        parallel = jax.local_device_count() >= self.num_chains
        mcmc = MCMC(
            kernel,
            num_warmup=self.warmup,
            num_samples=self.num_samples,
            num_chains=self.num_chains,
            thinning=self.thinning,
            chain_method="parallel" if parallel else "sequential",
            progress_bar=False,
        )
        mcmc.run(jax.random.PRNGKey(seed), X, y, extra_fields=("diverging",))
        return mcmc.get_samples(), mcmc.get_extra_fields()["diverging"]

    @staticmethod
    def _check_draws(draws: Mapping[str, np.ndarray]) -> str | None:
        bad = [k for k, v in draws.items() if not np.isfinite(v).all()]
        if bad:
            return f"NUTS gave non-finite draws of {bad}"
        if all(np.ptp(v, axis=0).max(initial=0.0) == 0.0 for v in draws.values()):
            return "NUTS never moved from its initial point (every draw is the same)"
        return None

    def _fallback(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec, why: str) -> Model:
        from surrogates.gp import ExactGP

        warn_fallback(f"numpyro: {why}; using the exact GP instead")
        model = ExactGP().fit(train_X, train_Y, spec)
        set_fit_info(model, numpyro_fallback=why[:500])
        return model

    def _attach_loo(
        self,
        fitted: NumPyroEnsembleModel,
        X: np.ndarray,
        y: np.ndarray,
        draws: Mapping[str, np.ndarray],
        train_Y: Tensor,
    ) -> None:
        """PSIS-LOO predictions of each training point, in the units of ``train_Y``."""
        t0 = time.perf_counter()
        runner = fitted._runner
        ll = runner.loglik(X, y, draws)  # (S, n)
        reps = runner.y(X, LOO_REPLICATES, draws)  # (S, R, n)
        if not (np.isfinite(ll).all() and np.isfinite(reps).all()):
            set_fit_info(fitted, loo_error="non-finite log likelihood or predictive draws")
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ArviZ warns of large k; k is recorded instead
            lw, khat = _arviz().psislw(-ll.T.copy(), 1.0)
        lw = np.asarray(lw)  # (n, S), normalized
        log_density = np.logaddexp.reduce(lw + ll.T, axis=1)
        w = np.exp(lw)
        n = X.shape[0]
        mean, lower, upper, pit = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
        tail = (1.0 - LEVEL) / 2.0
        for i in range(n):
            values = reps[:, :, i].reshape(-1)
            weights = np.repeat(w[i], reps.shape[1])
            weights = weights / weights.sum()
            mean[i] = float(np.sum(weights * values))
            lower[i] = _weighted_quantile(values, weights, tail)
            upper[i] = _weighted_quantile(values, weights, 1.0 - tail)
            # P(Y < y) + P(Y = y) / 2: the mid-PIT, which also suits discrete likelihoods.
            pit[i] = float(np.sum(weights * ((values < y[i]) + 0.5 * (values == y[i]))))
        if fitted._sign < 0:
            mean, lower, upper, pit = -mean, -upper, -lower, 1.0 - pit

        def col(a: np.ndarray) -> Tensor:
            return torch.as_tensor(a, dtype=train_Y.dtype, device=train_Y.device).reshape(-1, 1)

        held = HeldOut(
            observed=train_Y.detach().clone(),
            mean=col(mean),
            lower=col(lower),
            upper=col(upper),
            log_density=col(log_density),
            pit=col(pit),
            method="psis-loo",
            seconds=time.perf_counter() - t0,
        )
        attach_held_out(fitted, held)
        khat = np.asarray(khat)
        set_fit_info(
            fitted, loo_khat_max=float(np.max(khat)), loo_khat_over_07=int((khat > 0.7).sum())
        )

"""``"bnn"``: a Bayesian neural network in Pyro, fitted by SVI (or NUTS for tiny networks).

The model
---------
Inputs are mapped from ``spec.bounds`` to ``[-1, 1]^d`` and every outcome is
standardized (zero mean, unit variance over the training data). A fully connected
network ``f`` with widths ``d -> hidden[0] -> ... -> hidden[-1] -> m`` and a smooth
activation (``tanh`` or ``silu``) has independent Gaussian priors on all weights
and biases,

``W_l ~ N(0, prior_scale^2 / fan_in_l)``, ``b_l ~ N(0, prior_scale^2)``,

(the fan-in scaling keeps the prior variance of every layer's output of order one
whatever the widths), and the standardized observations are
``y_i ~ N(f(x_i), sigma^2)`` with one ``sigma_j ~ HalfNormal(noise_prior_scale)``
per outcome.

Inference
---------
``inference="svi"`` (the default) fits a Gaussian guide, by default the mean-field
:class:`~pyro.infer.autoguide.AutoNormal` with the KL terms in closed form
(:class:`~pyro.infer.TraceMeanField_ELBO`), by maximizing the ELBO with
:class:`~pyro.optim.ClippedAdam` for ``steps`` steps, the learning rate decaying
geometrically to a tenth of ``lr``. Over the first ``kl_warmup`` share of the
steps the prior's weight in the ELBO rises from 0.01 to 1 (KL annealing): without
it a mean-field fit on few observations tends to explain everything as noise. With
more than ``batch_size`` observations each step uses a minibatch (epochs of a
seeded permutation) and the likelihood is scaled by ``n / batch_size``.
``inference="nuts"`` draws the weights with Pyro's NUTS (:class:`~pyro.infer.MCMC`,
one chain), which is exact but slow: meant for small networks (e.g.
``hidden=(8,)``) and few observations; R-hat, bulk ESS and divergences
(:func:`surrogates.mcmc.mcmc_diagnostics`) are recorded with the fit. A network's
weights are identifiable only up to permutations of hidden units and sign flips, so
a large weight-space R-hat may just mean the chain moved between such equivalent
modes; it is a warning about mixing, not proof of bad predictions.

Outcomes that are all equal have no spread to standardize by: they are only
centred (as BoTorch's ``Standardize`` does), so the fit is exact at the data and
uncertain by about one unit away from it.

The fitted model
----------------
``num_samples`` weight draws (from the guide, or evenly spaced NUTS draws) are
stacked into tensors, so the ``s`` networks run together as batched matrix
products (:meth:`BNNEnsembleModel.members`), in the units of the training data and
differentiable in ``X``. The model is a
:class:`~surrogates.ensemble.SampledEnsembleModel` whose member ``k`` has
observation noise ``sigma_k * std(y)``. It holds plain tensors only (no Pyro
state), so it pickles and moves between devices.

Global state
------------
Pyro's parameter store is used only inside its ``scope()`` context manager
(:meth:`pyro.params.param_store.ParamStoreDict.scope`): a fit starts from an empty
store, and whatever the caller had in it, names the guide also uses included, is
put back afterwards. Every random draw comes from ``spec.seed`` in generators that
are forked and restored (torch's, on the data's device, Python's and numpy's), so
two fits with the same seed are bitwise identical and the caller's RNG state is
untouched. Pyro's validation checks are off during a fit (they cost a third of
each step) and restored afterwards.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from botorch.models.model import Model
from pyro import poutine
from pyro.infer import MCMC, NUTS, SVI, Trace_ELBO, TraceMeanField_ELBO
from pyro.infer.autoguide import (
    AutoDiagonalNormal,
    AutoLowRankMultivariateNormal,
    AutoNormal,
)
from pyro.infer.autoguide.initialization import init_to_sample, init_to_value
from pyro.nn import PyroModule, PyroSample
from torch import Tensor, nn

from surrogates.base import (
    FitSpec,
    SurrogateError,
    check_training_data,
    set_fit_info,
    warn_fallback,
)
from surrogates.ensemble import SampledEnsembleModel
from surrogates.mcmc import mcmc_diagnostics

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "silu": nn.functional.silu,
}
_INFERENCE = ("svi", "nuts")
_GUIDES = ("normal", "diagonal", "lowrank")
#: Initial value of the standardized noise scale ``sigma`` in the guide and for NUTS.
_SIGMA_INIT = 0.3
#: The final ELBO loss is averaged over this many last steps.
_LOSS_WINDOW = 50


# --------------------------------------------------------------------------- the fitted model
class BNNEnsembleModel(SampledEnsembleModel):
    """``s`` sampled networks of a Bayesian neural network, evaluated together.

    Args:
        weights: Per layer, a ``s x out_l x in_l``-dim tensor of weights.
        biases: Per layer, a ``s x out_l``-dim tensor of biases.
        bounds: A ``2 x d``-dim tensor of input bounds; inputs are mapped to ``[-1, 1]``.
        y_mean: A ``m``-dim tensor: the mean of the training outcomes.
        y_std: A ``m``-dim tensor: the standard deviation used to standardize them.
        sigma: A ``s x m``-dim tensor of each member's noise scale, in standardized units.
        activation: ``"tanh"`` or ``"silu"``.
    """

    bounds: Tensor
    y_mean: Tensor
    y_std: Tensor

    def __init__(
        self,
        weights: Sequence[Tensor],
        biases: Sequence[Tensor],
        bounds: Tensor,
        y_mean: Tensor,
        y_std: Tensor,
        sigma: Tensor,
        activation: str = "tanh",
    ) -> None:
        super().__init__(noise_std=sigma * y_std)
        if len(weights) != len(biases) or not weights:
            raise ValueError("weights and biases: expected one tensor of each per layer")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: got {activation!r}; expected one of {_ACTIVATIONS}")
        self.activation = activation
        self.num_layers = len(weights)
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            self.register_buffer(f"weight_{i}", w.detach().clone())
            self.register_buffer(f"bias_{i}", b.detach().clone())
        self.register_buffer("bounds", bounds.detach().clone())
        self.register_buffer("y_mean", y_mean.detach().clone())
        self.register_buffer("y_std", y_std.detach().clone())

    def layer(self, i: int) -> tuple[Tensor, Tensor]:
        """The ``s x out x in`` weights and ``s x out`` biases of layer ``i``."""
        w: Tensor = getattr(self, f"weight_{i}")
        b: Tensor = getattr(self, f"bias_{i}")
        return w, b

    def members(self, X: Tensor) -> Tensor:
        """Every member's noiseless output, in the units of the training data.

        Args:
            X: A ``batch_shape x n x d``-dim tensor of inputs within the bounds.

        Returns:
            A ``batch_shape x s x n x m``-dim tensor; differentiable in ``X``.
        """
        lo, hi = self.bounds[0], self.bounds[1]
        h = (2.0 * (X - lo) / (hi - lo) - 1.0).unsqueeze(-3)  # batch x 1 x n x d
        act = _ACTIVATIONS[self.activation]
        for i in range(self.num_layers):
            w, b = self.layer(i)
            h = h @ w.transpose(-1, -2) + b.unsqueeze(-2)  # batch x s x n x out
            if i < self.num_layers - 1:
                h = act(h)
        return h * self.y_std + self.y_mean


# --------------------------------------------------------------------------- the Pyro model
class _BNN(PyroModule):
    """The Pyro model: priors on every weight and bias, a Gaussian likelihood."""

    def __init__(
        self,
        widths: Sequence[int],
        activation: str,
        prior_scale: float,
        noise_prior_scale: float,
        like: Tensor,
    ) -> None:
        super().__init__()
        linear: Any = PyroModule[nn.Linear]  # a Linear whose attributes may be Pyro sites
        module_list: Any = PyroModule[nn.ModuleList]
        zero = like.new_zeros(())
        layers = []
        for fan_in, fan_out in itertools.pairwise(widths):
            layer = linear(fan_in, fan_out, device=like.device, dtype=like.dtype)
            w_scale = like.new_full((), prior_scale / math.sqrt(fan_in))
            b_scale = like.new_full((), prior_scale)
            layer.weight = PyroSample(
                dist.Normal(zero, w_scale).expand([fan_out, fan_in]).to_event(2)
            )
            layer.bias = PyroSample(dist.Normal(zero, b_scale).expand([fan_out]).to_event(1))
            layers.append(layer)
        self.layers = module_list(layers)
        self.act = _ACTIVATIONS[activation]
        self.m = widths[-1]
        self.noise_scale = like.new_full((), noise_prior_scale)
        self.beta = 1.0  # weight of the prior (and the guide) in the ELBO, < 1 while warming up

    def net(self, x: Tensor) -> Tensor:
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = self.act(h)
        return h

    def forward(self, x: Tensor, y: Tensor | None = None, idx: Tensor | None = None) -> Tensor:
        """Observe ``y`` (all rows, or the rows ``idx`` as a subsample) given inputs ``x``."""
        xb, yb = (x, y) if idx is None else (x[idx], None if y is None else y[idx])
        with poutine.scale(scale=self.beta):
            sigma = pyro.sample(
                "sigma", dist.HalfNormal(self.noise_scale).expand([self.m]).to_event(1)
            )
            f = self.net(xb)
        with pyro.plate("data", x.shape[0], subsample=idx, device=str(x.device)):
            pyro.sample("obs", dist.Normal(f, sigma).to_event(1), obs=yb)
        return f


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed the RNGs a fit draws from; restore the caller's states afterwards.

    Those are torch's CPU generator, the generator of ``device`` when it is a CUDA
    device, and Python's and numpy's global generators (which
    :func:`pyro.set_rng_seed` also seeds). Only these are seeded, so that no other
    GPU's generator, nor a not yet initialized CUDA, is touched.
    """
    cuda = (
        [device.index if device.index is not None else torch.cuda.current_device()]
        if device.type == "cuda"
        else []
    )
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=cuda):
            torch.random.default_generator.manual_seed(seed)
            for index in cuda:
                with torch.cuda.device(index):
                    torch.cuda.manual_seed(seed)
            random.seed(seed)
            np.random.seed(seed)
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _draw_indices(total: int, wanted: int, device: torch.device) -> Tensor:
    """``wanted`` (at most ``total``) evenly spaced indices into ``total`` draws."""
    k = min(total, wanted)
    return torch.linspace(0, total - 1, k, device=device).round().long()


@dataclass
class _Draws:
    """Stacked draws: per layer ``s x out x in`` weights and ``s x out`` biases; ``s x m`` sigma."""

    weights: list[Tensor]
    biases: list[Tensor]
    sigma: Tensor

    def finite(self) -> bool:
        return all(bool(torch.isfinite(t).all()) for t in [*self.weights, *self.biases, self.sigma])


def _stack(samples: dict[str, Tensor], layers: int) -> _Draws:
    return _Draws(
        weights=[samples[f"layers.{i}.weight"].detach() for i in range(layers)],
        biases=[samples[f"layers.{i}.bias"].detach() for i in range(layers)],
        sigma=samples["sigma"].detach(),
    )


# --------------------------------------------------------------------------- the surrogate
@dataclass
class BayesianNN:
    """Bayesian neural network with Gaussian priors on the weights, fitted by SVI or NUTS.

    Args:
        hidden: Widths of the hidden layers. Mean-field SVI underfits wide and deep
            networks on few observations (the KL term of many weights outweighs the
            data), so the default is one layer of 32 units; give more for large data.
        activation: ``"tanh"`` or ``"silu"``.
        prior_scale: Prior standard deviation of the biases; weights get
            ``prior_scale / sqrt(fan_in)``. Inputs lie in ``[-1, 1]`` and outcomes are
            standardized, so the default 2 allows functions that vary a few times
            across the domain.
        noise_prior_scale: Scale of the HalfNormal prior on the noise standard deviation,
            in units of the outcome's standard deviation.
        inference: ``"svi"`` or ``"nuts"``.
        guide: SVI family: ``"normal"`` (:class:`~pyro.infer.autoguide.AutoNormal`,
            mean field, with the KL terms in closed form), ``"diagonal"``
            (:class:`~pyro.infer.autoguide.AutoDiagonalNormal`) or ``"lowrank"``
            (:class:`~pyro.infer.autoguide.AutoLowRankMultivariateNormal` of ``rank``).
        rank: Rank of the ``"lowrank"`` guide's covariance factor.
        steps: SVI optimization steps.
        lr: Initial ClippedAdam learning rate (decays geometrically to ``lr / 10``).
        batch_size: Minibatch size for SVI when there are more observations.
        init_scale: Initial standard deviation of the guide's Gaussians.
        kl_warmup: Share of the steps over which the weight of the prior in the ELBO
            rises linearly from 0.01 to 1 (KL annealing, so that the network first
            fits the data instead of collapsing to the prior); 0 disables it.
        num_samples: Posterior draws of the weights that make up the ensemble.
        warmup_steps: NUTS warmup (adaptation) steps.
        mcmc_samples: NUTS draws kept after warmup (thinned evenly to ``num_samples``).
        max_tree_depth: NUTS maximum tree depth.

    Examples:
        >>> import torch
        >>> from surrogates.base import FitSpec
        >>> X = torch.linspace(0, 1, 12, dtype=torch.float64).unsqueeze(-1)
        >>> bounds = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
        >>> bnn = BayesianNN(hidden=(8,), steps=100, num_samples=8)
        >>> model = bnn.fit(X, torch.sin(6 * X), FitSpec(bounds=bounds, seed=0))
        >>> model.posterior(X[:3]).mean.shape
        torch.Size([3, 1])
    """

    name: str = "bnn"
    hidden: Sequence[int] = (32,)
    activation: str = "tanh"
    prior_scale: float = 2.0
    noise_prior_scale: float = 0.5
    inference: str = "svi"
    guide: str = "normal"
    rank: int = 10
    steps: int = 1000
    lr: float = 0.01
    batch_size: int = 512
    init_scale: float = 0.01
    kl_warmup: float = 0.5
    num_samples: int = 64
    warmup_steps: int = 200
    mcmc_samples: int = 200
    max_tree_depth: int = 6

    def __post_init__(self) -> None:
        self.hidden = tuple(self.hidden)
        if not self.hidden or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.hidden
        ):
            raise SurrogateError(
                f"bnn: hidden = {self.hidden!r}; expected one or more positive integer widths"
            )
        for key, valid in (
            ("activation", tuple(_ACTIVATIONS)),
            ("inference", _INFERENCE),
            ("guide", _GUIDES),
        ):
            if getattr(self, key) not in valid:
                raise SurrogateError(
                    f"bnn: {key} = {getattr(self, key)!r}; expected one of {list(valid)}"
                )
        for key in (
            "rank",
            "steps",
            "batch_size",
            "num_samples",
            "warmup_steps",
            "mcmc_samples",
            "max_tree_depth",
        ):
            value = getattr(self, key)
            minimum = 0 if key == "warmup_steps" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise SurrogateError(f"bnn: {key} = {value!r}; expected an integer >= {minimum}")
        for key in ("prior_scale", "noise_prior_scale", "lr", "init_scale"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise SurrogateError(f"bnn: {key} = {value!r}; expected a positive number")
            if not math.isfinite(value):
                raise SurrogateError(f"bnn: {key} = {value!r}; expected a finite number")
        if isinstance(self.kl_warmup, bool) or not (
            isinstance(self.kl_warmup, int | float) and 0 <= self.kl_warmup <= 1
        ):
            raise SurrogateError(
                f"bnn: kl_warmup = {self.kl_warmup!r}; expected a share between 0 and 1"
            )

    # ------------------------------------------------------------------ fitting
    def _widths(self, d: int, m: int) -> list[int]:
        return [d, *self.hidden, m]

    def _module(self, d: int, m: int, like: Tensor) -> _BNN:
        return _BNN(
            self._widths(d, m), self.activation, self.prior_scale, self.noise_prior_scale, like
        )

    def _svi(self, x: Tensor, y: Tensor, lr: float) -> tuple[_Draws, float]:
        """Fit the mean-field guide; return ``num_samples`` draws from it and the final loss."""
        n, d = x.shape
        m = y.shape[-1]
        model = self._module(d, m, x)
        init = init_to_value(
            values={"sigma": torch.full((m,), _SIGMA_INIT, dtype=x.dtype, device=x.device)},
            fallback=init_to_sample,
        )
        scale = float(self.init_scale)
        guide: Any
        if self.guide == "normal":
            guide = AutoNormal(model, init_loc_fn=init, init_scale=scale)
        elif self.guide == "diagonal":
            guide = AutoDiagonalNormal(model, init_loc_fn=init, init_scale=scale)
        else:
            guide = AutoLowRankMultivariateNormal(
                model, init_loc_fn=init, init_scale=scale, rank=self.rank
            )
        decay = 0.1 ** (1.0 / self.steps)
        optim = pyro.optim.ClippedAdam({"lr": lr, "lrd": decay, "clip_norm": 10.0})

        def scaled_guide(*args: Tensor | None) -> object:
            with poutine.scale(scale=model.beta):
                return guide(*args)

        svi = SVI(
            model,
            scaled_guide,
            optim,
            loss=TraceMeanField_ELBO() if self.guide == "normal" else Trace_ELBO(),
        )
        warm = int(self.kl_warmup * self.steps)
        batch = n if n <= self.batch_size else self.batch_size
        order = torch.randperm(n, device=x.device)
        start = 0
        losses: list[float] = []
        for step in range(self.steps):
            model.beta = min(1.0, 0.01 + (step + 1) / warm) if warm > 0 else 1.0
            idx: Tensor | None = None
            if batch < n:
                if start + batch > n:
                    order, start = torch.randperm(n, device=x.device), 0
                idx = order[start : start + batch]
                start += batch
            loss = svi.step(x, y, idx)
            if not math.isfinite(loss):
                raise FloatingPointError(f"the ELBO loss became {loss} after {len(losses)} steps")
            losses.append(loss)
        window = losses[-_LOSS_WINDOW:]
        layers = len(self.hidden) + 1
        samples: dict[str, list[Tensor]] = {}
        with torch.no_grad():
            for _ in range(self.num_samples):
                for k, v in guide(x, y, None).items():
                    samples.setdefault(k, []).append(v)
        draws = _stack({k: torch.stack(v) for k, v in samples.items()}, layers)
        return draws, sum(window) / len(window)

    def _nuts(self, x: Tensor, y: Tensor) -> tuple[_Draws, dict[str, float]]:
        """Draw the weights by NUTS; return ``num_samples`` evenly spaced draws and diagnostics."""
        d, m = x.shape[-1], y.shape[-1]
        model = self._module(d, m, x)
        init = init_to_value(
            values={"sigma": torch.full((m,), _SIGMA_INIT, dtype=x.dtype, device=x.device)},
            fallback=init_to_sample,
        )
        kernel = NUTS(model, init_strategy=init, max_tree_depth=self.max_tree_depth)
        mcmc = MCMC(
            kernel,
            num_samples=self.mcmc_samples,
            warmup_steps=self.warmup_steps,
            num_chains=1,
            disable_progbar=True,
        )
        mcmc.run(x, y, None)
        samples = {k: v.detach() for k, v in mcmc.get_samples().items()}
        total = next(iter(samples.values())).shape[0]
        flags = np.zeros(total)
        for chain in mcmc.diagnostics().get("divergences", {}).values():
            flags[np.asarray(chain, dtype=int)] = 1.0
        diag = mcmc_diagnostics(
            {k: v.cpu().double().numpy() for k, v in samples.items()}, flags, num_chains=1
        )
        keep = _draw_indices(total, self.num_samples, x.device)
        draws = _stack({k: v[keep] for k, v in samples.items()}, len(self.hidden) + 1)
        return draws, diag

    def fit(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec) -> Model:
        """Fit the network's posterior and return it as an ensemble of sampled networks.

        Args:
            train_X: A ``n x d``-dim tensor of inputs within ``spec.bounds``.
            train_Y: A ``n x m``-dim tensor of outcomes.
            spec: Bounds and seed (``None`` means 0).

        Returns:
            A :class:`BNNEnsembleModel` in eval mode with ``num_samples`` members, its fit
            facts in :func:`~surrogates.base.fit_info`: ``inference``, ``hidden``,
            ``activation``, ``steps``, ``num_samples``, ``fit_seconds``; for SVI
            ``elbo_loss`` (the negative ELBO on the standardized data, averaged over the
            last 50 steps) and ``lr``; for NUTS ``r_hat_max``, ``ess_bulk_min``,
            ``divergences``, ``warmup_steps`` and ``mcmc_samples``. When NUTS fails the
            fit falls back to SVI; when SVI diverges it is retried with a tenth of the
            learning rate, and then the ensemble is the constant mean predictor with the
            outcomes' spread as noise; a
            :class:`~surrogates.base.SurrogateFallbackWarning` says which.

        Raises:
            SurrogateError: The data are unusable (non-finite, too few points, bad shapes).
        """
        check_training_data(train_X, train_Y, spec, min_points=2)
        x_dev, dtype = train_X.device, train_X.dtype
        bounds = spec.bounds.to(train_X)
        if not bool((bounds[1] > bounds[0]).all()):
            raise SurrogateError("bounds: every upper bound must exceed its lower bound")
        Y = train_Y.to(dtype)
        y_mean = Y.mean(0)
        y_std = Y.std(0)  # n >= 2
        y_std = torch.where(y_std > 1e-8 * y_mean.abs().clamp_min(1.0), y_std, 1.0)
        x = 2.0 * (train_X - bounds[0]) / (bounds[1] - bounds[0]) - 1.0
        y = (Y - y_mean) / y_std
        seed = 0 if spec.seed is None else int(spec.seed)
        m = Y.shape[-1]
        info: dict[str, float | int | str] = {
            "inference": self.inference,
            "hidden": ",".join(str(h) for h in self.hidden),
            "activation": self.activation,
        }
        t0 = time.perf_counter()
        draws: _Draws | None = None
        store = pyro.get_param_store()
        with store.scope(), _seeded(seed, x_dev), pyro.validation_enabled(False):
            if self.inference == "nuts":
                try:
                    draws, diag = self._nuts(x, y)
                    if not draws.finite():
                        raise FloatingPointError("NUTS draws are not finite")
                    info.update(
                        steps=self.warmup_steps + self.mcmc_samples,
                        warmup_steps=self.warmup_steps,
                        mcmc_samples=self.mcmc_samples,
                        r_hat_max=diag["r_hat_max"],
                        ess_bulk_min=diag["ess_bulk_min"],
                        divergences=int(diag["divergences"]),
                    )
                except Exception as exc:  # a failed fit must not stop the loop
                    draws = None
                    warn_fallback(
                        f"bnn: NUTS failed ({type(exc).__name__}: {exc}); fitted by SVI instead"
                    )
                    info["inference"] = "svi (nuts failed)"
                    store.clear()
            if draws is None:
                for lr in (self.lr, self.lr / 10):
                    try:
                        draws, loss = self._svi(x, y, lr)
                        if not draws.finite():
                            raise FloatingPointError("the guide's draws are not finite")
                        info.update(steps=self.steps, elbo_loss=loss, lr=lr)
                        break
                    except Exception as exc:  # retried, then the fallback below
                        draws = None
                        store.clear()
                        what = "retrying with lr / 10" if lr == self.lr else "giving up"
                        warn_fallback(f"bnn: SVI failed ({type(exc).__name__}: {exc}); {what}")
        if draws is None:
            draws = self._constant(x.shape[-1], m, x)
            info["inference"] = "constant (fit failed)"
            warn_fallback(
                "bnn: no fit succeeded; using the mean of the outcomes as the prediction "
                "with their standard deviation as noise"
            )
        model = BNNEnsembleModel(
            draws.weights,
            draws.biases,
            bounds,
            y_mean,
            y_std,
            draws.sigma.to(train_X),
            self.activation,
        )
        model.eval()
        info.update(num_samples=model.ensemble_size, fit_seconds=time.perf_counter() - t0)
        set_fit_info(model, **info)
        return model

    def _constant(self, d: int, m: int, like: Tensor) -> _Draws:
        """One member that predicts zero (the standardized mean) with unit noise."""
        widths = self._widths(d, m)
        weights = [like.new_zeros(1, b, a) for a, b in itertools.pairwise(widths)]
        biases = [like.new_zeros(1, b) for b in widths[1:]]
        return _Draws(weights, biases, like.new_ones(1, m))

"""A TuRBO trust region: a box around the incumbent that grows on success, shrinks on failure.

TuRBO (Eriksson et al., "Scalable Global Optimization via Local Bayesian Optimization",
NeurIPS 2019) confines each batch of candidates to a hyper-rectangle centred on the best
point found so far, in the encoded unit cube ``[0, 1]^d``. The rule, in maximization form
(larger is better):

* a batch is a *success* when its best value exceeds the incumbent by a relative margin,
  ``max(batch) > best + 1e-3 * |best|``, and a *failure* otherwise;
* after ``success_tolerance`` successes in a row the side length doubles (at most
  ``length_max``); after ``failure_tolerance`` failures in a row it halves;
* when it falls below ``length_min`` the region *restarts*: the length returns to
  ``length_init``, the counters to zero, and the incumbent is forgotten (the next region
  gets a new centre, as TuRBO starts a fresh local run).

The box has side ``length * w_i`` along coordinate ``i``, with weights ``w`` proportional
to the model's ARD lengthscales and of geometric mean 1, so its volume is ``length^d``
before it is clipped to the cube.

Everything here is pure: :class:`TrustRegionState` is an immutable value and
:func:`update` returns a new one. The strategy stores :meth:`TrustRegionState.as_dict`
(plain JSON) in the trial store with each decision, so that a resumed run continues
with the same region. :func:`propose` optimizes an acquisition function the caller
built, inside the region; :func:`thompson_candidates` draws a batch by Thompson
sampling over perturbed Sobol points, for dimensions where gradient optimization is
costly.

Examples:
    >>> state = TrustRegionState.initial(dim=2, batch_size=1)
    >>> state = update(state, [1.0], [[0.2, 0.7]])  # the first batch sets the incumbent
    >>> state.best_value, state.center, state.length
    (1.0, (0.2, 0.7), 0.8)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeGuard

import gpytorch
import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.objective import MCAcquisitionObjective
from botorch.exceptions.warnings import OptimizationWarning
from botorch.generation.sampling import MaxPosteriorSampling
from botorch.models.model import Model
from botorch.models.transforms.input import AffineInputTransform, ChainedInputTransform
from botorch.optim import optimize_acqf
from botorch.utils.sampling import manual_seed
from gpytorch.kernels import Kernel
from linear_operator.utils.warnings import NumericalWarning
from torch import Tensor
from torch.quasirandom import SobolEngine

from bayesopt.errors import InvalidExperimentError, describe

__all__ = [
    "TrustRegionState",
    "default_failure_tolerance",
    "lengthscales_of",
    "propose",
    "region_bounds",
    "thompson_candidates",
    "update",
]

_WHERE = "strategy TrustRegion"
#: Relative improvement over the incumbent that counts as a success (as in the paper).
SUCCESS_MARGIN = 1e-3
#: The options :meth:`TrustRegionState.initial` takes.
_OPTIONS = ("length_init", "length_min", "length_max", "success_tolerance", "failure_tolerance")
_LENGTHS = "0 < length_min < length_init <= length_max"


def _fail(name: str, value: object, expected: str) -> InvalidExperimentError:
    return InvalidExperimentError(f"{_WHERE}: {name}={describe(value)}; expected {expected}")


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_real(value: object) -> TypeGuard[int | float | np.integer | np.floating]:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _check_lengths(
    length_min: object, length_init: object, length_max: object, given: frozenset[str]
) -> None:
    """Check ``0 < length_min < length_init <= length_max``, blaming the field at fault.

    When an inequality between two fields fails, the blame goes to the one the user gave
    (in ``given``), ``length_init`` when both or neither were given.
    """
    values = {"length_min": length_min, "length_init": length_init, "length_max": length_max}
    numbers: list[float] = []
    for name, value in values.items():
        number = float(value) if _is_real(value) else math.nan
        if not math.isfinite(number) or number <= 0:
            raise _fail(name, value, _LENGTHS)
        numbers.append(number)

    def blame(a: str, b: str) -> str:
        return b if b in given and a not in given else a

    lo, init, hi = numbers
    if not lo < init:
        name = blame("length_init", "length_min")
    elif not init <= hi:
        name = blame("length_init", "length_max")
    else:
        return
    raise _fail(
        name,
        values[name],
        f"{_LENGTHS} (here length_min={lo!r}, length_init={init!r}, length_max={hi!r})",
    )


def default_failure_tolerance(dim: int, batch_size: int) -> int:
    """The paper's failure tolerance, ``ceil(max(4 / batch_size, dim / batch_size))``."""
    return math.ceil(max(4.0 / batch_size, float(dim) / batch_size))


@dataclass(frozen=True, kw_only=True)
class TrustRegionState:
    """The state of one trust region; an immutable value (see :func:`update`).

    Build it with :meth:`initial`; rebuild a stored one with :meth:`from_dict`.

    Attributes:
        dim: Dimension ``d`` of the encoded space.
        batch_size: Points proposed per batch.
        length: The current side length of the region, before the lengthscale weights,
            in units of the unit cube.
        failure_tolerance: Failures in a row after which the region halves.
        success_tolerance: Successes in a row after which the region doubles.
        length_init: The length at the start and after every restart.
        length_min: A length below this restarts the region.
        length_max: The length never grows beyond this.
        success_counter: Successes in a row so far.
        failure_counter: Failures in a row so far.
        best_value: The incumbent's value in maximization form; ``-inf`` when the region
            has no incumbent (at the start and after a restart).
        restarts: How many times the region collapsed and restarted.
        center: The encoded incumbent (``d`` floats), or ``None`` without one.
    """

    dim: int
    batch_size: int
    length: float
    failure_tolerance: int
    success_tolerance: int = 3
    length_init: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6
    success_counter: int = 0
    failure_counter: int = 0
    best_value: float = -math.inf
    restarts: int = 0
    center: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("dim", "batch_size", "success_tolerance", "failure_tolerance"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise _fail(name, value, "a positive integer")
            object.__setattr__(self, name, int(value))
        _check_lengths(self.length_min, self.length_init, self.length_max, frozenset())
        for name in ("length_min", "length_init", "length_max"):
            object.__setattr__(self, name, float(getattr(self, name)))
        length = self.length
        if not _is_real(length) or not self.length_min <= float(length) <= self.length_max:
            raise _fail("length", length, "length_min <= length <= length_max")
        object.__setattr__(self, "length", float(length))
        for name in ("success_counter", "failure_counter", "restarts"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise _fail(name, value, "a non-negative integer")
            object.__setattr__(self, name, int(value))
        best = self.best_value
        if not _is_real(best) or math.isnan(best) or best == math.inf:
            raise _fail("best_value", best, "a finite number, or -inf without an incumbent")
        object.__setattr__(self, "best_value", float(best))
        center = self.center
        if center is not None:
            ok = (
                isinstance(center, Sequence)
                and len(center) == self.dim
                and all(_is_real(c) and math.isfinite(c) for c in center)
            )
            if not ok:
                raise _fail("center", center, f"None or {self.dim} finite numbers")
            object.__setattr__(self, "center", tuple(float(c) for c in center))
        if (center is None) != (self.best_value == -math.inf):
            raise _fail(
                "center", center, "a point exactly when best_value is finite (the incumbent)"
            )

    @classmethod
    def initial(cls, dim: int, batch_size: int, **overrides: Any) -> TrustRegionState:
        """A fresh region: length ``length_init``, no incumbent, no restarts.

        Args:
            dim: Dimension of the encoded space.
            batch_size: Points proposed per batch.
            **overrides: Any of ``length_init`` (0.8), ``length_min`` (``0.5**7``),
                ``length_max`` (1.6), ``success_tolerance`` (3) and ``failure_tolerance``
                (``ceil(max(4 / batch_size, dim / batch_size))``).

        Raises:
            InvalidExperimentError: An option is unknown or out of range; the message
                starts with ``strategy TrustRegion: <field>=<value>``.

        Examples:
            >>> TrustRegionState.initial(dim=10, batch_size=4).failure_tolerance
            3
        """
        unknown = sorted(set(overrides) - set(_OPTIONS))
        if unknown:
            raise InvalidExperimentError(
                f"{_WHERE}: unknown option {unknown[0]!r}; expected one of "
                + ", ".join(sorted(_OPTIONS))
            )
        for name in ("dim", "batch_size"):
            value = dim if name == "dim" else batch_size
            if not _is_int(value) or value < 1:
                raise _fail(name, value, "a positive integer")
        options: dict[str, Any] = {
            "length_init": 0.8,
            "length_min": 0.5**7,
            "length_max": 1.6,
            "success_tolerance": 3,
            "failure_tolerance": default_failure_tolerance(dim, batch_size),
        }
        options.update(overrides)
        _check_lengths(
            options["length_min"],
            options["length_init"],
            options["length_max"],
            frozenset(overrides),
        )
        return cls(dim=dim, batch_size=batch_size, length=options["length_init"], **options)

    def as_dict(self) -> dict[str, Any]:
        """The state as plain JSON values; ``best_value`` is ``None`` for ``-inf``.

        Examples:
            >>> s = TrustRegionState.initial(dim=2, batch_size=1)
            >>> TrustRegionState.from_dict(s.as_dict()) == s
            True
        """
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["best_value"] = None if self.best_value == -math.inf else self.best_value
        out["center"] = None if self.center is None else list(self.center)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrustRegionState:
        """Rebuild a state written by :meth:`as_dict`.

        Raises:
            InvalidExperimentError: A key is missing or unknown, or a value is out of range.
        """
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data]
        extra = sorted(set(data) - set(names))
        if missing or extra:
            raise InvalidExperimentError(
                f"{_WHERE}: stored state has missing keys {missing} and unknown keys {extra}"
            )
        values = dict(data)
        if values["best_value"] is None:
            values["best_value"] = -math.inf
        return cls(**values)


def update(
    state: TrustRegionState,
    batch_values: Sequence[float] | Tensor | np.ndarray,
    batch_points: Tensor | np.ndarray | Sequence[Sequence[float]],
) -> TrustRegionState:
    """The state after a batch of completed observations.

    Without an incumbent (``best_value == -inf``) the batch only sets it. Otherwise the
    batch is a success when ``max(batch_values) > best_value + 1e-3 * |best_value|``;
    successes and failures are counted in a row, the length doubles (at most
    ``length_max``) after ``success_tolerance`` successes and halves after
    ``failure_tolerance`` failures. The incumbent moves to the batch's best point
    whenever it beats ``best_value``, by any margin. A length below ``length_min``
    restarts the region (see the module docstring). An empty batch changes nothing.

    Args:
        state: The state before the batch.
        batch_values: ``b`` finite values, larger is better.
        batch_points: The ``b x d`` encoded points where they were observed.

    Returns:
        A new state.

    Raises:
        ValueError: The values are not finite, or do not match the points.
    """
    values = [float(v) for v in batch_values]
    points = torch.as_tensor(batch_points, dtype=torch.float64).detach().cpu()
    if not values:
        return state
    if points.shape != (len(values), state.dim):
        raise ValueError(
            f"batch_points: shape {tuple(points.shape)}; expected ({len(values)}, {state.dim})"
            " (one encoded point per value)"
        )
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"batch_values: {describe(values)}; expected finite numbers")
    best_i = max(range(len(values)), key=values.__getitem__)
    best = values[best_i]

    if state.best_value == -math.inf:
        return replace(state, best_value=best, center=tuple(points[best_i].tolist()))

    length = state.length
    successes, failures = state.success_counter, state.failure_counter
    if best > state.best_value + SUCCESS_MARGIN * abs(state.best_value):
        successes, failures = successes + 1, 0
    else:
        successes, failures = 0, failures + 1
    if successes >= state.success_tolerance:
        length, successes = min(2.0 * length, state.length_max), 0
    elif failures >= state.failure_tolerance:
        length, failures = length / 2.0, 0

    if length < state.length_min:
        return replace(
            state,
            length=state.length_init,
            success_counter=0,
            failure_counter=0,
            best_value=-math.inf,
            center=None,
            restarts=state.restarts + 1,
        )
    improved = best > state.best_value
    return replace(
        state,
        length=length,
        success_counter=successes,
        failure_counter=failures,
        best_value=best if improved else state.best_value,
        center=tuple(points[best_i].tolist()) if improved else state.center,
    )


def region_bounds(state: TrustRegionState, center: Tensor, lengthscales: Tensor | None) -> Tensor:
    """The ``2 x d`` lower and upper bounds of the region around ``center``.

    The side along coordinate ``i`` is ``state.length * w_i``, with
    ``w = lengthscales / mean(lengthscales)`` rescaled to a geometric mean of 1; without
    lengthscales the region is a cube of side ``state.length``. The box is clipped to
    ``[0, 1]^d``.

    Args:
        state: The region's state (its length).
        center: The ``d`` (or ``1 x d``) encoded centre.
        lengthscales: ``d`` positive lengthscales (see :func:`lengthscales_of`), or ``None``.

    Returns:
        A ``2 x d`` float64 tensor on ``center``'s device.

    Examples:
        >>> s = TrustRegionState.initial(dim=2, batch_size=1, length_init=0.4)
        >>> region_bounds(s, torch.tensor([0.5, 0.1]), None)
        tensor([[0.3000, 0.0000],
                [0.7000, 0.3000]], dtype=torch.float64)
    """
    c = center.detach().to(torch.float64).reshape(-1)
    d = state.dim
    if c.numel() != d:
        raise ValueError(f"center: {c.numel()} coordinates; expected {d}")
    if lengthscales is None:
        weights = torch.ones_like(c)
    else:
        ls = lengthscales.detach().to(device=c.device, dtype=torch.float64).reshape(-1)
        if ls.numel() != d or not bool(torch.isfinite(ls).all()) or not bool((ls > 0).all()):
            raise ValueError(
                f"lengthscales: {describe(ls.tolist())}; expected {d} positive numbers"
            )
        weights = ls / ls.mean()
        weights = weights / torch.exp(torch.log(weights).mean())  # prod(w) ** (1/d), stably
    half = 0.5 * state.length * weights
    return torch.stack([(c - half).clamp(0.0, 1.0), (c + half).clamp(0.0, 1.0)])


def _ard_kernel(module: object) -> Kernel | None:
    """The first kernel with ARD lengthscales down the chain of ``base_kernel``."""
    while isinstance(module, Kernel):
        if module.has_lengthscale:
            ard = module.ard_num_dims is not None and getattr(module, "active_dims", None) is None
            return module if ard else None
        module = getattr(module, "base_kernel", None)
    return None


def _input_scale(transform: object, d: int, like: Tensor) -> Tensor:
    """How much a model's affine input transforms stretch each raw input.

    A lengthscale ``l`` in transformed units is ``l * scale`` in raw (encoded) units.
    Transforms other than affine ones (Normalize, InputStandardize) are ignored.
    """
    scale = torch.ones(d, dtype=like.dtype, device=like.device)
    parts = (
        list(transform.values()) if isinstance(transform, ChainedInputTransform) else [transform]
    )
    for part in parts:
        if not isinstance(part, AffineInputTransform):
            continue
        coef = part.coefficient.detach().to(like)
        coef = coef.reshape(-1, coef.shape[-1])[0]
        indices = getattr(part, "indices", None)
        if indices is None and coef.numel() == d:
            scale = scale * coef
        elif indices is not None and coef.numel() == indices.numel():
            scale[indices.to(like.device)] = scale[indices.to(like.device)] * coef
    return scale


def lengthscales_of(model: Model) -> Tensor | None:
    """The ARD lengthscales of a GP, in units of its (encoded) inputs, if it has them.

    BoTorch 0.18's ``SingleTaskGP`` uses the kernel itself (an RBF kernel with
    dimension-scaled priors); a ``ScaleKernel`` is looked through to its base kernel. For a
    model list the first model is used (the first objective); for a batched multi-output
    GP, the first output; for a fully Bayesian GP, the geometric mean over its MCMC
    draws. Lengthscales are multiplied by the ranges of an affine input transform
    (``Normalize``), so they are measured in the units of the inputs the model is given.

    Returns:
        A ``d`` float64 tensor, or ``None`` when the model has no ARD kernel (e.g. an
        isotropic kernel, a kernel on a subset of the inputs, or no GP at all).
    """
    models = getattr(model, "models", None)
    if models is not None:
        return lengthscales_of(models[0]) if len(models) else None
    kernel = _ard_kernel(getattr(model, "covar_module", None))
    if kernel is None:
        return None
    ls = kernel.lengthscale.detach().to(torch.float64)
    d = ls.shape[-1]
    rows = ls.reshape(-1, d)
    if getattr(model, "_is_fully_bayesian", False) or getattr(model, "_is_ensemble", False):
        out = rows.log().mean(dim=0).exp()
    else:
        out = rows[0]
    return out * _input_scale(getattr(model, "input_transform", None), d, out)


BoundsFn = Callable[[TrustRegionState, Tensor, Tensor | None], Tensor]


def propose(
    model: Model,
    state: TrustRegionState,
    center: Tensor,
    n: int,
    *,
    acquisition: AcquisitionFunction,
    bounds_fn: BoundsFn = region_bounds,
    num_restarts: int = 10,
    raw_samples: int = 512,
    X_pending: Tensor | None = None,
    seed: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Maximize ``acquisition`` inside the region for a batch of ``n`` points.

    Args:
        model: The fitted model (its lengthscales shape the region).
        state: The region's state.
        center: The ``d`` encoded centre (normally ``state.center``; after a restart the
            caller chooses one).
        n: Points in the batch (the ``q`` of ``optimize_acqf``).
        acquisition: A BoTorch acquisition function built by the caller on ``model``.
        bounds_fn: Maps ``(state, center, lengthscales)`` to ``2 x d`` bounds.
        num_restarts: Starting points of the gradient-based optimizer.
        raw_samples: Quasi-random points scored to choose the starting points.
        X_pending: Points being evaluated; when given, they replace the acquisition's
            pending points (``set_X_pending``) before the optimization. Leave it
            ``None`` when the acquisition was built with them (qLogNEI would prune
            and re-sample its baseline once more for nothing).
        seed: Seed of the starting points, for reproducible proposals.

    Returns:
        A ``n x d`` tensor of candidates inside the region, and the acquisition value
        of the batch as ``optimize_acqf`` returns it.
    """
    if not _is_int(n) or n < 1:
        raise ValueError(f"n: {describe(n)}; expected a positive integer")
    bounds = bounds_fn(state, center, lengthscales_of(model))
    if X_pending is not None:
        acquisition.set_X_pending(X_pending.to(bounds))
    options: dict[str, bool | float | int | str] | None = None if seed is None else {"seed": seed}
    with warnings.catch_warnings():
        # Restarts that end early are retried by BoTorch itself; the warnings are noise here.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", OptimizationWarning)
        candidates, values = optimize_acqf(
            acquisition,
            bounds=bounds,
            q=n,
            num_restarts=num_restarts,
            raw_samples=raw_samples,
            options=options,
        )
    candidates = torch.minimum(torch.maximum(candidates.detach(), bounds[0]), bounds[1])
    assert values is not None  # optimize_acqf returns them unless told not to
    return candidates, values.detach()


def thompson_candidates(
    model: Model,
    region: Tensor,
    n: int,
    n_candidates: int | None = None,
    seed: int | None = None,
    *,
    center: Tensor,
    objective: MCAcquisitionObjective | None = None,
) -> Tensor:
    """A batch of ``n`` points by Thompson sampling inside the region, as TuRBO does.

    ``n_candidates`` Sobol points are drawn in the region; each candidate takes the
    Sobol coordinate with probability ``min(20 / d, 1)`` and keeps the centre's otherwise
    (at least one coordinate is perturbed), so that in high dimension the candidates
    stay near the incumbent. One joint posterior sample is drawn per point of the batch,
    and each takes the candidate that maximizes it (BoTorch's ``MaxPosteriorSampling``,
    without replacement). Costs a Cholesky factorization of the ``n_candidates``
    posterior covariance, and no gradients.

    Args:
        model: The fitted model.
        region: ``2 x d`` bounds (see :func:`region_bounds`).
        n: Points in the batch.
        n_candidates: Candidates drawn; default ``min(5000, max(2000, 200 * d))``.
        seed: Seed of the Sobol points, the mask and the posterior samples.
        center: The ``d`` encoded centre of the region.
        objective: How to reduce several model outputs to one (e.g. the first output);
            ``None`` for a single-output model.

    Returns:
        A ``n x d`` tensor of distinct candidates on ``region``'s device.
    """
    lower, upper = region[0].to(torch.float64), region[1].to(torch.float64)
    d = lower.numel()
    count = min(5000, max(2000, 200 * d)) if n_candidates is None else n_candidates
    if not _is_int(n) or n < 1:
        raise ValueError(f"n: {describe(n)}; expected a positive integer")
    if not _is_int(count) or count < n:
        raise ValueError(f"n_candidates: {describe(count)}; expected an integer >= n ({n})")
    sobol = SobolEngine(d, scramble=True, seed=seed).draw(count, dtype=torch.float64)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    mask = torch.rand(count, d, generator=generator, dtype=torch.float64) <= min(20.0 / d, 1.0)
    unmasked = torch.nonzero(~mask.any(dim=1)).reshape(-1)
    mask[unmasked, torch.randint(d, (unmasked.numel(),), generator=generator)] = True
    sobol, mask = sobol.to(lower.device), mask.to(lower.device)
    perturbed = lower + (upper - lower) * sobol
    c = center.detach().to(lower).reshape(1, d).expand(count, d)
    X = torch.where(mask, perturbed, c)
    sampler = MaxPosteriorSampling(model=model, objective=objective, replacement=False)
    with (
        torch.no_grad(),
        manual_seed(seed),
        gpytorch.settings.max_cholesky_size(float("inf")),
        warnings.catch_warnings(),
    ):
        # Candidates close together make the joint covariance near-singular; the jitter
        # that the Cholesky factorization then adds is expected, not news.
        warnings.simplefilter("ignore", NumericalWarning)
        return sampler(X, num_samples=n)

"""Convergence diagnostics of MCMC fits, computed by ArviZ.

``r_hat_max`` is the largest rank-normalized split R-hat over every scalar in the
posterior (Vehtari et al. 2021; values above about 1.01 say the chains have not
mixed), ``ess_bulk_min`` and ``ess_tail_min`` the smallest bulk and tail
effective sample sizes, and ``divergences`` the number of divergent NUTS
transitions after warmup. R-hat compares chains; a single chain is split into
two halves, which is the split-R-hat of that chain.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np


def _arviz() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ArviZ announces its 1.0 refactor
        import arviz

    return arviz


def mcmc_diagnostics(
    samples: Mapping[str, Any], diverging: Any = None, *, num_chains: int = 1
) -> dict[str, float]:
    """R-hat, effective sample size and divergences of a set of MCMC draws.

    Args:
        samples: Draws by site name, each of shape ``(num_chains * draws, ...)``
            (chains concatenated, as NumPyro's ``get_samples()`` gives them) or
            ``(num_chains, draws, ...)``.
        diverging: Per-draw divergence flags (any shape), or ``None``.
        num_chains: How many chains the draws came from.

    Returns:
        ``r_hat_max``, ``ess_bulk_min``, ``ess_tail_min``, ``divergences``, ``draws``.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> d = mcmc_diagnostics({"mu": rng.normal(size=400)}, np.zeros(400, bool))
        >>> d["r_hat_max"] < 1.02 and d["ess_bulk_min"] > 200 and d["divergences"] == 0
        True
    """
    az = _arviz()
    posterior: dict[str, np.ndarray] = {}
    draws = 0
    for name, value in samples.items():
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 0:
            continue
        if num_chains == 1 and arr.ndim >= 2 and arr.shape[0] == 1:
            arr = arr[0]  # one chain given chains-first
        if num_chains > 1 and arr.shape[0] != num_chains:
            arr = arr.reshape(num_chains, -1, *arr.shape[1:])
        elif num_chains == 1 and arr.ndim >= 1:
            half = arr.shape[0] // 2
            arr = np.stack([arr[:half], arr[half : 2 * half]])
        posterior[name] = arr
        draws = arr.shape[0] * arr.shape[1]
    if not posterior or draws < 8:
        raise ValueError(f"samples: need at least 8 draws of some site, got {draws}")
    data = az.from_dict(posterior=posterior)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant sites give NaN, dropped below
        rhat = az.rhat(data)
        bulk = az.ess(data, method="bulk")
        tail = az.ess(data, method="tail")

    def values(ds: Any) -> np.ndarray:
        flat = np.concatenate([np.ravel(ds[k].values) for k in ds.data_vars])
        return flat[np.isfinite(flat)]

    r, b, t = values(rhat), values(bulk), values(tail)
    return {
        "r_hat_max": float(r.max()) if r.size else float("nan"),
        "ess_bulk_min": float(b.min()) if b.size else float("nan"),
        "ess_tail_min": float(t.min()) if t.size else float("nan"),
        "divergences": float(np.sum(np.asarray(diverging))) if diverging is not None else 0.0,
        "draws": float(draws),
    }

"""The contract of a user's NumPyro model, checked on every fit before NUTS runs.

:func:`check_contract` traces the model abstractly on the training data and refuses
one that breaks the contract described in :mod:`surrogates.numpyro_model` (the
``"f"`` and ``"y"`` sites, their shapes, continuous latent sites whose shapes do not
depend on the number of points), with a :class:`~surrogates.base.SurrogateError`
naming the site and what was found. It is public as
:func:`surrogates.numpyro_model.check_contract`; import it from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from surrogates.base import SurrogateError

_HINT = (
    "the model must be written as model(X, y=None) with "
    'numpyro.deterministic("f", mean) of shape (n,) and numpyro.sample("y", dist, obs=y)'
)


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    return tuple(int(s) for s in shape) if shape is not None else None


def _untraceable(exc: Exception) -> SurrogateError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return SurrogateError(
        f"numpyro: the model cannot be traced by JAX ({type(exc).__name__}: {first}); write "
        "it with jax.numpy, not numpy or math, and without float(), int() or Python if/for "
        "on values that depend on X or the parameters"
    )


def _sites(model: Callable[..., Any], X: Any, y: Any, what: str) -> dict[str, dict[str, Any]]:
    """What the model's sites are (type, shapes, distribution) when called as ``model(X, y)``.

    The model is traced abstractly (``jax.eval_shape``): nothing is compiled or computed.
    """
    import jax
    from numpyro import handlers

    found: dict[str, dict[str, Any]] = {}

    def probe(X: Any, y: Any) -> Any:
        tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace(X, y)
        for name, site in tr.items():
            info: dict[str, Any] = {
                "type": site["type"],
                "shape": _shape(site.get("value")),
                "observed": bool(site.get("is_observed", False)),
            }
            fn = site.get("fn")
            if site["type"] == "sample" and fn is not None:
                info["dist"] = type(fn).__name__
                info["discrete"] = bool(getattr(fn, "is_discrete", False))
                info["batch_shape"] = tuple(int(k) for k in fn.batch_shape)
                info["event_shape"] = tuple(int(k) for k in fn.event_shape)
                info["log_prob_shape"] = _shape(fn.log_prob(site["value"]))
            found[name] = info
        return X

    try:
        jax.eval_shape(probe, X, y)
    except SurrogateError:
        raise
    except jax.errors.JAXTypeError as exc:
        raise _untraceable(exc) from exc
    except Exception as exc:
        raise SurrogateError(
            f"numpyro: the model raised {type(exc).__name__} ({exc}) when called as "
            f"model(X, {what}) with X of shape {tuple(X.shape)}; {_HINT}"
        ) from exc
    return found


def check_contract(model: Callable[..., Any], X: Any, y: Any) -> list[str]:
    """Check a user's model against the contract on the training data.

    Args:
        model: The user's model.
        X: A ``(n, d)`` JAX array of inputs, as the model receives them.
        y: A ``(n,)`` JAX array of measurements.

    Returns:
        The names of the latent sample sites (the parameters NUTS infers).

    Raises:
        SurrogateError: naming the site that breaks the contract and what was found.
    """
    import jax.numpy as jnp

    n = int(X.shape[0])
    tr = _sites(model, X, y, "y")
    names = sorted(tr)
    if "f" not in tr:
        raise SurrogateError(
            f"numpyro: the model has no site 'f' (its sites are {names}); record the noiseless "
            'mean as numpyro.deterministic("f", mean) with mean of shape (n,)'
        )
    if tr["f"]["type"] != "deterministic":
        raise SurrogateError(
            f"numpyro: site 'f' is a {tr['f']['type']} site; it must be "
            'numpyro.deterministic("f", mean), a function of X and the parameters'
        )
    if tr["f"]["shape"] != (n,):
        raise SurrogateError(
            f"numpyro: site 'f' has shape {tr['f']['shape']}; expected ({n},), one value per "
            f"row of X (X has shape {tuple(X.shape)})"
        )
    if "y" not in tr:
        raise SurrogateError(
            f"numpyro: the model has no site 'y' (its sites are {names}); observe the "
            'measurements with numpyro.sample("y", dist, obs=y)'
        )
    site = tr["y"]
    if site["type"] != "sample" or not site["observed"]:
        kind = site["type"] if site["type"] != "sample" else "latent (unobserved) sample"
        raise SurrogateError(
            f"numpyro: site 'y' is a {kind} site; it must observe the measurements: "
            'numpyro.sample("y", dist, obs=y)'
        )
    if site["shape"] != (n,):
        raise SurrogateError(
            f"numpyro: site 'y' observes a value of shape {site['shape']}; expected ({n},), "
            "the y passed to the model: pass obs=y unchanged"
        )
    if site["log_prob_shape"] != (n,):
        raise SurrogateError(
            f"numpyro: site 'y' has a {site['dist']} distribution with batch_shape "
            f"{site['batch_shape']} and event_shape {site['event_shape']}; expected "
            f"batch_shape ({n},) and event_shape (), n independent observations (no "
            ".to_event, no multivariate likelihood)"
        )
    latent = {k: v for k, v in tr.items() if v["type"] == "sample" and not v["observed"]}
    if not latent:
        raise SurrogateError(
            "numpyro: the model has no latent sample sites; give the unknown constants of the "
            'process priors, e.g. a = numpyro.sample("a", dist.LogNormal(0.0, 1.0))'
        )
    for name, v in latent.items():
        if v["discrete"]:
            raise SurrogateError(
                f"numpyro: latent site '{name}' has a discrete distribution ({v['dist']}); "
                "NUTS infers continuous parameters only"
            )
    # At another number of points, with y=None as when the framework predicts.
    m = n + 1
    X_new = jnp.concatenate([X, X[:1]], axis=0)
    new = _sites(model, X_new, None, "None")
    for name in ("f", "y"):
        got = new[name]["shape"] if name in new else None
        if got != (m,):
            raise SurrogateError(
                f"numpyro: with y=None and X of shape {tuple(X_new.shape)}, site '{name}' has "
                f"shape {got}; expected ({m},), so that it predicts at new points"
            )
    for name, v in latent.items():
        got = new[name]["shape"] if name in new else None
        if got != v["shape"]:
            raise SurrogateError(
                f"numpyro: latent site '{name}' has shape {v['shape']} with {n} points and "
                f"{got} with {m}; the parameters must not depend on the number of points "
                "(per-point latent variables cannot be predicted at new points)"
            )
    return sorted(latent)

"""``"saas"``: BoTorch's fully Bayesian GP with the SAAS prior, fitted by NUTS.

The model is BoTorch's :class:`~botorch.models.fully_bayesian.SaasFullyBayesianSingleTaskGP`
(Eriksson & Jankowiak 2021): a Matern-5/2 GP whose inverse squared lengthscales have
half-Cauchy priors scaled by a global shrinkage ``tau``, so that by default every input is
irrelevant and only inputs the data support get short lengthscales,
``rho_i^{-2} = tau * lambda_i`` with ``tau ~ HC(0.1)``, ``lambda_i ~ HC(1)``.
The hyperparameters are sampled by NUTS on NumPyro exactly as
:func:`botorch.fit.fit_fully_bayesian_model_nuts` does it (same NUTS settings, same
thinning and post-processing); the sampler is driven here only so that its divergences
are kept, and R-hat, effective sample sizes and divergences are recorded in the fit info.
JAX and NumPyro are imported at the first fit, not with this module.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from botorch.models.model import Model
from botorch.models.model_list_gp_regression import ModelListGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from torch import Tensor

from surrogates.base import (
    FitSpec,
    SurrogateError,
    check_training_data,
    set_fit_info,
    warn_fallback,
)
from surrogates.gp import ExactGP
from surrogates.mcmc import mcmc_diagnostics

_DIAGNOSTICS = ("r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences")


@dataclass
class SaasGP:
    """Fully Bayesian SAAS GP: one MCMC draw of the hyperparameters per mixture component.

    Inputs are normalized from ``spec.bounds`` and each outcome standardized, as BoTorch
    recommends for this model. Several outcomes get one independent SAAS GP each, in a
    :class:`~botorch.models.ModelListGP` (BoTorch's SAAS model has a single output);
    outcome ``i > 0`` is sampled with the key ``fold_in(PRNGKey(seed), i)``.

    The fit info holds the NUTS settings, ``num_mcmc_draws`` (draws kept in the model,
    ``ceil(num_chains * num_samples / thinning)``, chains pooled before thinning as
    BoTorch does), ``fit_seconds`` (the whole fit), ``nuts_seconds`` (in NUTS alone, JAX
    compilation included), and the diagnostics of :func:`surrogates.mcmc.mcmc_diagnostics`
    computed on all post-warmup draws (before thinning) of the sampled sites:
    ``r_hat_max``, ``ess_bulk_min``, ``ess_tail_min`` and ``divergences`` (for several
    outcomes the worst over outcomes, divergences summed; each outcome's model carries
    its own). If NUTS fails, the exact GP (``"gp"``) is used
    instead, with a :class:`~surrogates.base.SurrogateFallbackWarning` and
    ``fallback = "gp"`` in the fit info.

    Limitations: categorical columns (``spec.cat_dims``) are treated as continuous
    (their encoded indices get a lengthscale like any other input). NUTS runs in JAX, in
    JAX's default precision (float32 unless ``jax_enable_x64`` is set, as in BoTorch) and
    on JAX's default device; the fitted model is built on ``train_X``'s device and dtype.

    Args:
        warmup_steps: NUTS warmup (adaptation) steps, discarded.
        num_samples: Post-warmup NUTS draws per chain.
        thinning: Every ``thinning``-th draw is kept in the model.
        max_tree_depth: Maximum NUTS tree depth (at most ``2**max_tree_depth`` leapfrog
            steps per draw).
        num_chains: Independent chains, drawn in parallel when JAX has enough devices
            and one after another otherwise; their kept draws are pooled.

    Examples:
        >>> X = torch.rand(10, 3, dtype=torch.float64)
        >>> Y = torch.sin(6 * X[:, :1])
        >>> spec = FitSpec(bounds=torch.stack([torch.zeros(3), torch.ones(3)]).double())
        >>> saas = SaasGP(warmup_steps=32, num_samples=32, thinning=4)
        >>> model = saas.fit(X, Y, spec)  # doctest: +SKIP
        >>> model.posterior(X).mean.shape  # doctest: +SKIP
        torch.Size([8, 10, 1])
    """

    name: str = "saas"
    warmup_steps: int = 512
    num_samples: int = 256
    thinning: int = 16
    max_tree_depth: int = 6
    num_chains: int = 1

    def __post_init__(self) -> None:
        minimum = {
            "warmup_steps": 0,
            "num_samples": 1,
            "thinning": 1,
            "max_tree_depth": 1,
            "num_chains": 1,
        }
        for option, least in minimum.items():
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise SurrogateError(f"saas: {option} must be an integer >= {least}, got {value!r}")

    def _settings(self, seed: int) -> dict[str, float | int | str]:
        return {
            "warmup_steps": self.warmup_steps,
            "num_samples": self.num_samples,
            "thinning": self.thinning,
            "max_tree_depth": self.max_tree_depth,
            "num_chains": self.num_chains,
            "seed": seed,
        }

    def _build(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec) -> Any:
        from botorch.models.fully_bayesian import SaasFullyBayesianSingleTaskGP  # imports JAX

        return SaasFullyBayesianSingleTaskGP(
            train_X,
            train_Y,
            input_transform=Normalize(d=train_X.shape[-1], bounds=spec.bounds.to(train_X)),
            outcome_transform=Standardize(m=1),
        )

    def _run_nuts(self, model: Any, rng_key: Any) -> dict[str, float]:
        """Sample ``model``'s hyperparameters as ``fit_fully_bayesian_model_nuts`` does.

        Returns:
            The diagnostics of the post-warmup draws and the seconds in NUTS; the thinned
            draws are loaded into ``model``, which is left in eval mode.
        """
        import jax
        from numpyro.infer import MCMC, NUTS

        model.train()
        nuts = NUTS(model.pyro_model.sample, dense_mass=True, max_tree_depth=self.max_tree_depth)
        # Choosing the chain method here avoids NumPyro's warning for too few devices.
        parallel = jax.local_device_count() >= self.num_chains
        mcmc = MCMC(
            nuts,
            num_warmup=self.warmup_steps,
            num_samples=self.num_samples,
            num_chains=self.num_chains,
            chain_method="parallel" if parallel else "sequential",
            progress_bar=False,
        )
        t0 = time.perf_counter()
        mcmc.run(rng_key, extra_fields=("diverging",))
        samples = jax.block_until_ready(mcmc.get_samples())  # JAX returns before it is done
        nuts_seconds = time.perf_counter() - t0

        # Diagnostics first: BoTorch's post-processing deletes sites from the dict.
        latent = {k: np.array(samples[k]) for k in mcmc.last_state.z}
        diverging = np.array(mcmc.get_extra_fields()["diverging"])
        try:
            diagnostics = mcmc_diagnostics(latent, diverging, num_chains=self.num_chains)
        except Exception:  # e.g. too few draws for R-hat: unknown, but the fit stands
            diagnostics = {k: math.nan for k in _DIAGNOSTICS}
            diagnostics["divergences"] = float(diverging.sum())
        diagnostics.pop("draws", None)
        diagnostics["nuts_seconds"] = nuts_seconds

        mcmc_samples = model.pyro_model.postprocess_mcmc_samples(mcmc_samples=dict(samples))
        for k, v in mcmc_samples.items():
            mcmc_samples[k] = v[:: self.thinning]
        bad = [k for k, v in mcmc_samples.items() if not torch.isfinite(v).all()]
        if bad:
            raise RuntimeError(f"NUTS drew non-finite values of {bad}")
        model.load_mcmc_samples(mcmc_samples)
        model.eval()
        return diagnostics

    def fit(self, train_X: Tensor, train_Y: Tensor, spec: FitSpec) -> Model:
        """Sample the SAAS GP's hyperparameters by NUTS.

        Args:
            train_X: A ``n x d``-dim tensor of inputs within ``spec.bounds``.
            train_Y: A ``n x m``-dim tensor of outcomes.
            spec: The bounds, and the seed of the NUTS key ``PRNGKey(seed)`` (``None``
                means 0); the same seed gives the same model, bit for bit.

        Returns:
            A fitted :class:`SaasFullyBayesianSingleTaskGP` in eval mode whose batch
            holds one GP per kept MCMC draw (a :class:`ModelListGP` of them for
            ``m > 1``), or the exact GP if NUTS failed.
        """
        check_training_data(train_X, train_Y, spec, min_points=2)
        import jax

        seed = 0 if spec.seed is None else int(spec.seed)
        settings = self._settings(seed)
        start = time.perf_counter()
        try:
            base_key = jax.random.PRNGKey(seed)
            models: list[Any] = []
            diagnostics: list[dict[str, float]] = []
            for i in range(train_Y.shape[-1]):
                t0 = time.perf_counter()
                model = self._build(train_X, train_Y[:, i : i + 1], spec)
                key = base_key if i == 0 else jax.random.fold_in(base_key, i)
                diagnostics.append(self._run_nuts(model, key))
                set_fit_info(
                    model,
                    **settings,
                    num_mcmc_draws=model.num_mcmc_samples,
                    fit_seconds=time.perf_counter() - t0,
                    **diagnostics[-1],
                )
                models.append(model)
        except Exception as exc:  # a failed fit must not stop the loop
            fallback = ExactGP().fit(train_X, train_Y, spec)
            warn_fallback(
                f"saas: NUTS failed ({type(exc).__name__}: {exc}); using the exact GP "
                "('gp') instead"
            )
            set_fit_info(
                fallback,
                **settings,
                fallback="gp",
                fallback_reason=f"{type(exc).__name__}: {exc}"[:500],
                fit_seconds=time.perf_counter() - start,
            )
            return fallback

        result: Model
        if len(models) == 1:
            result = models[0]
        else:
            result = ModelListGP(*models)
            # Each component is fully Bayesian, so the posterior has an MCMC batch
            # dimension; this tells surrogates.predictive to read it as a mixture.
            result._is_fully_bayesian = True
            result.eval()
        set_fit_info(
            result,
            **settings,
            num_mcmc_draws=models[0].num_mcmc_samples,
            fit_seconds=time.perf_counter() - start,
            # The worst outcome's diagnostics (NaN, unknown, if any outcome's is NaN).
            r_hat_max=float(np.max([d["r_hat_max"] for d in diagnostics])),
            ess_bulk_min=float(np.min([d["ess_bulk_min"] for d in diagnostics])),
            ess_tail_min=float(np.min([d["ess_tail_min"] for d in diagnostics])),
            divergences=float(np.sum([d["divergences"] for d in diagnostics])),
            nuts_seconds=float(np.sum([d["nuts_seconds"] for d in diagnostics])),
        )
        if spec.cat_dims:
            set_fit_info(result, categorical_as_continuous=len(spec.cat_dims))
        return result

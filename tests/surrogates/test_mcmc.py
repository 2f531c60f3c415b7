"""MCMC diagnostics: R-hat, effective sample size and divergences of known draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from surrogates.mcmc import mcmc_diagnostics


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def ar1(n: int, phi: float, seed: int = 0) -> np.ndarray:
    """A stationary AR(1) chain: ``x_t = phi x_{t-1} + e_t``; its ESS is about
    ``n (1 - phi) / (1 + phi)``."""
    noise = rng(seed).normal(size=n)
    x = np.empty(n)
    x[0] = noise[0] / np.sqrt(1 - phi**2)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    return x


def test_iid_draws_have_r_hat_near_one_and_ess_near_the_draws() -> None:
    draws = rng().normal(size=(1000, 3))
    d = mcmc_diagnostics({"theta": draws, "mu": rng(1).normal(size=1000)})
    assert set(d) == {"r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences", "draws"}
    assert 1.0 - 0.01 < d["r_hat_max"] < 1.02
    assert 700 < d["ess_bulk_min"] <= 1300
    assert 600 < d["ess_tail_min"] <= 1300
    assert d["draws"] == 1000
    assert d["divergences"] == 0


def test_two_chains_with_different_means_do_not_mix() -> None:
    chains = np.concatenate([rng(0).normal(size=300), 2.0 + rng(1).normal(size=300)])
    d = mcmc_diagnostics({"mu": chains}, num_chains=2)
    assert d["r_hat_max"] > 1.1
    assert d["draws"] == 600
    # The same draws from one distribution, also given chains first, do mix.
    mixed = rng(2).normal(size=(2, 300))
    assert mcmc_diagnostics({"mu": mixed}, num_chains=2)["r_hat_max"] < 1.02
    # Chains first and chains concatenated are the same draws.
    stacked = mcmc_diagnostics({"mu": chains.reshape(2, 300)}, num_chains=2)
    assert stacked["r_hat_max"] == pytest.approx(d["r_hat_max"])


def test_four_chains_of_a_vector_site() -> None:
    good = rng(0).normal(size=(4 * 200, 2))
    bad = good.copy()
    bad[600:, 1] += 3.0  # the last chain of the second coordinate is elsewhere
    assert mcmc_diagnostics({"w": good}, num_chains=4)["r_hat_max"] < 1.02
    d = mcmc_diagnostics({"w": bad}, num_chains=4)
    assert d["r_hat_max"] > 1.1
    assert d["draws"] == 800


def test_r_hat_max_is_the_worst_site() -> None:
    good = rng(0).normal(size=400)
    bad = np.concatenate([rng(1).normal(size=200), 3.0 + rng(2).normal(size=200)])
    both = mcmc_diagnostics({"good": good, "bad": bad})
    assert both["r_hat_max"] == pytest.approx(mcmc_diagnostics({"bad": bad})["r_hat_max"])
    assert both["r_hat_max"] > 1.5


def test_an_autocorrelated_chain_has_a_small_ess() -> None:
    n, phi = 4000, 0.95
    d = mcmc_diagnostics({"x": ar1(n, phi)})
    expected = n * (1 - phi) / (1 + phi)  # about 103
    assert d["ess_bulk_min"] < 4 * expected
    assert d["ess_bulk_min"] > expected / 4
    assert d["ess_bulk_min"] < 0.1 * mcmc_diagnostics({"x": rng().normal(size=n)})["ess_bulk_min"]
    # The minimum is over sites: next to iid draws, the autocorrelated site sets it.
    both = mcmc_diagnostics({"iid": rng(5).normal(size=n), "x": ar1(n, phi)})
    assert both["ess_bulk_min"] == pytest.approx(d["ess_bulk_min"])
    assert both["ess_tail_min"] == pytest.approx(d["ess_tail_min"])


def test_bulk_and_tail_ess_are_rank_based() -> None:
    # Rank-normalized ESS does not change under a monotone transform; the plain ESS of
    # the mean does (the exponential of an AR(1) chain is heavy-tailed).
    x = ar1(2000, 0.8, seed=1)
    d, transformed = mcmc_diagnostics({"x": x}), mcmc_diagnostics({"x": np.exp(2 * x)})
    assert transformed["ess_bulk_min"] == pytest.approx(d["ess_bulk_min"], rel=1e-9)
    assert transformed["ess_tail_min"] == pytest.approx(d["ess_tail_min"], rel=1e-9)


def test_divergences_are_counted() -> None:
    diverging = np.zeros(400, dtype=bool)
    diverging[[3, 50, 51, 399]] = True
    d = mcmc_diagnostics({"mu": rng().normal(size=400)}, diverging)
    assert d["divergences"] == 4
    # Any shape of flags, numpy or torch.
    flags = torch.zeros(2, 200, dtype=torch.bool)
    flags[1, :7] = True
    assert mcmc_diagnostics({"mu": rng().normal(size=400)}, flags, num_chains=2)["divergences"] == 7
    assert mcmc_diagnostics({"mu": rng().normal(size=400)})["divergences"] == 0


def test_a_single_chain_is_split_in_halves() -> None:
    # Each half is well mixed on its own; the halves disagree, so split R-hat is large.
    chain = np.concatenate([rng(0).normal(size=200), 2.0 + rng(1).normal(size=200)])
    d = mcmc_diagnostics({"mu": chain})
    assert d["r_hat_max"] > 1.3
    # An odd number of draws drops the last one.
    assert mcmc_diagnostics({"mu": rng().normal(size=101)})["draws"] == 100
    # A slow trend within one chain is caught by the split too.
    trend = np.linspace(0.0, 3.0, 400) + 0.3 * rng(3).normal(size=400)
    assert mcmc_diagnostics({"mu": trend})["r_hat_max"] > 1.3


def test_torch_tensors_are_accepted() -> None:
    draws = torch.randn(300, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    d = mcmc_diagnostics({"lengthscale": draws, "noise": draws[:, 0].exp()})
    assert d["r_hat_max"] < 1.03 and d["draws"] == 300


def test_constant_sites_are_ignored_and_scalars_skipped() -> None:
    d = mcmc_diagnostics(
        {"mu": rng().normal(size=200), "fixed": np.ones(200), "scalar": np.float64(3.0)}
    )
    assert np.isfinite(d["r_hat_max"]) and d["r_hat_max"] < 1.05
    assert np.isfinite(d["ess_bulk_min"]) and np.isfinite(d["ess_tail_min"])


def test_too_few_draws_raise() -> None:
    with pytest.raises(ValueError, match="at least 8 draws"):
        mcmc_diagnostics({"mu": rng().normal(size=7)})
    with pytest.raises(ValueError, match="at least 8 draws"):
        mcmc_diagnostics({"mu": rng().normal(size=(2, 3))}, num_chains=2)
    with pytest.raises(ValueError, match="at least 8 draws"):
        mcmc_diagnostics({})
    with pytest.raises(ValueError, match="at least 8 draws"):
        mcmc_diagnostics({"scalar": np.float64(1.0)})
    assert mcmc_diagnostics({"mu": rng().normal(size=8)})["draws"] == 8


def test_one_chain_given_chains_first() -> None:
    draws = rng().normal(size=400)
    flat = mcmc_diagnostics({"mu": draws})
    chains_first = mcmc_diagnostics({"mu": draws.reshape(1, 400)})
    assert chains_first["draws"] == 400
    assert chains_first["r_hat_max"] == pytest.approx(flat["r_hat_max"])

"""``"auto"``: the candidate with the lowest k-fold NLPD wins, and the choice is explained.

Stand-in surrogates (anything with ``name`` and ``fit``) make the outcome of each rule
certain: a constant prediction with a known spread has a known NLPD, a fit that sleeps
spends a known time, a fit that raises is not used.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from botorch.models import SingleTaskGP

from surrogates import (
    AutoSurrogate,
    FitSpec,
    GaussianMixture,
    SurrogateError,
    SurrogateFallbackWarning,
    SurrogateRegistry,
    default_registry,
)
from surrogates.base import fit_info
from surrogates.validation import HeldOut, held_out_of

DTYPE = torch.float64
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def spec(seed: int | None = 0) -> FitSpec:
    return FitSpec(bounds=torch.tensor([[0.0], [6.0]], dtype=DTYPE), seed=seed)


def smooth_data(n: int = 12):
    X = torch.linspace(0, 6, n, dtype=DTYPE).unsqueeze(-1)
    return X, torch.sin(X) + 0.01 * torch.cos(7 * X)


class Constant:
    """Predicts ``N(mean of the training Y, sd^2)`` everywhere."""

    def __init__(self, train_Y: torch.Tensor, sd: float) -> None:
        self.loc, self.sd = train_Y.mean(0), sd

    def predictive(self, X: torch.Tensor) -> GaussianMixture:
        locs = self.loc.expand(1, X.shape[0], -1).clone()
        return GaussianMixture(locs, torch.full_like(locs, self.sd))


@dataclass
class Flat:
    """A stand-in surrogate; ``fail_below`` makes fits on fewer points raise (so the full
    fit works and the cross-validation does not)."""

    name: str = "flat"
    sd: float = 1.0
    sleep: float = 0.0
    error: str | None = None
    fallback: bool = False
    fail_below: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def fit(self, train_X: torch.Tensor, train_Y: torch.Tensor, spec: FitSpec) -> Constant:
        time.sleep(self.sleep)
        if self.error is not None:
            raise SurrogateError(self.error)
        if len(train_Y) < self.fail_below:
            raise RuntimeError(f"only {len(train_Y)} points")
        if self.fallback:
            warnings.warn("flat: fell back", SurrogateFallbackWarning, stacklevel=2)
        return Constant(train_Y, self.sd)


def registry(**candidates: Any) -> SurrogateRegistry:
    """The real ``"gp"`` plus stand-ins by name (``name=dict(options)``)."""
    found = SurrogateRegistry()
    found.register("gp", default_registry().factory("gp"))
    for name, options in candidates.items():
        found.register(name, lambda _n=name, _o=options, **kw: Flat(name=_n, **{**_o, **kw}))
    return found


@dataclass
class LocalAuto(AutoSurrogate):
    """``AutoSurrogate`` creating candidates from a given registry instead of the default."""

    registry: SurrogateRegistry = field(default_factory=SurrogateRegistry)

    def _create(self, name: str) -> Any:
        return self.registry.create(name, **dict(self.options.get(name, {})))


def nlpd_of_constant(sd: float) -> float:
    """NLPD of ``N(mu, sd^2)`` when ``|y - mu|`` is at most 2 and ``sd`` is large."""
    return math.log(sd) + HALF_LOG_2PI


# --- the choice ---------------------------------------------------------------------------


def test_the_gp_beats_a_deliberately_bad_surrogate() -> None:
    X, Y = smooth_data()
    auto = LocalAuto(candidates=("wide", "gp"), registry=registry(wide={"sd": 50.0}))
    model = auto.fit(X, Y, spec())
    assert isinstance(model, SingleTaskGP)
    assert model.train_inputs[0].shape[0] == 12  # fitted on all the data
    info = fit_info(model)
    assert info["auto_choice"] == "gp"
    assert info["auto_nlpd_gp"] < info["auto_nlpd_wide"]
    assert info["auto_nlpd_wide"] == pytest.approx(nlpd_of_constant(50.0), abs=1e-3)
    reason = str(info["auto_reason"])
    assert reason.startswith("lowest 5-fold NLPD (gp ")
    assert f"wide {info['auto_nlpd_wide']:.3f}" in reason
    assert f"gp {info['auto_nlpd_gp']:.3f}" in reason
    assert float(info["auto_seconds"]) >= 0
    held = held_out_of(model)
    assert isinstance(held, HeldOut)
    assert held.method == "5-fold" and held.complete
    torch.testing.assert_close(held.observed.sort(0).values, Y.sort(0).values)
    assert held.scores()["nlpd"] == pytest.approx(info["auto_nlpd_gp"], abs=1e-6)


@pytest.mark.parametrize("order", [("narrow", "wide"), ("wide", "narrow")])
def test_the_lower_nlpd_wins_whatever_the_order(order: tuple[str, str]) -> None:
    X, Y = smooth_data()
    # Y spans [-1, 1]: sd 2 fits it better than sd 20.
    auto = LocalAuto(candidates=order, registry=registry(narrow={"sd": 2.0}, wide={"sd": 20.0}))
    model = auto.fit(X, Y, spec())
    info = fit_info(model)
    assert info["auto_choice"] == "narrow"
    assert isinstance(model, Constant) and model.sd == 2.0
    assert info["auto_nlpd_wide"] == pytest.approx(nlpd_of_constant(20.0), abs=2e-3)
    assert str(info["auto_reason"]).startswith("lowest 5-fold NLPD (narrow ")


def test_options_reach_the_candidate_and_folds_are_used() -> None:
    X, Y = smooth_data()
    auto = LocalAuto(
        candidates=("flat",), options={"flat": {"sd": 30.0}}, folds=3, registry=registry(flat={})
    )
    model = auto.fit(X, Y, spec())
    assert model.sd == 30.0
    assert str(fit_info(model)["auto_reason"]).startswith("lowest 3-fold NLPD (flat ")
    assert held_out_of(model).method == "3-fold"


def test_the_real_registry_and_gp() -> None:
    X, Y = smooth_data(8)
    model = AutoSurrogate(candidates=("gp",), folds=2).fit(X, Y, spec())
    assert isinstance(model, SingleTaskGP)
    assert fit_info(model)["auto_choice"] == "gp"
    # Candidate names are checked when auto is built, before any data is seen.
    with pytest.raises(SurrogateError, match=r"candidates \['auto'\] are not valid"):
        AutoSurrogate(candidates=("auto",))
    with pytest.raises(SurrogateError, match=r"candidates \['rf'\] are not valid; valid names"):
        AutoSurrogate(candidates=("gp", "rf"))


def test_seeded_choice_is_reproducible() -> None:
    X, Y = smooth_data(15)
    reg = registry(a={"sd": 1.0}, b={"sd": 3.0})

    def run(seed: int) -> tuple[dict[str, Any], HeldOut]:
        model = LocalAuto(candidates=("a", "b"), registry=reg).fit(X, Y, spec(seed))
        info = {k: v for k, v in fit_info(model).items() if k != "auto_seconds"}
        return info, held_out_of(model)

    (info1, held1), (info2, held2), (info3, held3) = run(5), run(5), run(6)
    assert info1 == info2
    torch.testing.assert_close(held1.observed, held2.observed)
    assert not torch.equal(held1.observed, held3.observed)  # other folds for another seed
    assert info1["auto_nlpd_a"] != info3["auto_nlpd_a"]


# --- large n ------------------------------------------------------------------------------


def test_past_large_n_the_gp_is_replaced_by_the_sparse_gp() -> None:
    X, Y = smooth_data(12)
    reg = registry(sparse_gp={"sd": 2.0}, wide={"sd": 20.0})
    model = LocalAuto(candidates=("gp", "wide"), large_n=12, registry=reg).fit(X, Y, spec())
    info = fit_info(model)
    assert info["auto_choice"] == "sparse_gp"
    assert "auto_nlpd_gp" not in info and "auto_nlpd_sparse_gp" in info
    assert "gp replaced by sparse_gp at n=12 >= large_n=12" in str(info["auto_reason"])
    # Below large_n the exact GP is a candidate.
    model = LocalAuto(candidates=("gp", "wide"), large_n=13, registry=reg).fit(X, Y, spec())
    info = fit_info(model)
    assert info["auto_choice"] == "gp" and "auto_nlpd_sparse_gp" not in info
    assert "replaced" not in str(info["auto_reason"])


def test_gp_and_sparse_gp_past_large_n_score_the_sparse_gp_once() -> None:
    X, Y = smooth_data(12)
    reg = registry(sparse_gp={"sd": 2.0})
    auto = LocalAuto(candidates=("gp", "sparse_gp"), large_n=5, registry=reg)
    info = fit_info(auto.fit(X, Y, spec()))
    assert [k for k in info if k.startswith("auto_nlpd_")] == ["auto_nlpd_sparse_gp"]
    assert str(info["auto_reason"]).startswith("lowest 5-fold NLPD (sparse_gp ")


def test_past_large_n_with_the_default_registry() -> None:
    if "sparse_gp" not in default_registry():
        pytest.skip("sparse_gp is not registered in default_registry() yet")
    X, Y = smooth_data(12)
    model = AutoSurrogate(candidates=("gp",), large_n=10, folds=2).fit(X, Y, spec())
    info = fit_info(model)
    assert info["auto_choice"] == "sparse_gp"
    assert "gp replaced by sparse_gp at n=12 >= large_n=10" in str(info["auto_reason"])


# --- candidates that are skipped or fail --------------------------------------------------


def test_a_candidate_that_would_exceed_the_time_limit_is_skipped() -> None:
    X, Y = smooth_data()
    reg = registry(fast={"sd": 20.0}, slow={"sd": 2.0, "sleep": 0.1})
    auto = LocalAuto(candidates=("fast", "slow"), time_limit=0.45, registry=reg)
    info = fit_info(auto.fit(X, Y, spec()))
    # slow would be the better choice, but 5 folds of 0.1 s exceed even the whole limit.
    assert info["auto_choice"] == "fast"
    assert "auto_nlpd_slow" not in info
    assert "slow skipped: its 5-fold cross-validation would take about" in str(info["auto_reason"])


def test_once_the_time_limit_is_spent_later_candidates_are_skipped() -> None:
    X, Y = smooth_data()
    reg = registry(slow={"sd": 20.0, "sleep": 0.03}, fast={"sd": 2.0})
    auto = LocalAuto(candidates=("slow", "fast"), time_limit=0.1, registry=reg)
    info = fit_info(auto.fit(X, Y, spec()))
    # The first candidate is always scored, even past the limit.
    assert info["auto_choice"] == "slow"
    assert "fast skipped: time limit 0.1 s spent" in str(info["auto_reason"])


def test_failing_candidates_are_reported_as_not_used() -> None:
    X, Y = smooth_data()
    reg = registry(
        broken={"error": "cannot fit this"},
        fallback={"fallback": True},
        fragile={"fail_below": 12},
        tiny={"sd": 1e-200},
        ok={"sd": 2.0},
    )
    auto = LocalAuto(
        candidates=("broken", "fallback", "fragile", "tiny", "ok"), time_limit=60, registry=reg
    )
    info = fit_info(auto.fit(X, Y, spec()))
    assert info["auto_choice"] == "ok"
    assert [k for k in info if k.startswith("auto_nlpd_")] == ["auto_nlpd_ok"]
    reason = str(info["auto_reason"])
    assert "broken not used: cannot fit this" in reason
    assert "fallback not used: flat: fell back" in reason
    assert "fragile not scored: RuntimeError: only" in reason
    assert "tiny not used: held-out NLPD is " in reason


def test_nothing_scored_raises() -> None:
    X, Y = smooth_data()
    reg = registry(broken={"error": "cannot fit this"}, fragile={"fail_below": 12})
    auto = LocalAuto(candidates=("broken", "fragile"), registry=reg)
    with pytest.raises(SurrogateError, match="no candidate") as raised:
        auto.fit(X, Y, spec())
    assert "broken not used: cannot fit this" in str(raised.value)
    assert "fragile not scored" in str(raised.value)
    with pytest.raises(SurrogateError, match="expected a list of surrogate names"):
        LocalAuto(candidates=(), registry=reg)


def test_auto_needs_three_points() -> None:
    X, Y = smooth_data(2)
    with pytest.raises(SurrogateError, match="at least 3"):
        LocalAuto(candidates=("flat",), registry=registry(flat={})).fit(X, Y, spec())

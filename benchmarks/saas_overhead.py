"""Overhead of this project's SAAS surrogate over BoTorch's own fully Bayesian fit.

Two ways to get the same model on the same data and seed:

* ``ours``: ``surrogates.saas.SaasGP(...).fit(X, Y, spec)``: NUTS driven by this project
  (divergences kept, ArviZ diagnostics computed, fit info recorded).
* ``direct``: ``SaasFullyBayesianSingleTaskGP(X, Y, Normalize, Standardize)`` then
  ``botorch.fit.fit_fully_bayesian_model_nuts(model, ..., seed=seed)``.

Data: ``d = 10`` inputs of which 2 are active, ``f(x) = sin(6 x_1) + 4 (x_2 - 1/2)^2`` plus
noise of standard deviation 0.05, at ``n = 20`` and ``n = 40`` uniform points; seeds 0, 1, 2
(the seed draws the data and is the NUTS seed). Both fits are timed around the whole call,
model construction included, in wall seconds; they are interleaved per seed, the order
alternating, after one untimed warm-up fit per data shape that pays JAX's one-time
compilations. The time in NUTS (``MCMC.run`` until its draws exist; JAX compiles the sampler
anew at every fit, so that is in it) is split off for both: on 2 shared cores it swings
several-fold from fit to fit with the other load, while the rest (set-up, post-processing,
loading the draws, and for ours the ArviZ diagnostics) is where any overhead of ours lies.
Also reported: the largest absolute difference between the two models' posterior means at
200 test points (the same seed should give the same draws, so 0), and this project's NUTS
diagnostics. The table is printed and written to ``benchmarks/results/saas_overhead.md``.
Uses CUDA for the models when torch sees it (NUTS itself runs wherever JAX runs).

BoTorch's default NUTS settings (512 warmup steps, 256 draws, thinning 16) take minutes per
fit on 2 shared cores, so the default here is 128 / 128 / thinning 8;
``--botorch-defaults`` uses BoTorch's.

Run from the repository root::

    .venv/bin/python benchmarks/saas_overhead.py                      # 12 timed fits
    .venv/bin/python benchmarks/saas_overhead.py --quick              # smoke run
    .venv/bin/python benchmarks/saas_overhead.py --botorch-defaults   # 512 / 256 / 16
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from botorch.fit import fit_fully_bayesian_model_nuts
from botorch.models.fully_bayesian import SaasFullyBayesianSingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize

from surrogates.base import FitSpec, fit_info
from surrogates.saas import SaasGP

RESULTS = Path(__file__).resolve().parent / "results" / "saas_overhead.md"
DIM, ACTIVE, NOISE_SD, N_TEST = 10, 2, 0.05, 200


@dataclass(frozen=True)
class Settings:
    warmup_steps: int
    num_samples: int
    thinning: int

    def __str__(self) -> str:
        return f"warmup {self.warmup_steps}, samples {self.num_samples}, thinning {self.thinning}"


@dataclass
class Pair:
    n: int
    seed: int
    ours_s: float
    direct_s: float
    ours_nuts: float
    direct_nuts: float
    max_abs_diff: float
    info: dict[str, float | int | str] = field(default_factory=dict)


def problem(n: int, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, DIM, generator=gen, dtype=torch.float64)
    f = torch.sin(6 * X[:, 0]) + 4 * (X[:, 1] - 0.5) ** 2
    Y = (f + NOISE_SD * torch.randn(n, generator=gen, dtype=torch.float64)).unsqueeze(-1)
    return X.to(device), Y.to(device)


def bounds(device: torch.device) -> torch.Tensor:
    return torch.stack([torch.zeros(DIM), torch.ones(DIM)]).to(device=device, dtype=torch.float64)


def fit_ours(X: torch.Tensor, Y: torch.Tensor, seed: int, s: Settings) -> Model:
    spec = FitSpec(bounds=bounds(X.device), seed=seed)
    return SaasGP(warmup_steps=s.warmup_steps, num_samples=s.num_samples, thinning=s.thinning).fit(
        X, Y, spec
    )


def fit_direct(X: torch.Tensor, Y: torch.Tensor, seed: int, s: Settings) -> Model:
    model = SaasFullyBayesianSingleTaskGP(
        X,
        Y,
        input_transform=Normalize(d=DIM, bounds=bounds(X.device)),
        outcome_transform=Standardize(m=1),
    )
    fit_fully_bayesian_model_nuts(
        model,
        warmup_steps=s.warmup_steps,
        num_samples=s.num_samples,
        thinning=s.thinning,
        disable_progbar=True,
        seed=seed,
    )
    return model


@contextmanager
def nuts_timer() -> Iterator[list[float]]:
    """Record the wall seconds of every ``MCMC.run``, until its draws exist.

    JAX dispatches asynchronously: ``run`` returns before the sampling is done, and the wait
    falls on whoever reads the draws first. Blocking here puts the sampling in this time for
    both methods, so the rest of each fit (set-up, diagnostics, loading) can be compared.
    """
    import jax
    from numpyro.infer import MCMC

    seconds: list[float] = []
    original = MCMC.run

    def run(self: Any, *args: Any, **kwargs: Any) -> None:
        t0 = time.perf_counter()
        original(self, *args, **kwargs)
        jax.block_until_ready(self.get_samples())
        seconds.append(time.perf_counter() - t0)

    MCMC.run = run
    try:
        yield seconds
    finally:
        MCMC.run = original


def timed(fn: Callable[..., Model], *args: Any) -> tuple[Model, float, float]:
    """The fitted model, its wall seconds, and the wall seconds of those in NUTS."""
    with nuts_timer() as nuts:
        t0 = time.perf_counter()
        model = fn(*args)
        seconds = time.perf_counter() - t0
    return model, seconds, sum(nuts)


def one_pair(n: int, seed: int, s: Settings, device: torch.device) -> Pair:
    X, Y = problem(n, seed, device)
    if seed % 2 == 0:
        ours, ours_s, ours_nuts = timed(fit_ours, X, Y, seed, s)
        direct, direct_s, direct_nuts = timed(fit_direct, X, Y, seed, s)
    else:
        direct, direct_s, direct_nuts = timed(fit_direct, X, Y, seed, s)
        ours, ours_s, ours_nuts = timed(fit_ours, X, Y, seed, s)
    test_X = torch.rand(
        N_TEST, DIM, generator=torch.Generator().manual_seed(1000 + seed), dtype=torch.float64
    ).to(device)
    with torch.no_grad():
        means = [m.posterior(test_X).mixture_mean for m in (ours, direct)]  # type: ignore[attr-defined]
        diff = float((means[0] - means[1]).abs().max())
    return Pair(n, seed, ours_s, direct_s, ours_nuts, direct_nuts, diff, fit_info(ours))


def fmt(x: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"


def tables(pairs: list[Pair], ns: list[int]) -> str:
    def med(rows: list[Pair], fn: Callable[[Pair], float]) -> float:
        return statistics.median(fn(p) for p in rows)

    lines = [
        "| n | d (active) | seeds | s ours | s direct | ratio ours / direct | in NUTS: ours "
        "| in NUTS: direct | outside NUTS: ours | outside NUTS: direct "
        "| max abs diff of posterior mean |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in ns:
        rows = [p for p in pairs if p.n == n]
        ours, direct = med(rows, lambda p: p.ours_s), med(rows, lambda p: p.direct_s)
        lines.append(
            f"| {n} | {DIM} ({ACTIVE}) | {len(rows)} | {fmt(ours)} | {fmt(direct)} "
            f"| {ours / direct:.3f} | {fmt(med(rows, lambda p: p.ours_nuts))} "
            f"| {fmt(med(rows, lambda p: p.direct_nuts))} "
            f"| {fmt(med(rows, lambda p: p.ours_s - p.ours_nuts))} "
            f"| {fmt(med(rows, lambda p: p.direct_s - p.direct_nuts))} "
            f"| {max(p.max_abs_diff for p in rows):.3g} |"
        )
    lines += [
        "",
        "Medians over seeds, wall seconds. Per seed (diagnostics from this project's fit, on "
        "all post-warmup draws):",
        "",
        "| n | seed | s ours | s direct | ratio | outside NUTS: ours | outside NUTS: direct "
        "| max abs diff | r_hat_max | ess_bulk_min | divergences | note |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in pairs:
        i = p.info
        note = f"fallback: {i['fallback_reason']}" if "fallback" in i else ""
        lines.append(
            f"| {p.n} | {p.seed} | {fmt(p.ours_s)} | {fmt(p.direct_s)} "
            f"| {p.ours_s / p.direct_s:.3f} | {fmt(p.ours_s - p.ours_nuts)} "
            f"| {fmt(p.direct_s - p.direct_nuts)} | {p.max_abs_diff:.3g} "
            f"| {fmt(float(i.get('r_hat_max', math.nan)), 3)} "
            f"| {fmt(float(i.get('ess_bulk_min', math.nan)), 0)} "
            f"| {fmt(float(i.get('divergences', math.nan)), 0)} | {note} |"
        )
    return "\n".join(lines)


def environment(s: Settings, device: torch.device) -> str:
    import botorch
    import jax
    import numpyro

    return (
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; machine: {os.cpu_count()} CPUs "
        f"(torch threads {torch.get_num_threads()}); models on {device}, JAX on "
        f"{jax.default_backend()}; torch {torch.__version__}, botorch {botorch.__version__}, "
        f"jax {jax.__version__}, numpyro {numpyro.__version__}; NUTS: {s}, max tree depth 6, "
        "1 chain"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SAAS through this project vs BoTorch directly.")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1")
    parser.add_argument("--ns", type=int, nargs="+", default=[20, 40], help="training sizes")
    parser.add_argument("--warmup-steps", type=int, default=128)
    parser.add_argument("--num-samples", type=int, default=128)
    parser.add_argument("--thinning", type=int, default=8)
    parser.add_argument(
        "--botorch-defaults", action="store_true", help="NUTS as BoTorch: 512 / 256 / 16"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: n=20, 1 seed, 32/32/4")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file to write")
    args = parser.parse_args(argv)

    if args.botorch_defaults:
        settings = Settings(512, 256, 16)
    elif args.quick:
        settings = Settings(32, 32, 4)
    else:
        settings = Settings(args.warmup_steps, args.num_samples, args.thinning)
    ns = [20] if args.quick else args.ns
    seeds = [0] if args.quick else list(range(args.seeds))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    start = time.perf_counter()
    pairs: list[Pair] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in ns:
            # Untimed: JAX compiles its many small kernels once per data shape.
            X, Y = problem(n, 99, device)
            fit_ours(X, Y, 99, Settings(8, 8, 1))
            print(f"[{time.perf_counter() - start:7.1f}s] n={n}: warmed up", file=sys.stderr)
            for seed in seeds:
                pair = one_pair(n, seed, settings, device)
                pairs.append(pair)
                print(
                    f"[{time.perf_counter() - start:7.1f}s] n={n} seed={seed}: ours "
                    f"{pair.ours_s:.2f}s ({pair.ours_nuts:.2f} in NUTS), direct "
                    f"{pair.direct_s:.2f}s ({pair.direct_nuts:.2f} in NUTS), max abs diff "
                    f"{pair.max_abs_diff:.3g}",
                    file=sys.stderr,
                    flush=True,
                )
    total = time.perf_counter() - start
    kinds = sorted({w.category.__name__ for w in caught})
    warned = f"{len(caught)} warnings ({', '.join(kinds)})" if caught else "no warnings"

    report = (
        f"# SAAS: this project vs BoTorch directly{' (quick)' if args.quick else ''}\n\n"
        f"{environment(settings, device)}; seeds: {seeds}; {warned}; total runtime "
        f"{total / 60:.1f} min.\n\n{tables(pairs, ns)}\n"
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 0 if all(p.max_abs_diff == 0 and "fallback" not in p.info for p in pairs) else 1


if __name__ == "__main__":
    sys.exit(main())

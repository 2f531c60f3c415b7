"""`bayesopt best FILE --basins`: the distinct optima of a real SQLite store."""

from __future__ import annotations

import json
import math
from pathlib import Path

from typer.testing import CliRunner

from bayesopt import Optimizer
from flows.cli import app
from flows.loading import load_experiment

ROOT = Path(__file__).resolve().parents[2]
BRANIN = str(ROOT / "experiments" / "branin.py")
#: Branin's three global minima.
MINIMA = [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)]


def test_best_basins_lists_the_three_minima_of_branin(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    exp = load_experiment(BRANIN)
    opt = Optimizer(exp, storage=store)
    # three trials close to each minimum, and 24 on a grid far from all of them: the
    # best quarter of the 33 trials is the 9 close ones
    for x1, x2 in MINIMA:
        for dx in (-0.1, 0.0, 0.1):
            params = {"x1": x1 + dx, "x2": x2 - dx}
            opt.attach(params, exp.evaluate(**params))  # type: ignore[misc]
    for x1 in (-5.0, 0.0, 5.0, 10.0):
        for x2 in (0.0, 3.0, 6.0, 9.0, 12.0, 15.0):
            params = {"x1": x1, "x2": x2}
            opt.attach(params, exp.evaluate(**params))  # type: ignore[misc]
    opt.store.close()

    runner = CliRunner()
    out = runner.invoke(app, ["best", BRANIN, "--basins", "--storage", store])
    assert out.exit_code == 0, out.output
    assert "3 basin(s) among the best 9 trials" in out.output
    for column in ("basin", "trial", "x1", "x2", "y", "size", "probability"):
        assert column in out.output

    out = runner.invoke(app, ["best", BRANIN, "--basins", "--json", "--storage", store])
    assert out.exit_code == 0, out.output
    found = json.loads(out.output)
    assert found["n_basins"] == 3 and found["n_points"] == 9
    assert [b["size"] for b in found["basins"]] == [3, 3, 3]
    best = sorted((round(b["x1"]), round(b["x2"])) for b in found["basins"])
    assert best == [(-3, 12), (3, 2), (9, 2)]

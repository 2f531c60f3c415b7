"""The decision report: one self-contained page with every decision and the model checks."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from bayesopt import Optimizer, TrialStatus, evaluate_point
from flows.loading import load_experiment
from flows.report import decision_report, surprise, write_report

ROOT = Path(__file__).resolve().parents[2]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.rows: list[str] = []  # the class of each decision row
        self.refs: list[str] = []  # every src and href
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag
        found = dict(attrs)
        if tag == "tr" and "decision" in (found.get("class") or ""):
            self.rows.append(found["class"] or "")
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data: str) -> None:
        if self._tag == "h2" and data.strip():
            self.h2.append(data.strip())


def _run(tmp_path: Path, n: int, fail: int | None = None) -> Optimizer:
    exp = load_experiment(ROOT / "experiments" / "branin.py").replace(budget=n)
    opt = Optimizer(exp, storage=f"sqlite:///{tmp_path / 'b.db'}")
    while opt.n_finished < n:
        for t in opt.suggest():
            if t.id == fail:
                opt.fail(t, "the rig jammed")
            else:
                opt.observe(t, evaluate_point(exp, t.params))
    return opt


def test_the_report_lists_every_decision_and_checks_the_model(tmp_path: Path) -> None:
    opt = _run(tmp_path, 9, fail=6)
    page = _Page()
    text = decision_report(opt, run_id="abc123")
    page.feed(text)
    assert page.h2 == [
        "Summary", "Convergence", "Regimes", "Basins", "Model checks", "Decisions", "Stopping",
    ]  # fmt: skip
    assert len(page.rows) == 9
    assert page.rows.count("decision failed") == 1
    assert "the rig jammed" in text
    assert "MLflow run abc123" in text
    # Self-contained: its one figure inline, no address outside the page.
    assert page.refs and all(r.startswith("data:image/png;base64,") for r in page.refs)
    # The model checks read what the deciding model expected of each result.
    decided = [t for t in opt.all_trials(TrialStatus.COMPLETED) if t.generator != "sobol"]
    zs = [surprise(t, opt.experiment) for t in decided]
    assert zs and all(z is not None for z in zs)
    assert f"Standardized surprise of {len(zs)} model-decided result(s)" in text
    assert "Worst-predicted trials" in text
    assert surprise(opt.all_trials()[0], opt.experiment) is None  # a design point


def test_the_report_keeps_its_figures_when_asked(tmp_path: Path) -> None:
    opt = _run(tmp_path, 14)
    text = decision_report(opt, figures=tmp_path / "figures")
    for name in ("convergence.png", "regimes.png", "basins.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 5_000, name
    assert "At trial 13 the run is most probably" in text  # the regimes of the whole run
    assert "distinct basin(s) among the best" in text
    assert text.count("data:image/png;base64,") == 3


def test_a_report_before_any_result_says_so(tmp_path: Path) -> None:
    exp = load_experiment(ROOT / "experiments" / "branin.py")
    opt = Optimizer(exp, storage=f"sqlite:///{tmp_path / 'empty.db'}")
    path = write_report(opt, tmp_path / "r.html")
    text = path.read_text()
    assert "No trials yet." in text
    assert "No model-decided trial has a result yet." in text
    assert "0 decision(s), in order." in text

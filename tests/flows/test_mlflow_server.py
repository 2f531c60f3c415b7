"""Tracking to a real `mlflow server` on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from flows.optimize import optimize
from flows.report import REPORT_NAME
from flows.server import free_port, wait_healthy
from flows.tracking import KIND, KIND_TAG

ROOT = Path(__file__).resolve().parents[2]
MLFLOW = str(Path(sys.executable).with_name("mlflow"))

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [MLFLOW, "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, 120)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_the_flow_tracks_to_an_mlflow_server(tmp_path: Path, mlflow_server: str) -> None:
    summary = optimize(
        str(ROOT / "experiments" / "branin.py"),
        budget=6,
        storage=f"sqlite:///{tmp_path / 'b.db'}",
        tracking_uri=mlflow_server,
    )
    client = MlflowClient(mlflow_server)
    run = client.get_run(summary["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "y")) == list(range(6))
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {
        "trials.csv",
        "convergence.png",
    }
    assert any((tmp_path / "artifacts").rglob("trials.csv"))  # stored by the server


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Debian's chromium is needed for the UI test; scripts/test.sh installs it")
    return found


def _page(url: str, *, shot: Path | None = None) -> str:
    """The DOM of ``url`` after its scripts ran, from headless Chromium (and a screenshot)."""
    args = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--virtual-time-budget=20000", "--window-size=1400,1000"]  # fmt: skip
    if shot is not None:
        subprocess.run([*args, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    out = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


class _Text(HTMLParser):
    """The visible text of a page, and its h2 headings and decision rows."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.h2: list[str] = []
        self.decisions = 0
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in.append(tag)
        if tag == "tr" and "decision" in (dict(attrs).get("class") or "").split():
            self.decisions += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            del self._in[len(self._in) - 1 - self._in[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] in ("script", "style"):
            return
        self.text.append(data)
        if self._in and self._in[-1] == "h2":
            self.h2.append(data.strip())


def _read(dom: str) -> _Text:
    parser = _Text()
    parser.feed(dom)
    return parser


@pytest.mark.slow
def test_a_finished_run_reads_in_the_ui_with_its_decision_report(
    tmp_path: Path, mlflow_server: str
) -> None:
    summary = optimize(
        str(ROOT / "experiments" / "branin.py"),
        budget=7,
        storage=f"sqlite:///{tmp_path / 'b.db'}",
        tracking_uri=mlflow_server,
    )
    run_id, exp_id = summary["mlflow_run_id"], summary["mlflow_experiment_id"]
    client = MlflowClient(mlflow_server)
    assert client.get_experiment(exp_id).tags[KIND_TAG] == KIND
    path = f"/#/experiments/{exp_id}/runs/{run_id}?workflowType=machine_learning"
    assert summary["ui_hint"] == f"open {mlflow_server}{path} in a browser"

    # The run's page, on its artifacts tab with the report selected, in the
    # model-training view (its side bar lists Runs and Models, not GenAI's pages).
    page = _read(
        _page(
            f"{mlflow_server}/#/experiments/{exp_id}/runs/{run_id}/artifacts/{REPORT_NAME}"
            "?workflowType=machine_learning",
            shot=tmp_path / "run.png",
        )
    )
    text = " ".join(" ".join(page.text).split())
    assert "Model training" in text and "Models" in text
    assert "Evaluation runs" not in text
    for name in (REPORT_NAME, "convergence.png", "trials.csv"):
        assert name in text
    assert (tmp_path / "run.png").stat().st_size > 10_000

    # The report itself: the page the server hands to the UI's viewer (as a download,
    # which the viewer shows in a frame), rendered by the browser.
    served = httpx.get(
        f"{mlflow_server}/get-artifact",
        params={"path": REPORT_NAME, "run_uuid": run_id},
        timeout=30,
    )
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/html")
    local = tmp_path / REPORT_NAME
    local.write_bytes(served.content)
    report = _read(_page(local.as_uri(), shot=tmp_path / "report.png"))
    assert report.h2 == [
        "Summary", "Convergence", "Regimes", "Basins", "Model checks", "Decisions", "Stopping",
    ]  # fmt: skip
    assert report.decisions == 7
    text = " ".join(" ".join(report.text).split())
    assert "Decision report: branin" in text and "7 decision(s), in order." in text
    assert "share with |z| ≤ 2" in text  # the model checks ran on the model's decisions
    assert "http://" not in served.text and "https://" not in served.text  # self-contained

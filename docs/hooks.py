"""MkDocs hooks: run every tutorial when the docs are built and show its real output.

Each ``docs/tutorials/*.py`` runs in a subprocess of this Python, in a fresh
temporary directory that holds everything the run writes: the trial stores, the
MLflow database (``MLFLOW_TRACKING_URI``), Prefect's home (``PREFECT_HOME``), so
nothing touches the user's own. Its stdout and stderr are captured together. A
tutorial that exits non-zero, or runs longer than ``TIMEOUT`` seconds, fails the
build with its output. Nothing is cached: every build runs every tutorial.

A page shows a tutorial's output where it holds the marker::

    <!-- tutorial-output: ask_tell.py -->

(the source itself is included with ``pymdownx.snippets``). A marker that names no
tutorial, and a tutorial that no page shows, fail the build too.

The command-line reference is made the same way: where a page holds
``<!-- cli-help -->``, the hook puts the ``--help`` of ``bayesopt`` and of each of
its commands, printed by the command line itself at build time.

The docstrings are written with Sphinx roles (``:class:`Trial```) and ``::`` before
literal blocks, which Markdown shows as they are; the rendered pages drop the role
names and the second colon (the code itself is not touched).

``mkdocs serve`` rebuilds on every change; there ``BAYESOPT_DOCS_TUTORIALS=skip``
leaves the tutorials out (their pages say so). ``mkdocs build`` always runs them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "docs" / "tutorials"
#: Seconds a tutorial may run before the build fails.
TIMEOUT = 900
MARKER = re.compile(r"^<!--\s*tutorial-output:\s*(?P<name>[\w.-]+)\s*-->[ \t]*$", re.MULTILINE)
CLI_MARKER = re.compile(r"^<!--\s*cli-help\s*-->[ \t]*$", re.MULTILINE)
#: Prints ``{command: help text}`` as JSON for ``bayesopt`` and each of its commands.
CLI_HELP = """
import json
import typer
from typer.testing import CliRunner
from flows.cli import app

runner = CliRunner()
helps = {}
for name in ["", *typer.main.get_command(app).commands]:
    result = runner.invoke(app, [name, "--help"] if name else ["--help"], prog_name="bayesopt")
    if result.exit_code != 0:
        raise SystemExit(f"bayesopt {name} --help: exit code {result.exit_code}\\n{result.output}")
    helps[name] = result.output
print(json.dumps(helps))
"""
SPHINX_ROLE = re.compile(r":(?:class|meth|func|mod|data|attr|exc|obj):(<code>)~?")
LITERAL_COLONS = re.compile(r"::(</p>)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: Variables that would point a tutorial at the user's own servers or stores.
OWN_SETTINGS = (
    "PREFECT_API_URL",
    "PREFECT_PROFILE",
    "MLFLOW_TRACKING_URI",
    "BAYESOPT_STORAGE_URL",
    "BAYESOPT_TRACKING_URI",
)

log = logging.getLogger("mkdocs.hooks.tutorials")


@dataclass
class Output:
    """What one tutorial printed, and how long it ran."""

    text: str
    seconds: float


_outputs: dict[str, Output] = {}
_cli_help: dict[str, str] = {}
_shown: set[str] = set()
_skipped = False
_serving = False


def on_startup(*, command: str, dirty: bool) -> None:
    global _serving
    _serving = command == "serve"


def on_pre_build(*, config: Any) -> None:
    global _skipped
    _outputs.clear()
    _shown.clear()
    _cli_help.clear()
    _cli_help.update(cli_help())
    _skipped = _serving and os.environ.get("BAYESOPT_DOCS_TUTORIALS") == "skip"
    if _skipped:
        log.info("BAYESOPT_DOCS_TUTORIALS=skip: the tutorials are not run in this preview")
        return
    for script in sorted(TUTORIALS.glob("*.py")):
        _outputs[script.name] = run_tutorial(script)


def _environment(tmp: Path) -> dict[str, str]:
    """This process's environment, with every store, server and home inside ``tmp``."""
    env = {k: v for k, v in os.environ.items() if k not in OWN_SETTINGS}
    env.update(
        PREFECT_HOME=str(tmp / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp / 'mlflow.db'}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONUNBUFFERED="1",
        MPLBACKEND="Agg",
        NO_COLOR="1",
        TERM="dumb",
        COLUMNS="100",
    )
    return env


def run_tutorial(script: Path) -> Output:
    """Run ``script`` in a fresh temporary directory; its output, or a ``PluginError``."""
    with tempfile.TemporaryDirectory(
        prefix="bayesopt-tutorial-", ignore_cleanup_errors=True
    ) as tmp:
        env = _environment(Path(tmp))
        log_path = Path(tmp) / "output.log"
        start = time.monotonic()
        with log_path.open("wb") as out:  # a file, not a pipe: nothing left running blocks it
            proc = subprocess.Popen(
                [sys.executable, str(script)],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: servers it starts go with it
            )
            try:
                proc.wait(timeout=TIMEOUT)
                timed_out = False
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid, signal.SIGKILL)
                proc.wait()
                timed_out = True
            finally:
                _kill_group(proc.pid, signal.SIGTERM)  # anything the tutorial left running
        seconds = time.monotonic() - start
        raw = log_path.read_bytes()
        text = ANSI.sub("", raw.decode("utf-8", errors="replace")).replace(tmp, "<tmp>")
    name = f"docs/tutorials/{script.name}"
    if timed_out or proc.returncode != 0:
        why = f"ran past {TIMEOUT} s" if timed_out else f"exited with code {proc.returncode}"
        raise PluginError(f"tutorial {name} {why}; its output:\n{text[-8000:]}")
    log.info("tutorial %s ran in %.1f s", name, seconds)
    return Output(text.rstrip() + "\n", seconds)


def cli_help() -> dict[str, str]:
    """The ``--help`` text of ``bayesopt`` and of each of its commands."""
    with tempfile.TemporaryDirectory(prefix="bayesopt-cli-help-") as tmp:
        out = subprocess.run(
            [sys.executable, "-c", CLI_HELP],
            cwd=tmp,
            env=_environment(Path(tmp)),
            capture_output=True,
            text=True,
            timeout=300,
        )
    if out.returncode != 0:
        raise PluginError(f"bayesopt --help failed:\n{out.stdout[-4000:]}{out.stderr[-4000:]}")
    helps: dict[str, str] = json.loads(out.stdout)
    return {name: ANSI.sub("", text) for name, text in helps.items()}


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def on_page_markdown(markdown: str, *, page: Any, config: Any, files: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if not (TUTORIALS / name).is_file():
            raise PluginError(
                f"{page.file.src_path}: marker names no tutorial docs/tutorials/{name}"
            )
        if _skipped:
            return '!!! note "Output not shown"\n    The tutorials were not run for this preview.\n'
        _shown.add(name)
        out = _outputs[name]
        fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", out.text)), default=0) + 1)
        return (
            f"Output of `python docs/tutorials/{name}`, run when this page was built "
            f"(in {out.seconds:.0f} s):\n\n{fence}text\n{out.text}{fence}\n"
        )

    markdown = MARKER.sub(replace, markdown)
    return CLI_MARKER.sub(lambda _: _cli_sections(), markdown)


def _cli_sections() -> str:
    sections = []
    for name, text in _cli_help.items():
        title = f"bayesopt {name}".strip()
        sections.append(f"## `{title}`\n\n```text\n{text.strip(chr(10))}\n```\n")
    return "\n".join(sections)


def on_page_content(html: str, *, page: Any, config: Any, files: Any) -> str:
    return LITERAL_COLONS.sub(r":\1", SPHINX_ROLE.sub(r"\1", html))


def on_post_build(*, config: Any) -> None:
    unshown = sorted(set(_outputs) - _shown)
    if unshown:
        raise PluginError(f"tutorials that no page shows: {', '.join(unshown)}")

"""Test-wide settings: Prefect and MLflow run for real, in throw-away homes."""

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Prefect reads these when it is first imported: keep its ephemeral API database,
# its logs and its settings away from the user's ~/.prefect.
_PREFECT_HOME = tempfile.mkdtemp(prefix="bayesopt-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("MLFLOW_TRACKING_URI", None)

# Every process the tests start inherits this mark, so that the session can find at its
# end any that outlived it (a server left by a command, a worker nobody stopped).
_MARK = f"BAYESOPT_TEST_SESSION={uuid.uuid4().hex}"
os.environ["BAYESOPT_TEST_SESSION"] = _MARK.split("=", 1)[1]


def _marked_processes() -> dict[int, str]:
    """Processes other than this one whose environment carries this session's mark."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            if _MARK.encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and "multiprocessing.resource_tracker" in cmd:
                continue  # this process's own tracker: it ends when its pipe from here closes
            found[pid] = cmd
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that needs the session's Prefect API server belongs to the full tier: the
    quick tier (``-m "not slow"``) starts no server."""
    for item in items:
        if "prefect_api" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if a process that it started is still running (after a grace
    period for servers that are stopping), and stop those processes."""
    if not Path("/proc").is_dir():
        return
    deadline = time.monotonic() + 15
    left = _marked_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = _marked_processes()
    if not left:
        return
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    lines = "\n".join(f"  {pid}: {cmd}" for pid, cmd in sorted(left.items()))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"processes the tests left behind (now killed):\n{lines}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models fit several times faster on one thread than on contended cores; the
    setting is restored after each test."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

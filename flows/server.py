"""Prefect's local API for runs started from the command line.

Prefect's own ephemeral mode starts its API server as a child in the caller's
process group, so a Ctrl-C in the terminal stops the server too, and the flow
then cannot report that it was interrupted. This module starts the same server
(Prefect's ASGI app under uvicorn, on 127.0.0.1, with Prefect's ephemeral-mode
settings) in a session of its own, so Ctrl-C reaches only the flow, which then
records its state and stops at once.

The server ends with the command that started it, however the command ends: on
Linux the child asks the kernel for a SIGTERM when its parent dies
(``PR_SET_PDEATHSIG``), so even ``kill -9`` of ``bayesopt run`` leaves no server
behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import prefect
from prefect.settings import PREFECT_API_URL, temporary_settings

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn`` for a child that must not outlive the process ``parent``
    (Linux; elsewhere it does nothing): the kernel sends the child SIGTERM when the
    parent exits, ``kill -9`` included. Should the parent already be gone when the
    child gets here, the child exits at once."""

    def arm() -> None:
        if not sys.platform.startswith("linux"):
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(0)

    return arm


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_prefect_api(*, startup_timeout: float = 120.0) -> Iterator[str]:
    """Use ``PREFECT_API_URL`` when it is set; else run a local API for the duration.

    Yields:
        The API URL the flow reports to.
    """
    configured = PREFECT_API_URL.value()
    if configured:
        yield str(configured)
        return
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
    }
    log = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    log.mkdir(parents=True, exist_ok=True)
    with open(log / "bayesopt-api-server.log", "ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(Path(prefect.__file__).parent.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
        )
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(url, proc, startup_timeout)
        with temporary_settings({PREFECT_API_URL: url}):
            yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until ``url``/health answers 200; fail if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the server for {url} exited with code {proc.returncode} before it was ready"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server for {url} did not answer within {timeout:g} s")

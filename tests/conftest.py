"""Test-wide settings: Prefect and MLflow run for real, in throw-away homes."""

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator

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


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models fit several times faster on one thread than on contended cores; the
    setting is restored after each test."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

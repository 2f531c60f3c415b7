"""Test-wide settings: Prefect and MLflow run for real, in throw-away homes."""

import os
import tempfile

# Prefect reads these when it is first imported: keep its ephemeral API database,
# its logs and its settings away from the user's ~/.prefect.
_PREFECT_HOME = tempfile.mkdtemp(prefix="bayesopt-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("MLFLOW_TRACKING_URI", None)

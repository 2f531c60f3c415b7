"""Running one evaluation: call ``evaluate``, bound its time, check what it returned.

This is plain Python so that any runner (a Prefect task, a Dask worker, a script)
calls it the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from bayesopt.errors import EvaluationTimeoutError, InvalidExperimentError
from bayesopt.experiment import Experiment


def evaluate_point(
    experiment: Experiment, params: Mapping[str, Any], *, timeout: float | None = None
) -> dict[str, float]:
    """Evaluate ``params`` with ``experiment.evaluate`` and check the values.

    Args:
        params: The point, as stored in the trial.
        timeout: Seconds to wait; ``None`` uses ``experiment.timeout`` (no limit if unset).
            The evaluation runs in a daemon thread: past the limit the trial fails,
            and the thread is left to finish on its own, since Python cannot stop it.

    Raises:
        EvaluationTimeoutError: the evaluation ran past the limit.
        InvalidOutcomeError: the values are missing, not numbers, or not finite.
        Exception: whatever ``evaluate`` raised.
    """
    fn = experiment.evaluate
    if fn is None:
        raise InvalidExperimentError(
            f"evaluate: experiment '{experiment.name}' has no evaluate function; set "
            "Experiment(evaluate=...) or report results with observe"
        )
    limit = timeout if timeout is not None else experiment.timeout
    if limit is None:
        return experiment.check_values(fn(**params))
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(**params)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="bayesopt-evaluate", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        raise EvaluationTimeoutError(f"evaluation timed out after {limit:g} s (timeout={limit:g})")
    if "error" in box:
        raise box["error"]
    return experiment.check_values(box["value"])

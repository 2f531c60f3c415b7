"""Trials and their lifecycle.

A trial is created ``pending`` (suggested, not yet started), becomes ``running``
when a worker claims it, and ends ``completed`` (values recorded), ``failed``
(the evaluation raised, timed out or returned unusable values; the reason is
kept) or ``abandoned`` (given up without a result, for example because the
worker that ran it died; its point may be queued again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class TrialStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ABANDONED = "abandoned"

    @property
    def is_finished(self) -> bool:
        """Whether the trial has ended (completed, failed or abandoned)."""
        return self in (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.ABANDONED)

    @property
    def is_active(self) -> bool:
        """Whether the trial still waits for a result (pending or running)."""
        return self in (TrialStatus.PENDING, TrialStatus.RUNNING)


@dataclass(frozen=True)
class Trial:
    """One point of the search space and what became of it.

    Attributes:
        id: The trial's number within its experiment, from 0.
        params: Parameter name -> value, fixed parameters included.
        status: Where the trial is in its lifecycle.
        values: Outcome name -> value once completed, else ``None``.
        sems: Outcome name -> standard error of its value, for outcomes measured
            with a known noise level (``observe(t, {"y": (mean, sem)})``), else ``None``.
        generator: What proposed the point: ``"sobol"``, ``"gp+qLogNEI"``, ``"manual"``, ...
        metadata: What the decision was based on (fit seconds, acquisition value, fallbacks).
        failure_reason: Why the trial failed or was abandoned.
        worker: The process that ran it, as ``host:pid``.
    """

    id: int
    params: dict[str, Any]
    status: TrialStatus
    values: dict[str, float] | None = None
    sems: dict[str, float] | None = None
    generator: str = "manual"
    metadata: dict[str, Any] = field(default_factory=dict)
    failure_reason: str | None = None
    worker: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None

    @property
    def step_label(self) -> str:
        """The strategy step that decided the trial, as ``2 trust_region (length 0.4)``
        (its position in the strategy from 1, its name, a trust region's side length);
        ``manual`` for trials run by hand or imported, ``-`` where no step is recorded."""
        index = self.metadata.get("step_index")
        if not isinstance(index, int):
            return "manual" if self.generator in ("manual", "import") else "-"
        label = f"{index + 1} {self.metadata.get('step', '?')}"
        region = self.metadata.get("trust_region")
        if isinstance(region, dict) and isinstance(region.get("length"), int | float):
            label += f" (length {region['length']:.3g})"
        return label

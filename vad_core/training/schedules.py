"""Learning-rate step decay at fractions of a run (DRAEM's recipe; the thesis uses ReduceLROnPlateau).

The lr is ``base_lr * factor ** k``, where ``k`` counts the milestones the run has passed. A run's
progress is the share of its epochs done, or, with a time budget, the share of the budget used when
that is further along, so a run cut short by ``max_seconds`` still anneals before it stops.

Example::

    schedule = MilestoneSchedule(optimizer, milestones=(4 / 7, 6 / 7), factor=0.2)
    schedule.step(progress=epoch / max_epochs)       # after each epoch
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class MilestoneSchedule:
    """Multiply the lr by ``factor`` once the run's progress passes each of ``milestones``."""

    def __init__(self, optimizer: torch.optim.Optimizer, milestones: Sequence[float], factor: float) -> None:
        self.optimizer = optimizer
        self.milestones = tuple(sorted(float(m) for m in milestones))
        self.factor = float(factor)
        self.base_lr = float(optimizer.param_groups[0]["lr"])
        self.passed = 0

    def step(self, progress: float) -> bool:
        """Set the lr for ``progress`` in [0, 1] (run done so far); True when it changed."""
        passed = sum(progress >= milestone - 1e-9 for milestone in self.milestones)
        if passed == self.passed:
            return False
        self.passed = passed
        for group in self.optimizer.param_groups:
            group["lr"] = self.base_lr * self.factor**passed
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "base_lr": self.base_lr, "factor": self.factor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.passed = int(state.get("passed", 0))
        self.base_lr = float(state.get("base_lr", self.base_lr))
        self.factor = float(state.get("factor", self.factor))


def run_progress(epoch: int, max_epochs: int, seconds: float, max_seconds: float | None) -> float:
    """How far a run is after ``epoch`` of ``max_epochs`` and ``seconds`` of a ``max_seconds`` budget."""
    done = epoch / max_epochs
    if max_seconds:
        done = max(done, seconds / max_seconds)
    return min(done, 1.0)

"""What the scheduler needs of a cluster (``Cluster``): start workers, send them calls, hear back.

The scheduler (``scheduler.Scheduler``) makes every decision; a ``Cluster`` only carries calls to
workers numbered ``0 .. count - 1`` and reports each call's end as a ``Finished``: its return value,
or how it was lost (``Lost``). ``ray_cluster.RayCluster`` is the one on Ray; the tests drive the
scheduler with a fake one. Nothing here imports Ray.

Example::

    cluster.start_workers(2)
    call = cluster.ping(0)
    for finished in cluster.wait(0.2):
        if finished.call == call and finished.lost is None:
            info = finished.value  # ScoringWorker.ready()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from vad_core.batch.work import ChunkTask


@dataclass(frozen=True)
class Lost:
    """Why a call returned nothing."""

    error: str  # the error's type name, e.g. "ActorDiedError"
    message: str  # the error's text
    worker_died: bool  # the worker died (after the cluster's own restarts and retries), not just the call


@dataclass(frozen=True)
class Finished:
    """The end of one call: ``value`` (what the worker's method returned) unless ``lost``."""

    call: int  # what ``ping`` / ``submit_probe`` / ``submit_chunk`` returned
    value: Any = None
    lost: Lost | None = None


class Cluster(Protocol):
    """Workers the scheduler sends calls to; each call's ``Finished`` comes back from ``wait``."""

    def start_workers(self, count: int) -> None:
        """Create workers ``0 .. count - 1`` (they load the model in the background)."""

    def ping(self, worker: int) -> int:
        """Ask ``worker`` whether it is up; its value is ``ScoringWorker.ready()``'s dict."""

    def submit_probe(self, worker: int, clips: list[tuple[str, str, str]]) -> int:
        """Send ``(name, path, kind)`` clips to probe; the value is a list of ``ProbeResult``."""

    def submit_chunk(self, worker: int, task: ChunkTask) -> int:
        """Send one chunk to score; the value is a ``ChunkOutcome``."""

    def wait(self, timeout: float) -> list[Finished]:
        """Calls that finished within ``timeout`` seconds (at most one per wait; none pending: [])."""

    def kill(self) -> None:
        """Stop every worker (calls in flight are dropped)."""

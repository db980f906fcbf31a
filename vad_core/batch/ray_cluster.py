"""Every Ray call of a batch run: joining or starting Ray, its resources, and ``RayCluster``, the
scheduler's ``Cluster`` made of ``ScoringWorker`` actors and ``decode_chunk`` tasks.

Ray is imported only inside these functions, so the rest of the engine does not need it.

* Each actor is created with ``num_gpus=gpus_per_worker`` and ``num_cpus=cpus_per_worker`` of the
  plan, ``max_concurrency`` its concurrency, and Ray's ``max_restarts`` / ``max_task_retries``.
* With decoders, a chunk is decoded by a one-CPU task whose result Ray hands to the actor's
  ``score_decoded`` as soon as it is ready; without, the actor's ``score`` reads it.
* ``wait`` is ``ray.wait`` for one call, pings last; a call that raises ``RayActorError`` is lost
  with its worker (``Lost.worker_died``), any other ``RayError`` only lost.

Example::

    started_here = start_ray(config)
    cluster = RayCluster(plan, config, checkpoint_path, inference, size=(256, 256), channels=1)
    cluster.start_workers(plan.actors_for(len(clips)))
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from typing import Any

from vad_core.batch.cluster import Finished, Lost
from vad_core.batch.config import BatchConfig
from vad_core.batch.planning import WorkerPlan
from vad_core.batch.work import ChunkTask
from vad_core.batch.worker import ScoringWorker, decode_chunk
from vad_core.errors import VadError
from vad_core.inference.config import InferenceConfig

IDLE_S = 0.05  # nothing in flight (e.g. every clip's chunks held back for writes): look again after this


def start_ray(config: BatchConfig) -> bool:
    """Join ``config.address`` or start a local Ray; True when this run started it (and stops it)."""
    try:
        import ray
    except ImportError:
        raise VadError(None, "scoring on Ray needs Ray: pip install 'vad-review[batch]'") from None
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
    if config.address:
        try:
            ray.init(address=config.address, **options)
        except (ConnectionError, ValueError, RuntimeError, ray.exceptions.RayError) as error:
            hint = ""
            if config.address.startswith("ray://") and "ray[client]" in str(error):
                hint = " (ray:// needs the Ray Client: pip install 'ray[client]')"
            elif "uthentication" in str(error) or os.environ.get("RAY_AUTH_MODE") != "token":
                hint = " (is it up? Ray >= 2.59 clusters also need RAY_AUTH_MODE=token and their token)"
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise VadError(
                "ray", f"cannot join the Ray cluster at {config.address}{hint}: {first_line}"
            ) from None
        return True  # disconnect at the end (a joined cluster keeps running)
    # "local": a new Ray of our own, even when `ray start` runs a cluster on this machine
    ray.init(address="local", num_cpus=config.cpus or os.cpu_count() or 1, include_dashboard=False, **options)
    from vad_core.batch.ray_reaper import watch_local_ray

    watch_local_ray()  # the Ray started here dies with this process, SIGKILL included
    return True


def stop_ray() -> None:
    """Disconnect from Ray (and stop it, when ``start_ray`` started a local one)."""
    import ray

    ray.shutdown()


def cluster_resources() -> dict[str, float]:
    """The Ray cluster's resources, e.g. ``{"CPU": 16.0, "GPU": 1.0, ...}`` (for ``plan_workers``)."""
    import ray

    return ray.cluster_resources()


class RayCluster:
    """The scheduler's ``Cluster`` on Ray (see the module docstring)."""

    def __init__(
        self,
        plan: WorkerPlan,
        config: BatchConfig,
        checkpoint: str,
        inference: InferenceConfig,
        size: tuple[int, int],
        channels: int,
    ) -> None:
        import ray

        self._actor_class = ray.remote(ScoringWorker).options(
            num_cpus=plan.cpus_per_worker,
            num_gpus=plan.gpus_per_worker,
            max_restarts=config.max_restarts,
            max_task_retries=config.max_task_retries,
            max_concurrency=plan.concurrency,
        )
        self._actor_args = (checkpoint, inference, plan.actor_threads, config.fps)
        self._decode = ray.remote(num_cpus=1)(decode_chunk) if plan.decoders else None
        self._decode_args = (size, channels, config.fps)
        self._handles: list[Any] = []
        self._calls: dict[Any, int] = {}  # ObjectRef -> call id: probes and chunks ...
        self._pings: dict[Any, int] = {}  # ... and pings, waited for after them
        self._ids = itertools.count()

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            self._handles.append(self._actor_class.remote(*self._actor_args))

    def ping(self, worker: int) -> int:
        return self._track(self._pings, self._handles[worker].ready.remote())

    def submit_probe(self, worker: int, clips: list[tuple[str, str, str]]) -> int:
        return self._track(self._calls, self._handles[worker].probe.remote(clips))

    def submit_chunk(self, worker: int, task: ChunkTask) -> int:
        handle = self._handles[worker]
        if self._decode is None:
            return self._track(self._calls, handle.score.remote(task))
        chunk = task.chunk
        frames = self._decode.remote(
            task.path, task.kind, chunk.read_start, chunk.read_stop, *self._decode_args
        )
        return self._track(self._calls, handle.score_decoded.remote(task, frames))

    def wait(self, timeout: float) -> list[Finished]:
        import ray
        from ray.exceptions import RayActorError, RayError

        waiting = list(self._calls) + list(self._pings)
        if not waiting:
            time.sleep(IDLE_S)
            return []
        done, _ = ray.wait(waiting, num_returns=1, timeout=timeout)
        finished = []
        for ref in done:
            call = self._calls.pop(ref) if ref in self._calls else self._pings.pop(ref)
            try:
                finished.append(Finished(call, ray.get(ref)))
            except RayError as error:  # RayActorError: died max_task_retries + 1 times
                lost = Lost(type(error).__name__, str(error), isinstance(error, RayActorError))
                finished.append(Finished(call, lost=lost))
        return finished

    def kill(self) -> None:
        import ray

        for handle in self._handles:
            with contextlib.suppress(Exception):
                ray.kill(handle, no_restart=True)

    def _track(self, calls: dict[Any, int], ref: Any) -> int:
        calls[ref] = call = next(self._ids)
        return call

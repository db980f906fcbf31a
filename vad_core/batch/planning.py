"""How many workers a batch run starts, on what, and how much work each may hold (``plan_workers``).

From the cluster's resources (``ray.cluster_resources()``, which the Ray adapter reads) and the
config: one actor per GPU (or per ``cpus_per_worker`` CPUs on a CPU cluster), the chunks each scores
at once, and the CPU tasks decoding for GPU actors. ``WorkerPlan`` then sizes a run: how many of the
planned actors it starts for its clips, their thread pools and their queues.

Example::

    plan = plan_workers(config, inference, {"CPU": 16.0, "GPU": 1.0})
    # WorkerPlan(workers=1, cpus_per_worker=1.0, gpus_per_worker=1.0, concurrency=3, device="cuda", decoders=6)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from vad_core.batch.config import BatchConfig
from vad_core.errors import VadError
from vad_core.inference.config import InferenceConfig

# GPU actors fed by decoding tasks: measured on an H100 with 16 CPUs and a 64-filter U-Net
# (docs/batch.md, calls 24-27), 6 decoders and 3 threads kept the GPU busy 97-99 % of the time; without
# decoders it was 63-81 %. More decoders than half the free CPUs starve the actor and the driver.
DECODERS_PER_GPU_WORKER = 6
GPU_THREADS_WITH_DECODERS = 3
ACTORS_PER_CLIP = 4  # a run starts at most this many actors per clip to score (chunks spread them)


@dataclass(frozen=True)
class WorkerPlan:
    """What ``plan_workers`` decided."""

    workers: int
    cpus_per_worker: float
    gpus_per_worker: float
    concurrency: int  # chunks one actor scores at once
    device: str
    decoders: int  # decode_chunk tasks in flight (0: actors decode their own chunks)

    @property
    def actor_threads(self) -> int:
        """torch / OpenCV threads of each actor: its CPUs when it scores one chunk at a time, else 1."""
        return max(1, int(self.cpus_per_worker)) if self.concurrency == 1 else 1

    def actors_for(self, clips: int) -> int:
        """Actors a run with ``clips`` clips to score starts: the plan's, at most 4 per clip."""
        return min(self.workers, clips * ACTORS_PER_CLIP)

    def queue_capacity(self, actors: int) -> int:
        """Calls each of ``actors`` actors may hold at once: the chunks it scores, one waiting, and
        its share of the decoders (with decoders, a chunk is in flight from its decoding on)."""
        return self.concurrency + 1 + math.ceil(self.decoders / actors)


def plan_workers(config: BatchConfig, inference: InferenceConfig, resources: dict[str, float]) -> WorkerPlan:
    """How many actors, on what, and how many decoding tasks, from the cluster's ``resources``.

    Raises:
        VadError: a CUDA device was asked for and the cluster has no GPU (or ``gpus_per_task`` is 0).
    """
    cpus = float(resources.get("CPU", 1.0))
    gpus = float(resources.get("GPU", 0.0))
    wants_gpu = inference.device != "cpu" and gpus > 0
    gpus_per = config.gpus_per_task if config.gpus_per_task is not None else (1.0 if wants_gpu else 0.0)
    if inference.device.startswith("cuda") and (gpus <= 0 or gpus_per <= 0):
        raise VadError(
            "batch", f"--device {inference.device} asked for, but the Ray cluster has {gpus:g} GPUs"
        )
    if gpus_per > 0:
        workers = config.workers or max(1, int(gpus // gpus_per))
        decoders = config.decoders
        if decoders is None:
            decoders = min(DECODERS_PER_GPU_WORKER * workers, int(cpus - workers) // 2)
        if decoders > 0:  # the actors only run the model; the other CPUs decode for them
            cpus_per = config.cpus_per_worker or 1.0
            concurrency = config.threads or GPU_THREADS_WITH_DECODERS
        else:
            cpus_per = config.cpus_per_worker or float(max(1, min(8, int(cpus // workers))))
            concurrency = config.threads or max(1, int(cpus_per))
        device = inference.device if inference.device != "auto" else "cuda"
    else:
        decoders = config.decoders or 0
        free = max(1.0, cpus - decoders)
        if config.cpus_per_worker:
            cpus_per = config.cpus_per_worker
        elif config.workers:
            cpus_per = float(max(1, int(free // config.workers)))
        else:
            cpus_per = float(max(1, int(free // 8)))
        workers = config.workers or max(1, int(free // cpus_per))
        concurrency = 1
        device = "cpu"
    # Decoding tasks need CPUs the actors do not hold, or they would wait forever.
    decoders = max(0, min(decoders, int(cpus - workers * cpus_per)))
    return WorkerPlan(workers, cpus_per, gpus_per, concurrency, device, decoders)


def writer_threads(asked: int | None) -> int:
    """Driver threads writing scores files: ``asked``, else a quarter of the cores, 2 to 8 (zlib
    releases the GIL, so they write in parallel)."""
    return asked or max(2, min(8, (os.cpu_count() or 1) // 4))

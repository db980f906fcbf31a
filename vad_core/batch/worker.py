"""What runs on the cluster: the model actor (``ScoringWorker``) and the decoding task (``decode_chunk``).

A ``ScoringWorker`` is plain Python (tested without Ray); the Ray adapter (``ray_cluster``) wraps it
with ``ray.remote``. It loads the checkpoint once, from its path, keeps the last two clips of each
thread open, and returns every failure as a message with its kind (``describe_failure``: ``"source"``
when the file cannot be read, else ``"error"``), never as an exception.

Example::

    worker = ScoringWorker("runs/bcae1.safetensors", InferenceConfig(device="cpu"), threads=1, fps=None)
    outcome = worker.score(ChunkTask("a.avi", "/archive/a.avi", "video", chunk))
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import numpy as np

from vad_core.batch.chunking import score_chunk
from vad_core.batch.work import ChunkOutcome, ChunkTask, ProbeResult
from vad_core.errors import SourceError, VadError
from vad_core.inference.config import InferenceConfig

log = logging.getLogger(__name__)


def describe_failure(error: BaseException) -> tuple[str, str]:
    """``(message, error_kind)`` for an exception raised while reading or scoring a clip."""
    if isinstance(error, SourceError):
        return str(error), "source"
    if isinstance(error, VadError):
        return str(error), "error"
    return f"{type(error).__name__}: {error}", "error"


class ScoringWorker:
    """What one Ray actor holds: the model (loaded once, from the checkpoint path) and open clips.

    Plain Python, so it can be tested without Ray; ``ray_cluster.RayCluster`` wraps it with ``ray.remote``.
    """

    def __init__(
        self,
        checkpoint: str,
        inference: InferenceConfig,
        threads: int,
        fps: float | None,
        warm_up: bool = True,
    ) -> None:
        import cv2
        import torch

        from vad_core.checkpoint import load_checkpoint
        from vad_core.inference.device import resolve_device
        from vad_core.inference.scoring_loop import prepare_for_inference

        threads = max(1, int(threads))
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
        self.device = resolve_device(inference.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.checkpoint = load_checkpoint(checkpoint, device=self.device)
        self.model = prepare_for_inference(self.checkpoint.model, self.device)
        self.inference = replace(inference, device=str(self.device))
        if threads > 1 and inference.cuda_graphs:  # a recording in one thread breaks the others' CUDA work
            log.warning("CUDA graphs are off: this worker scores from %d threads", threads)
            self.inference = replace(self.inference, cuda_graphs=False)
        self.preprocess = self.checkpoint.preprocess
        self.fps = fps
        self._local = threading.local()  # one decoder per thread: threads never share a seek position
        if warm_up and self.device.type != "cpu":
            self.warm_up()

    def warm_up(self) -> None:
        """Score two full batches of blank frames, so that the GPU's one-time set-up (cuDNN choosing
        its algorithms for this batch shape, kernels loaded on first use) happens while the worker
        starts, not in the first chunks of the archive."""
        from vad_core.inference.scoring_loop import score_source
        from vad_core.sources import ArraySource

        size, channels = self.preprocess.size, self.preprocess.channels
        frames = 2 * self.inference.batch_size * self.model.spec.window  # enough for two full batches
        blank = np.zeros((frames, *size, 3) if channels == 3 else (frames, *size), np.uint8)
        batches = score_source(self.model, ArraySource(blank), self.inference, self.preprocess)
        for _ in itertools.islice(batches, 2):
            pass
        batches.close()

    def ready(self) -> dict[str, Any]:
        """Where this worker runs and on what (the driver waits for this before sending work)."""
        import socket

        import ray
        import torch

        from vad_core.inference.device import describe_device

        return {
            "host": socket.gethostname(),
            "node": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
            "device": describe_device(self.device),
            "torch_threads": torch.get_num_threads(),
        }

    def _open(self, path: str, kind: str):
        from vad_core.sources import FrameFolderSource, VideoFileSource

        cache: OrderedDict = getattr(self._local, "sources", None) or OrderedDict()
        self._local.sources = cache
        if path in cache:
            cache.move_to_end(path)
            return cache[path]
        source = FrameFolderSource(path, fps=self.fps or 25.0) if kind == "frames" else VideoFileSource(path)
        cache[path] = source
        while len(cache) > 2:
            _, old = cache.popitem(last=False)
            if hasattr(old, "close"):
                old.close()
        return source

    def probe(self, clips: list[tuple[str, str, str]]) -> list[ProbeResult]:
        """Open each ``(name, path, kind)`` clip: frame count, fps and size, or why it cannot be read."""
        results = []
        for name, path, kind in clips:
            try:
                source = self._open(path, kind)
                height, width = source.frame_size
                results.append(ProbeResult(name, len(source), float(source.fps), width, height))
            except Exception as error:  # every failure is recorded against its clip
                message, error_kind = describe_failure(error)
                results.append(ProbeResult(name, error=message, error_kind=error_kind))
        return results

    def score(self, task: ChunkTask) -> ChunkOutcome:
        """Score one chunk; failures come back as a message, never as an exception."""
        began = time.perf_counter()
        try:
            source = self._open(task.path, task.kind)
            scores = score_chunk(self.model, source, task.chunk, self.inference, self.preprocess)
        except Exception as error:
            message, error_kind = describe_failure(error)
            return ChunkOutcome(task.clip, None, time.perf_counter() - began, message, error_kind)
        return ChunkOutcome(task.clip, scores, time.perf_counter() - began)

    def score_decoded(self, task: ChunkTask, frames: np.ndarray | tuple[str, str]) -> ChunkOutcome:
        """Score a chunk that ``decode_chunk`` read (or pass on why it could not)."""
        from vad_core.sources import ArraySource

        began = time.perf_counter()
        if isinstance(frames, tuple):
            return ChunkOutcome(task.clip, None, 0.0, frames[0], frames[1])
        try:
            chunk, offset = task.chunk, task.chunk.read_start  # frames[0] is the chunk's first read frame
            local = replace(
                chunk,
                read_start=0,
                read_stop=len(frames),
                score_start=chunk.score_start - offset,
                score_stop=chunk.score_stop - offset,
            )
            source = ArraySource(frames, fps=self.fps or 25.0, name=task.clip)
            scores = score_chunk(self.model, source, local, self.inference, self.preprocess)
            scores.chunk = task.chunk
        except Exception as error:
            message, error_kind = describe_failure(error)
            return ChunkOutcome(task.clip, None, time.perf_counter() - began, message, error_kind)
        return ChunkOutcome(task.clip, scores, time.perf_counter() - began)


def decode_chunk(
    path: str, kind: str, start: int, stop: int, size: tuple[int, int], channels: int, fps: float | None
) -> np.ndarray | tuple[str, str]:
    """Frames ``[start, stop)`` of a clip as uint8 at model size (what ``Preprocess`` makes of them
    before scaling to [0, 1], so an actor scoring them gets bit-identical input), or ``(reason, kind)``.

    Run as a Ray task on a CPU next to GPU actors (``BatchConfig.decoders``): decoding and resizing,
    not the model, bound GPU archive scoring. It uses one OpenCV thread, as the one CPU it holds.
    """
    import cv2

    from vad_core.sources import FrameFolderSource, VideoFileSource
    from vad_core.sources.image_files import convert_channels
    from vad_core.sources.preprocess import resize_frame

    # Ray sets OMP_NUM_THREADS=1 for the task, but OpenCV's pool ignores it and keeps one thread per
    # core of the machine in every decoding process, all competing with the GPU actor's threads.
    cv2.setNumThreads(1)
    try:
        source = FrameFolderSource(path, fps=fps or 25.0) if kind == "frames" else VideoFileSource(path)
        try:
            frames = source.read(start, stop)
        finally:
            if hasattr(source, "close"):
                source.close()
        return np.stack([resize_frame(convert_channels(frame, channels), size) for frame in frames])
    except Exception as error:  # returned, recorded against the clip by the driver
        return describe_failure(error)

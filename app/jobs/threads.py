"""How a job shares the machine with the GUI thread: torch threads, thread priority, the model lock and
a decoder of its own (no Qt).

Example::

    lower_thread_priority()            # in a worker thread: the GUI thread wins the CPU
    with model_lock(model):            # one thread at a time runs the model
        ...
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import weakref
from typing import Any

from vad_core.sources.base import FrameSource


def limit_torch_threads() -> int:
    """Leave one core to the GUI thread: torch in this (worker) thread uses ``cores - 1`` threads.

    The setting is per thread (OpenMP); pool threads are reused, so it is only changed once each.
    """
    import torch

    threads = max(1, (os.cpu_count() or 2) - 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def lower_thread_priority(niceness: int = 10) -> None:
    """Let the GUI thread win the CPU over this worker thread (Linux: per-thread nice value).

    Elsewhere (or without permission) nothing happens. Pool threads keep the value; they only run jobs.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)


_model_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def model_lock(model: Any) -> threading.Lock:
    """The lock that lets one thread at a time run ``model`` (scoring and reconstruction share it)."""
    with _registry_lock:
        lock = _model_locks.get(model)
        if lock is None:
            lock = _model_locks[model] = threading.Lock()
        return lock


def independent_reader(source: FrameSource) -> FrameSource:
    """A second decoder for a video file, so a worker's sequential reads do not fight the GUI's seeks.

    Video files decode through one ``cv2.VideoCapture`` guarded by a lock: when playback and a
    worker share it, every read becomes a seek. Other sources are returned as they are.
    """
    from vad_core.errors import SourceError
    from vad_core.sources.video_file import VideoFileSource

    if isinstance(source, VideoFileSource) and source.path is not None:
        try:
            reader = VideoFileSource(source.path)
        except SourceError:
            return source
        return reader if len(reader) == len(source) else source
    return source

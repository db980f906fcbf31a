"""Loading a checkpoint (or a fused-model description and its members) off the GUI thread (no Qt):
the first torch import, the weights' SHA-256 and building the model all happen in the worker.

Example::

    worker = Worker(lambda: checkpoint_job("runs/bcae1.safetensors"), name="checkpoint")
    worker.signals.done.connect(window.set_checkpoint)     # a vad_core.checkpoint.Checkpoint
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

from app.jobs.worker import Notice
from vad_core.errors import CheckpointError, VadError

if TYPE_CHECKING:
    from app.jobs.fused import OpenFused
    from vad_core.checkpoint import Checkpoint

log = logging.getLogger(__name__)


def checkpoint_job(path: str | Path, device: str = "cpu") -> Generator[Notice, None, Checkpoint | OpenFused]:
    """Load ``path`` on ``device``: a checkpoint, or a fused-model description (``vad fuse``) with its
    members loaded (``OpenFused``); any failure is a ``CheckpointError`` naming the file (one line)."""
    yield Notice(f"Loading the model {Path(path).name}…")
    from vad_core.checkpoint import load_checkpoint
    from vad_core.fusion import is_fused_model

    try:
        if is_fused_model(path):
            from app.jobs.fused import open_fused

            return open_fused(path, device=device)
        return load_checkpoint(path, device=device)
    except VadError:
        raise
    except Exception as error:  # whatever the file holds, the window gets one line
        log.exception("cannot load checkpoint %s", path)
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        detail = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
        raise CheckpointError(path, f"cannot be loaded ({detail})") from error

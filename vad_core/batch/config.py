"""What a ``vad batch score`` run is asked to do (``BatchConfig``) and the settings that name its numbers.

``settings_hash`` is what decides, with the content hash and the checkpoint, whether a clip scored
by an earlier run can be skipped (``resume``); ``default_inference`` is what ``vad score`` uses.

Example::

    config = BatchConfig("/archive/site7", "runs/bcae1.safetensors", "results/site7", workers=4)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vad_core.batch.chunking import DEFAULT_CHUNK_FRAMES
from vad_core.batch.discover import MIN_IMAGES
from vad_core.inference.config import InferenceConfig
from vad_core.scoring import ScoringConfig


@dataclass(frozen=True)
class BatchConfig:
    """Everything ``vad batch score`` does; the CLI fills it from its options."""

    root: str | Path
    checkpoint: str | Path
    results: str | Path
    inference: InferenceConfig | None = None  # None: batch 32, checkpoint's error / reduction / patch
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    address: str | None = None  # None: start a local Ray; "auto" / "host:6379" / "ray://host:10001": join
    cpus: int | None = None  # CPUs of the local Ray [all of this machine's]
    workers: int | None = None  # actors [as many as the cluster's resources allow]
    cpus_per_worker: float | None = None  # [CPU: max(1, cluster CPUs // 8); GPU: CPUs per GPU, at most 8]
    gpus_per_task: float | None = None  # GPUs per actor [1 when the cluster has GPUs, else 0]
    threads: int | None = None  # chunks a GPU actor scores at once [3 with decoders, else its CPUs]; CPU: 1
    fps: float | None = None  # frame rate of frame folders [25]
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    min_images: int = MIN_IMAGES
    exclude: tuple[str, ...] = ()
    full_hash: bool = False
    retry_failed: bool = False
    max_restarts: int = 4  # our choice: Ray restarts a dead actor this often ...
    max_task_retries: int = 2  # ... and retries a call lost with it this often
    writers: int | None = None  # driver threads writing scores files [cores / 4, 2 to 8]
    # CPU tasks decoding and resizing chunks for the actors, so that a GPU actor only runs the model
    # (it then takes 1 CPU and scores 3 chunks at once). 0: actors decode their own chunks. None: on
    # GPUs, 6 per actor but at most half the CPUs the actors leave; on CPUs, 0 (docs/batch.md).
    decoders: int | None = None
    top_events: int = 5
    progress: bool = True  # tqdm bar on stderr


def settings_hash(inference: InferenceConfig, scoring: ScoringConfig, fps: float | None) -> str:
    """Short hash of the settings that change a clip's numbers (not batch size, device or AMP)."""
    settings = {
        "error": inference.error,
        "reduction": inference.reduction,
        "patch": inference.patch,
        "prediction": getattr(inference, "prediction", None),
        "maps": inference.keep_maps,
        "fps": fps,
        "scoring": asdict(scoring),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def default_inference(checkpoint_scoring: dict[str, Any]) -> InferenceConfig:
    """The inference settings ``vad score`` uses by default for a checkpoint."""
    return InferenceConfig(
        error=checkpoint_scoring.get("error", "mse"),
        reduction=checkpoint_scoring.get("reduction", "mean"),
        patch=int(checkpoint_scoring.get("patch", 16)),
    )

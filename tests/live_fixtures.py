"""Live-monitoring test helpers: the bundled demo checkpoints with a calibration record added."""

from __future__ import annotations

from pathlib import Path

from vad_core.checkpoint import load_checkpoint, save_checkpoint
from vad_core.datasets.synthetic import SyntheticConfig, make_train_clip
from vad_core.resources import demo_model_path
from vad_core.training.calibration import calibration_record


def calibrated_demo_checkpoint(kind: str, folder: Path, clips: int = 2) -> Path:
    """The bundled demo checkpoint of ``kind`` ("frame" / "temporal"), saved into ``folder`` with
    ``metadata["calibration"]`` computed on ``clips`` normal synthetic clips the model was not
    trained on (as ``vad train --holdout`` stores it; its own training clips would give too low
    errors: normal stream frames would then score near 1)."""
    checkpoint = load_checkpoint(demo_model_path(kind))
    config = SyntheticConfig(seed=0)
    unseen = range(config.train_clips, config.train_clips + clips)  # the demo models saw 0..7
    normal = [make_train_clip(config, index).frames for index in unseen]
    record = calibration_record(checkpoint.model, normal, checkpoint.scoring, device="cpu")
    metadata = {**checkpoint.metadata, "calibration": record}
    for key in ("format", "version", "model", "preprocess", "weights_sha256", "created"):
        metadata.pop(key, None)
    return save_checkpoint(checkpoint.model, folder / f"demo_{kind}_calibrated", metadata)

"""Checkpoints: safetensors weights plus a JSON description, never pickles.

A checkpoint is two files side by side: ``NAME.safetensors`` (the weights) and ``NAME.json``
(format version, model config, preprocessing, scoring defaults, training summary, metrics and the
weights' SHA-256). Either file's path, or the common stem, opens it.

Example::

    path = save_checkpoint(model, "runs/bcae1", metadata={"training": {"dataset": "ped2"}})
    checkpoint = load_checkpoint("runs/bcae1.safetensors")
    output = checkpoint.model(x)
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vad_core.atomic_io import atomic_write_bytes, file_sha256
from vad_core.checkpoint_description import FORMAT, MAX_DESCRIPTION_BYTES, VERSION, validate_description
from vad_core.errors import CheckpointError, ConfigError
from vad_core.json_reading import read_json
from vad_core.model_config import ModelConfig

if TYPE_CHECKING:  # torch is imported where weights are read or written, not at start-up
    import torch

    from vad_core.models.base import AnomalyModel
from vad_core.sources.preprocess import Preprocess


@dataclass
class Checkpoint:
    """A loaded model with everything needed to score with it."""

    model: AnomalyModel
    config: ModelConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    sha256: str | None = None

    @property
    def preprocess(self) -> Preprocess:
        return Preprocess(size=self.config.size, channels=self.config.channels)

    @property
    def display_name(self) -> str:
        """Model name as people read it, e.g. ``BCAE1 + SVDD``."""
        name = self.metadata.get("display_name") or self.config.name.upper()
        return str(name)

    @property
    def trained_on(self) -> str:
        training = self.metadata.get("training", {})
        return str(training.get("dataset", "unknown data"))

    @property
    def scoring(self) -> dict[str, Any]:
        """Recommended scoring settings stored at training time (error type, frame reduction)."""
        return dict(self.metadata.get("scoring", {}))


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """``(weights.safetensors, description.json)`` for a path to either file or their common stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(target, data)
    except OSError as error:
        raise CheckpointError(target, f"cannot write ({error.strerror or error})") from None


def save_checkpoint(model: AnomalyModel, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and description atomically; return the ``.safetensors`` path."""
    from safetensors.torch import save

    if model.config is None:
        raise CheckpointError(path, "model has no config (build it with build_model)")
    weights_path, json_path = checkpoint_paths(path)
    tensors = {
        name: tensor.detach().cpu().contiguous().clone() for name, tensor in model.state_dict().items()
    }
    blob = save(tensors)
    _atomic_write_bytes(weights_path, blob)
    description = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.config.to_dict(),
        "preprocess": {
            "size": list(model.config.size),
            "channels": model.config.channels,
            "range": [0.0, 1.0],
        },
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **(metadata or {}),
    }
    _atomic_write_bytes(json_path, json.dumps(description, indent=2, default=_json_default).encode())
    return weights_path


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_description(path: str | Path) -> dict[str, Any]:
    """The validated JSON description of a checkpoint (without loading weights): read through
    :mod:`vad_core.json_reading`, every field checked by :mod:`vad_core.checkpoint_description`."""
    _, json_path = checkpoint_paths(path)
    if not json_path.is_file():
        raise CheckpointError(json_path, "checkpoint description (.json) not found")
    description = read_json(
        json_path, CheckpointError, max_bytes=MAX_DESCRIPTION_BYTES, what="a checkpoint description"
    )
    return validate_description(description, json_path)


def _read_weights(weights_path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not weights_path.is_file():
        raise CheckpointError(weights_path, "weights file (.safetensors) not found")
    try:
        return load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            weights_path, f"cannot read weights (truncated or corrupt file: {error})"
        ) from None


def load_weights_into(model: AnomalyModel, tensors: dict[str, torch.Tensor], where: str | Path) -> None:
    """Load ``tensors`` into ``model`` strictly; ``CheckpointError`` explains any mismatch."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong_shape:
        name = model.config.name if model.config else type(model).__name__
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong_shape:
            key = wrong_shape[0]
            parts.append(
                f"{len(wrong_shape)} of a different shape (e.g. {key}: "
                f"{tuple(tensors[key].shape)} vs {tuple(expected[key].shape)})"
            )
        raise CheckpointError(where, f"weights do not fit architecture {name}: " + "; ".join(parts))
    model.load_state_dict(tensors, strict=True)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu", verify: bool = True) -> Checkpoint:
    """Load a checkpoint written by ``save_checkpoint``; the model comes back in eval mode."""
    from vad_core.models.registry import build_model

    weights_path, json_path = checkpoint_paths(path)
    description = read_description(json_path)
    try:
        config = ModelConfig.from_dict(description["model"])
        model = build_model(config)
    except (ConfigError, KeyError, TypeError, ValueError) as error:
        raise CheckpointError(json_path, f"cannot rebuild the model ({error})") from None
    sha = file_sha256(weights_path) if weights_path.is_file() else None
    expected_sha = description.get("weights_sha256")
    if verify and sha is not None and expected_sha and sha != expected_sha:
        raise CheckpointError(
            weights_path, "weights do not match the description's SHA-256 (file changed or damaged)"
        )
    load_weights_into(model, _read_weights(weights_path), weights_path)
    model.to(device).eval()
    metadata = {k: v for k, v in description.items() if k not in ("format", "version", "model")}
    return Checkpoint(model=model, config=config, metadata=metadata, path=weights_path, sha256=sha)

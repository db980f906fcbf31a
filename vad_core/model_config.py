"""Model descriptions without torch: the temporal spec and the config a checkpoint stores.

Kept apart from ``base.py`` so that code which only reads checkpoints' descriptions (the GUI at
start-up, the CLI's ``info``) does not pay for importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vad_core.errors import ConfigError

MODES = ("frame", "clip", "predict")
# our choice: the largest input side a registered architecture is used at is 256 (DRAEM on MVTec);
# 1024 keeps 4x that headroom while one frame's activations stay within a few hundred MB
MAX_INPUT_SIDE = 1024


@dataclass(frozen=True)
class TemporalSpec:
    """How many frames a model reads and writes, and whether it reconstructs or predicts."""

    mode: str = "frame"
    input_frames: int = 1
    output_frames: int = 1

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError("model", f"mode must be one of {MODES}, found {self.mode!r}")
        if self.mode == "frame" and (self.input_frames, self.output_frames) != (1, 1):
            raise ConfigError("model", "frame models read and write exactly one frame")
        if self.mode == "clip" and self.input_frames != self.output_frames:
            raise ConfigError("model", "clip models reconstruct as many frames as they read")

    @property
    def window(self) -> int:
        """Frames of consecutive video one training or scoring sample spans."""
        return self.input_frames + (self.output_frames if self.mode == "predict" else 0)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model: registered name, channels, input size, options."""

    name: str
    channels: int = 1
    size: tuple[int, int] = (128, 128)
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ConfigError("model", f"channels must be 1 or 3, found {self.channels}")
        height, width = self.size
        if height % 32 or width % 32 or height <= 0 or width <= 0:
            raise ConfigError("model", f"input size must be positive multiples of 32, found {height}x{width}")
        if max(height, width) > MAX_INPUT_SIDE:
            raise ConfigError(
                "model", f"input size must be at most {MAX_INPUT_SIDE} per side, found {height}x{width}"
            )
        object.__setattr__(self, "size", (int(height), int(width)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channels": self.channels,
            "size": list(self.size),
            "options": dict(self.options),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(
            name=str(data["name"]),
            channels=int(data.get("channels", 1)),
            size=tuple(data.get("size", (128, 128))),  # type: ignore[arg-type]
            options=dict(data.get("options", {})),
        )

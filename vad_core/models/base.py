"""What every anomaly model is to the rest of the engine: an ``nn.Module`` with a temporal spec.

Three temporal modes cover the thesis's models:

* ``frame``   - reconstruct one frame: input and output ``(B, C, H, W)`` (CAEs, attention CAEs, MemAE).
* ``clip``    - reconstruct a clip of T frames: input and output ``(B, T, C, H, W)``
  (ConvRNN / ConvLSTM / ConvGRU autoencoders, the stacked-frame AE).
* ``predict`` - from ``input_frames`` seed frames predict the next ``output_frames``:
  input ``(B, S, C, H, W)``, output ``(B, P, C, H, W)`` (Seq2Seq models).

Training and scoring only talk to models through ``spec``, ``split``, ``forward`` and
``forward_train``; they never need to know the architecture.

Example::

    model = build_model(ModelConfig("bcae1", channels=1, size=(128, 128)))
    inputs, target = model.split(clip)            # clip: (B, T, C, H, W) in [0, 1]
    output, aux = model.forward_train(inputs)     # aux: extra loss term (0 for most models)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from vad_core.errors import ConfigError

MODES = ("frame", "clip", "predict")


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


class AnomalyModel(nn.Module):
    """Base class: subclasses set ``spec`` and implement ``forward``; others are optional."""

    spec: TemporalSpec = TemporalSpec()

    def __init__(self) -> None:
        super().__init__()
        self.config: ModelConfig | None = None  # set by the registry's ``build_model``

    def split(self, clip: Tensor) -> tuple[Tensor, Tensor]:
        """Cut a ``(B, window, C, H, W)`` clip into the model's input and the target it is scored on."""
        spec = self.spec
        if clip.dim() != 5 or clip.shape[1] < spec.window:
            raise ConfigError(
                "model", f"expected clips (B, {spec.window}, C, H, W), found {tuple(clip.shape)}"
            )
        if spec.mode == "frame":
            frame = clip[:, 0]
            return frame, frame
        if spec.mode == "clip":
            part = clip[:, : spec.input_frames]
            return part, part
        seeds = clip[:, : spec.input_frames]
        future = clip[:, spec.input_frames : spec.input_frames + spec.output_frames]
        return seeds, future

    def forward_train(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """Output plus an extra loss term (attention penalty, memory entropy); zero by default."""
        return self(inputs), inputs.new_zeros(())

    def encode(self, inputs: Tensor) -> Tensor:
        """Latent embedding (needed by SVDD fine-tuning); models with an encoder override this."""
        raise NotImplementedError(f"{type(self).__name__} has no encoder embedding")

    def last_encoder_layer(self) -> nn.Module:
        """The encoder layer SVDD fine-tuning adapts (thesis 3.6.2: last encoder layer only)."""
        raise NotImplementedError(f"{type(self).__name__} does not expose its encoder layers")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def example_input(model: AnomalyModel, batch: int = 2) -> Tensor:
    """A random input of the shape ``model`` expects (for tests and parameter checks)."""
    assert model.config is not None
    channels, (height, width) = model.config.channels, model.config.size
    if model.spec.mode == "frame":
        return torch.rand(batch, channels, height, width)
    return torch.rand(batch, model.spec.input_frames, channels, height, width)

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

import torch
from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.model_config import MODES, ModelConfig, TemporalSpec

__all__ = ["MODES", "AnomalyModel", "ModelConfig", "TemporalSpec", "count_parameters", "example_input"]


class AnomalyModel(nn.Module):
    """Base class: subclasses set ``spec`` and implement ``forward``; others are optional."""

    spec: TemporalSpec = TemporalSpec()
    #: True for models that segment anomalies themselves (``anomaly_map``), as DRAEM does, rather
    #: than being scored by their reconstruction error
    segments: bool = False

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

    def anomaly_map(self, frames: Tensor) -> Tensor:
        """Per-pixel anomaly probability ``(B, H, W)`` of models that segment (``segments``)."""
        raise NotImplementedError(f"{type(self).__name__} gives no anomaly map; score its error instead")

    def image_score(self, maps: Tensor) -> Tensor:
        """Image scores ``(B,)`` from the ``(B, H, W)`` maps of ``anomaly_map`` (models that segment)."""
        raise NotImplementedError(f"{type(self).__name__} gives no image score of its own")

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

"""Spatio-temporal stacked-frame autoencoder: T frames stacked as channels through a 2D conv AE.

Implements the "Spatio-Temporal Stacked Frame AutoEncoder" of seed 004 (after Hasan et al. 2016,
"Learning Temporal Regularity in Video Sequences"): a clip of T = 10 frames (default from the
notebook) is reshaped to ``(B, T*C, H, W)`` so that the first convolution mixes time, encoded and
decoded by a 2D conv AE, and the ``T*C`` output maps are reshaped back to ``(B, T, C, H, W)``.

The notebook's layers (15x15 stride-4 convs, max-pooling, 512-256-128 kernels on 227x227) do not fit
our multiple-of-32 sizes, so we keep its funnel shape on BCAE1's skeleton (4.4.2 of seed 003): five
stride-2 3x3 conv blocks with 256, 128, 128, 96, 96 kernels (BatchNorm + ReLU), a mirrored transpose
decoder (BatchNorm + LeakyReLU 0.2) and a sigmoid output. The wide first layer mixes the stacked
frames; the 96-channel H/32 x W/32 bottleneck matches BCAE1's, so the two compare fairly.

Example::

    model = build_model(ModelConfig("stacked_ae", channels=1, size=(128, 128)))
    clip = torch.rand(2, 10, 1, 128, 128)
    reconstruction = model(clip)           # (2, 10, 1, 128, 128)
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.base import AnomalyModel, TemporalSpec
from vad_core.models.layers import conv_block, deconv_block
from vad_core.models.registry import register

#: Seed 004 stacks 10 frames (default from the notebook).
STACKED_TIME_STEPS = 10
#: Our adaptation of seed 004's 512-256-128 funnel to BCAE1's five stride-2 layers.
STACKED_FILTERS = (256, 128, 128, 96, 96)


class StackedFramesAE(AnomalyModel):
    """Reconstructs ``(B, T, C, H, W)`` clips by treating the T frames as ``T*C`` input channels."""

    def __init__(
        self,
        channels: int,
        size: tuple[int, int],
        time_steps: int = STACKED_TIME_STEPS,
        filters: Sequence[int] = STACKED_FILTERS,
    ) -> None:
        super().__init__()
        if time_steps < 1:
            raise ConfigError("model", f"time_steps must be at least 1, found {time_steps}")
        if not 1 <= len(filters) <= 5:
            raise ConfigError("model", f"stacked_ae needs 1..5 encoder layers, found {len(filters)}")
        self.spec = TemporalSpec("clip", time_steps, time_steps)
        self.channels = channels
        widths = (time_steps * channels, *filters)
        self.encoder = nn.Sequential(*(conv_block(a, b) for a, b in pairwise(widths)))
        mirrored = list(pairwise(widths[::-1]))
        self.decoder = nn.Sequential(
            *(deconv_block(a, b, last=index == len(mirrored) - 1) for index, (a, b) in enumerate(mirrored))
        )

    def encode(self, inputs: Tensor) -> Tensor:
        """Bottleneck ``(B, 96, H/32, W/32)`` of the stacked clip."""
        expected = (self.spec.input_frames, self.channels)
        if inputs.dim() != 5 or tuple(inputs.shape[1:3]) != expected:
            found = tuple(inputs.shape)
            raise ConfigError(
                "model", f"expected clips (B, {expected[0]}, {expected[1]}, H, W), found {found}"
            )
        return self.encoder(inputs.flatten(1, 2))

    def forward(self, inputs: Tensor) -> Tensor:
        return self.decoder(self.encode(inputs)).unflatten(1, (self.spec.input_frames, self.channels))

    def last_encoder_layer(self) -> nn.Module:
        return self.encoder[-1]


@register(
    "stacked_ae",
    family="spatio-temporal AE",
    summary="Stacked-frame spatio-temporal AE: 10 frames as channels (seed 004)",
    time_steps=STACKED_TIME_STEPS,
)
def build_stacked_ae(
    channels: int, size: tuple[int, int], time_steps: int = STACKED_TIME_STEPS
) -> AnomalyModel:
    return StackedFramesAE(channels, size, int(time_steps))

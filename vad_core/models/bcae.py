"""Baseline convolutional autoencoders BCAE1 and BCAE2 (thesis 4.4.2 and 4.5).

Both are five strided 3x3 convolutions (BatchNorm + ReLU) down to a bottleneck and five mirrored
strided 3x3 transpose convolutions (BatchNorm + LeakyReLU 0.2) back up, with a sigmoid output.
Every layer halves (doubles) H and W, so any input whose sides are multiples of 32 works.

* BCAE1 - kernels 64, 64, 64, 96, 96 (thesis 4.4.2); embedding 96 x H/32 x W/32 (1536 at 128 px).
* BCAE2 - kernels 64, 128, 256, 512, 300 (thesis 4.5); embedding 300 x H/32 x W/32.

The thesis says BCAE1's last encoder layer has stride 1 yet quotes a 1 x 1536 embedding for
128x128 inputs; 1536 = 96 x 4 x 4 needs five stride-2 layers, which is what is built here.

``ConvAutoEncoder`` is the shared container (encoder ``nn.Sequential`` of stages, decoder
``nn.Sequential`` of stages) that the other spatial models reuse.

Example::

    model = build_model(ModelConfig("bcae1", channels=1, size=(128, 128)))
    output = model(torch.rand(2, 1, 128, 128))      # (2, 1, 128, 128) in [0, 1]
    z = model.encode(torch.rand(2, 1, 128, 128))    # (2, 96, 4, 4), not flattened
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.base import AnomalyModel, TemporalSpec
from vad_core.models.layers import BCAE1_FILTERS, BCAE2_FILTERS, conv_block, deconv_block
from vad_core.models.registry import register

DOWNSAMPLING = 32  # five stride-2 layers


def check_frames(frames: Tensor, channels: int) -> None:
    """Raise ``ConfigError`` unless ``frames`` is ``(B, channels, H, W)`` with H, W multiples of 32."""
    if frames.dim() != 4 or frames.shape[1] != channels:
        raise ConfigError("model", f"expected frames (B, {channels}, H, W), found {tuple(frames.shape)}")
    height, width = frames.shape[-2:]
    if height % DOWNSAMPLING or width % DOWNSAMPLING:
        raise ConfigError("model", f"frame size must be multiples of 32, found {height}x{width}")


def encoder_stages(channels: int, filters: Sequence[int]) -> nn.Sequential:
    """Strided conv blocks ``channels -> filters[0] -> ... -> filters[-1]`` (each halves H and W)."""
    widths = (channels, *filters)
    return nn.Sequential(*(conv_block(widths[i], widths[i + 1]) for i in range(len(filters))))


def decoder_stages(channels: int, filters: Sequence[int]) -> nn.Sequential:
    """Mirror of ``encoder_stages``: ``filters[-1] -> ... -> filters[0] -> channels``, sigmoid output."""
    widths = (*reversed(filters), channels)
    last = len(filters) - 1
    return nn.Sequential(
        *(deconv_block(widths[i], widths[i + 1], last=i == last) for i in range(len(filters)))
    )


class ConvAutoEncoder(AnomalyModel):
    """Frame autoencoder made of an encoder and a decoder ``nn.Sequential`` of stages.

    ``encode`` returns the bottleneck feature map ``(B, C_z, H/32, W/32)`` (not flattened);
    ``last_encoder_layer`` is the encoder's last stage, the part SVDD fine-tuning adapts.
    """

    spec = TemporalSpec("frame")

    def __init__(self, channels: int, encoder: nn.Sequential, decoder: nn.Sequential) -> None:
        super().__init__()
        self.channels = channels
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, frames: Tensor) -> Tensor:
        """Reconstruct ``(B, C, H, W)`` frames in [0, 1]."""
        return self.decoder(self.encode(frames))

    def encode(self, frames: Tensor) -> Tensor:
        """Bottleneck feature map ``(B, C_z, H/32, W/32)``."""
        check_frames(frames, self.channels)
        return self.encoder(frames)

    def last_encoder_layer(self) -> nn.Module:
        """The encoder's last stage (conv + BatchNorm + ReLU)."""
        return self.encoder[-1]


def build_cae(channels: int, filters: Sequence[int]) -> ConvAutoEncoder:
    """A plain strided CAE with the given encoder kernel counts and a mirrored decoder."""
    return ConvAutoEncoder(channels, encoder_stages(channels, filters), decoder_stages(channels, filters))


@register("bcae1", family="spatial CAE", summary="Baseline CAE, kernels 64-64-64-96-96 (thesis 4.4.2)")
def build_bcae1(channels: int, size: tuple[int, int]) -> ConvAutoEncoder:
    """BCAE1: the thesis's baseline for the attention, SVDD and SSIM experiments."""
    return build_cae(channels, BCAE1_FILTERS)


@register("bcae2", family="spatial CAE", summary="Baseline CAE, kernels 64-128-256-512-300 (thesis 4.5)")
def build_bcae2(channels: int, size: tuple[int, int]) -> ConvAutoEncoder:
    """BCAE2: the baseline the kernel-strengthened CAE is compared with."""
    return build_cae(channels, BCAE2_FILTERS)

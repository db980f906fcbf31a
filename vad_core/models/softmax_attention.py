"""SSA CAE: BCAE1 behind the softmax axis-wise input attention block (thesis 3.5.3, eq. 3.12).

The block keeps SA CAE's two convolutions + BatchNorm (logits ``x_BN``, C channels), sums them
along the width and along the height to get, per channel, a height profile ``S_h`` (H values) and a
width profile ``S_w`` (W values), applies a softmax along each axis and multiplies the two
(outer product) into the softmax attention map ``x_SAM`` (sums to 1 over H x W per channel). As
the thesis reports, the map is then rescaled to [0.3, 1] (min-max per image and channel) so no
region is blanked out. The autoencoder (BCAE1, thesis 4.7.1) reconstructs the input from
``x * x_SAM``; no penalty term is needed.

Defaults from the thesis (4.7.1): C_p = 64, k1 = 3, k2 = 5; scale range 0.3-1 (3.5.3).

Example::

    model = build_model(ModelConfig("ssa_cae", channels=1, size=(128, 128)))
    output = model(frames)                            # (B, 1, 128, 128) in [0, 1]
    x_sam = model.attention_map(frames)               # (B, 1, 128, 128) in [0.3, 1]
"""

from __future__ import annotations

from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.bcae import ConvAutoEncoder, check_frames, decoder_stages, encoder_stages
from vad_core.models.layers import BCAE1_FILTERS
from vad_core.models.registry import register
from vad_core.models.soft_attention import KERNEL_SIZES, PROJECTION_CHANNELS, ConvAttention

SCALE_RANGE = (0.3, 1.0)  # thesis 3.5.3: "scaling the values between 0.3 and 1"
_EPS = 1e-12


class SoftmaxAttention(nn.Module):
    """Axis-wise softmax attention map ``x_SAM`` (eq. 3.12), rescaled to ``scale_range``."""

    def __init__(
        self,
        channels: int,
        projection_channels: int = PROJECTION_CHANNELS,
        kernel_sizes: tuple[int, int] = KERNEL_SIZES,
        scale_range: tuple[float, float] = SCALE_RANGE,
    ) -> None:
        super().__init__()
        low, high = scale_range
        if not 0.0 <= low < high:
            raise ConfigError("model", f"scale range must satisfy 0 <= low < high, found {scale_range}")
        self.logits = ConvAttention(channels, projection_channels, kernel_sizes)
        self.scale_range = (float(low), float(high))

    def forward(self, frames: Tensor) -> Tensor:
        """Attention map ``(B, C, H, W)`` in ``scale_range``."""
        x_bn = self.logits(frames)
        s_h = x_bn.sum(dim=-1, keepdim=True).softmax(dim=-2)  # (B, C, H, 1): importance of each row
        s_w = x_bn.sum(dim=-2, keepdim=True).softmax(dim=-1)  # (B, C, 1, W): importance of each column
        x_sam = s_h * s_w
        low, high = self.scale_range
        smallest = x_sam.amin(dim=(-2, -1), keepdim=True)
        largest = x_sam.amax(dim=(-2, -1), keepdim=True)
        return low + (high - low) * (x_sam - smallest) / (largest - smallest + _EPS)


class SSACAE(ConvAutoEncoder):
    """Softmax soft-attention CAE: ``decoder(encoder(x * x_SAM))``.

    ``encode`` returns BCAE1's bottleneck ``(B, 96, H/32, W/32)`` of the attended input.
    """

    def __init__(
        self,
        channels: int,
        projection_channels: int = PROJECTION_CHANNELS,
        kernel_sizes: tuple[int, int] = KERNEL_SIZES,
        scale_range: tuple[float, float] = SCALE_RANGE,
    ) -> None:
        super().__init__(
            channels, encoder_stages(channels, BCAE1_FILTERS), decoder_stages(channels, BCAE1_FILTERS)
        )
        self.attention = SoftmaxAttention(channels, projection_channels, kernel_sizes, scale_range)

    def attention_map(self, frames: Tensor) -> Tensor:
        """``x_SAM`` for ``frames``, ``(B, C, H, W)``."""
        check_frames(frames, self.channels)
        return self.attention(frames)

    def encode(self, frames: Tensor) -> Tensor:
        """Bottleneck of the attended frames."""
        return self.encoder(frames * self.attention_map(frames))


@register(
    "ssa_cae",
    family="attention CAE",
    summary="BCAE1 with softmax axis-wise input attention scaled to 0.3-1 (thesis 3.5.3)",
    projection_channels=PROJECTION_CHANNELS,
    kernel_sizes=list(KERNEL_SIZES),
    scale_range=list(SCALE_RANGE),
)
def build_ssa_cae(
    channels: int,
    size: tuple[int, int],
    projection_channels: int = PROJECTION_CHANNELS,
    kernel_sizes: tuple[int, int] | list[int] = KERNEL_SIZES,
    scale_range: tuple[float, float] | list[float] = SCALE_RANGE,
) -> SSACAE:
    """SSA CAE on BCAE1 (thesis 4.7)."""
    small, large = (int(k) for k in kernel_sizes)
    low, high = (float(v) for v in scale_range)
    return SSACAE(channels, int(projection_channels), (small, large), (low, high))

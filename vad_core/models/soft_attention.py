"""SA CAE: BCAE1 behind a learned convolutional input soft-attention block (thesis 3.5.3, eq. 3.11).

The attention block projects the input to ``C_p`` channels with a small k1 x k1 convolution, back to
the input's C channels with a larger k2 x k2 convolution, then BatchNorm and a sigmoid give the
attention map ``x_AM`` in (0, 1). The autoencoder (BCAE1, thesis 4.7.1) reconstructs the input
from ``x * x_AM``; training adds the penalty ``lambda * mean |x_AM|`` so the map keeps only the
pixels reconstruction needs. Eq. 3.11 has no activation between the two convolutions; neither has
this block. The penalty is a mean rather than a norm so that ``lambda`` does not scale with the
frame size.

Defaults from the thesis (4.7.1): C_p = 64, k1 = 3, k2 = 5, lambda = 1e-6.

Example::

    model = build_model(ModelConfig("sa_cae", channels=1, size=(128, 128)))
    output, penalty = model.forward_train(frames)     # penalty = 1e-6 * mean |x_AM|
    x_am = model.attention_map(frames)                # (B, C, H, W), for display
"""

from __future__ import annotations

from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.bcae import ConvAutoEncoder, check_frames, decoder_stages, encoder_stages
from vad_core.models.layers import BCAE1_FILTERS
from vad_core.models.registry import register

PROJECTION_CHANNELS = 64  # thesis 4.7.1: C_p = 64
KERNEL_SIZES = (3, 5)  # thesis 4.7.1: k1 = 3, k2 = 5
PENALTY = 1e-6  # thesis 4.7.1: lambda = 1e-6


class ConvAttention(nn.Module):
    """Two convolutions + BatchNorm: the pre-activation attention logits ``x_BN`` of eq. 3.11/3.12."""

    def __init__(
        self,
        channels: int,
        projection_channels: int = PROJECTION_CHANNELS,
        kernel_sizes: tuple[int, int] = KERNEL_SIZES,
    ) -> None:
        super().__init__()
        small, large = kernel_sizes
        if small % 2 == 0 or large % 2 == 0 or projection_channels < 1:
            raise ConfigError(
                "model",
                f"attention needs odd kernel sizes and >= 1 channel, found {kernel_sizes}, "
                f"{projection_channels} channels",
            )
        self.project = nn.Conv2d(channels, projection_channels, small, padding=small // 2)
        self.compress = nn.Conv2d(projection_channels, channels, large, padding=large // 2)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, frames: Tensor) -> Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H, W)`` logits."""
        return self.norm(self.compress(self.project(frames)))


class SoftAttention(nn.Module):
    """Sigmoid attention map ``x_AM = sigmoid(BN(conv2(conv1(x))))`` (eq. 3.11)."""

    def __init__(
        self,
        channels: int,
        projection_channels: int = PROJECTION_CHANNELS,
        kernel_sizes: tuple[int, int] = KERNEL_SIZES,
    ) -> None:
        super().__init__()
        self.logits = ConvAttention(channels, projection_channels, kernel_sizes)

    def forward(self, frames: Tensor) -> Tensor:
        """Attention map ``(B, C, H, W)`` in (0, 1)."""
        return self.logits(frames).sigmoid()


class SACAE(ConvAutoEncoder):
    """Soft-attention CAE: ``decoder(encoder(x * x_AM))`` with an attention-norm penalty in training.

    ``encode`` returns BCAE1's bottleneck ``(B, 96, H/32, W/32)`` of the attended input.
    """

    def __init__(
        self,
        channels: int,
        projection_channels: int = PROJECTION_CHANNELS,
        kernel_sizes: tuple[int, int] = KERNEL_SIZES,
        penalty: float = PENALTY,
    ) -> None:
        super().__init__(
            channels, encoder_stages(channels, BCAE1_FILTERS), decoder_stages(channels, BCAE1_FILTERS)
        )
        self.attention = SoftAttention(channels, projection_channels, kernel_sizes)
        self.penalty = penalty

    def attention_map(self, frames: Tensor) -> Tensor:
        """``x_AM`` for ``frames``, ``(B, C, H, W)`` in (0, 1)."""
        check_frames(frames, self.channels)
        return self.attention(frames)

    def encode(self, frames: Tensor) -> Tensor:
        """Bottleneck of the attended frames."""
        return self.encoder(frames * self.attention_map(frames))

    def forward_train(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """Reconstruction and ``lambda * mean |x_AM|`` (eq. 3.11)."""
        x_am = self.attention_map(inputs)
        output = self.decoder(self.encoder(inputs * x_am))
        return output, self.penalty * x_am.abs().mean()


@register(
    "sa_cae",
    family="attention CAE",
    summary="BCAE1 with learned input soft-attention and lambda*|x_AM| penalty (thesis 3.5.3)",
    projection_channels=PROJECTION_CHANNELS,
    kernel_sizes=list(KERNEL_SIZES),
    penalty=PENALTY,
)
def build_sa_cae(
    channels: int,
    size: tuple[int, int],
    projection_channels: int = PROJECTION_CHANNELS,
    kernel_sizes: tuple[int, int] | list[int] = KERNEL_SIZES,
    penalty: float = PENALTY,
) -> SACAE:
    """SA CAE on BCAE1 (thesis 4.7)."""
    small, large = (int(k) for k in kernel_sizes)
    return SACAE(channels, int(projection_channels), (small, large), float(penalty))

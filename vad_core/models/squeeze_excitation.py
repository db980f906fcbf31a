"""SE CAE: BCAE1 with squeeze-and-excitation channel attention (Hu et al., CVPR 2018; thesis 3.5.2).

A squeeze-excitation block averages each feature map to one number ("squeeze"), passes the
vector through two fully connected layers (C -> C/r, ReLU, C/r -> C, sigmoid; "excitation") and
rescales every channel by its weight. As in the thesis, a block follows every convolution and
transpose convolution of BCAE1 (after its BatchNorm and activation), except the sigmoid output
layer, whose 1 or 3 channels carry no features to weigh.

Defaults from the SE paper: reduction r = 16 (hidden size at least 1), no biases in the FC layers.

Example::

    model = build_model(ModelConfig("se_cae", channels=3, size=(128, 128)))
    output = model(torch.rand(2, 3, 128, 128))      # (2, 3, 128, 128) in [0, 1]
    block = SqueezeExcitation(64)                   # (B, 64, H, W) -> (B, 64, H, W)
"""

from __future__ import annotations

from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.bcae import ConvAutoEncoder
from vad_core.models.layers import BCAE1_FILTERS, conv_block, deconv_block
from vad_core.models.registry import register

REDUCTION = 16  # SE paper, r = 16


class SqueezeExcitation(nn.Module):
    """Channel attention: ``x * sigmoid(W2 relu(W1 avgpool(x)))``."""

    def __init__(self, channels: int, reduction: int = REDUCTION) -> None:
        super().__init__()
        if reduction < 1:
            raise ConfigError("model", f"SE reduction must be >= 1, found {reduction}")
        hidden = max(1, channels // reduction)
        self.excitation = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, features: Tensor) -> Tensor:
        """Rescale the channels of ``(B, C, H, W)`` features."""
        weights = self.excitation(features.mean(dim=(-2, -1)))
        return features * weights[:, :, None, None]


def build_se_layers(channels: int, reduction: int = REDUCTION) -> tuple[nn.Sequential, nn.Sequential]:
    """BCAE1 stages, each followed by a squeeze-excitation block (not the output layer)."""
    filters = BCAE1_FILTERS
    widths = (channels, *filters)
    encoder = nn.Sequential(
        *(
            nn.Sequential(*conv_block(widths[i], widths[i + 1]), SqueezeExcitation(widths[i + 1], reduction))
            for i in range(len(filters))
        )
    )
    back = (*reversed(filters), channels)
    decoder = [
        nn.Sequential(*deconv_block(back[i], back[i + 1]), SqueezeExcitation(back[i + 1], reduction))
        for i in range(len(filters) - 1)
    ]
    decoder.append(deconv_block(back[-2], back[-1], last=True))
    return encoder, nn.Sequential(*decoder)


@register(
    "se_cae",
    family="attention CAE",
    summary="BCAE1 with squeeze-excitation after every layer (thesis 3.5.2)",
    reduction=REDUCTION,
)
def build_se_cae(channels: int, size: tuple[int, int], reduction: int = REDUCTION) -> ConvAutoEncoder:
    """SE CAE on BCAE1 (thesis 4.7); ``encode`` gives 96 x H/32 x W/32, the last stage includes its SE."""
    encoder, decoder = build_se_layers(channels, int(reduction))
    return ConvAutoEncoder(channels, encoder, decoder)

"""Building blocks shared by the convolutional models (thesis 4.4.2).

Encoder blocks are strided 3x3 convolutions + BatchNorm + ReLU; decoder blocks are strided 3x3
transpose convolutions + BatchNorm + LeakyReLU(0.2) that exactly double the spatial size.

Example::

    down = conv_block(1, 64)        # (B, 1, 128, 128) -> (B, 64, 64, 64)
    up = deconv_block(64, 1, last=True)   # ... -> sigmoid output, no BatchNorm
"""

from __future__ import annotations

from torch import nn

#: Kernel counts of BCAE1's encoder (thesis 4.4.2); the decoder mirrors them.
BCAE1_FILTERS = (64, 64, 64, 96, 96)
#: Kernel counts of BCAE2's encoder (thesis 4.5).
BCAE2_FILTERS = (64, 128, 256, 512, 300)
LEAKY_SLOPE = 0.2  # thesis 4.4.2: LeakyReLU with 0.2 leakiness in the decoder


def conv_block(in_channels: int, out_channels: int, stride: int = 2) -> nn.Sequential:
    """3x3 conv (stride 2 halves H and W) + BatchNorm + ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def deconv_block(in_channels: int, out_channels: int, stride: int = 2, last: bool = False) -> nn.Sequential:
    """3x3 transpose conv (stride 2 doubles H and W) + BatchNorm + LeakyReLU(0.2); sigmoid if ``last``."""
    output_padding = 1 if stride == 2 else 0
    if last:
        return nn.Sequential(
            nn.ConvTranspose2d(
                in_channels, out_channels, 3, stride, padding=1, output_padding=output_padding
            ),
            nn.Sigmoid(),
        )
    return nn.Sequential(
        nn.ConvTranspose2d(
            in_channels, out_channels, 3, stride, padding=1, output_padding=output_padding, bias=False
        ),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
    )

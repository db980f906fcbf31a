"""U-Net future-frame predictor: the next frame from the 4 frames before it.

After Liu et al. (CVPR 2018, "Future Frame Prediction for Anomaly Detection - A New Baseline"),
the prediction counterpart of the reconstruction models, which seed 002 contrasts with them (MNAD's
"prediction task"): a normal future is predictable from the past, an odd object or odd motion is
not. The seed frames are stacked as channels (like ``stacked_ae``), go down a U-Net of
``levels`` resolutions (two 3x3 conv + BatchNorm + ReLU per level, 2x2 max-pooling between them,
``base_filters`` doubling at each level) and come back up through 2x2 transpose convolutions, each
level concatenated with the encoder features of the same resolution (the skip connections keep
the prediction sharp, which the bottleneck of the recurrent Seq2Seq models does not). A 1x1
convolution and a sigmoid give the predicted frame.

Liu et al. also train with adversarial and optical-flow losses; we keep their intensity and
gradient terms (``loss="mse+gradient"``), which need no flow network or weights, and no adversary,
and train on consecutive frames (``strides=(1,)``): stride augmentation would teach the predictor
fast motion, which is what it should find surprising. Both are registered as this model's training
defaults, which ``TrainConfig.for_model`` (the CLI, the GUI) applies.

Example::

    model = build_model(ModelConfig("unet_predictor", channels=1, size=(128, 128)))
    seeds, future = model.split(torch.rand(2, 5, 1, 128, 128))   # 4 seed frames, 1 future frame
    prediction = model(seeds)                                      # (2, 1, 1, 128, 128)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.base import AnomalyModel, TemporalSpec
from vad_core.models.registry import register

#: Liu et al. predict frame t from frames t-4 .. t-1, with 64 filters at the top of a 4-level U-Net.
UNET_DEFAULTS = {"seed_frames": 4, "base_filters": 64, "levels": 4}


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv + BatchNorm + ReLU at one resolution."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNetPredictor(AnomalyModel):
    """Predicts frame ``t`` ``(B, 1, C, H, W)`` from frames ``t-S .. t-1`` ``(B, S, C, H, W)``."""

    def __init__(
        self,
        channels: int,
        size: tuple[int, int],
        seed_frames: int = 4,
        base_filters: int = 64,
        levels: int = 4,
    ) -> None:
        super().__init__()
        if seed_frames < 1:
            raise ConfigError("model", f"seed_frames must be at least 1, found {seed_frames}")
        if not 2 <= levels <= 6 or base_filters < 1:
            raise ConfigError(
                "model",
                f"unet_predictor needs 2..6 levels and base_filters >= 1, found {levels}, {base_filters}",
            )
        self.spec = TemporalSpec("predict", seed_frames, 1)
        self.channels = channels
        widths = [base_filters * 2**level for level in range(levels)]
        self.down = nn.ModuleList()
        previous = seed_frames * channels
        for width in widths:
            self.down.append(double_conv(previous, width))
            previous = width
        self.pool = nn.MaxPool2d(2)
        self.upsample = nn.ModuleList()
        self.up = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.upsample.append(nn.ConvTranspose2d(previous, width, 2, stride=2))
            self.up.append(double_conv(2 * width, width))
            previous = width
        self.head = nn.Sequential(nn.Conv2d(previous, channels, 1), nn.Sigmoid())

    def _stack(self, inputs: Tensor) -> Tensor:
        expected = (self.spec.input_frames, self.channels)
        if inputs.dim() != 5 or tuple(inputs.shape[1:3]) != expected:
            found = tuple(inputs.shape)
            raise ConfigError(
                "model", f"expected clips (B, {expected[0]}, {expected[1]}, H, W), found {found}"
            )
        return inputs.flatten(1, 2)

    def _encode_levels(self, inputs: Tensor) -> list[Tensor]:
        features = []
        x = self._stack(inputs)
        for index, block in enumerate(self.down):
            x = block(x if index == 0 else self.pool(x))
            features.append(x)
        return features

    def encode(self, inputs: Tensor) -> Tensor:
        """Deepest features ``(B, base_filters * 2**(levels-1), H / 2**(levels-1), W / 2**(levels-1))``."""
        return self._encode_levels(inputs)[-1]

    def forward(self, inputs: Tensor) -> Tensor:
        features = self._encode_levels(inputs)
        x = features[-1]
        for upsample, block, skip in zip(self.upsample, self.up, reversed(features[:-1]), strict=True):
            x = block(torch.cat([upsample(x), skip], dim=1))
        return self.head(x).unsqueeze(1)

    def last_encoder_layer(self) -> nn.Module:
        return self.down[-1]


@register(
    "unet_predictor",
    family="frame predictor",
    summary="U-Net future-frame predictor: 4 frames predict the next (Liu et al. 2018)",
    training={"loss": "mse+gradient", "strides": (1,)},
    scoring={"reduction": "mean", "score": "psnr"},  # Liu et al. 2018 score frames by their PSNR
    **UNET_DEFAULTS,
)
def build_unet_predictor(
    channels: int, size: tuple[int, int], seed_frames: int = 4, base_filters: int = 64, levels: int = 4
) -> AnomalyModel:
    return UNetPredictor(channels, size, int(seed_frames), int(base_filters), int(levels))

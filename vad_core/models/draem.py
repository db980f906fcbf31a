"""DRAEM: a reconstructive and a discriminative sub-network trained on synthetic anomalies.

After Zavrtanik, Kristan and Skocaj (ICCV 2021, "DRAEM - A discriminatively trained reconstruction
embedding for surface anomaly detection"). No pretrained weights are needed: both networks are
trained from scratch on good images into which anomalies are pasted
(``vad_core.training.anomaly_synthesis``). ``forward_train`` pastes them and returns the loss terms,
so the common trainer (``vad_core.training.trainer``) trains DRAEM like any other model, with the
recipe in ``DRAEM_TRAINING``. Loss (paper, eq. 2-4): ``L2(rec, good)`` (the trainer's MSE
criterion) ``+ (1 - SSIM(rec, good)) + Focal(segmentation, mask)`` (focal gamma 2), SSIM and the
focal loss in float32 outside autocast.

* The reconstructive sub-network is an encoder-decoder without skips: five levels of two 3x3
  conv + BatchNorm + ReLU, 2x2 max-pooling between them (widths w, 2w, 4w, 8w, 8w), and a mirrored
  decoder of bilinear 2x upsampling, conv blocks and a linear 3x3 output conv (as in the authors'
  code: no sigmoid, so values may leave [0, 1] slightly). It learns to turn an image with a
  pasted anomaly back into the good image. Paper: w = ``recon_width`` = 128.
* The discriminative sub-network is a U-Net with skips (six levels, widths v, 2v, 4v, 8v, 8v, 8v,
  five poolings, so inputs must be multiples of 32) that reads ``concat(reconstruction, input)``
  and gives 2-channel logits (normal, anomalous) per pixel. Paper: v = ``disc_width`` = 64.

``forward`` returns the reconstruction, so reconstruction-error code keeps working;
``anomaly_map`` is the softmax probability of "anomalous" (what the paper scores pixels with) and
``image_score`` is the maximum of that map after a ``k x k`` mean filter. The paper uses
k = 21 at 256 px; here k = 2 * round(10 * min(H, W) / 256) + 1 (21 at 256, 11 at 128, 5 at 64),
zero padding counted in the mean as in the authors' code. Checkpoints recommend exactly that to
scorers (``draem_scoring``: error ``"segmentation"``, reduction ``"smoothed_max"``, patch k).

``draem`` has the paper's widths (about 97 M parameters); ``draem_small`` quarter widths (32 / 16,
6 M) for a CPU; tests use smaller still (``recon_width`` / ``disc_width`` options).

Example::

    model = build_model(ModelConfig("draem", channels=3, size=(256, 256)))
    heat = model.anomaly_map(images)                 # (B, 256, 256) in [0, 1]
    scores = model.image_score(heat)                 # (B,)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.base import AnomalyModel, TemporalSpec
from vad_core.models.bcae import check_frames
from vad_core.models.registry import register
from vad_core.models.ssim import ssim

#: Defaults from the paper: base widths of the reconstructive and discriminative sub-networks.
DRAEM_DEFAULTS = {"recon_width": 128, "disc_width": 64}
#: Quarter widths for a CPU (about 6 M parameters): trains at 128 px in minutes, not hours.
DRAEM_SMALL_DEFAULTS = {"recon_width": 32, "disc_width": 16}
#: The paper's recipe, applied by ``TrainConfig.for_model``: Adam, lr 1e-4, batch 8, 700 epochs
#: (one epoch = one pass over the good images), lr x 0.2 after epochs 400 and 600 of 700 (the
#: milestones are fractions, so they scale with ``--epochs`` and with a time budget); the last epoch
#: is kept (no defects at training time, so no loss to pick a "best" epoch by) and all images
#: train (no validation split); single images, so no temporal strides. Paper-width states are
#: ~1.5 GB, so they are written at most every two minutes.
DRAEM_TRAINING = {
    "learning_rate": 1e-4,
    "batch_size": 8,
    "max_epochs": 700,
    "lr_milestones": (400 / 700, 600 / 700),
    "lr_factor": 0.2,
    "keep": "last",
    "validation_fraction": 0.0,
    "min_batches_per_epoch": 1,
    "strides": (1,),
    "save_every_seconds": 120.0,
}
FOCAL_GAMMA = 2.0  # paper, section 3.3
PAPER_SIZE, PAPER_WINDOW = 256, 21  # the paper's image-score filter: 21x21 at 256 px


def conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    """3x3 conv + BatchNorm + ReLU at one resolution (conv bias kept, as in the authors' code)."""
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


def double_conv(in_channels: int, out_channels: int, middle: int | None = None) -> nn.Sequential:
    """Two conv + BatchNorm + ReLU: ``in -> middle -> out`` (``middle`` defaults to ``out``)."""
    middle = out_channels if middle is None else middle
    return nn.Sequential(*conv_bn_relu(in_channels, middle), *conv_bn_relu(middle, out_channels))


def up_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Bilinear 2x upsampling followed by conv + BatchNorm + ReLU."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        *conv_bn_relu(in_channels, out_channels),
    )


def encoder_levels(in_channels: int, widths: list[int]) -> nn.ModuleList:
    """One ``double_conv`` per level (max-pooling between levels is applied by the caller)."""
    levels, previous = nn.ModuleList(), in_channels
    for width in widths:
        levels.append(double_conv(previous, width))
        previous = width
    return levels


class ReconstructiveNetwork(nn.Module):
    """Encoder-decoder without skips: ``(B, C, H, W)`` -> reconstruction ``(B, C, H, W)``."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        w = width
        self.encoder = encoder_levels(channels, [w, 2 * w, 4 * w, 8 * w, 8 * w])
        self.pool = nn.MaxPool2d(2)
        ins, outs = [8 * w, 4 * w, 2 * w, w], [4 * w, 2 * w, w, w]
        self.up = nn.ModuleList(up_block(width, width) for width in ins)
        self.decode = nn.ModuleList(
            double_conv(width, out, width) for width, out in zip(ins, outs, strict=True)
        )
        self.head = nn.Conv2d(w, channels, 3, padding=1)

    def forward(self, frames: Tensor) -> Tensor:
        x = frames
        for index, level in enumerate(self.encoder):
            x = level(x if index == 0 else self.pool(x))
        for up, decode in zip(self.up, self.decode, strict=True):
            x = decode(up(x))
        return self.head(x)


class DiscriminativeNetwork(nn.Module):
    """U-Net with skips: ``(B, 2C, H, W)`` -> logits ``(B, 2, H, W)`` (normal, anomalous)."""

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        v = width
        widths = [v, 2 * v, 4 * v, 8 * v, 8 * v, 8 * v]
        self.encoder = encoder_levels(in_channels, widths)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.decode = nn.ModuleList()
        previous = widths[-1]
        for skip, out in zip(reversed(widths[:-1]), [8 * v, 4 * v, 2 * v, v, v], strict=True):
            self.up.append(up_block(previous, out))
            self.decode.append(double_conv(out + skip, out))
            previous = out
        self.head = nn.Conv2d(v, 2, 3, padding=1)

    def forward(self, joined: Tensor) -> Tensor:
        features, x = [], joined
        for index, level in enumerate(self.encoder):
            x = level(x if index == 0 else self.pool(x))
            features.append(x)
        for up, decode, skip in zip(self.up, self.decode, reversed(features[:-1]), strict=True):
            x = decode(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def init_weights(module: nn.Module) -> None:
    """The authors' initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), bias 0."""
    if isinstance(module, nn.Conv2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def focal_loss(logits: Tensor, masks: Tensor, gamma: float = FOCAL_GAMMA) -> Tensor:
    """Mean focal loss ``-(1 - p_t)^gamma log p_t`` of 2-class logits ``(B, 2, H, W)`` against
    0 / 1 masks ``(B, 1, H, W)`` (Lin et al. 2017; the paper's segmentation loss), in float32."""
    log_probs = F.log_softmax(logits.float(), dim=1)
    target = (masks.reshape(masks.shape[0], 1, *masks.shape[-2:]) > 0.5).long()
    log_pt = torch.gather(log_probs, 1, target)
    return (-((1.0 - log_pt.exp()) ** gamma) * log_pt).mean()


def draem_scoring(size: tuple[int, int]) -> dict[str, Any]:
    """How DRAEM checkpoints are scored: the segmentation map, and the image score of the paper
    (maximum of the ``k x k`` mean-filtered map, ``k = score_window``)."""
    return {"error": "segmentation", "reduction": "smoothed_max", "patch": score_window(*size)}


def score_window(height: int, width: int) -> int:
    """Side of the image-score mean filter: 21 at 256 px, scaled with the smaller side, odd, >= 1."""
    return 2 * round((PAPER_WINDOW // 2) * min(height, width) / PAPER_SIZE) + 1


class DRAEM(AnomalyModel):
    """Reconstructive + discriminative sub-networks (see module docstring); spec: frame mode."""

    spec = TemporalSpec("frame")
    segments = True

    def __init__(
        self, channels: int, recon_width: int = 128, disc_width: int = 64, synthesis: Any = None
    ) -> None:
        super().__init__()
        if recon_width < 1 or disc_width < 1:
            raise ConfigError(
                "model",
                f"draem widths must be >= 1, found recon_width={recon_width}, disc_width={disc_width}",
            )
        self.channels = channels
        self.reconstructive = ReconstructiveNetwork(channels, recon_width)
        self.discriminative = DiscriminativeNetwork(2 * channels, disc_width)
        self.synthesis = synthesis  # None: SynthesisConfig's defaults (the paper's)
        self.apply(init_weights)

    def forward(self, frames: Tensor) -> Tensor:
        """Reconstruction ``(B, C, H, W)`` of frames in [0, 1] (what reconstruction scoring reads)."""
        check_frames(frames, self.channels)
        return self.reconstructive(frames)

    def forward_train(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """Paste synthetic anomalies into the good ``inputs``, reconstruct and segment them.

        Returns the reconstruction (the trainer's criterion compares it with the good images: the
        paper's L2 term) and ``(1 - SSIM) + focal`` as the extra loss term. The anomalies are drawn
        on the inputs' device from a generator seeded off torch's global RNG (the trainer seeds it);
        the texture of each image is made from the next image of the batch.
        """
        from vad_core.training.anomaly_synthesis import synthesize_anomalies

        check_frames(inputs, self.channels)
        with torch.autocast(inputs.device.type, enabled=False):
            seed = int(torch.randint(0, 2**62, (1,)).item())
            generator = torch.Generator(device=inputs.device).manual_seed(seed)
            clean = inputs.float()
            synthetic = synthesize_anomalies(clean, clean.roll(1, dims=0), generator, self.synthesis)
        reconstruction, logits = self.reconstruct_and_segment(synthetic.images)
        with torch.autocast(inputs.device.type, enabled=False):
            structure = 1.0 - ssim(reconstruction.float(), clean).mean()
            aux = structure + focal_loss(logits, synthetic.masks)
        return reconstruction, aux

    def reconstruct_and_segment(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """Reconstruction ``(B, C, H, W)`` and logits ``(B, 2, H, W)`` (channel 1 = anomalous)."""
        reconstruction = self(frames)
        joined = torch.cat([reconstruction, frames.to(reconstruction.dtype)], dim=1)
        return reconstruction, self.discriminative(joined)

    def anomaly_map(self, frames: Tensor) -> Tensor:
        """Per-pixel probability ``(B, H, W)`` in [0, 1] that a pixel is anomalous."""
        _, logits = self.reconstruct_and_segment(frames)
        return torch.softmax(logits.float(), dim=1)[:, 1]

    @staticmethod
    def image_score(maps: Tensor) -> Tensor:
        """Image scores ``(B,)``: the maximum of each ``(B, H, W)`` map after the mean filter."""
        if maps.dim() != 3:
            raise ConfigError("model", f"expected anomaly maps (B, H, W), found {tuple(maps.shape)}")
        window = score_window(*maps.shape[-2:])
        smoothed = F.avg_pool2d(maps[:, None].float(), window, stride=1, padding=window // 2)
        return smoothed.flatten(1).amax(dim=1)


@register(
    "draem",
    family="discriminative",
    summary="DRAEM: reconstruction + segmentation of synthetic anomalies (Zavrtanik et al. 2021)",
    training=DRAEM_TRAINING,
    scoring=draem_scoring,
    **DRAEM_DEFAULTS,
)
def build_draem(
    channels: int, size: tuple[int, int], recon_width: int = 128, disc_width: int = 64
) -> AnomalyModel:
    return DRAEM(channels, int(recon_width), int(disc_width))


@register(
    "draem_small",
    family="discriminative",
    summary="DRAEM at quarter widths (32 / 16) for CPU training",
    training=DRAEM_TRAINING,
    scoring=draem_scoring,
    **DRAEM_SMALL_DEFAULTS,
)
def build_draem_small(
    channels: int, size: tuple[int, int], recon_width: int = 32, disc_width: int = 16
) -> AnomalyModel:
    return DRAEM(channels, int(recon_width), int(disc_width))

"""Kernel-Strengthened CAE (KS CAE): BCAE2 with asymmetric blocks (thesis 3.3 and 4.5).

The first 4 encoder layers are ACBs (square + vertical + horizontal kernels, each with BatchNorm,
summed, then ReLU) and the last 4 decoder layers are ADBs (then LeakyReLU 0.2, or sigmoid at the
output); the bottleneck layer and the first decoder layer stay plain strided (transpose)
convolutions as in BCAE2.

"Only half the number of kernels are used in the middle layers" (thesis 4.5) is read as: the three
middle encoder layers of BCAE2 (128, 256, 512) are halved while the first layer (64) and the
embedding (300) are kept, giving encoder kernels 64, 64, 128, 256, 300 and a mirrored decoder
300 -> 256 -> 128 -> 64 -> 64 -> C. The thesis's figure 4.2 with the exact counts is not in the text.

After training, ``fuse_model(model)`` (``vad_core.models.asymmetric``) folds every block into one
convolution; the fused model gives the same output in eval mode with fewer parameters.

Example::

    model = build_model(ModelConfig("ks_cae", channels=3, size=(128, 128)))
    output = model(torch.rand(2, 3, 128, 128))      # (2, 3, 128, 128) in [0, 1]
    fuse_model(model.eval())                          # single kernels for deployment
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from vad_core.models.asymmetric import ACB, ADB
from vad_core.models.bcae import ConvAutoEncoder
from vad_core.models.layers import LEAKY_SLOPE, conv_block, deconv_block
from vad_core.models.registry import register

#: Encoder kernel counts: BCAE2 (64, 128, 256, 512, 300) with the middle three layers halved.
KS_CAE_FILTERS = (64, 64, 128, 256, 300)
ASYMMETRIC_LAYERS = 4  # thesis 4.5: ACB in the first 4 encoder layers, ADB in the last 4 decoder layers


def build_ks_cae_layers(
    channels: int, filters: tuple[int, ...] = KS_CAE_FILTERS
) -> tuple[nn.Sequential, nn.Sequential]:
    """Encoder and decoder stages of the KS CAE."""
    widths = (channels, *filters)
    plain = len(filters) - ASYMMETRIC_LAYERS
    encoder = []
    for i in range(len(filters)):
        if i < ASYMMETRIC_LAYERS:
            encoder.append(nn.Sequential(ACB(widths[i], widths[i + 1]), nn.ReLU(inplace=True)))
        else:
            encoder.append(conv_block(widths[i], widths[i + 1]))
    back = (*reversed(filters), channels)
    decoder = []
    for i in range(len(filters)):
        if i < plain:
            decoder.append(deconv_block(back[i], back[i + 1]))
        elif i < len(filters) - 1:
            decoder.append(nn.Sequential(ADB(back[i], back[i + 1]), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)))
        else:
            decoder.append(nn.Sequential(ADB(back[i], back[i + 1], batch_norm=False), nn.Sigmoid()))
    return nn.Sequential(*encoder), nn.Sequential(*decoder)


@register(
    "ks_cae", family="spatial CAE", summary="BCAE2 with ACB/ADB kernel strengthening, fusable (thesis 4.5)"
)
def build_ks_cae(channels: int, size: tuple[int, int], fused: bool = False) -> ConvAutoEncoder:
    """KS CAE; ``encode`` gives 300 x H/32 x W/32, ``last_encoder_layer`` the plain bottleneck conv.

    ``fused=True`` builds the deployed form (every ACB/ADB already folded into one kernel), the
    architecture a checkpoint written after ``fuse_model`` holds (see ``fuse_checkpoint``).
    """
    encoder, decoder = build_ks_cae_layers(channels)
    model = ConvAutoEncoder(channels, encoder, decoder)
    if fused:
        from vad_core.models.asymmetric import fuse_model

        fuse_model(model.eval())
    return model


def fuse_checkpoint(path: str | Path, output: str | Path | None = None) -> Path:
    """Write the fused (deployed) form of a trained ``ks_cae`` checkpoint; returns the new path."""
    from vad_core.checkpoint import load_checkpoint, save_checkpoint
    from vad_core.models.asymmetric import fuse_model
    from vad_core.models.base import ModelConfig

    checkpoint = load_checkpoint(path)
    model = fuse_model(checkpoint.model.eval())
    config = checkpoint.config
    model.config = ModelConfig(config.name, config.channels, config.size, {**config.options, "fused": True})
    metadata = {
        k: v for k, v in checkpoint.metadata.items() if k not in ("weights_sha256", "created", "preprocess")
    }
    source = Path(checkpoint.path or path)
    return save_checkpoint(model, output or source.with_name(source.stem + "_fused"), metadata)

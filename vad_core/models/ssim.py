"""Structural similarity (SSIM), the SSIM compound loss and an SSIM error map (thesis 3.4).

SSIM (Wang et al. 2004; thesis eq. 3.9) compares local means, variances and covariance of two
images inside an 11x11 Gaussian window (sigma 1.5), with c_l = (k1 L)^2, c_c = (k2 L)^2,
k1 = 0.01, k2 = 0.03 (defaults from the paper). Maps keep the input size: the images are padded
by reflection (window // 2 on each side) so border pixels get a full window. Multi-channel inputs
are compared channel by channel and the SSIM maps are averaged over channels. SSIM is always
computed in float32 outside any autocast region: its variances are differences of nearly equal
moments (E[x^2] - E[x]^2), which bfloat16's 8-bit mantissa cannot resolve.

The compound loss (thesis eq. 3.10) is ``eta * MSE + (1 - eta) * (1 - SSIM)`` with eta = 0.5;
it works with any reconstruction model. ``ssim_error_map`` turns SSIM into a per-pixel anomaly
error in [0, 1] (0 = identical), the SSIM alternative to the squared error, and
``compound_error_map`` is the compound loss per pixel (its frame mean is the loss of eq. 3.10), the
error a compound-trained model is scored with (thesis 4.6: "the compound loss function is directly
used to score the anomalies").

Example::

    loss = CompoundLoss(eta=0.5)(output, frames)        # scalar, differentiable
    score = 1 - ssim(output, frames)                    # (B,)
    heat = ssim_error_map(output, frames)               # (B, H, W) in [0, 1]
    heat = compound_error_map(output, frames)           # (B, H, W), mean = the compound loss
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

WINDOW_SIZE = 11  # thesis 3.4.1, from the SSIM paper
SIGMA = 1.5  # SSIM paper
K1, K2 = 0.01, 0.03  # thesis 3.4.1, from the SSIM paper
ETA = 0.5  # thesis 3.4.2: equal weight of MSE and SSIM


def gaussian_window(size: int = WINDOW_SIZE, sigma: float = SIGMA) -> Tensor:
    """Normalised 2-D Gaussian window ``(size, size)`` summing to 1."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"window size must be a positive odd number, found {size}")
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    line = torch.exp(-(coords**2) / (2 * sigma**2))
    line = line / line.sum()
    return torch.outer(line, line).float()


def _local_mean(images: Tensor, window: Tensor) -> Tensor:
    """Depthwise Gaussian filtering of ``(B, C, H, W)`` with reflection padding, same size out."""
    channels = images.shape[1]
    pad = window.shape[-1] // 2
    mode = "reflect" if min(images.shape[-2:]) > pad else "replicate"
    padded = F.pad(images, (pad, pad, pad, pad), mode=mode)
    kernel = window.to(images).expand(channels, 1, *window.shape)
    return F.conv2d(padded, kernel, groups=channels)


def ssim_map(x: Tensor, y: Tensor, window_size: int = WINDOW_SIZE, data_range: float = 1.0) -> Tensor:
    """Per-pixel SSIM ``(B, 1, H, W)`` of ``(B, C, H, W)`` images (channel mean of per-channel SSIM),
    in float32 whatever the inputs' dtype or an enclosing autocast."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(
            f"ssim needs two (B, C, H, W) tensors of one shape, found {tuple(x.shape)}, {tuple(y.shape)}"
        )
    with torch.autocast(device_type=x.device.type, enabled=False):
        return _ssim_map_float32(x.float(), y.float(), window_size, data_range)


def _ssim_map_float32(x: Tensor, y: Tensor, window_size: int, data_range: float) -> Tensor:
    window = gaussian_window(window_size)
    c_l = (K1 * data_range) ** 2
    c_c = (K2 * data_range) ** 2
    mu_x = _local_mean(x, window)
    mu_y = _local_mean(y, window)
    var_x = _local_mean(x * x, window) - mu_x**2
    var_y = _local_mean(y * y, window) - mu_y**2
    cov = _local_mean(x * y, window) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c_l) * (2 * cov + c_c)
    denominator = (mu_x**2 + mu_y**2 + c_l) * (var_x + var_y + c_c)
    return (numerator / denominator).mean(dim=1, keepdim=True)


def ssim(x: Tensor, y: Tensor, window_size: int = WINDOW_SIZE, data_range: float = 1.0) -> Tensor:
    """Mean SSIM per image, ``(B,)``; 1 for identical images."""
    return ssim_map(x, y, window_size, data_range).mean(dim=(1, 2, 3))


def ssim_error_map(x: Tensor, y: Tensor, window_size: int = WINDOW_SIZE, data_range: float = 1.0) -> Tensor:
    """Per-pixel anomaly error ``(1 - SSIM) / 2`` as ``(B, H, W)`` in [0, 1]."""
    return ((1.0 - ssim_map(x, y, window_size, data_range)) / 2.0).squeeze(1)


def compound_error_map(x: Tensor, y: Tensor, eta: float = ETA, window_size: int = WINDOW_SIZE) -> Tensor:
    """Per-pixel compound error ``eta * SE + (1 - eta) * (1 - SSIM)`` as ``(B, H, W)``; SE is the
    channel mean of the squared error, so the map's mean is ``CompoundLoss(eta)`` of the pair."""
    squared = (x.float() - y.float()).pow(2).mean(dim=1)
    structure = 1.0 - ssim_map(x, y, window_size).squeeze(1)
    return eta * squared + (1.0 - eta) * structure


class CompoundLoss(nn.Module):
    """``eta * MSE + (1 - eta) * (1 - SSIM)`` averaged over the batch (thesis eq. 3.10)."""

    def __init__(self, eta: float = ETA, window_size: int = WINDOW_SIZE, data_range: float = 1.0) -> None:
        super().__init__()
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f"eta must be in [0, 1], found {eta}")
        self.eta = eta
        self.window_size = window_size
        self.data_range = data_range

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        """Scalar loss between reconstructions ``output`` and ``target``, both ``(B, C, H, W)``."""
        mse = F.mse_loss(output.float(), target.float())
        if self.eta == 1.0:
            return mse
        structure = 1.0 - ssim(output, target, self.window_size, self.data_range).mean()
        return self.eta * mse + (1.0 - self.eta) * structure

    def extra_repr(self) -> str:
        return f"eta={self.eta}, window_size={self.window_size}"

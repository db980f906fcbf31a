"""Asymmetric convolution and deconvolution blocks (ACB, ADB) and their fusion into single kernels.

ACB (Ding et al., ACNet, ICCV 2019; thesis 3.3.1, eq. 3.4) runs a square k x k convolution, a
vertical k x 1 and a horizontal 1 x k convolution in parallel on the same input, each followed by
its own BatchNorm, and sums the three outputs; the activation comes after the block. ADB (thesis
3.3.2) is the same with transpose convolutions that upsample.

After training, BatchNorm (with its running statistics) is folded into each branch and the 1-D
kernels are added to the centre column / row of the square kernel, giving one ordinary convolution
with bias that computes exactly what the block computes in eval mode. For this the three branches
must sample the same input (conv) or write the same output (transpose conv) positions:

* ACB, stride s, padding k//2: the square kernel at output o covers input rows/cols s*o - k//2 + j;
  the k x 1 branch uses padding (k//2, 0), so its single column is input col s*o, the square
  kernel's centre column (j = k//2). Same for the 1 x k branch and the centre row.
* ADB, stride s: a transpose conv writes input i, kernel tap j to output s*i - p + j. The square
  branch uses p = k//2, so its centre tap j = k//2 writes to s*i; the k x 1 branch uses p = 0 along
  the width, so its only tap j = 0 also writes to s*i. Output padding s - 1 on every branch makes
  all three outputs s*H x s*W (the padded last row/column gets bias only, in every branch alike).

Example::

    block = ACB(3, 64, stride=2)                    # (B, 3, 64, 64) -> (B, 64, 32, 32)
    conv = block.eval().fuse()                      # one Conv2d, same output in eval mode
    fuse_model(model)                               # replaces every ACB / ADB in ``model``
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

KERNEL_SIZE = 3  # thesis 4.5: 3x3 square kernels with 3x1 and 1x3 companions


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


def _fold(weight: Tensor, bias: Tensor | None, norm: nn.Module, out_dim: int) -> tuple[Tensor, Tensor]:
    """Fold an eval-mode BatchNorm after a conv into the conv's weight and bias."""
    out_channels = weight.shape[out_dim]
    bias = torch.zeros(out_channels, dtype=weight.dtype, device=weight.device) if bias is None else bias
    if isinstance(norm, nn.Identity):
        return weight, bias
    assert isinstance(norm, nn.BatchNorm2d) and norm.running_var is not None and norm.running_mean is not None
    scale = torch.rsqrt(norm.running_var + norm.eps)
    shift = -norm.running_mean * scale
    if norm.affine:
        scale = scale * norm.weight
        shift = shift * norm.weight + norm.bias
    shape = [1] * weight.dim()
    shape[out_dim] = out_channels
    return weight * scale.reshape(shape), bias * scale + shift


class _AsymmetricBase(nn.Module):
    """Three parallel branches (square, vertical, horizontal), each with its own norm, summed."""

    out_dim: int  # index of the output-channel axis of the weight (0 for Conv2d, 1 for ConvTranspose2d)

    square: nn.Conv2d | nn.ConvTranspose2d
    vertical: nn.Conv2d | nn.ConvTranspose2d
    horizontal: nn.Conv2d | nn.ConvTranspose2d

    def __init__(self, out_channels: int, batch_norm: bool) -> None:
        super().__init__()
        self.square_norm = _norm(out_channels, batch_norm)
        self.vertical_norm = _norm(out_channels, batch_norm)
        self.horizontal_norm = _norm(out_channels, batch_norm)

    def forward(self, inputs: Tensor) -> Tensor:
        """Sum of the three normalised branches (no activation)."""
        return (
            self.square_norm(self.square(inputs))
            + self.vertical_norm(self.vertical(inputs))
            + self.horizontal_norm(self.horizontal(inputs))
        )

    @torch.no_grad()
    def fused_parameters(self) -> tuple[Tensor, Tensor]:
        """Weight and bias of the single square kernel equivalent to the block in eval mode."""
        weight, bias = _fold(self.square.weight, self.square.bias, self.square_norm, self.out_dim)
        vertical, vertical_bias = _fold(
            self.vertical.weight, self.vertical.bias, self.vertical_norm, self.out_dim
        )
        horizontal, horizontal_bias = _fold(
            self.horizontal.weight, self.horizontal.bias, self.horizontal_norm, self.out_dim
        )
        centre_row, centre_col = weight.shape[2] // 2, weight.shape[3] // 2
        weight = weight.clone()
        weight[:, :, :, centre_col] += vertical[:, :, :, 0]
        weight[:, :, centre_row, :] += horizontal[:, :, 0, :]
        return weight, bias + vertical_bias + horizontal_bias


class ACB(_AsymmetricBase):
    """Asymmetric Convolution Block: k x k + k x 1 + 1 x k convolutions, each with BatchNorm, summed.

    ``stride=2`` halves H and W (thesis encoder layers). With ``batch_norm=False`` the square branch
    carries a bias instead (for output layers).
    """

    out_dim = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 2,
        kernel_size: int = KERNEL_SIZE,
        batch_norm: bool = True,
    ) -> None:
        super().__init__(out_channels, batch_norm)
        if kernel_size % 2 == 0:
            raise ValueError(f"ACB needs an odd kernel size, found {kernel_size}")
        pad = kernel_size // 2
        bias = not batch_norm
        self.square = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=pad, bias=bias)
        self.vertical = nn.Conv2d(in_channels, out_channels, (kernel_size, 1), stride, (pad, 0), bias=False)
        self.horizontal = nn.Conv2d(in_channels, out_channels, (1, kernel_size), stride, (0, pad), bias=False)

    def fuse(self) -> nn.Conv2d:
        """One ``Conv2d`` with bias that reproduces the block's eval-mode output."""
        weight, bias = self.fused_parameters()
        square = self.square
        conv = nn.Conv2d(
            square.in_channels,
            square.out_channels,
            square.kernel_size,
            square.stride,
            square.padding,
            bias=True,
        ).to(device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            conv.weight.copy_(weight)
            conv.bias.copy_(bias)
        return conv.train(self.training)


class ADB(_AsymmetricBase):
    """Asymmetric Deconvolution Block: transpose-conv analogue of ``ACB`` (thesis 3.3.2).

    ``stride=2`` exactly doubles H and W. With ``batch_norm=False`` the square branch carries a bias
    instead (for the sigmoid output layer).
    """

    out_dim = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 2,
        kernel_size: int = KERNEL_SIZE,
        batch_norm: bool = True,
    ) -> None:
        super().__init__(out_channels, batch_norm)
        if kernel_size % 2 == 0:
            raise ValueError(f"ADB needs an odd kernel size, found {kernel_size}")
        pad, extra = kernel_size // 2, stride - 1
        bias = not batch_norm
        self.square = nn.ConvTranspose2d(
            in_channels, out_channels, kernel_size, stride, padding=pad, output_padding=extra, bias=bias
        )
        self.vertical = nn.ConvTranspose2d(
            in_channels,
            out_channels,
            (kernel_size, 1),
            stride,
            padding=(pad, 0),
            output_padding=extra,
            bias=False,
        )
        self.horizontal = nn.ConvTranspose2d(
            in_channels,
            out_channels,
            (1, kernel_size),
            stride,
            padding=(0, pad),
            output_padding=extra,
            bias=False,
        )

    def fuse(self) -> nn.ConvTranspose2d:
        """One ``ConvTranspose2d`` with bias that reproduces the block's eval-mode output."""
        weight, bias = self.fused_parameters()
        square = self.square
        deconv = nn.ConvTranspose2d(
            square.in_channels,
            square.out_channels,
            square.kernel_size,
            square.stride,
            padding=square.padding,
            output_padding=square.output_padding,
            bias=True,
        ).to(device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            deconv.weight.copy_(weight)
            deconv.bias.copy_(bias)
        return deconv.train(self.training)


def fuse_model(model: nn.Module) -> nn.Module:
    """Replace every ``ACB`` / ``ADB`` inside ``model`` by its fused single convolution (in place).

    Fusion uses the BatchNorm running statistics, so the fused model matches the original in eval
    mode; fuse only trained models, and do not train the fused model expecting ACB behaviour.
    Returns ``model`` for chaining (a bare block is returned fused).
    """
    if isinstance(model, (ACB, ADB)):
        return model.fuse()
    blocks = [(name, module) for name, module in model.named_modules() if isinstance(module, (ACB, ADB))]
    for name, block in blocks:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, block.fuse())
    return model

"""Gradient difference loss: predicted edges must match the real frame's edges.

Liu et al. (CVPR 2018) train their future-frame predictor with an intensity term (L2) plus this
gradient term, which penalises blur: an L2-only predictor hedges between futures by averaging them,
which smooths edges; matching the absolute horizontal and vertical differences of neighbouring
pixels keeps them sharp (Mathieu et al. 2016, with alpha = 1 as in Liu et al.).

Example::

    loss = F.mse_loss(prediction, target) + gradient_difference_loss(prediction, target)
"""

from __future__ import annotations

from torch import Tensor


def gradient_difference_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean ``| |dx pred| - |dx target| | + | |dy pred| - |dy target| |`` over the last two axes."""
    pred_dx = (prediction[..., :, 1:] - prediction[..., :, :-1]).abs()
    true_dx = (target[..., :, 1:] - target[..., :, :-1]).abs()
    pred_dy = (prediction[..., 1:, :] - prediction[..., :-1, :]).abs()
    true_dy = (target[..., 1:, :] - target[..., :-1, :]).abs()
    return (pred_dx - true_dx).abs().mean() + (pred_dy - true_dy).abs().mean()

"""Bidirectional convolutional recurrent layer: a forward and a time-reversed cell, outputs averaged.

Implements the bidirectional layer of thesis section 3.7.4 (seed 003, figure 3.8): a *forward* cell
reads the clip in order, a *backward* cell of the same kind reads it reversed, and the two output
sequences (aligned again in time) are combined by their mean, the combination the thesis used.
Both cells start from zero states; the layer keeps no state between calls (it sees the whole clip).

Example::

    layer = BidirectionalLayer(ConvGRUCell(64, 96, stride=2), ConvGRUCell(64, 96, stride=2))
    outputs, _ = layer(torch.rand(2, 8, 64, 16, 16))     # (2, 8, 96, 8, 8)
    # outputs[:, t] = (forward output at t + backward output at t) / 2
"""

from __future__ import annotations

from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.conv_recurrent_cells import ConvRecurrentCell, RecurrentLayer


class BidirectionalLayer(nn.Module):
    """Mean of a forward ``RecurrentLayer`` and a time-reversed one over ``(B, T, C, H, W)``."""

    def __init__(self, forward_cell: ConvRecurrentCell, backward_cell: ConvRecurrentCell) -> None:
        super().__init__()
        self.forward_layer = RecurrentLayer(forward_cell)
        self.backward_layer = RecurrentLayer(backward_cell, reverse=True)

    def forward(self, x: Tensor, state: None = None) -> tuple[Tensor, None]:
        if state is not None:
            raise ConfigError(
                "model", "a bidirectional layer reads whole clips and cannot resume from a state"
            )
        ahead, _ = self.forward_layer(x)
        behind, _ = self.backward_layer(x)
        return (ahead + behind) / 2, None

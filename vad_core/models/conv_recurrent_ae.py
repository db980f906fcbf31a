"""Convolutional recurrent autoencoders: ConvRNN / ConvLSTM / ConvGRU AEs and their bidirectional twins.

Implements the CRNN, CLSTM and CGRU AEs of thesis sections 3.7.3-3.7.4 with the configurations of 4.9.1
(seed 003): BCAE1's five stride-2 3x3 layers (64, 64, 64, 96, 96 kernels, mirrored decoder, sigmoid
output; 4.4.2), of which the ``recurrent_layers`` (L_R) deepest encoder layers are convolutional
recurrent cells and the rest time-distributed 2D conv blocks (T folded into the batch). With
``recurrent_decoder=True`` (DUT = recurrent transpose convolution) the first L_R decoder layers are
recurrent transpose cells too; otherwise the decoder is time-distributed 2D transpose convolutions.
Placing the recurrent layers next to the bottleneck reproduces Table 4.12's parameter counts (C=3,
128x128): ConvRNN rows to the table's 2 digits; ConvLSTM rows 0-12 % above (our eq. 3.16 peepholes,
which the table's counts lack); ConvGRU recurrent-decoder rows 6-8 % below (the table implies one
more hidden-state conv per transpose GRU cell than eq. 3.17 has). Bidirectional variants replace every
recurrent layer by a forward and a backward cell whose outputs are averaged (3.7.4). Clips
``(B, T, C, H, W)`` in [0, 1] are reconstructed.

Example::

    model = build_model(ModelConfig("cgru_ae", channels=1, size=(128, 128)))
    clip = torch.rand(2, 8, 1, 128, 128)
    reconstruction = model(clip)                   # (2, 8, 1, 128, 128), sigmoid output
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.base import AnomalyModel, TemporalSpec
from vad_core.models.bidirectional import BidirectionalLayer
from vad_core.models.conv_recurrent_cells import CELLS, RecurrentLayer, State
from vad_core.models.layers import BCAE1_FILTERS, conv_block, deconv_block
from vad_core.models.registry import register

LayerStates = list[State | None]

#: Thesis 4.9.1 / Table 4.10: L = 5 layers, L_R in {1, 2, 3}, T = 8 time steps (defaults from the paper).
MAX_RECURRENT_LAYERS = 3
TIME_STEPS = 8
#: Our default variant (L_R, DUT) = (1, recurrent): CGRU(1,Y) is among the best rows of Table 4.13.
AE_DEFAULTS = {"recurrent_layers": 1, "recurrent_decoder": True, "time_steps": TIME_STEPS}


class TimeDistributed(nn.Module):
    """Applies a per-frame module to every frame of ``(B, T, C, H, W)`` by folding T into the batch."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor, state: None = None) -> tuple[Tensor, None]:
        return self.module(x.flatten(0, 1)).unflatten(0, x.shape[:2]), None


def recurrent_layer(
    cell: str,
    in_channels: int,
    out_channels: int,
    size: tuple[int, int],
    transpose: bool,
    bidirectional: bool,
) -> nn.Module:
    """A stride-2 (or transpose, doubling) recurrent layer whose state has spatial ``size``."""
    make = partial(CELLS[cell], in_channels, out_channels, size=size, stride=2, transpose=transpose)
    return BidirectionalLayer(make(), make()) if bidirectional else RecurrentLayer(make())


class ConvRecurrentStack(nn.Module):
    """Layers over ``(B, T, C, H, W)``; ``forward(x, states)`` gives the output and each layer's last state.

    Time-distributed layers have ``None`` states; passing the returned states back in continues the
    recurrence (the Seq2Seq models step the stack one frame at a time this way).
    """

    def __init__(self, layers: Sequence[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor, states: LayerStates | None = None) -> tuple[Tensor, LayerStates]:
        states = list(states) if states is not None else [None] * len(self.layers)
        new_states: LayerStates = []
        for layer, state in zip(self.layers, states, strict=True):
            x, state = layer(x, state)
            new_states.append(state)
        return x, new_states


def build_encoder(
    channels: int,
    size: tuple[int, int],
    cell: str,
    recurrent_layers: int,
    bidirectional: bool = False,
    filters: Sequence[int] = BCAE1_FILTERS,
) -> ConvRecurrentStack:
    """BCAE1's stride-2 encoder whose ``recurrent_layers`` deepest layers are recurrent cells."""
    widths = (channels, *filters)
    layers: list[nn.Module] = []
    for index in range(len(filters)):
        out_size = (size[0] >> (index + 1), size[1] >> (index + 1))
        if index >= len(filters) - recurrent_layers:
            layers.append(
                recurrent_layer(cell, widths[index], widths[index + 1], out_size, False, bidirectional)
            )
        else:
            layers.append(TimeDistributed(conv_block(widths[index], widths[index + 1])))
    return ConvRecurrentStack(layers)


def build_decoder(
    channels: int,
    size: tuple[int, int],
    cell: str,
    recurrent_layers: int,
    bidirectional: bool = False,
    filters: Sequence[int] = BCAE1_FILTERS,
) -> ConvRecurrentStack:
    """Mirrored decoder whose first ``recurrent_layers`` layers (0: none) are recurrent transpose cells."""
    widths = (*filters[::-1], channels)
    depth = len(filters)
    layers: list[nn.Module] = []
    for index in range(depth):
        out_size = (size[0] >> (depth - 1 - index), size[1] >> (depth - 1 - index))
        if index < recurrent_layers:
            layers.append(
                recurrent_layer(cell, widths[index], widths[index + 1], out_size, True, bidirectional)
            )
        else:
            last = index == depth - 1
            layers.append(TimeDistributed(deconv_block(widths[index], widths[index + 1], last=last)))
    return ConvRecurrentStack(layers)


def check_recurrent_options(cell: str, recurrent_layers: int) -> None:
    """``ConfigError`` unless ``cell`` is known and 1 <= ``recurrent_layers`` <= 3 (thesis 4.9.1)."""
    if cell not in CELLS:
        raise ConfigError("model", f"cell must be one of {sorted(CELLS)}, found {cell!r}")
    if not 1 <= recurrent_layers <= MAX_RECURRENT_LAYERS:
        raise ConfigError(
            "model", f"recurrent_layers must be 1..{MAX_RECURRENT_LAYERS}, found {recurrent_layers}"
        )


def check_clip(x: Tensor, channels: int) -> None:
    """``ConfigError`` unless ``x`` is ``(B, T, channels, H, W)``."""
    if x.dim() != 5 or x.shape[2] != channels:
        raise ConfigError("model", f"expected clips (B, T, {channels}, H, W), found {tuple(x.shape)}")


class ConvRecurrentAE(AnomalyModel):
    """Reconstructs clips of ``time_steps`` frames through a convolutional recurrent encoder and decoder."""

    def __init__(
        self,
        channels: int,
        size: tuple[int, int],
        cell: str = "gru",
        recurrent_layers: int = 1,
        recurrent_decoder: bool = True,
        time_steps: int = TIME_STEPS,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        check_recurrent_options(cell, recurrent_layers)
        if time_steps < 1:
            raise ConfigError("model", f"time_steps must be at least 1, found {time_steps}")
        self.spec = TemporalSpec("clip", time_steps, time_steps)
        self.channels = channels
        self.encoder = build_encoder(channels, size, cell, recurrent_layers, bidirectional)
        decoder_recurrent = recurrent_layers if recurrent_decoder else 0
        self.decoder = build_decoder(channels, size, cell, decoder_recurrent, bidirectional)

    def encode(self, inputs: Tensor) -> Tensor:
        """Bottleneck sequence ``(B, T, 96, H/32, W/32)``."""
        check_clip(inputs, self.channels)
        return self.encoder(inputs)[0]

    def forward(self, inputs: Tensor) -> Tensor:
        return self.decoder(self.encode(inputs))[0]

    def last_encoder_layer(self) -> nn.Module:
        return self.encoder.layers[-1]


_VARIANTS = (
    ("crnn_ae", "rnn", False, "ConvRNN autoencoder (eq. 3.15, thesis 3.7.3)"),
    ("clstm_ae", "lstm", False, "ConvLSTM autoencoder with peepholes (eq. 3.16, thesis 3.7.3)"),
    ("cgru_ae", "gru", False, "ConvGRU autoencoder (eq. 3.17, thesis 3.7.3)"),
    ("bicrnn_ae", "rnn", True, "Bidirectional ConvRNN autoencoder (thesis 3.7.4)"),
    ("biclstm_ae", "lstm", True, "Bidirectional ConvLSTM autoencoder (thesis 3.7.4)"),
    ("bicgru_ae", "gru", True, "Bidirectional ConvGRU autoencoder (thesis 3.7.4)"),
)


def conv_recurrent_ae_builder(cell: str, bidirectional: bool) -> Callable[..., AnomalyModel]:
    """Registry builder of one variant; its options are L_R, DUT and T (cell and direction are fixed)."""

    def build(
        channels: int,
        size: tuple[int, int],
        recurrent_layers: int = 1,
        recurrent_decoder: bool = True,
        time_steps: int = TIME_STEPS,
    ) -> AnomalyModel:
        return ConvRecurrentAE(
            channels,
            size,
            cell,
            int(recurrent_layers),
            bool(recurrent_decoder),
            int(time_steps),
            bidirectional,
        )

    return build


for _name, _cell, _bidirectional, _summary in _VARIANTS:
    register(_name, family="convolutional recurrent AE", summary=_summary, **AE_DEFAULTS)(
        conv_recurrent_ae_builder(_cell, _bidirectional)
    )

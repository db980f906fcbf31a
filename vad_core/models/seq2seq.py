"""Seq2Seq convolutional recurrent predictors: from 4 seed frames predict the next 4.

Implements the Seq2Seq ConvRNN / ConvLSTM / ConvGRU networks of thesis section 3.7.5 (seed 003,
figure 3.9; 4 seed and 4 predicted frames in 4.9.2, defaults from the paper). The encoder and decoder
are those of the convolutional recurrent AEs (``conv_recurrent_ae``: BCAE1 layers whose L_R deepest
are recurrent cells; decoder recurrent or time-distributed after ``recurrent_decoder``).

The thesis does not spell out how the future is rolled out; ours is autoregressive with shared
weights: the encoder unrolls over the seed frames and the bottleneck of the last seed step is decoded
into the first predicted frame. Each predicted frame is then fed back through the encoder, whose
recurrent cells continue from their states (they hold the motion seen so far), and the new bottleneck
is decoded into the next frame. Recurrent decoder cells start at zeros and are stepped once per
predicted frame. Training and scoring run the same free-running rollout (no teacher forcing), so a
normal-looking seed with abnormal motion drifts away from the true future. This adds no parameters
to the AE, whereas Table 4.12's Seq2Seq rows lie a constant ~0.15M above its AE rows, so ours are up to
20 % below them (see the README).

Example::

    model = build_model(ModelConfig("seq2seq_cgru", channels=1, size=(128, 128)))
    seeds, future = model.split(torch.rand(2, 8, 1, 128, 128))   # 4 seed frames, 4 future frames
    prediction = model(seeds)                                      # (2, 4, 1, 128, 128)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.base import AnomalyModel, TemporalSpec
from vad_core.models.conv_recurrent_ae import (
    build_decoder,
    build_encoder,
    check_clip,
    check_recurrent_options,
)
from vad_core.models.registry import register

#: Thesis 4.9.2: 4 seed frames predict the next 4 (defaults from the paper). L_R = 2 with a
#: time-distributed decoder: Seq2Seq CGRU(2,N) is the best Seq2Seq row on UCSD Ped2 (Table 4.13).
SEQ2SEQ_DEFAULTS = {
    "recurrent_layers": 2,
    "recurrent_decoder": False,
    "seed_frames": 4,
    "predicted_frames": 4,
}


class ConvRecurrentSeq2Seq(AnomalyModel):
    """Encodes ``seed_frames`` frames and rolls out ``predicted_frames`` future frames autoregressively."""

    def __init__(
        self,
        channels: int,
        size: tuple[int, int],
        cell: str = "gru",
        recurrent_layers: int = 2,
        recurrent_decoder: bool = False,
        seed_frames: int = 4,
        predicted_frames: int = 4,
    ) -> None:
        super().__init__()
        check_recurrent_options(cell, recurrent_layers)
        if seed_frames < 1 or predicted_frames < 1:
            found = f"{seed_frames} and {predicted_frames}"
            raise ConfigError("model", f"seed_frames and predicted_frames must be at least 1, found {found}")
        self.spec = TemporalSpec("predict", seed_frames, predicted_frames)
        self.channels = channels
        self.encoder = build_encoder(channels, size, cell, recurrent_layers)
        self.decoder = build_decoder(channels, size, cell, recurrent_layers if recurrent_decoder else 0)

    def encode(self, inputs: Tensor) -> Tensor:
        """Bottleneck sequence of the seed frames ``(B, S, 96, H/32, W/32)``."""
        check_clip(inputs, self.channels)
        return self.encoder(inputs)[0]

    def forward(self, inputs: Tensor, steps: int | None = None) -> Tensor:
        """Predict ``steps`` (default ``predicted_frames``) future frames from the seed frames."""
        check_clip(inputs, self.channels)
        steps = self.spec.output_frames if steps is None else steps
        bottlenecks, encoder_states = self.encoder(inputs)
        latent = bottlenecks[:, -1:]
        decoder_states = None
        predictions: list[Tensor] = []
        for step in range(steps):
            frame, decoder_states = self.decoder(latent, decoder_states)
            predictions.append(frame)
            if step + 1 < steps:
                latent, encoder_states = self.encoder(frame, encoder_states)
        return torch.cat(predictions, dim=1)

    def last_encoder_layer(self) -> nn.Module:
        return self.encoder.layers[-1]


def seq2seq_builder(cell: str) -> Callable[..., AnomalyModel]:
    """Registry builder of one cell type; options are L_R, DUT and the seed / predicted frame counts."""

    def build(
        channels: int,
        size: tuple[int, int],
        recurrent_layers: int = 2,
        recurrent_decoder: bool = False,
        seed_frames: int = 4,
        predicted_frames: int = 4,
    ) -> AnomalyModel:
        return ConvRecurrentSeq2Seq(
            channels,
            size,
            cell,
            int(recurrent_layers),
            bool(recurrent_decoder),
            int(seed_frames),
            int(predicted_frames),
        )

    return build


for _name, _cell, _summary in (
    ("seq2seq_crnn", "rnn", "Seq2Seq ConvRNN predictor: 4 seed frames -> next 4 (thesis 3.7.5)"),
    ("seq2seq_clstm", "lstm", "Seq2Seq ConvLSTM predictor: 4 seed frames -> next 4 (thesis 3.7.5)"),
    ("seq2seq_cgru", "gru", "Seq2Seq ConvGRU predictor: 4 seed frames -> next 4 (thesis 3.7.5)"),
):
    register(_name, family="convolutional recurrent Seq2Seq", summary=_summary, **SEQ2SEQ_DEFAULTS)(
        seq2seq_builder(_cell)
    )

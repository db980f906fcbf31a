"""MNAD, prediction variant: a U-Net predictor whose bottleneck reads a memory of normal prototypes.

After Park, Noh and Ham, "Learning Memory-guided Normality for Anomaly Detection" (CVPR 2020).
Four seed frames stacked as channels go down a U-Net encoder (three levels of two 3x3 conv +
BatchNorm + ReLU with 2x2 max-pooling, then a fourth level whose last BatchNorm and ReLU are
removed) to a query map of ``8 * base_filters`` channels at H/8 x W/8; every query is
L2-normalised. A memory of M unit-norm items is *read* by each query (softmax over the query-item
dot products, weighted sum of the items) and the read item is concatenated to the query; the
decoder (transpose-conv upsampling, skip connections from the encoder) turns that into the
predicted next frame. During training the memory is also *updated*: each item moves toward the
queries that choose it as nearest, weighted by their matching probabilities, then is
L2-normalised again. Items are buffers, not parameters: no gradient reaches them, and checkpoints
carry them with the weights.

Two losses shape the query space (returned as ``forward_train``'s aux term): feature compactness
pulls each query toward its nearest item, feature separateness (a triplet loss with margin 1)
keeps the second-nearest item farther away. The anomaly score combines the PSNR of the prediction
with the distance of the queries to their nearest items (:meth:`MNADPredictor.memory_distance`,
:func:`vad_core.scoring.combined.mnad_score`).

Defaults from the paper and the authors' code (github.com/cvlab-yonsei/MNAD, ``Train.py`` with
``--method pred``): M = 10 items of C = 512 (``base_filters=64``), queries at H/8 x W/8 (32 x 32
for 256 x 256 frames), compactness and separateness weights 0.1 and 0.1 for the prediction task,
margin 1, Adam with lr 2e-4, batch 4, plain MSE intensity loss. Details taken from the code where
the paper's formulas leave room:

* compactness is the mean squared difference per feature element, ``||q - p||^2 / C`` averaged
  over queries (the code's ``MSELoss``; the paper writes the L2 distance): the 0.1 weight was
  tuned on this form;
* separateness is ``TripletMarginLoss(margin=1)`` on L2 distances, nearest item as the positive
  and second-nearest as the negative, both detached (only queries get gradients);
* the read weights are detached, as in the code; items start as L2-normalised uniform [0, 1) vectors;
* update weights are ``v'_km = v_km / max_{k' in U_m} v_k'm`` with ``v`` the softmax over the
  queries of a batch, as the paper writes it (the code takes the max over all queries); the
  softmax's normaliser cancels in the ratio, so ``v'_km = exp(s_km - max_{k' in U_m} s_k'm)``.
  Reads and losses use the items as they were before the step's update, as in the code.

The output is a sigmoid (frames in [0, 1]) where the code has a tanh on frames in [-1, 1].

Example::

    model = build_model(ModelConfig("mnad_predictor", channels=1, size=(256, 256)))
    prediction, aux = model.forward_train(seeds)      # seeds (B, 4, 1, 256, 256); aux: 0.1 Lc + 0.1 Ls
    distance = model.memory_distance(seeds)           # (B,) mean query-to-nearest-item distance
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.base import AnomalyModel, TemporalSpec
from vad_core.models.registry import register
from vad_core.models.unet_predictor import double_conv

#: Defaults from the paper / the authors' code for the prediction task (see the module docstring).
MNAD_DEFAULTS = {
    "seed_frames": 4,
    "base_filters": 64,  # feature and memory dimension C = 8 * base_filters = 512
    "memory_items": 10,
    "compactness_weight": 0.1,
    "separateness_weight": 0.1,
}
SEPARATENESS_MARGIN = 1.0  # paper eq. 9 / code: TripletMarginLoss(margin=1.0)
POOLINGS = 3  # queries at H/8 x W/8


@dataclass(frozen=True)
class MemoryLosses:
    """The two feature losses of one batch of queries (scalars)."""

    compactness: Tensor
    separateness: Tensor


@dataclass(frozen=True)
class MemoryPrediction:
    """A prediction and, per window, the mean distance of its queries to their nearest items."""

    prediction: Tensor  # (B, 1, C, H, W) in [0, 1]
    distance: Tensor  # (B,) float32


class ItemMemory(nn.Module):
    """M unit-norm items of dimension C, read by attention and updated from the queries that choose them.

    All methods take queries flattened to ``(N, C)``, L2-normalised, and compute in float32
    whatever autocast is active.
    """

    def __init__(self, items: int, dim: int) -> None:
        super().__init__()
        if items < 2:
            raise ConfigError(
                "model", f"the memory needs at least 2 items (nearest and second), found {items}"
            )
        if dim < 1:
            raise ConfigError("model", f"memory items need a dimension >= 1, found {dim}")
        self.register_buffer("items", F.normalize(torch.rand(items, dim), dim=1))

    def similarities(self, queries: Tensor) -> Tensor:
        """Dot products ``(N, M)`` of each query with each item (cosines: both are unit vectors)."""
        return queries.float() @ self.items.float().t()

    def read(self, queries: Tensor) -> Tensor:
        """Per query, the items weighted by the softmax over items of the similarities, ``(N, C)``."""
        with torch.autocast(queries.device.type, enabled=False):
            weights = self.similarities(queries).softmax(dim=1).detach()
            return weights @ self.items.float()

    def nearest(self, queries: Tensor, k: int = 1) -> Tensor:
        """Indices ``(N, k)`` of the ``k`` most similar items of each query, most similar first."""
        return self.similarities(queries).topk(k, dim=1).indices

    def distance(self, queries: Tensor) -> Tensor:
        """L2 distance ``(N,)`` of each query to its nearest item."""
        with torch.autocast(queries.device.type, enabled=False):
            nearest = self.items.float()[self.nearest(queries)[:, 0]]
            return (queries.float() - nearest).norm(dim=1)

    def losses(self, queries: Tensor) -> MemoryLosses:
        """Feature compactness (mean squared element difference to the nearest item) and
        separateness (triplet loss, nearest vs second-nearest item, margin 1)."""
        with torch.autocast(queries.device.type, enabled=False):
            q = queries.float()
            order = self.nearest(q, 2)
            items = self.items.float()
            positive, negative = items[order[:, 0]].detach(), items[order[:, 1]].detach()
            compactness = F.mse_loss(q, positive)
            separateness = F.triplet_margin_loss(q, positive, negative, margin=SEPARATENESS_MARGIN)
        return MemoryLosses(compactness, separateness)

    @torch.no_grad()
    def update(self, queries: Tensor) -> None:
        """Move each item toward the queries whose nearest item it is, then re-normalise (paper eq. 4-5).

        Item m becomes ``normalise(p_m + sum_{k in U_m} v'_km q_k)`` with
        ``v'_km = exp(s_km - max_{k' in U_m} s_k'm)``; items no query chose stay as they are.
        """
        with torch.autocast(queries.device.type, enabled=False):
            q = queries.detach().float()
            scores = self.similarities(q)  # (N, M)
            chosen = F.one_hot(scores.argmax(dim=1), scores.shape[1]).bool()
            top = scores.masked_fill(~chosen, float("-inf")).amax(dim=0)  # (M,)
            top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
            weights = torch.where(chosen, torch.exp(scores - top), torch.zeros_like(scores))
            updated = F.normalize(self.items.float() + weights.t() @ q, dim=1)
            self.items.copy_(updated.to(self.items.dtype))

    def extra_repr(self) -> str:
        items, dim = self.items.shape
        return f"items={items}, dim={dim}"


def _query_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """The encoder's last level: conv + BatchNorm + ReLU + conv, without the final BatchNorm and
    ReLU (paper 3.1: ReLU would cut the negative half of the query space)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
    )


def _upsample(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 transpose conv with stride 2 (exactly doubles H and W) + BatchNorm + ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _output_block(in_channels: int, width: int, channels: int) -> nn.Sequential:
    """Two 3x3 conv + BatchNorm + ReLU, then a 3x3 conv to the frame's channels and a sigmoid."""
    return nn.Sequential(
        double_conv(in_channels, width), nn.Conv2d(width, channels, 3, padding=1), nn.Sigmoid()
    )


class MNADPredictor(AnomalyModel):
    """Predicts frame ``t`` ``(B, 1, C, H, W)`` from frames ``t-S .. t-1`` ``(B, S, C, H, W)`` through a memory."""

    def __init__(
        self,
        channels: int,
        seed_frames: int = 4,
        base_filters: int = 64,
        memory_items: int = 10,
        compactness_weight: float = 0.1,
        separateness_weight: float = 0.1,
    ) -> None:
        super().__init__()
        if seed_frames < 1 or base_filters < 1:
            raise ConfigError(
                "model",
                f"mnad_predictor needs seed_frames >= 1 and base_filters >= 1, found {seed_frames}, {base_filters}",
            )
        if compactness_weight < 0 or separateness_weight < 0:
            raise ConfigError(
                "model", f"loss weights must be >= 0, found {compactness_weight}, {separateness_weight}"
            )
        self.spec = TemporalSpec("predict", seed_frames, 1)
        self.channels = channels
        self.compactness_weight = float(compactness_weight)
        self.separateness_weight = float(separateness_weight)
        widths = [base_filters * 2**level for level in range(POOLINGS + 1)]  # 64, 128, 256, 512
        self.down = nn.ModuleList([double_conv(seed_frames * channels, widths[0])])
        self.down.extend(double_conv(widths[i - 1], widths[i]) for i in range(1, POOLINGS))
        self.down.append(_query_block(widths[-2], widths[-1]))
        self.pool = nn.MaxPool2d(2)
        self.memory = ItemMemory(memory_items, widths[-1])
        self.bottleneck = double_conv(2 * widths[-1], widths[-1])
        self.upsample = nn.ModuleList(_upsample(widths[i + 1], widths[i]) for i in reversed(range(POOLINGS)))
        self.up = nn.ModuleList(double_conv(2 * widths[i], widths[i]) for i in reversed(range(1, POOLINGS)))
        self.head = _output_block(2 * widths[0], widths[0], channels)

    def _stack(self, inputs: Tensor) -> Tensor:
        expected = (self.spec.input_frames, self.channels)
        if inputs.dim() != 5 or tuple(inputs.shape[1:3]) != expected:
            found = tuple(inputs.shape)
            raise ConfigError(
                "model", f"expected clips (B, {expected[0]}, {expected[1]}, H, W), found {found}"
            )
        if inputs.shape[-1] % 2**POOLINGS or inputs.shape[-2] % 2**POOLINGS:
            raise ConfigError(
                "model", f"frame height and width must be multiples of 8, found {tuple(inputs.shape[-2:])}"
            )
        return inputs.flatten(1, 2)

    def _encode_levels(self, inputs: Tensor) -> tuple[Tensor, list[Tensor]]:
        """L2-normalised query map ``(B, C, H/8, W/8)`` and the skip features of the upper levels."""
        skips = []
        x = self._stack(inputs)
        for index, block in enumerate(self.down):
            x = block(x if index == 0 else self.pool(x))
            skips.append(x)
        return F.normalize(skips.pop().float(), dim=1), skips

    def encode(self, inputs: Tensor) -> Tensor:
        """The query map ``(B, 8 * base_filters, H/8, W/8)``, unit norm along channels."""
        return self._encode_levels(inputs)[0]

    def last_encoder_layer(self) -> nn.Module:
        return self.down[-1]

    @staticmethod
    def _flat(query_map: Tensor) -> Tensor:
        return query_map.permute(0, 2, 3, 1).reshape(-1, query_map.shape[1])

    def _decode(self, query_map: Tensor, skips: list[Tensor]) -> Tensor:
        batch, dim, height, width = query_map.shape
        read = self.memory.read(self._flat(query_map)).reshape(batch, height, width, dim).permute(0, 3, 1, 2)
        x = self.bottleneck(torch.cat([query_map, read], dim=1).to(skips[-1].dtype))
        for index, skip in enumerate(reversed(skips)):
            x = torch.cat([skip, self.upsample[index](x)], dim=1)
            x = self.up[index](x) if index < len(self.up) else self.head(x)
        return x.unsqueeze(1)

    def forward(self, inputs: Tensor) -> Tensor:
        query_map, skips = self._encode_levels(inputs)
        return self._decode(query_map, skips)

    def forward_train(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """Prediction and ``wc * compactness + ws * separateness``; in training mode the memory is
        then updated from this batch's queries (after the read, as in the authors' code)."""
        query_map, skips = self._encode_levels(inputs)
        prediction = self._decode(query_map, skips)
        queries = self._flat(query_map)
        losses = self.memory.losses(queries)
        if self.training:
            self.memory.update(queries)
        aux = self.compactness_weight * losses.compactness + self.separateness_weight * losses.separateness
        return prediction, aux

    def predict_with_distance(self, inputs: Tensor) -> MemoryPrediction:
        """The prediction and :meth:`memory_distance` from one encoder pass (for scoring)."""
        query_map, skips = self._encode_levels(inputs)
        distance = self.memory.distance(self._flat(query_map)).reshape(len(query_map), -1).mean(dim=1)
        return MemoryPrediction(self._decode(query_map, skips), distance)

    def memory_distance(self, inputs: Tensor) -> Tensor:
        """Per window ``(B,)``: the mean over its queries of the L2 distance to the nearest item
        (the paper's D(q_t, p) of eq. 11), in float32."""
        query_map = self.encode(inputs)
        return self.memory.distance(self._flat(query_map)).reshape(len(query_map), -1).mean(dim=1)

    @torch.no_grad()
    def update_memory(self, inputs: Tensor) -> None:
        """Update the items from the queries of ``inputs`` (the paper's test-time update, for frames
        judged normal), whatever the training mode."""
        self.memory.update(self._flat(self.encode(inputs)))


@register(
    "mnad_predictor",
    family="memory frame predictor",
    summary="MNAD: U-Net predictor reading a memory of 10 normal prototypes (Park et al. 2020)",
    training={"loss": "mse", "strides": (1,), "learning_rate": 2e-4, "batch_size": 4},
    scoring={"reduction": "mean", "score": "mnad", "mnad_weight": 0.6},  # paper eq. 12, lambda 0.6
    **MNAD_DEFAULTS,
)
def build_mnad_predictor(
    channels: int,
    size: tuple[int, int],
    seed_frames: int = 4,
    base_filters: int = 64,
    memory_items: int = 10,
    compactness_weight: float = 0.1,
    separateness_weight: float = 0.1,
) -> AnomalyModel:
    return MNADPredictor(
        channels,
        int(seed_frames),
        int(base_filters),
        int(memory_items),
        float(compactness_weight),
        float(separateness_weight),
    )

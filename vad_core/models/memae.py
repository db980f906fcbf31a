"""Memory-augmented autoencoder (MemAE; Gong et al., "Memorizing Normality to Detect Anomaly", ICCV 2019).

A memory of N learned items (each a C_z-vector) sits between a BCAE1 encoder and decoder. Every
spatial feature vector ``z`` of the bottleneck ``(B, C_z, h, w)`` is a query: its addressing
weights over the items are a softmax of the similarities, small weights are cut by hard shrinkage
``w' = relu(w - lambda) * w / (|w - lambda| + eps)`` and the survivors renormalised to sum to 1,
and the decoder sees only the recombination ``z_hat = w' M``. Trained on normal frames, the memory
holds prototypes of normality, so anomalous content is reconstructed from normal parts and shows up
in the error. Training adds the entropy of the addressing weights, weighted 0.0002, to keep them
sparse.

Defaults from the paper: N = 2000 items, entropy weight alpha = 0.0002, memory initialised
uniformly in +-1/sqrt(C_z). Details chosen here where the paper leaves room:

* ``shrink_threshold`` defaults to 1/N, the low end of the paper's recommended range [1/N, 3/N].
  Since the N weights of a query sum to 1, at least one is always >= 1/N, so shrinkage never
  empties a query. (The authors' code uses 0.0025, which is 5/N for N = 2000; pass it explicitly.)
* ``addressing="dot"`` uses the dot product ``z . m_i`` as similarity, as the authors' code does;
  ``"cosine"`` is the paper's eq. 5 literally, whose bounded logits keep the softmax over 2000 items
  almost flat.
* The encoder is BCAE1's (bottleneck 96 x H/32 x W/32), the decoder BCAE1's mirror.

Example::

    model = build_model(ModelConfig("memae", channels=1, size=(128, 128)))
    output, entropy = model.forward_train(frames)     # entropy: 0.0002 * mean addressing entropy
    readout = model.address(frames)                   # MemoryReadout(features, weights (B, h, w, N))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.models.bcae import ConvAutoEncoder, decoder_stages, encoder_stages
from vad_core.models.layers import BCAE1_FILTERS
from vad_core.models.registry import register

MEMORY_ITEMS = 2000  # MemAE paper: N = 2000
ENTROPY_WEIGHT = 0.0002  # MemAE paper: alpha = 0.0002
ADDRESSING = ("dot", "cosine")
_EPS = 1e-12  # MemAE paper / code: epsilon of the hard shrinkage


@dataclass(frozen=True)
class MemoryReadout:
    """What the memory returns: recombined features and the (shrunk, renormalised) addressing weights."""

    features: Tensor  # (B, C_z, h, w), the decoder's input
    weights: Tensor  # (B, h, w, N), each query's weights sum to 1, most of them exactly 0


def hard_shrink(weights: Tensor, threshold: float, eps: float = _EPS) -> Tensor:
    """Continuous hard shrinkage of MemAE (eq. 7): keep weights above ``threshold``, zero the rest."""
    return F.relu(weights - threshold) * weights / ((weights - threshold).abs() + eps)


def addressing_entropy(weights: Tensor, eps: float = _EPS) -> Tensor:
    """Mean over queries of ``-sum_i w_i log w_i`` (MemAE eq. 9), a scalar >= 0."""
    return -(weights * torch.log(weights + eps)).sum(dim=-1).mean()


class Memory(nn.Module):
    """N learned items addressed by attention with hard shrinkage (MemAE section 3.3)."""

    def __init__(
        self,
        items: int,
        dim: int,
        shrink_threshold: float | None = None,
        addressing: str = "dot",
    ) -> None:
        super().__init__()
        if items < 1:
            raise ConfigError("model", f"memory needs at least 1 item, found {items}")
        if addressing not in ADDRESSING:
            raise ConfigError("model", f"addressing must be one of {ADDRESSING}, found {addressing!r}")
        threshold = 1.0 / items if shrink_threshold is None else float(shrink_threshold)
        if not 0.0 <= threshold < 1.0:
            raise ConfigError("model", f"shrink threshold must be in [0, 1), found {threshold}")
        self.items = nn.Parameter(torch.empty(items, dim))
        bound = 1.0 / math.sqrt(dim)
        nn.init.uniform_(self.items, -bound, bound)
        self.threshold = threshold
        self.addressing = addressing

    def forward(self, features: Tensor) -> MemoryReadout:
        """Address the memory with every spatial vector of ``(B, C_z, h, w)`` features."""
        queries = features.permute(0, 2, 3, 1)  # (B, h, w, C_z)
        items = self.items
        if self.addressing == "cosine":
            queries, items = F.normalize(queries, dim=-1), F.normalize(items, dim=-1)
        weights = (queries @ items.t()).softmax(dim=-1)
        if self.threshold > 0:
            weights = F.normalize(hard_shrink(weights, self.threshold), p=1, dim=-1)
        recombined = weights @ self.items  # (B, h, w, C_z)
        return MemoryReadout(recombined.permute(0, 3, 1, 2).contiguous(), weights)

    def extra_repr(self) -> str:
        items, dim = self.items.shape
        return f"items={items}, dim={dim}, threshold={self.threshold:g}, addressing={self.addressing}"


class MemAE(ConvAutoEncoder):
    """BCAE1 encoder -> memory -> BCAE1 decoder.

    ``encode`` returns the encoder's bottleneck ``(B, 96, H/32, W/32)`` before the memory (the
    embedding SVDD works on); ``address`` gives the memory readout.
    """

    def __init__(
        self,
        channels: int,
        memory_items: int = MEMORY_ITEMS,
        shrink_threshold: float | None = None,
        entropy_weight: float = ENTROPY_WEIGHT,
        addressing: str = "dot",
    ) -> None:
        super().__init__(
            channels, encoder_stages(channels, BCAE1_FILTERS), decoder_stages(channels, BCAE1_FILTERS)
        )
        self.memory = Memory(memory_items, BCAE1_FILTERS[-1], shrink_threshold, addressing)
        self.entropy_weight = entropy_weight

    def address(self, frames: Tensor) -> MemoryReadout:
        """Memory readout for ``frames``."""
        return self.memory(self.encode(frames))

    def forward(self, frames: Tensor) -> Tensor:
        """Reconstruct ``frames`` from memory items only."""
        return self.decoder(self.address(frames).features)

    def forward_train(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """Reconstruction and ``entropy_weight * addressing entropy`` (MemAE eq. 10)."""
        readout = self.address(inputs)
        return self.decoder(readout.features), self.entropy_weight * addressing_entropy(readout.weights)


@register(
    "memae",
    family="memory AE",
    summary="BCAE1 with a MemAE memory of 2000 items between encoder and decoder (Gong et al. 2019)",
    memory_items=MEMORY_ITEMS,
    shrink_threshold=None,
    entropy_weight=ENTROPY_WEIGHT,
    addressing="dot",
)
def build_memae(
    channels: int,
    size: tuple[int, int],
    memory_items: int = MEMORY_ITEMS,
    shrink_threshold: float | None = None,
    entropy_weight: float = ENTROPY_WEIGHT,
    addressing: str = "dot",
) -> MemAE:
    """MemAE on BCAE1; ``shrink_threshold=None`` means 1/N."""
    return MemAE(channels, int(memory_items), shrink_threshold, float(entropy_weight), str(addressing))

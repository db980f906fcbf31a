"""SVDD encoder fine-tuning of a trained autoencoder (thesis 3.6.2, eq. 3.14, and 4.8).

Deep SVDD (Ruff et al., ICML 2018) pulls the embeddings of normal data towards a centre ``c``.
The thesis uses it after ordinary training, as a regulariser of the encoder: the centre is the
mean embedding of the training set, and only the last encoder layer is tuned, with Adam at a very
low learning rate for a few epochs so the reconstructions are not disturbed, minimising

    (1/n) sum_i ||f_e(x_i) - c||^2 + lambda ||theta_e||^2            (eq. 3.14)

where the weight-decay term is Adam's ``weight_decay``. BatchNorm layers stay in eval mode (their
running statistics are frozen); an optional ``recon_weight * MSE(model(x), x)`` term keeps the
reconstruction in check. This is a procedure on a model, not a registered model: it works for any
``AnomalyModel`` that implements ``encode`` and ``last_encoder_layer``.

Defaults from the thesis (4.8): learning rate 5e-7, 10 epochs, centre = mean training embedding,
last encoder layer only; weight decay 1e-6 as in Deep SVDD.

Example::

    def batches():                                   # a fresh pass over the training frames
        return (frames for frames in loader)
    result = svdd_finetune(model, batches)           # SVDDResult(centre, losses)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from vad_core.errors import Cancelled, ConfigError
from vad_core.models.base import AnomalyModel

LEARNING_RATE = 5e-7  # thesis 4.8
EPOCHS = 10  # thesis 4.8
WEIGHT_DECAY = 1e-6  # Deep SVDD (Ruff et al. 2018)

Progress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class SVDDResult:
    """Outcome of ``svdd_finetune``: the hypersphere centre and the mean loss of every epoch."""

    centre: Tensor
    losses: list[float] = field(default_factory=list)


@torch.no_grad()
def embedding_centre(
    model: AnomalyModel, batches: Iterable[Tensor], device: str | torch.device = "cpu"
) -> Tensor:
    """Mean of ``model.encode(x)`` over all samples of ``batches`` (model in eval mode).

    The result has the shape of one embedding (``encode``'s output without the batch axis).
    """
    was_training = model.training
    model.eval()
    total: Tensor | None = None
    count = 0
    try:
        for inputs in batches:
            embedding = model.encode(inputs.to(device)).double()
            batch_sum = embedding.sum(dim=0)
            total = batch_sum if total is None else total + batch_sum
            count += embedding.shape[0]
    finally:
        model.train(was_training)
    if total is None or count == 0:
        raise ConfigError("svdd", "no training batches to compute the embedding centre from")
    return (total / count).float()


def svdd_loss(embedding: Tensor, centre: Tensor) -> Tensor:
    """Mean over the batch of the squared distance ``||z - c||^2``."""
    return (embedding - centre).pow(2).flatten(1).sum(dim=1).mean()


def svdd_finetune(
    model: AnomalyModel,
    batches_factory: Callable[[], Iterable[Tensor]],
    lr: float = LEARNING_RATE,
    epochs: int = EPOCHS,
    weight_decay: float = WEIGHT_DECAY,
    recon_weight: float = 0.0,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str | torch.device = "cpu",
    on_epoch: Callable[[int, float], None] | None = None,
) -> SVDDResult:
    """Fine-tune ``model.last_encoder_layer()`` in place so normal embeddings gather at their mean.

    ``batches_factory()`` must return a fresh iterable of input tensors for every pass (one to
    compute the centre, then one per epoch). ``progress(epoch, batch, loss)`` is called after every
    step (0-based indices); ``on_epoch(epoch, mean_loss)`` after every epoch (1-based; it may
    evaluate the model, whose modes are set again afterwards); ``should_stop()`` is polled before
    every step and raises ``Cancelled`` when true. Parameters' ``requires_grad`` flags and the
    model's train/eval mode are restored.
    """
    if lr <= 0 or epochs < 0 or weight_decay < 0 or recon_weight < 0:
        raise ConfigError(
            "svdd",
            f"need lr > 0, epochs >= 0, weight_decay >= 0, recon_weight >= 0; found {lr}, {epochs}, "
            f"{weight_decay}, {recon_weight}",
        )
    device = torch.device(device)
    model.to(device)
    centre = embedding_centre(model, batches_factory(), device).to(device)
    trainable = list(model.last_encoder_layer().parameters())
    if not trainable:
        raise ConfigError("svdd", f"{type(model).__name__}: the last encoder layer has no parameters")
    losses: list[float] = []
    with _only_trainable(model, trainable):
        _tuning_modes(model)
        optimizer = torch.optim.Adam(trainable, lr=lr, weight_decay=weight_decay)
        step = _SVDDStep(model, centre, optimizer, recon_weight, device)
        for epoch in range(epochs):
            total, count = 0.0, 0
            for index, inputs in enumerate(batches_factory()):
                if should_stop is not None and should_stop():
                    raise Cancelled(f"SVDD fine-tuning cancelled in epoch {epoch + 1} of {epochs}")
                value, samples = step(inputs)
                total += value * samples
                count += samples
                if progress is not None:
                    progress(epoch, index, value)
            if count == 0:
                raise ConfigError("svdd", f"epoch {epoch + 1}: the batch factory yielded no batches")
            losses.append(total / count)
            if on_epoch is not None:
                on_epoch(epoch + 1, losses[-1])
                _tuning_modes(model)
    return SVDDResult(centre.detach(), losses)


@dataclass
class _SVDDStep:
    """One Adam step on eq. 3.14 (plus the optional reconstruction term) for a batch of inputs."""

    model: AnomalyModel
    centre: Tensor
    optimizer: torch.optim.Optimizer
    recon_weight: float
    device: torch.device

    def __call__(self, inputs: Tensor) -> tuple[float, int]:
        """Take the step; return the batch loss and the number of samples in the batch."""
        inputs = inputs.to(self.device)
        loss = svdd_loss(self.model.encode(inputs), self.centre)
        if self.recon_weight:
            loss = loss + self.recon_weight * F.mse_loss(self.model(inputs), inputs)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach()), inputs.shape[0]


@contextmanager
def _only_trainable(model: AnomalyModel, trainable: list[torch.nn.Parameter]) -> Iterator[None]:
    """Only ``trainable`` requires grad inside; all grad flags and the model's mode come back after."""
    flags = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    was_training = model.training
    try:
        for parameter, _ in flags:
            parameter.requires_grad_(False)
        for parameter in trainable:
            parameter.requires_grad_(True)
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)
        model.train(was_training)


def _tuning_modes(model: AnomalyModel) -> None:
    """Train mode with BatchNorm statistics frozen (eval mode), as fine-tuning needs."""
    model.train()
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.eval()

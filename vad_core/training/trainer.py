"""Training any registered model on normal footage (thesis 4.4.1 / 4.9.1 recipe).

Adam (lr 1e-3), ReduceLROnPlateau on the validation loss (factor 0.75, patience 4), early stopping
(patience 8), temporal stride augmentation, optional compound SSIM loss, bfloat16 autocast and
cudnn benchmark on CUDA, seeded. ``train_iter`` is a generator of ``TrainEvent``s, so a GUI worker
or the CLI can show progress and stop it at any yield; its return value is the ``TrainResult``.

Example::

    config = TrainConfig(ModelConfig("bcae1", 1, (128, 128)), max_epochs=20)
    result = train(config, bank, output="runs/bcae1")
    print(result.best_val_loss, result.checkpoint)
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vad_core.checkpoint import save_checkpoint
from vad_core.inference.device import describe_device, resolve_device
from vad_core.models.base import AnomalyModel
from vad_core.models.registry import build_model
from vad_core.progress import drive
from vad_core.training.config import TrainConfig
from vad_core.training.frame_bank import FrameBank
from vad_core.training.state import load_training_state, save_training_state


@dataclass
class TrainEvent:
    """Progress of a run: ``kind`` is ``"batch"`` (every few batches), ``"epoch"`` or ``"info"``."""

    kind: str
    epoch: int = 0
    batch: int = 0
    batches: int = 0
    loss: float = float("nan")
    val_loss: float = float("nan")
    learning_rate: float = float("nan")
    message: str = ""


@dataclass
class TrainResult:
    """The trained model (best validation weights) and what happened."""

    model: AnomalyModel
    history: list[dict[str, float]] = field(default_factory=list)
    best_val_loss: float = float("inf")
    best_epoch: int = 0
    epochs_run: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    checkpoint: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def loss_function(config: TrainConfig) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """MSE, MSE plus the gradient difference loss, or the compound SSIM loss of eq. 3.10 per frame."""
    if config.loss == "mse":
        return lambda output, target: F.mse_loss(output.float(), target.float())
    if config.loss == "mse+gradient":
        from vad_core.models.gradient_loss import gradient_difference_loss

        def intensity_and_gradient(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            output, target = output.float(), target.float()
            return F.mse_loss(output, target) + gradient_difference_loss(output, target)

        return intensity_and_gradient
    from vad_core.models.ssim import CompoundLoss

    compound = CompoundLoss(eta=config.compound_eta)

    def compound_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        shape = output.shape[-3:]
        return compound(output.float().reshape(-1, *shape), target.float().reshape(-1, *shape))

    return compound_loss


def _split_rows(rows: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(rows), generator=generator)
    n_val = int(round(len(rows) * fraction)) if fraction > 0 else 0
    if fraction > 0 and len(rows) >= 2:
        n_val = min(max(1, n_val), len(rows) - 1)
    return rows[order[n_val:]], rows[order[:n_val]]


def train_iter(
    config: TrainConfig,
    bank: FrameBank,
    output: str | Path | None = None,
    resume: str | Path | None = None,
    metadata: dict[str, Any] | None = None,
    report_every: int = 10,
) -> Iterator[TrainEvent]:
    """Train ``config.model`` on ``bank``; yields events, returns a ``TrainResult`` (see module doc).

    With ``output``, the best model so far is saved there as a checkpoint after every improving
    epoch, and the full training state next to it so ``resume=output`` continues an interrupted run.
    Closing the generator (or raising ``Cancelled`` into it) stops after the current batch.
    """
    began = time.perf_counter()
    seed_everything(config.seed)
    device = resolve_device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = build_model(config.model).to(device)
    spec = model.spec
    rows = bank.windows(spec.window, config.strides if spec.window > 1 else (1,), config.window_step)
    train_rows, val_rows = _split_rows(rows, config.validation_fraction, config.seed)
    bank = bank.to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience
    )
    criterion = loss_function(config)
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
        if (config.amp and device.type == "cuda")
        else nullcontext
    )
    history: list[dict[str, float]] = []
    best_val, best_epoch, bad_epochs, start_epoch = float("inf"), 0, 0, 1
    best_state = copy.deepcopy(model.state_dict())
    if resume is not None:
        state = load_training_state(resume, model, optimizer, scheduler, device)
        history, best_val, best_epoch = state.history, state.best_val_loss, state.best_epoch
        bad_epochs, start_epoch = state.bad_epochs, state.epoch + 1
        best_state = state.best_weights or copy.deepcopy(model.state_dict())
        yield TrainEvent("info", epoch=state.epoch, message=f"resumed after epoch {state.epoch}")
    summary = {
        "sources": bank.names,
        "frames": len(bank),
        "windows": len(rows),
        "train_windows": len(train_rows),
        "validation_windows": len(val_rows),
        "device": describe_device(device),
        "config": config.to_dict(),
    }
    yield TrainEvent(
        "info",
        message=f"training {config.model.name} on {len(bank)} frames ({len(train_rows)} train / "
        f"{len(val_rows)} validation windows) on {summary['device']}",
    )
    generator = torch.Generator().manual_seed(config.seed)
    stopped_early = False
    epoch = start_epoch - 1
    checkpoint_path: Path | None = None
    for epoch in range(start_epoch, config.max_epochs + 1):
        model.train()
        order = torch.randperm(len(train_rows), generator=generator)
        if config.max_windows_per_epoch:
            order = order[: config.max_windows_per_epoch]
        batches = max(1, math.ceil(len(order) / config.batch_size))
        running = torch.zeros((), device=device)
        seen = 0
        for batch_index in range(batches):
            picked = train_rows[
                order[batch_index * config.batch_size : (batch_index + 1) * config.batch_size]
            ]
            if len(picked) == 0:
                continue
            if len(picked) == 1 and batches > 1:  # BatchNorm cannot train on a batch of one
                continue
            clips = bank.gather(picked)
            inputs, target = model.split(clips)
            with autocast():
                prediction, aux = model.forward_train(inputs)
                loss = criterion(prediction, target) + aux.float()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.detach() * len(picked)
            seen += len(picked)
            if (batch_index + 1) % report_every == 0 or batch_index + 1 == batches:
                yield TrainEvent(
                    "batch",
                    epoch=epoch,
                    batch=batch_index + 1,
                    batches=batches,
                    loss=float(running.item() / max(seen, 1)),
                    learning_rate=optimizer.param_groups[0]["lr"],
                )
        train_loss = float(running.item() / max(seen, 1))
        val_loss = (
            _evaluate(model, bank, val_rows, criterion, config.batch_size, autocast)
            if len(val_rows)
            else train_loss
        )
        scheduler.step(val_loss)
        learning_rate = optimizer.param_groups[0]["lr"]
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "lr": learning_rate})
        improved = val_loss < best_val - 1e-9
        if improved:
            best_val, best_epoch, bad_epochs = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
        if output is not None:
            if improved:
                checkpoint_path = _save_best(
                    model, best_state, output, summary, history, best_val, best_epoch, metadata
                )
            save_training_state(
                output,
                model,
                optimizer,
                scheduler,
                epoch,
                history,
                best_val,
                best_epoch,
                bad_epochs,
                best_state,
            )
        yield TrainEvent(
            "epoch",
            epoch=epoch,
            batches=batches,
            loss=train_loss,
            val_loss=val_loss,
            learning_rate=learning_rate,
        )
        if config.max_seconds is not None and time.perf_counter() - began > config.max_seconds:
            yield TrainEvent("info", epoch=epoch, message=f"time budget of {config.max_seconds:g} s reached")
            break
        if bad_epochs >= config.early_stopping_patience:
            stopped_early = True
            yield TrainEvent(
                "info", epoch=epoch, message=f"early stopping: no improvement for {bad_epochs} epochs"
            )
            break
    model.load_state_dict(best_state)
    model.eval()
    seconds = time.perf_counter() - began
    summary.update(
        {"epochs_run": epoch, "best_epoch": best_epoch, "best_val_loss": best_val, "seconds": seconds}
    )
    if output is not None:
        checkpoint_path = _save_best(
            model, best_state, output, summary, history, best_val, best_epoch, metadata
        )
    return TrainResult(
        model=model,
        history=history,
        best_val_loss=best_val,
        best_epoch=best_epoch,
        epochs_run=epoch,
        stopped_early=stopped_early,
        seconds=seconds,
        checkpoint=checkpoint_path,
        summary=summary,
    )


def _evaluate(model, bank, rows, criterion, batch_size, autocast) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            picked = rows[start : start + batch_size]
            inputs, target = model.split(bank.gather(picked))
            with autocast():
                loss = criterion(model(inputs), target)
            total += float(loss.item()) * len(picked)
            count += len(picked)
    model.train()
    return total / max(count, 1)


def _save_best(model, best_state, output, summary, history, best_val, best_epoch, metadata) -> Path:
    current = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    training = {**summary, "history": history, "best_val_loss": best_val, "best_epoch": best_epoch}
    extra = dict(metadata or {})
    training.update(extra.pop("training", {}))
    path = save_checkpoint(model, output, {"training": training, **extra})
    model.load_state_dict(current)
    return path


def train(
    config: TrainConfig,
    bank: FrameBank,
    output: str | Path | None = None,
    resume: str | Path | None = None,
    metadata: dict[str, Any] | None = None,
    progress: Callable[[TrainEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Run ``train_iter`` to the end, calling ``progress`` per event; ``should_stop()`` cancels."""
    return drive(train_iter(config, bank, output, resume, metadata), progress, should_stop, "training")

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
from collections.abc import Callable, Generator, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vad_core.checkpoint import save_checkpoint
from vad_core.evaluation.fit import NORMAL_RANGE
from vad_core.inference.device import describe_device, resolve_device
from vad_core.models.base import AnomalyModel
from vad_core.models.registry import build_model
from vad_core.progress import drive
from vad_core.training.calibration import calibration_record, held_out_clips, split_holdout
from vad_core.training.config import TrainConfig
from vad_core.training.frame_bank import FrameBank
from vad_core.training.schedules import MilestoneSchedule, run_progress
from vad_core.training.state import load_training_state, save_training_state

NORMAL_RANGE_FRAMES = 500  # our choice: training frames scored after a run for its normal range (seconds)


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
    calibration: dict[str, Any] = field(default_factory=dict)  # metadata["calibration"] (held-out frames)


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


def _epoch_order(n_rows: int, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """The training rows of one epoch, shuffled: all of them (reshuffled and repeated until the
    epoch has ``min_batches_per_epoch`` batches), or the first ``max_windows_per_epoch`` when set."""
    if config.max_windows_per_epoch:
        return torch.randperm(n_rows, generator=generator)[: config.max_windows_per_epoch]
    if n_rows == 0:
        return torch.zeros(0, dtype=torch.long)
    wanted = max(n_rows, config.min_batches_per_epoch * config.batch_size)
    passes = [torch.randperm(n_rows, generator=generator) for _ in range(math.ceil(wanted / n_rows))]
    return torch.cat(passes)[:wanted]


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
    metadata = {"scoring": config.scoring_defaults(), **(metadata or {})}
    seed_everything(config.seed)
    device = resolve_device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    run = _TrainingRun(config, bank, device)
    record = run.new_record()
    if resume is not None:
        record = run.resume_from(resume)
        yield TrainEvent("info", epoch=record.last_epoch, message=f"resumed after epoch {record.last_epoch}")
    yield TrainEvent("info", message=run.description())
    generator = torch.Generator().manual_seed(config.seed)
    stopped_early = False
    checkpoint_path: Path | None = None
    saves = _Saves(config.save_every_seconds)
    try:
        for epoch in range(record.last_epoch + 1, config.max_epochs + 1):
            train_loss, batches = yield from run.train_epoch(epoch, generator, report_every)
            val_loss = run.validation_loss(train_loss)
            changed = run.step_schedule(epoch, val_loss, time.perf_counter() - began)
            learning_rate = run.learning_rate()
            saves.finished(record.add_epoch(run.model, epoch, train_loss, val_loss, learning_rate))
            stop = _stop_reason(config, began, record.bad_epochs)
            if output is not None and saves.due(stop is not None or epoch == config.max_epochs):
                checkpoint_path = saves.save(run, output, record, metadata) or checkpoint_path
            yield TrainEvent(
                "epoch",
                epoch=epoch,
                batches=batches,
                loss=train_loss,
                val_loss=val_loss,
                learning_rate=learning_rate,
            )
            if changed:
                yield TrainEvent("info", epoch=epoch, message=f"learning rate now {learning_rate:.3g}")
            if stop is not None:
                message, stopped_early = stop
                yield TrainEvent("info", epoch=epoch, message=message)
                break
    except GeneratorExit:  # cancelled: unsaved finished epochs are saved now (the weights as they are)
        if output is not None and saves.pending:
            saves.save(run, output, record, metadata)
        raise
    what = "held-out" if run.held_out else "training"
    yield TrainEvent(
        "info", epoch=record.last_epoch, message=f"recording the errors of {what} frames (normal range)"
    )
    return run.finish(record, time.perf_counter() - began, stopped_early, output, metadata, checkpoint_path)


@dataclass
class _Saves:
    """When to write the checkpoint and the training state: after every epoch (``every`` 0), or at
    most every ``every`` seconds and at the end (big models). ``pending``: finished epochs unsaved;
    ``improved``: among them a new best epoch."""

    every: float
    pending: bool = False
    improved: bool = False
    last: float = field(default_factory=time.perf_counter)

    def finished(self, improved: bool) -> None:
        self.pending, self.improved = True, self.improved or improved

    def due(self, final: bool) -> bool:
        return final or self.every <= 0 or time.perf_counter() - self.last >= self.every

    def save(self, run: _TrainingRun, output: str | Path, record: _RunRecord, metadata) -> Path | None:
        """Write the state (and the checkpoint, when a best epoch is unsaved); its path or None."""
        path = run.save_best(output, record, metadata) if self.improved else None
        run.save_state(output, record)
        self.pending, self.improved, self.last = False, False, time.perf_counter()
        return path


@dataclass
class _RunRecord:
    """The bookkeeping of a run: loss history, best epoch so far and its weights (what a resume restores)."""

    best_state: dict[str, torch.Tensor]
    history: list[dict[str, float]] = field(default_factory=list)
    best_val: float = float("inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    last_epoch: int = 0

    keep_last: bool = False  # TrainConfig.keep == "last": every epoch is the one kept

    def add_epoch(
        self, model: AnomalyModel, epoch: int, train_loss: float, val_loss: float, learning_rate: float
    ) -> bool:
        """Log ``epoch``; keep the model's weights when it improved on the best; say whether it did."""
        self.history.append(
            {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "lr": learning_rate}
        )
        self.last_epoch = epoch
        if self.keep_last:  # the live weights are the kept ones: no copy
            self.best_val, self.best_epoch, self.best_state = val_loss, epoch, model.state_dict()
            return True
        improved = val_loss < self.best_val - 1e-9
        if improved:
            self.best_val, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad_epochs += 1
        return improved


class _TrainingRun:
    """One run of ``train_iter``: the model, its optimiser and schedule, and the train/validation split."""

    def __init__(self, config: TrainConfig, bank: FrameBank, device: torch.device) -> None:
        self.config, self.device = config, device
        self.model = build_model(config.model).to(device)
        spec = self.model.spec
        bank, self.held_out = split_holdout(bank, config.holdout_fraction, spec.window)
        rows = bank.windows(spec.window, config.strides if spec.window > 1 else (1,), config.window_step)
        self.train_rows, self.val_rows = _split_rows(rows, config.validation_fraction, config.seed)
        self.bank = bank.to(device)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.scheduler: Any = (
            MilestoneSchedule(self.optimizer, config.lr_milestones, config.lr_factor)
            if config.lr_milestones
            else torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience
            )
        )
        self.criterion = loss_function(config)
        self.autocast = (
            (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
            if (config.amp and device.type == "cuda")
            else nullcontext
        )
        self.summary: dict[str, Any] = {
            "sources": self.bank.names,
            "frames": len(self.bank),
            "windows": len(rows),
            "train_windows": len(self.train_rows),
            "validation_windows": len(self.val_rows),
            "held_out_frames": sum(stop - start for start, stop in self.held_out),
            "device": describe_device(device),
            "config": config.to_dict(),
        }
        if bank.footage:
            self.summary["footage"] = dict(bank.footage)

    def description(self) -> str:
        return (
            f"training {self.config.model.name} on {len(self.bank)} frames ({len(self.train_rows)} train / "
            f"{len(self.val_rows)} validation windows) on {self.summary['device']}"
        )

    def learning_rate(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def step_schedule(self, epoch: int, val_loss: float, seconds: float) -> bool:
        """Advance the lr schedule after ``epoch``; True when a milestone schedule changed the lr."""
        if isinstance(self.scheduler, MilestoneSchedule):
            config = self.config
            return self.scheduler.step(run_progress(epoch, config.max_epochs, seconds, config.max_seconds))
        self.scheduler.step(val_loss)
        return False

    def new_record(self) -> _RunRecord:
        """The bookkeeping of a fresh run (a copy of the initial weights unless the last epoch is kept)."""
        if self.config.keep == "last":
            return _RunRecord(best_state=self.model.state_dict(), keep_last=True)
        return _RunRecord(best_state=copy.deepcopy(self.model.state_dict()))

    def resume_from(self, resume: str | Path) -> _RunRecord:
        """Restore model, optimiser and schedule from the state saved at ``resume``."""
        state = load_training_state(resume, self.model, self.optimizer, self.scheduler, self.device)
        keep_last = self.config.keep == "last"
        if keep_last:
            best_state = self.model.state_dict()
        else:
            best_state = state.best_weights or copy.deepcopy(self.model.state_dict())
        return _RunRecord(
            best_state=best_state,
            keep_last=keep_last,
            history=state.history,
            best_val=state.best_val_loss,
            best_epoch=state.best_epoch,
            bad_epochs=state.bad_epochs,
            last_epoch=state.epoch,
        )

    def train_epoch(
        self, epoch: int, generator: torch.Generator, report_every: int
    ) -> Generator[TrainEvent, None, tuple[float, int]]:
        """One pass over (a shuffled sample of) the training windows; returns (mean loss, batches)."""
        config, model = self.config, self.model
        model.train()
        order = _epoch_order(len(self.train_rows), config, generator)
        batches = max(1, math.ceil(len(order) / config.batch_size))
        running = torch.zeros((), device=self.device)
        seen = 0
        for batch_index in range(batches):
            picked = self.train_rows[
                order[batch_index * config.batch_size : (batch_index + 1) * config.batch_size]
            ]
            if len(picked) == 0:
                continue
            if len(picked) == 1 and batches > 1:  # BatchNorm cannot train on a batch of one
                continue
            running += self._step(picked) * len(picked)
            seen += len(picked)
            if (batch_index + 1) % report_every == 0 or batch_index + 1 == batches:
                yield TrainEvent(
                    "batch",
                    epoch=epoch,
                    batch=batch_index + 1,
                    batches=batches,
                    loss=float(running.item() / max(seen, 1)),
                    learning_rate=self.learning_rate(),
                )
        return float(running.item() / max(seen, 1)), batches

    def _step(self, picked: torch.Tensor) -> torch.Tensor:
        """One optimiser step on the windows ``picked``; returns the (detached) batch loss."""
        inputs, target = self.model.split(self.bank.gather(picked))
        with self.autocast():
            prediction, aux = self.model.forward_train(inputs)
            loss = self.criterion(prediction, target) + aux.float()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def validation_loss(self, train_loss: float) -> float:
        """The mean loss on the validation windows (the training loss when there are none)."""
        if not len(self.val_rows):
            return train_loss
        return _evaluate(
            self.model, self.bank, self.val_rows, self.criterion, self.config.batch_size, self.autocast
        )

    def save_best(self, output: str | Path, record: _RunRecord, metadata: dict[str, Any] | None) -> Path:
        return _save_best(
            self.model,
            None if record.keep_last else record.best_state,
            output,
            self.summary,
            record.history,
            record.best_val,
            record.best_epoch,
            metadata,
        )

    def calibration(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """The quantile records of the held-out frames, scored as ``metadata["scoring"]`` says."""
        record = calibration_record(
            self.model,
            held_out_clips(self.bank, self.held_out),
            metadata.get("scoring", {}),
            device=str(self.device),
            amp=self.config.amp,
            batch_size=max(self.config.batch_size, 16),
        )
        self.model.train(False)
        return record

    def normal_range(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """``metadata["normal_range"]``: the error quantiles of (up to ``NORMAL_RANGE_FRAMES`` of) the
        training frames, for the fit check when no frames were held out (:mod:`vad_core.evaluation.fit`)."""
        per_source = max(self.model.spec.window + 1, NORMAL_RANGE_FRAMES // max(len(self.bank.bounds), 1))
        spans = [(start, min(stop, start + per_source)) for start, stop in self.bank.bounds]
        record = calibration_record(
            self.model,
            held_out_clips(self.bank, spans),
            metadata.get("scoring", {}),
            device=str(self.device),
            amp=self.config.amp,
            batch_size=max(self.config.batch_size, 16),
        )
        self.model.train(False)
        return {"error": record["error"], "frames": "training frames"} if record else {}

    def save_state(self, output: str | Path, record: _RunRecord) -> None:
        save_training_state(
            output,
            self.model,
            self.optimizer,
            self.scheduler,
            record.last_epoch,
            record.history,
            record.best_val,
            record.best_epoch,
            record.bad_epochs,
            {} if record.keep_last else record.best_state,  # the kept weights are the model's own
        )

    def finish(
        self,
        record: _RunRecord,
        seconds: float,
        stopped_early: bool,
        output: str | Path | None,
        metadata: dict[str, Any] | None,
        checkpoint_path: Path | None,
    ) -> TrainResult:
        """Load the best weights, save the final checkpoint (with ``output``) and describe the run."""
        self.model.load_state_dict(record.best_state)
        self.model.eval()
        if self.held_out:
            metadata = {**(metadata or {}), "calibration": self.calibration(metadata or {})}
        else:
            metadata = {**(metadata or {}), NORMAL_RANGE: self.normal_range(metadata or {})}
        self.summary.update(
            {
                "epochs_run": record.last_epoch,
                "best_epoch": record.best_epoch,
                "best_val_loss": record.best_val,
                "seconds": seconds,
            }
        )
        if output is not None:
            checkpoint_path = self.save_best(output, record, metadata)
        return TrainResult(
            model=self.model,
            history=record.history,
            best_val_loss=record.best_val,
            best_epoch=record.best_epoch,
            epochs_run=record.last_epoch,
            stopped_early=stopped_early,
            seconds=seconds,
            checkpoint=checkpoint_path,
            summary=self.summary,
            calibration=dict((metadata or {}).get("calibration", {})),
        )


def _stop_reason(config: TrainConfig, began: float, bad_epochs: int) -> tuple[str, bool] | None:
    """Why the run stops after this epoch (message, whether it is early stopping), or None."""
    if config.max_seconds is not None and time.perf_counter() - began > config.max_seconds:
        return f"time budget of {config.max_seconds:g} s reached", False
    if config.keep == "best" and bad_epochs >= config.early_stopping_patience:
        return f"early stopping: no improvement for {bad_epochs} epochs", True
    return None


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
    """Save ``best_state`` as the checkpoint (``None``: the model's current weights are the best)."""
    current = None if best_state is None else copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    training = {**summary, "history": history, "best_val_loss": best_val, "best_epoch": best_epoch}
    extra = dict(metadata or {})
    training.update(extra.pop("training", {}))
    path = save_checkpoint(model, output, {"training": training, **extra})
    if current is not None:
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

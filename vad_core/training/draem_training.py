"""Training DRAEM on good images with synthetic anomalies (Zavrtanik et al., ICCV 2021).

Every batch of good images gets anomalies pasted in on the fly (``anomaly_synthesis``, on the
training device, from one seeded ``torch.Generator``); the reconstructive network learns to give
back the good image, the discriminative network to segment the pasted region. Loss (paper, eq. 2-4):
``L2(rec, good) + (1 - SSIM(rec, good)) + Focal(segmentation, mask)``, focal gamma 2. SSIM and the
focal loss are computed in float32 with autocast off (bfloat16 SSIM loses the small variances it
divides by).

Recipe (the authors' training script, registered as the ``draem`` training defaults): Adam,
lr 1e-4, batch 8, 700 epochs, lr x 0.2 once 80 % and again once 90 % of the run has passed
(epochs 561 and 631 of 700: their ``MultiStepLR([0.8 E, 0.9 E], gamma=0.2)``). With a time budget
(``max_seconds``) the run's progress is the larger of the epoch fraction and the time fraction, so
a budget-bounded run still anneals before it stops; time counts across resumed sessions.

Model selection: the last epoch is kept, as in the paper. There are no defective images at training
time, and the loss on synthetic anomalies measures how well the networks undo *our* synthesis, not
how well they find real defects, so picking the "best" epoch by it would select for the synthesis.
A fixed, seeded set of synthetic anomalies is still scored after every epoch (focal loss, reported
as ``val_loss``) to watch training: held-out good images when ``validation_fraction > 0``, else up
to 32 training images. ``early_stopping_patience``, ``lr_factor``, ``lr_patience``, ``loss``,
``strides`` and ``window_step`` of ``TrainConfig`` do not apply here.

The generator yields the same ``TrainEvent``s as ``vad_core.training.trainer.train_iter`` and
returns a ``TrainResult``; closing it stops after the current batch. With ``output`` the model is
saved as a checkpoint, with the resumable training state next to it, at most every
``save_every_seconds`` and after the last epoch (paper-width states are ~1.5 GB).

Example::

    config = TrainConfig.for_model(ModelConfig("draem", 3, (256, 256)), max_seconds=3600)
    result = drive(train_draem_iter(config, bank, output="runs/draem_bottle"), progress=print)
    heat = result.model.anomaly_map(images)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from vad_core.checkpoint import save_checkpoint
from vad_core.errors import ConfigError
from vad_core.inference.device import describe_device, resolve_device
from vad_core.model_config import ModelConfig
from vad_core.models.draem import DRAEM
from vad_core.models.registry import build_model
from vad_core.models.ssim import ssim
from vad_core.progress import drive
from vad_core.training.anomaly_synthesis import SynthesisConfig, SyntheticAnomalies, synthesize_anomalies
from vad_core.training.config import TrainConfig
from vad_core.training.frame_bank import FrameBank
from vad_core.training.state import load_training_state, save_training_state
from vad_core.training.trainer import TrainEvent, TrainResult, seed_everything

FOCAL_GAMMA = 2.0  # paper, section 3.3
LR_MILESTONES = (0.8, 0.9)  # authors' training script: MultiStepLR at 80 % and 90 % of the epochs ...
LR_GAMMA = 0.2  # ... multiplying the lr by 0.2 each time
MONITOR_IMAGES = 32  # training images scored for ``val_loss`` when there is no validation split
DRAEM_MODELS = ("draem",)


def uses_draem_training(model: ModelConfig) -> bool:
    """Whether ``model`` is trained by ``train_draem_iter`` rather than the reconstruction trainer."""
    return model.name.lower() in DRAEM_MODELS


def focal_loss(logits: Tensor, masks: Tensor, gamma: float = FOCAL_GAMMA) -> Tensor:
    """Mean focal loss ``-(1 - p_t)^gamma log p_t`` of 2-class logits ``(B, 2, H, W)`` against 0/1 masks."""
    log_probs = F.log_softmax(logits.float(), dim=1)
    target = (masks.reshape(masks.shape[0], 1, *masks.shape[-2:]) > 0.5).long()
    log_pt = torch.gather(log_probs, 1, target)
    return (-((1.0 - log_pt.exp()) ** gamma) * log_pt).mean()


def draem_loss(
    reconstruction: Tensor, clean: Tensor, logits: Tensor, masks: Tensor
) -> tuple[Tensor, dict[str, Tensor]]:
    """Paper's loss: L2 + (1 - SSIM) between reconstruction and good image, plus focal on the mask."""
    with torch.autocast(reconstruction.device.type, enabled=False):
        rec, target = reconstruction.float(), clean.float()
        l2 = F.mse_loss(rec, target)
        structure = 1.0 - ssim(rec, target).mean()
        focal = focal_loss(logits, masks)
    return l2 + structure + focal, {"l2": l2.detach(), "ssim": structure.detach(), "focal": focal.detach()}


class ProgressSchedule:
    """Step decay of the lr by ``LR_GAMMA`` at each milestone fraction of the run's progress."""

    def __init__(self, optimizer: torch.optim.Optimizer, base_lr: float) -> None:
        self.optimizer = optimizer
        self.base_lr = base_lr
        self.drops = 0
        self.elapsed_before = 0.0  # seconds trained in earlier sessions (resume)
        self.session_began = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds trained so far, this session and the earlier ones."""
        return self.elapsed_before + time.perf_counter() - self.session_began

    def update(self, progress: float) -> bool:
        """Set the lr for ``progress`` in [0, 1]; True when it changed."""
        drops = sum(progress >= milestone for milestone in LR_MILESTONES)
        if drops == self.drops:
            return False
        self.drops = drops
        for group in self.optimizer.param_groups:
            group["lr"] = self.base_lr * LR_GAMMA**drops
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"drops": self.drops, "elapsed": self.elapsed(), "base_lr": self.base_lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.drops = int(state.get("drops", 0))
        self.elapsed_before = float(state.get("elapsed", 0.0))
        self.session_began = time.perf_counter()
        self.base_lr = float(state.get("base_lr", self.base_lr))


def _check_bank(bank: FrameBank, model: ModelConfig) -> None:
    frames = bank.frames
    expected = (model.channels, *model.size)
    if frames.dim() != 4 or tuple(frames.shape[1:]) != expected:
        raise ConfigError(
            "training", f"draem needs good images (N, {expected[0]}, {expected[1]}, {expected[2]}), "
            f"found {tuple(frames.shape)}"
        )  # fmt: skip
    if len(bank) < 2:
        raise ConfigError("training", f"draem needs at least 2 good images, found {len(bank)}")


def _split_images(count: int, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    held = min(max(1, round(count * fraction)), count - 1) if fraction > 0 else 0
    return order[held:].sort().values, order[:held].sort().values


def monitor_set(frames: Tensor, indices: Tensor, seed: int, batch_size: int) -> list[SyntheticAnomalies]:
    """A fixed set of synthetic anomalies on ``frames[indices]``, in batches (same seed, same set)."""
    generator = torch.Generator(device=frames.device).manual_seed(seed + 1)
    batches = []
    for start in range(0, len(indices), batch_size):
        picked = indices[start : start + batch_size].to(frames.device)
        images = frames[picked].float().div_(255.0)
        batches.append(synthesize_anomalies(images, images.roll(1, dims=0), generator))
    return batches


@dataclass
class _Run:
    """What one training session works with (kept together so each step stays a short function)."""

    config: TrainConfig
    model: DRAEM
    optimizer: torch.optim.Optimizer
    frames: Tensor  # uint8 (N, C, H, W) on the device
    train_indices: Tensor  # CPU int64
    order_generator: torch.Generator  # CPU: batch order and texture source images
    synthesis_generator: torch.Generator  # on the device: masks, textures, blending
    synthesis: SynthesisConfig
    autocast: Callable[[], Any]
    channels_last: bool

    def layout(self, images: Tensor) -> Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def batch(self, picked: Tensor) -> tuple[Tensor, SyntheticAnomalies]:
        """Good images ``picked`` and the same images with synthetic anomalies."""
        device = self.frames.device
        images = self.frames[picked.to(device, non_blocking=True)].float().div_(255.0)
        drawn = torch.randint(len(self.train_indices), (len(picked),), generator=self.order_generator)
        sources = self.frames[self.train_indices[drawn].to(device, non_blocking=True)].float().div_(255.0)
        return images, synthesize_anomalies(images, sources, self.synthesis_generator, self.synthesis)


def _train_epoch(run: _Run, epoch: int, report_every: int) -> Iterator[TrainEvent]:
    """One pass over the training images; yields batch events, returns mean loss parts."""
    config, model, optimizer = run.config, run.model, run.optimizer
    model.train()
    order = torch.randperm(len(run.train_indices), generator=run.order_generator)
    if config.max_windows_per_epoch:
        order = order[: config.max_windows_per_epoch]
    batches = max(1, math.ceil(len(order) / config.batch_size))
    sums = torch.zeros(4, device=run.frames.device)
    seen = 0
    for batch_index in range(batches):
        picked = run.train_indices[
            order[batch_index * config.batch_size : (batch_index + 1) * config.batch_size]
        ]
        if len(picked) == 0 or (len(picked) == 1 and batches > 1):  # BatchNorm needs two images
            continue
        images, synthetic = run.batch(picked)
        with run.autocast():
            reconstruction, logits = model.reconstruct_and_segment(run.layout(synthetic.images))
        loss, parts = draem_loss(reconstruction, images, logits, synthetic.masks)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sums += torch.stack([loss.detach(), parts["l2"], parts["ssim"], parts["focal"]]) * len(picked)
        seen += len(picked)
        if (batch_index + 1) % report_every == 0 or batch_index + 1 == batches:
            yield TrainEvent(
                "batch", epoch=epoch, batch=batch_index + 1, batches=batches,
                loss=float(sums[0].item() / max(seen, 1)), learning_rate=optimizer.param_groups[0]["lr"],
            )  # fmt: skip
    means = (sums / max(seen, 1)).tolist()
    return dict(zip(("train_loss", "l2", "ssim", "focal"), means, strict=True))


def _monitor_loss(run: _Run, batches: list[SyntheticAnomalies]) -> float:
    """Mean focal loss of the fixed synthetic set, in eval mode."""
    run.model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            with run.autocast():
                _, logits = run.model.reconstruct_and_segment(run.layout(batch.images))
            total += float(focal_loss(logits, batch.masks).item()) * len(batch.images)
            count += len(batch.images)
    run.model.train()
    return total / max(count, 1)


def _start_run(
    config: TrainConfig, bank: FrameBank, synthesis: SynthesisConfig | None
) -> tuple[_Run, Tensor]:
    """Model, optimizer, data on the device and generators; returns the run and the held-out indices."""
    seed_everything(config.seed)
    _check_bank(bank, config.model)
    device = resolve_device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = build_model(config.model)
    if not isinstance(model, DRAEM):
        raise ConfigError("training", f"{config.model.name} is not a DRAEM model (no discriminative network)")
    channels_last = True  # faster on CUDA (cuDNN NHWC kernels) and on the CPU (1.2-1.4x, measured)
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    train_indices, held_out = _split_images(len(bank), config.validation_fraction, config.seed)
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
        if (config.amp and device.type == "cuda")
        else nullcontext
    )
    run = _Run(
        config, model, optimizer, bank.frames.to(device), train_indices,
        torch.Generator().manual_seed(config.seed),
        torch.Generator(device=device).manual_seed(config.seed),
        synthesis or SynthesisConfig(), autocast, channels_last,
    )  # fmt: skip
    return run, held_out


def _save(
    run: _Run, output: str | Path, summary: dict[str, Any], history: list[dict[str, float]],
    schedule: ProgressSchedule, epoch: int, metadata: dict[str, Any] | None,
) -> Path:  # fmt: skip
    """Checkpoint of the current (= kept, last-epoch) weights, and the state to resume from."""
    val_loss = history[-1]["val_loss"] if history else float("nan")
    training = {
        **summary, "history": history, "selection": "last epoch", "epochs_run": epoch,
        "best_epoch": epoch, "best_val_loss": val_loss, "seconds": schedule.elapsed(),
    }  # fmt: skip
    extra = dict(metadata or {})
    training.update(extra.pop("training", {}))
    path = save_checkpoint(run.model, output, {"training": training, **extra})
    save_training_state(output, run.model, run.optimizer, schedule, epoch, history, val_loss, epoch, 0, {})
    return path


def train_draem_iter(
    config: TrainConfig,
    bank: FrameBank,
    output: str | Path | None = None,
    resume: str | Path | None = None,
    metadata: dict[str, Any] | None = None,
    report_every: int = 10,
    save_every_seconds: float = 120.0,
    synthesis: SynthesisConfig | None = None,
) -> Iterator[TrainEvent]:
    """Train the DRAEM model of ``config`` on the good images of ``bank`` (see module docstring).

    ``bank.frames`` must be ``(N, C, H, W)`` at the model's size and channels. Yields
    ``TrainEvent``s, returns a ``TrainResult`` whose model (the last epoch's) is in eval mode.
    """
    began = time.perf_counter()
    run, held_out = _start_run(config, bank, synthesis)
    schedule = ProgressSchedule(run.optimizer, config.learning_rate)
    history: list[dict[str, float]] = []
    start_epoch = 1
    if resume is not None:
        state = load_training_state(resume, run.model, run.optimizer, schedule, run.frames.device)
        history, start_epoch = state.history, state.epoch + 1
        run.order_generator.manual_seed(config.seed + state.epoch)  # do not replay the first epochs
        run.synthesis_generator.manual_seed(config.seed + state.epoch)
        yield TrainEvent("info", epoch=state.epoch, message=f"resumed after epoch {state.epoch}")
    monitored = held_out if len(held_out) else run.train_indices[:MONITOR_IMAGES]
    monitor = monitor_set(run.frames, monitored, config.seed, config.batch_size)
    device_name = describe_device(run.frames.device)
    summary = {
        "sources": bank.names, "frames": len(bank), "train_images": len(run.train_indices),
        "validation_images": len(held_out), "monitor_images": len(monitored),
        "device": device_name, "config": config.to_dict(),
    }  # fmt: skip
    yield TrainEvent(
        "info",
        message=f"training {config.model.name} on {len(run.train_indices)} good images with synthetic "
        f"anomalies ({len(held_out)} held out) on {device_name}",
    )
    epoch, saved_epoch, last_save = start_epoch - 1, -1, time.perf_counter()
    checkpoint: Path | None = None
    for epoch in range(start_epoch, config.max_epochs + 1):
        budget = schedule.elapsed() / config.max_seconds if config.max_seconds else 0.0
        if schedule.update(max((epoch - 1) / config.max_epochs, budget)):
            lr = run.optimizer.param_groups[0]["lr"]
            yield TrainEvent("info", epoch=epoch, message=f"learning rate now {lr:.3g}")
        parts = yield from _train_epoch(run, epoch, report_every)
        val_loss = _monitor_loss(run, monitor)
        lr = run.optimizer.param_groups[0]["lr"]
        history.append(
            {"epoch": epoch, **parts, "val_loss": val_loss, "lr": lr, "seconds": schedule.elapsed()}
        )
        out_of_time = config.max_seconds is not None and schedule.elapsed() > config.max_seconds
        due = time.perf_counter() - last_save >= save_every_seconds
        if output is not None and (out_of_time or due or epoch == config.max_epochs):
            checkpoint = _save(run, output, summary, history, schedule, epoch, metadata)
            saved_epoch, last_save = epoch, time.perf_counter()
        yield TrainEvent(
            "epoch", epoch=epoch, batches=math.ceil(len(run.train_indices) / config.batch_size),
            loss=parts["train_loss"], val_loss=val_loss, learning_rate=lr,
        )  # fmt: skip
        if out_of_time:
            yield TrainEvent("info", epoch=epoch, message=f"time budget of {config.max_seconds:g} s reached")
            break
    if output is not None and saved_epoch != epoch:
        checkpoint = _save(run, output, summary, history, schedule, epoch, metadata)
    run.model.eval()
    seconds = time.perf_counter() - began
    val_loss = history[-1]["val_loss"] if history else float("nan")
    summary.update({"epochs_run": epoch, "best_epoch": epoch, "best_val_loss": val_loss, "seconds": seconds})
    return TrainResult(
        model=run.model, history=history, best_val_loss=val_loss, best_epoch=epoch, epochs_run=epoch,
        stopped_early=False, seconds=seconds, checkpoint=checkpoint, summary=summary,
    )  # fmt: skip


def train_draem(
    config: TrainConfig,
    bank: FrameBank,
    output: str | Path | None = None,
    resume: str | Path | None = None,
    metadata: dict[str, Any] | None = None,
    progress: Callable[[TrainEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    **options: Any,
) -> TrainResult:
    """Run ``train_draem_iter`` to the end, calling ``progress`` per event; ``should_stop()`` cancels."""
    iterator = train_draem_iter(config, bank, output, resume, metadata, **options)
    return drive(iterator, progress, should_stop, "training")


__all__ = [
    "DRAEM_MODELS",
    "ProgressSchedule",
    "draem_loss",
    "focal_loss",
    "monitor_set",
    "train_draem",
    "train_draem_iter",
    "uses_draem_training",
]

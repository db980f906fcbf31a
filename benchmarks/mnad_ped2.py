"""Train a frame predictor (MNAD by default) on a dataset's training split, bounded in time, for the GPU.

Trains with the engine's trainer (``vad_core.training.train``: the model's registered recipe,
bfloat16 autocast on CUDA), holding the last ``--holdout`` of every training clip out: after
training, the checkpoint is re-scored on those frames and their error quantiles are stored in its
``metadata["calibration"]`` (causal scores). The checkpoint also carries the model's recommended
scoring (``mnad`` for ``mnad_predictor``, ``psnr`` for ``unet_predictor``), so the test split is
scored later, on any machine, by ``vad eval --dataset ROOT --model CHECKPOINT``. Prints a line per
epoch with optimiser steps/s and training windows/s, then a JSON summary (also ``OUT.summary.json``).

``--data`` is a dataset folder ``open_dataset`` reads (e.g. ``ucsd_ped2``), or a folder holding only
``training/frames/NN/*.jpg`` (the re-packed UCSD layout without its test split or ground truth).
``--max-minutes`` is checked after every epoch (``--max-windows`` bounds an epoch); the best
checkpoint so far is always on disk, and the run ends by writing the calibrated one.

    python benchmarks/mnad_ped2.py --data .carry/ped2 --size 256 --device cuda --max-minutes 25 --out /tmp/mnad/mnad256
    python benchmarks/mnad_ped2.py --data .carry/ped2 --model unet_predictor:base_filters=32 --size 256 \
        --device cuda --max-minutes 20 --out /tmp/unet256/unet256
    python benchmarks/mnad_ped2.py --data ../shared/datasets/ucsd_ped2 --model mnad_predictor:base_filters=8 \
        --size 64 --max-minutes 1 --max-windows 64 --device cpu --out /tmp/mnad_cpu/mnad   # a smoke test
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from _common import argument_parser, parse_model, parse_size, print_header

from vad_core.errors import DatasetError


def training_sources(data: Path) -> tuple[list, str]:
    """The training clips of ``data`` (a dataset, or just ``training/frames/NN``) and a name for them."""
    from vad_core.datasets import open_dataset
    from vad_core.sources.image_files import FrameFolderSource

    try:
        dataset = open_dataset(data)
        return [clip.source for clip in dataset.train], f"{dataset.name} (train split)"
    except DatasetError:
        frames = data / "training" / "frames"
        if not frames.is_dir():
            raise
        folders = sorted(p for p in frames.iterdir() if p.is_dir() and not p.name.startswith("."))
        return [FrameFolderSource(folder, fps=10.0) for folder in folders], f"{data.name} (training/frames)"


class EpochRate:
    """Prints each epoch's losses with optimiser steps/s and training windows/s."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.started = time.perf_counter()
        self.steps = 0
        self.rates: list[float] = []

    def __call__(self, event) -> None:
        if event.kind == "info":
            print(event.message, flush=True)
        elif event.kind == "epoch":
            now = time.perf_counter()
            rate = event.batches / (now - self.started)  # validation included
            self.rates.append(rate)
            self.steps += event.batches
            print(
                f"epoch {event.epoch:3d}  train {event.loss:.6f}  val {event.val_loss:.6f}  "
                f"lr {event.learning_rate:.2e}  {event.batches} steps in {now - self.started:.1f} s  "
                f"{rate:.2f} steps/s  {rate * self.batch_size:.1f} windows/s",
                flush=True,
            )
            self.started = now


def parse_args():
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--data", type=Path, required=True, help="dataset folder (its training split is used)"
    )
    parser.add_argument("--model", default="mnad_predictor", help="name[:option=value,...] [mnad_predictor]")
    parser.add_argument("--size", default="256", help="input size, 256 or HxW [256]")
    parser.add_argument("--epochs", type=int, default=60, help="maximum epochs [60, MNAD's Ped2 recipe]")
    parser.add_argument("--batch-size", type=int, help="[the model's registered default: 4 for MNAD]")
    parser.add_argument("--lr", type=float, help="[the model's registered default: 2e-4 for MNAD]")
    parser.add_argument("--max-minutes", type=float, default=25.0, help="training budget, checked per epoch")
    parser.add_argument("--max-windows", type=int, help="training windows per epoch [all]")
    parser.add_argument("--holdout", type=float, default=0.1, help="tail of every clip held out [0.1]")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--no-amp", action="store_true", help="no bfloat16 autocast on CUDA")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="checkpoint stem")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import torch

    from vad_core.models import ModelConfig, count_parameters
    from vad_core.sources import Preprocess
    from vad_core.training import FrameBank, TrainConfig, train

    print_header()
    name, options = parse_model(args.model)
    size = parse_size(args.size if "x" in args.size else f"{args.size}x{args.size}")
    began = time.perf_counter()
    sources, dataset_name = training_sources(args.data)
    bank = FrameBank.from_sources(sources, Preprocess(size, 1))
    print(
        f"{dataset_name}: {len(sources)} clips, {len(bank)} frames at {size} ({time.perf_counter() - began:.0f} s)"
    )
    chosen = {
        key: value for key, value in (("batch_size", args.batch_size), ("learning_rate", args.lr)) if value
    }
    config = TrainConfig.for_model(
        ModelConfig(name, 1, size, options),
        max_epochs=args.epochs,
        max_seconds=60.0 * args.max_minutes,
        max_windows_per_epoch=args.max_windows,
        holdout_fraction=args.holdout,
        device=args.device,
        amp=not args.no_amp,
        seed=args.seed,
        **chosen,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rate = EpochRate(config.batch_size)
    result = train(
        config, bank, output=args.out, metadata={"training": {"dataset": dataset_name}}, progress=rate
    )
    steps_per_second = rate.steps / result.seconds if result.seconds else float("nan")
    summary = {
        "model": name,
        "options": options,
        "size": list(size),
        "parameters": count_parameters(result.model),
        "device": result.summary.get("device"),
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "train_seconds": result.seconds,
        "steps": rate.steps,
        "steps_per_second": steps_per_second,
        "batch_size": config.batch_size,
        "held_out_frames": result.summary.get("held_out_frames"),
        "calibrated": sorted(result.calibration),
        "checkpoint": str(result.checkpoint),
        "max_cuda_memory_gib": torch.cuda.max_memory_allocated() / 2**30
        if torch.cuda.is_available()
        else None,
    }
    Path(f"{args.out}.summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()

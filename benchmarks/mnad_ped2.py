"""Train MNAD (prediction variant) on UCSD Ped2 and report frame AUROC under its scores and operator metrics.

Trains ``mnad_predictor`` with the engine's trainer on the first 90 % of every training clip (the
last 10 % are held out: their per-frame errors become the checkpoint's calibration record for
causal scores), scores the 12 test clips with the prediction's MSE and the memory distance from
one encoder pass per window, and prints frame AUROC pooled over all test frames for:

* ``mse``:      the engine's default, per-video min-max of the per-frame MSE;
* ``psnr``:     ``1 - g(PSNR)`` (Liu et al. 2018; the engine's "log error");
* ``mnad``:     ``0.6 (1 - g(PSNR)) + 0.4 g(D)`` (Park et al. 2020, eq. 12);
* ``distance``: ``g(D)`` alone;

each with the engine's Savitzky-Golay smoothing (15 frames, order 3) and without. As in the
engine, the first 4 frames of a clip (which cannot be predicted) copy the first prediction's
values; the "paper protocol" lines drop them instead and do not smooth, as the authors'
``Evaluate.py`` does. Also: causal (calibrated, not per-video) AUROC, and event recall / false
alarms per hour at the G-mean threshold and at the threshold giving 90 % event recall.

``--data`` is the dataset folder or a cache ``.npz`` (``benchmarks/make_cache.py``'s format);
with ``--cache`` the resized frames are written there on first use and read back after.

    python benchmarks/mnad_ped2.py --data ../shared/datasets/ucsd_ped2 --cache /tmp/ped2_128.npz \
        --size 128 --base-filters 8 --max-seconds 1500 --device cpu --out /tmp/mnad_cpu
    python benchmarks/mnad_ped2.py --data .carry/ped2_256x256.npz --size 256 --max-seconds 1800 \
        --device cuda --out $OUT/mnad            # paper widths (base_filters 64), batch 4, lr 2e-4
"""

from __future__ import annotations

import argparse
import json
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vad_core.checkpoint import load_checkpoint, save_checkpoint
from vad_core.inference.device import resolve_device
from vad_core.metrics import ClipEvents, evaluate_videos, event_metrics_at_gmean, threshold_for_recall
from vad_core.models import ModelConfig
from vad_core.scoring import regularity, smooth
from vad_core.scoring.causal import causal_scores, error_quantiles
from vad_core.scoring.combined import PREDICTION_WEIGHT, min_max, mnad_score
from vad_core.scoring.psnr import psnr_from_mse
from vad_core.sources import ArraySource, Preprocess
from vad_core.training import FrameBank, TrainConfig, train

UCSD_FPS = 10.0
SEEDS = 4
UPDATE_THRESHOLD = 0.01  # MNAD Evaluate.py: --th 0.01, test-time update only below this weighted error


@dataclass
class Clip:
    name: str
    frames: np.ndarray  # (T, H, W) uint8 at model size
    labels: np.ndarray | None  # (T,) bool, test clips only
    fps: float = UCSD_FPS


# ------------------------------------------------------------------------------------------- data
def _resized(source, size: tuple[int, int]) -> np.ndarray:
    return Preprocess(size, 1).to_uint8(source.read(0, len(source)))[:, 0]


def load_clips(data: Path, size: tuple[int, int], cache: Path | None) -> tuple[list[Clip], list[Clip]]:
    """Training and test clips resized to ``size``, from a cache ``.npz`` or the dataset folder."""
    path = cache if cache is not None and cache.is_file() else data
    if path.suffix == ".npz":
        arrays = np.load(path)
        if tuple(arrays["train"].shape[1:3]) != size:
            raise SystemExit(f"{path} holds {arrays['train'].shape[1:3]} frames, not {size}")
        fps = float(arrays["fps"]) if "fps" in arrays else UCSD_FPS
        return _split(arrays, "train", fps), _split(arrays, "test", fps)
    from vad_core.datasets import open_dataset

    dataset = open_dataset(data)
    train_clips = [Clip(c.name, _resized(c.source, size), None, c.source.fps) for c in dataset.train]
    test_clips = [
        Clip(c.name, _resized(c.source, size), np.asarray(c.labels, bool), c.source.fps) for c in dataset.test
    ]
    if cache is not None:
        _write_cache(cache, train_clips, test_clips)
    return train_clips, test_clips


def _split(arrays, split: str, fps: float) -> list[Clip]:
    frames, lengths, names = arrays[split], arrays[f"{split}_lengths"], arrays[f"{split}_names"]
    labels = arrays["test_labels"].astype(bool) if split == "test" else None
    clips, start = [], 0
    for name, length in zip(names, lengths, strict=True):
        clip_labels = labels[start : start + length] if labels is not None else None
        clips.append(Clip(str(name), frames[start : start + length], clip_labels, fps))
        start += int(length)
    return clips


def _write_cache(path: Path, train_clips: list[Clip], test_clips: list[Clip]) -> None:
    arrays = {"fps": np.float64(test_clips[0].fps)}
    for split, clips in (("train", train_clips), ("test", test_clips)):
        arrays[split] = np.concatenate([c.frames for c in clips])
        arrays[f"{split}_lengths"] = np.array([len(c.frames) for c in clips])
        arrays[f"{split}_names"] = np.array([c.name for c in clips])
    arrays["test_labels"] = np.concatenate([c.labels for c in test_clips]).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"cache written: {path} ({path.stat().st_size / 2**20:.1f} MiB)", flush=True)


# -------------------------------------------------------------------------------------- training
def train_model(args: argparse.Namespace, train_clips: list[Clip], size: tuple[int, int]):
    """Train on the first ``1 - holdout`` of every training clip; returns (TrainResult, bank)."""
    sources = [ArraySource(c.frames, fps=c.fps, name=c.name) for c in train_clips]
    ranges = [[(0, _cut(len(c.frames), args.holdout))] for c in train_clips]
    bank = FrameBank.from_sources(sources, Preprocess(size, 1), frame_ranges=ranges)
    options = {"base_filters": args.base_filters, "memory_items": args.memory_items}
    config = TrainConfig.for_model(
        ModelConfig("mnad_predictor", 1, size, options),
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        max_seconds=args.max_seconds,
        max_windows_per_epoch=args.max_windows,
        device=args.device,
        seed=args.seed,
    )

    def show(event) -> None:
        if event.kind == "epoch":
            print(
                f"epoch {event.epoch:3d}  train {event.loss:.6f}  val {event.val_loss:.6f}  "
                f"lr {event.learning_rate:.1e}  {time.perf_counter() - began:.0f} s",
                flush=True,
            )
        elif event.kind == "info":
            print(event.message, flush=True)

    began = time.perf_counter()
    metadata = {"training": {"dataset": "UCSD Ped2", "holdout_fraction": args.holdout}}
    result = train(config, bank, output=Path(args.out) / "mnad", metadata=metadata, progress=show)
    return result


def _cut(length: int, holdout: float) -> int:
    return length - int(round(length * holdout)) if holdout > 0 else length


# --------------------------------------------------------------------------------------- scoring
def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def score_frames(
    model, frames: np.ndarray, device: torch.device, batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame prediction MSE and memory distance ``(T,)`` of one clip; frames 0..3 copy frame 4."""
    video = torch.from_numpy(frames).to(device)[:, None]  # (T, 1, H, W) uint8
    targets = torch.arange(SEEDS, len(frames), device=device)
    mse, distance = [], []
    with torch.inference_mode(), _autocast(device):
        for chunk in targets.split(batch):
            rows = chunk[:, None] + torch.arange(-SEEDS, 1, device=device)[None]  # (B, 5)
            clips = video[rows].float().div_(255.0)  # (B, 5, 1, H, W)
            seeds, future = model.split(clips)
            scored = model.predict_with_distance(seeds)
            mse.append((scored.prediction.float() - future).pow(2).mean(dim=(1, 2, 3, 4)))
            distance.append(scored.distance.float())
    return _pad_front(torch.cat(mse)), _pad_front(torch.cat(distance))


def score_with_test_time_update(
    model, frames: np.ndarray, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`score_frames`, one window at a time, updating the memory after every window whose
    weighted error (MNAD's point score) is below 0.01, as the authors' ``Evaluate.py`` does."""
    video = torch.from_numpy(frames).to(device)[:, None]
    mse, distance = [], []
    with torch.inference_mode(), _autocast(device):
        for t in range(SEEDS, len(frames)):
            clip = video[t - SEEDS : t + 1].float().div_(255.0)[None]
            seeds, future = model.split(clip)
            scored = model.predict_with_distance(seeds)
            error = (scored.prediction.float() - future).pow(2)
            mse.append(error.mean())
            distance.append(scored.distance.float()[0])
            if float(weighted_error(error)) < UPDATE_THRESHOLD:
                model.update_memory(seeds)
    return _pad_front(torch.stack(mse)), _pad_front(torch.stack(distance))


def weighted_error(error: torch.Tensor) -> torch.Tensor:
    """MNAD's point score: squared errors weighted by ``1 - exp(-error)``, normalised to sum 1."""
    weights = 1.0 - torch.exp(-error)
    return (weights * error).sum() / weights.sum().clamp_min(1e-12)


def _pad_front(values: torch.Tensor) -> np.ndarray:
    array = values.double().cpu().numpy()
    return np.concatenate([np.repeat(array[:1], SEEDS), array])


def score_test_clips(model, clips: list[Clip], device, batch: int, update: bool) -> dict[str, dict]:
    model = model.to(device).eval()
    saved = model.memory.items.clone()
    scored = {}
    began = time.perf_counter()
    for clip in clips:
        if update:
            mse, distance = score_with_test_time_update(model, clip.frames, device)
        else:
            mse, distance = score_frames(model, clip.frames, device, batch)
        scored[clip.name] = {"mse": mse, "distance": distance, "labels": clip.labels, "fps": clip.fps}
    model.memory.items.copy_(saved)  # the checkpoint keeps the memory as trained
    frames = sum(len(c.frames) for c in clips)
    print(f"scored {frames} test frames in {time.perf_counter() - began:.1f} s", flush=True)
    return scored


# ------------------------------------------------------------------------------------ evaluation
def variant_scores(mse: np.ndarray, distance: np.ndarray, weight: float) -> dict[str, np.ndarray]:
    """Each score of one clip before smoothing, high = anomalous, in [0, 1]."""
    psnr = psnr_from_mse(mse)
    return {
        "mse": 1.0 - regularity(mse),
        "psnr": mnad_score(psnr, distance, 1.0),
        "mnad": mnad_score(psnr, distance, weight),
        "distance": min_max(distance),
    }


def smoothed(score: np.ndarray) -> np.ndarray:
    """The engine's Savitzky-Golay step (15 frames, order 3), clipped to [0, 1]."""
    return np.clip(smooth(score, 15, 3), 0.0, 1.0)


def frame_aurocs(scored: dict[str, dict], weight: float) -> dict[str, float]:
    table: dict[str, dict[str, tuple]] = {}
    for name, clip in scored.items():
        whole = variant_scores(clip["mse"], clip["distance"], weight)
        paper = variant_scores(clip["mse"][SEEDS:], clip["distance"][SEEDS:], weight)
        for variant, score in whole.items():
            table.setdefault(f"{variant} smoothed", {})[name] = (smoothed(score), clip["labels"])
            table.setdefault(f"{variant} raw", {})[name] = (score, clip["labels"])
            table.setdefault(f"{variant} paper protocol", {})[name] = (paper[variant], clip["labels"][SEEDS:])
    return {label: evaluate_videos(per_video).pooled.auroc for label, per_video in table.items()}


def calibration(model, train_clips: list[Clip], holdout: float, device, batch: int) -> dict[str, dict]:
    """Quantile records of the held-out frames' MSE and memory distance (none without a holdout)."""
    if holdout <= 0:
        return {}
    mse, distance = [], []
    for clip in train_clips:
        tail = clip.frames[max(0, _cut(len(clip.frames), holdout) - SEEDS) :]
        if len(tail) > SEEDS:
            clip_mse, clip_distance = score_frames(model, tail, device, batch)
            mse.append(clip_mse[SEEDS:])
            distance.append(clip_distance[SEEDS:])
    return {
        "mse": error_quantiles(np.concatenate(mse), error="mse", reduction="mean").to_dict(),
        "memory_distance": error_quantiles(np.concatenate(distance), error="memory distance").to_dict(),
    }


def causal_aurocs(scored: dict[str, dict], records: dict[str, dict], weight: float) -> dict[str, float]:
    """AUROC of calibrated scores pooled over clips, without per-video normalisation or smoothing."""
    if not records:
        return {}
    from vad_core.scoring.causal import ErrorQuantiles

    mse_record = ErrorQuantiles.from_dict(records["mse"])
    distance_record = ErrorQuantiles.from_dict(records["memory_distance"])
    per_clip_mse, per_clip_mnad = {}, {}
    for name, clip in scored.items():
        causal_mse = causal_scores(clip["mse"], mse_record)
        causal_distance = causal_scores(clip["distance"], distance_record)
        per_clip_mse[name] = (causal_mse, clip["labels"])
        per_clip_mnad[name] = (weight * causal_mse + (1 - weight) * causal_distance, clip["labels"])
    return {
        "causal mse": evaluate_videos(per_clip_mse).pooled.auroc,
        "causal mnad": evaluate_videos(per_clip_mnad).pooled.auroc,
    }


def operator_metrics(scored: dict[str, dict], weight: float) -> dict[str, dict]:
    """Event recall and false alarms per hour of the smoothed scores, engine event settings (5, 5)."""
    report = {}
    for variant in ("psnr", "mnad"):
        clips = [
            ClipEvents(
                smoothed(variant_scores(c["mse"], c["distance"], weight)[variant]),
                c["labels"],
                c["fps"],
                name,
            )
            for name, c in scored.items()
        ]
        for label, metrics in (
            ("gmean", event_metrics_at_gmean(clips)),
            ("recall90", threshold_for_recall(clips, 0.9)),
        ):
            if metrics is not None:
                report[f"{variant} {label}"] = {
                    "threshold": metrics.threshold,
                    "recall": metrics.recall,
                    "caught": metrics.caught,
                    "intervals": metrics.intervals,
                    "false_alarms": metrics.false_alarms,
                    "false_alarms_per_hour": metrics.false_alarms_per_hour,
                    "hours": metrics.hours,
                }
    return report


# ------------------------------------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="UCSD Ped2 folder or a cache .npz")
    parser.add_argument("--cache", type=Path, help="resized-frames cache to write on first use, read after")
    parser.add_argument("--size", default="256", help="input size, 256 (paper) or HxW, multiples of 32")
    parser.add_argument(
        "--max-seconds", type=float, default=1800.0, help="training budget (checked per epoch)"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, help="score this trained checkpoint instead of training")
    parser.add_argument("--base-filters", type=int, default=64, help="64 in the paper (C = 512)")
    parser.add_argument("--memory-items", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=4, help="4 in the paper")
    parser.add_argument("--lr", type=float, default=2e-4, help="2e-4 in the paper (prediction)")
    parser.add_argument("--epochs", type=int, default=60, help="60 in the paper for Ped2")
    parser.add_argument("--max-windows", type=int, help="training windows per epoch (default: all)")
    parser.add_argument("--holdout", type=float, default=0.1, help="tail of each training clip held out")
    parser.add_argument("--weight", type=float, default=PREDICTION_WEIGHT, help="lambda of the MNAD score")
    parser.add_argument("--test-time-update", action="store_true", help="update memory while scoring")
    parser.add_argument("--score-batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    height, _, width = args.size.partition("x")
    size = (int(height), int(width or height))
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    train_clips, test_clips = load_clips(args.data, size, args.cache)
    print(
        f"{len(train_clips)} training, {len(test_clips)} test clips at {size} ({time.perf_counter() - began:.0f} s)"
    )
    device = resolve_device(args.device)
    summary: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "device": str(device)}
    if args.checkpoint is not None:
        checkpoint = load_checkpoint(args.checkpoint, device=device)
        model, path, records = checkpoint.model, checkpoint.path, checkpoint.metadata.get("calibration", {})
    else:
        result = train_model(args, train_clips, size)
        model, path = result.model.to(device), result.checkpoint
        records = calibration(model, train_clips, args.holdout, device, args.score_batch)
        save_checkpoint(model, path, {**_description(path), "calibration": records})
        summary.update(epochs=result.epochs_run, best_epoch=result.best_epoch, train_seconds=result.seconds)
    scored = score_test_clips(model, test_clips, device, args.score_batch, args.test_time_update)
    summary["frame_auroc"] = {
        **frame_aurocs(scored, args.weight),
        **causal_aurocs(scored, records, args.weight),
    }
    summary["events"] = operator_metrics(scored, args.weight)
    summary["checkpoint"] = str(path)
    np.savez_compressed(
        args.out / "scores.npz", **{f"{n}/{k}": v[k] for n, v in scored.items() for k in ("mse", "distance")}
    )
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    print_summary(summary)


def _description(path: Path) -> dict:
    """The checkpoint's JSON metadata (training summary etc.), to keep when adding calibration."""
    from vad_core.checkpoint import read_description

    keep = read_description(path)
    return {
        k: v
        for k, v in keep.items()
        if k not in ("format", "version", "model", "preprocess", "weights_sha256", "created")
    }


def print_summary(summary: dict) -> None:
    print("\nframe AUROC (%), pooled over the 12 test clips")
    for label, value in summary["frame_auroc"].items():
        print(f"  {label:<26} {100 * value:6.2f}" if math.isfinite(value) else f"  {label:<26}    n/a")
    print("\nevents (smoothed scores, min duration 5, merge gap 5 frames)")
    for label, row in summary["events"].items():
        print(
            f"  {label:<16} threshold {row['threshold']:.3f}  recall {row['caught']}/{row['intervals']}  "
            f"false alarms {row['false_alarms']} ({row['false_alarms_per_hour']:.1f} per hour of {row['hours']:.3f} h)"
        )


if __name__ == "__main__":
    main()

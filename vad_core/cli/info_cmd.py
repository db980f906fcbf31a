"""``vad info``: describe a video, frame folder, dataset or checkpoint.

Example::

    vad info runs/bcae1.safetensors
    vad info ucsd_ped2
    vad info clip.avi
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    """Add ``vad info`` to the ``vad`` parser."""
    info = sub.add_parser("info", help="describe a video, frame folder, dataset or checkpoint")
    info.add_argument("path")
    info.add_argument("--still", action="store_true", help="treat a folder as independent images")
    info.set_defaults(func=cmd_info)


def cmd_info(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if (
        path.suffix in (".safetensors", ".json")
        or path.with_suffix(".safetensors").is_file()
        and not path.is_dir()
    ):
        from vad_core.checkpoint import load_checkpoint
        from vad_core.models import count_parameters

        checkpoint = load_checkpoint(path)
        training = checkpoint.metadata.get("training", {})
        print(f"checkpoint   {checkpoint.path}")
        print(
            f"model        {checkpoint.display_name} ({checkpoint.config.name}), "
            f"{count_parameters(checkpoint.model):,} parameters"
        )
        print(
            f"input        {checkpoint.config.size[0]}x{checkpoint.config.size[1]}, "
            f"{checkpoint.config.channels} channel(s), mode {checkpoint.model.spec.mode}"
        )
        print(
            f"trained on   {checkpoint.trained_on} ({training.get('frames', '?')} frames, "
            f"{training.get('epochs_run', '?')} epochs, best val loss {training.get('best_val_loss', float('nan')):.5g})"
        )
        print(f"normal range {_normal_range_text(checkpoint)}")
        print(f"sha256       {checkpoint.sha256}")
        return 0
    if path.is_dir():
        from vad_core.datasets import open_dataset
        from vad_core.errors import DatasetError

        try:
            dataset = open_dataset(path)
        except DatasetError:
            dataset = None
        if dataset is not None:
            kind = type(dataset).__name__
            print(f"{kind} {dataset.name} at {path}")
            train = getattr(dataset, "train", [])
            test = getattr(dataset, "test", [])
            if hasattr(dataset, "category"):
                print(
                    f"  category {dataset.category}: {len(train)} train images, {len(test)} test images, "
                    f"defects: {', '.join(dataset.defect_types)}"
                )
                for note in dataset.notes:
                    print(f"  note: {note}")
                return 0
            frames_train = sum(len(c.source) for c in train)
            frames_test = sum(len(c.source) for c in test)
            anomalous = sum(int(c.labels.sum()) for c in test if c.labels is not None)
            print(f"  train: {len(train)} clips, {frames_train} frames")
            print(f"  test:  {len(test)} clips, {frames_test} frames, {anomalous} labelled anomalous")
            for what, clips in (("test clips", test), ("training clips", train)):
                if clips:
                    print(f"  {what}: {' '.join(c.name for c in clips)}")
            if test:
                print(f"  open one: vad-review {path}::{test[0].name}")
            return 0
    from vad_core.sources import open_source

    source = open_source(path, still_images=args.still)
    height, width = source.frame_size
    kind = type(source).__name__
    print(f"{kind} {source.name}")
    print(f"  frames    {len(source)}")
    print(f"  fps       {source.fps:g}" + ("" if source.is_sequence else " (independent images)"))
    print(f"  size      {width}x{height}, {'gray' if source.channels == 1 else 'RGB'}")
    print(f"  duration  {len(source) / source.fps:.1f} s")
    return 0


def _normal_range_text(checkpoint) -> str:
    """What the fit check compares scored footage with (``vad_core.evaluation.fit``)."""
    from vad_core.evaluation.fit import normal_record

    scoring = checkpoint.scoring
    record = normal_record(
        checkpoint.metadata,
        str(scoring.get("error", "mse")),
        str(scoring.get("reduction", "mean")),
        int(scoring.get("patch", 16)),
    )
    if record is None:
        return "none recorded (no fit check against normal errors)"
    footage = checkpoint.metadata.get("training", {}).get("footage") or {}
    size = footage.get("size")
    where = f", footage {size[1]}x{size[0]}, {footage.get('channels')} channel(s)" if size else ""
    return f"{record.error} errors {record.values[0]:.4g}-{record.values[-1]:.4g} over {record.count} frames{where}"

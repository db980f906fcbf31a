"""Write a dataset's frames, already resized, into one .npz to carry to a GPU machine.

The device machine does not see ``../shared``, and what travels there is capped at 64 MiB. UCSD
Ped2 at 128x128 gray is ~38 MB compressed. Frames are resized exactly as the engine does (gray, then
an area resize in uint8), so a model trained on the cache is scored the same on the real dataset.
``benchmarks/train_experiments.py --data CACHE.npz`` reads it back.

    python benchmarks/make_cache.py ../shared/datasets/ucsd_ped2 .carry/ped2_128x128.npz --size 128x128
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vad_core.datasets import open_dataset
from vad_core.sources.image_files import convert_channels
from vad_core.sources.preprocess import resize_frame


def resized_frames(source, size: tuple[int, int]) -> np.ndarray:
    return np.stack([resize_frame(convert_channels(frame, 1), size) for frame in source])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--size", default="128x128")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    dataset = open_dataset(args.dataset)
    arrays: dict[str, np.ndarray] = {}
    for split, clips in (("train", dataset.train), ("test", dataset.test)):
        frames = [resized_frames(clip.source, size) for clip in clips]
        arrays[split] = np.concatenate(frames)
        arrays[f"{split}_lengths"] = np.array([len(f) for f in frames])
        arrays[f"{split}_names"] = np.array([clip.name for clip in clips])
    arrays["test_labels"] = np.concatenate([np.asarray(clip.labels, dtype=np.uint8) for clip in dataset.test])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, **arrays)
    print(
        f"{args.output}: {len(arrays['train'])} training and {len(arrays['test'])} test frames "
        f"at {size[0]}x{size[1]}, {args.output.stat().st_size / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()

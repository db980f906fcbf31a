"""``vad fuse``: write a fused-model description that ``vad eval`` and ``vad score`` open like a checkpoint.

Example::

    vad fuse runs/bcae1.safetensors runs/unet256.safetensors --weights 0.4 0.6 --out runs/fused.json
    vad eval --dataset ucsd_ped2 --model runs/fused.json
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from vad_core.errors import VadError


def register(sub) -> None:
    """Add ``vad fuse`` to the ``vad`` parser."""
    fuse = sub.add_parser("fuse", help="combine checkpoints into one fused model (weighted per-clip scores)")
    fuse.add_argument("checkpoints", nargs="+", help="two or more checkpoints (.safetensors)")
    fuse.add_argument("--weights", type=float, nargs="+", help="one weight per checkpoint [equal]")
    fuse.add_argument("--out", required=True, help="description to write (.json)")
    fuse.set_defaults(func=cmd_fuse)


def cmd_fuse(args: argparse.Namespace) -> int:
    from vad_core.checkpoint import read_description
    from vad_core.fusion import read_fused, write_fused

    weights = args.weights or [1.0] * len(args.checkpoints)
    if len(weights) != len(args.checkpoints):
        raise VadError(None, f"{len(weights)} weights for {len(args.checkpoints)} checkpoints")
    out = Path(args.out)
    if out.suffix != ".json":
        raise VadError(out, "a fused-model description is a .json file")
    for checkpoint in args.checkpoints:
        read_description(checkpoint)  # a CheckpointError names a missing or foreign file now, not at scoring
    relative = [os.path.relpath(Path(c).resolve(), out.resolve().parent) for c in args.checkpoints]
    write_fused(out, list(zip(relative, weights, strict=True)))
    print(f"{read_fused(out).display_name} -> {out}")
    return 0

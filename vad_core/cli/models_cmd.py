"""``vad models``: list the registered architectures with their parameter counts.

Example::

    vad models --size 240x352
"""

from __future__ import annotations

import argparse

from vad_core.cli.options import parse_size


def register(sub) -> None:
    """Add ``vad models`` to the ``vad`` parser."""
    models = sub.add_parser("models", help="list the registered architectures with parameter counts")
    models.add_argument("--size", default="128", help="input size, e.g. 128 or 240x352 [128]")
    models.set_defaults(func=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
    from vad_core.models import ModelConfig, build_model, count_parameters, model_entry, model_names

    size = parse_size(args.size)
    print(f"{'name':<16} {'family':<33} {'mode':<8} {'params (1 ch)':>14} {'params (3 ch)':>14}  summary")
    for name in model_names():
        entry = model_entry(name)
        counts = []
        for channels in (1, 3):
            model = build_model(ModelConfig(name, channels, size))
            counts.append(count_parameters(model))
        mode = model.spec.mode
        print(f"{name:<16} {entry.family:<33} {mode:<8} {counts[0]:>14,} {counts[1]:>14,}  {entry.summary}")
    print(f"\n(parameter counts at {size[0]}x{size[1]} input with default options)")
    return 0

"""The ``vad`` command line: builds the parser from the command modules and runs the chosen command.

Each command lives in its own module with a ``register(subparsers)`` that adds its parser:
``demo_cmd``, ``info_cmd``, ``models_cmd``, ``train_cmd``, ``score_cmd``, ``eval_cmd``,
``fuse_cmd``, ``watch_cmd``, ``labels_cmd``, ``export_cmd`` and ``batch_cmd``; the options several share are in ``options``.
Every command prints one clear line and exits non-zero on bad input; long work shows a progress bar.

Example::

    vad demo                                   # synthetic benchmark + bundled model -> metrics
    vad train --model bcae1 --data ucsd_ped2 --out runs/bcae1 --epochs 50
    vad score ucsd_ped2/testing/frames/01 --model runs/bcae1.safetensors --out scores/01
    vad eval --dataset ucsd_ped2 --model runs/bcae1.safetensors
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vad_core.errors import Cancelled, VadError

#: The command modules, in the order ``vad --help`` lists their commands.
COMMAND_MODULES = (
    "vad_core.cli.demo_cmd",
    "vad_core.cli.info_cmd",
    "vad_core.cli.models_cmd",
    "vad_core.cli.train_cmd",
    "vad_core.cli.score_cmd",
    "vad_core.cli.eval_cmd",
    "vad_core.cli.fuse_cmd",
    "vad_core.cli.watch_cmd",
)
#: Commands defined by other engine modules (labels, export, batch); skipped when not installed.
EXTENSION_MODULES = ("vad_core.cli.labels_cmd", "vad_core.cli.export_cmd", "vad_core.cli.batch_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vad", description="vad-review engine: score video for anomalies.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    _register_extensions(sub)
    return parser


def _register_extensions(sub) -> None:
    """Commands defined by other engine modules (labels, export, batch) add themselves here."""
    for module_name in EXTENSION_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue
            raise
        module.register(sub)


def _version() -> str:
    try:
        from importlib.metadata import version

        return f"vad-review {version('vad-review')}"
    except Exception:
        return "vad-review (source tree)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

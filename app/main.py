"""Entry point of the review window: ``vad-review [PATH] [--model CKPT] [--device D] [--self-test]``.

PATH is a video file, a folder of frames, a dataset folder (a clip is then chosen) or
``DATASET::CLIP``. Without PATH, the first start offers the built-in synthetic demo.

Example::

    vad-review ../shared/datasets/ucsd_ped2/testing/frames/01 --model runs/bcae1.safetensors
    python -m app --demo
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vad-review", description="Review surveillance video for anomalous events."
    )
    parser.add_argument("path", nargs="?", help="video file, frame folder, dataset folder or DATASET::CLIP")
    parser.add_argument("--model", metavar="CKPT", help="checkpoint (.safetensors) to score with")
    parser.add_argument(
        "--device", choices=("auto", "cuda", "cpu"), help="compute device [last used, else auto]"
    )
    parser.add_argument("--batch-size", type=int, help="frames per model call [last used, else 32]")
    parser.add_argument("--demo", action="store_true", help="open the built-in synthetic demo")
    parser.add_argument("--self-test", action="store_true", help="check the installation and exit")
    return parser


def create_application(argv: Sequence[str] | None = None):
    """The QApplication (created once): Fusion style, dark palette, pyqtgraph with row-major images."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from app.compat import guard_none_refcount

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    guard_none_refcount()
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
        app.setApplicationName("vad-review")
        app.setOrganizationName("vad-review")
        app.setStyle("Fusion")
        from app.theme import dark_palette

        app.setPalette(dark_palette())
    return app


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.self_test:
        print("vad-review --self-test: not implemented yet", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_application()
    from PySide6.QtCore import QTimer

    from app.main_window import MainWindow

    window = MainWindow()
    if args.device:
        window.model_panel.set_device(args.device)
    if args.batch_size:
        window.model_panel.set_batch_size(args.batch_size)
    window.show()
    if args.model:
        window.load_checkpoint(args.model)
    elif (last := window.settings.last_checkpoint()) and not args.demo:
        from pathlib import Path

        if Path(last).is_file():
            window.load_checkpoint(last)
    if args.path:
        QTimer.singleShot(0, lambda: window.open_path(args.path))
    elif args.demo:
        QTimer.singleShot(0, window.open_demo)
    elif not window.settings.demo_offered():
        QTimer.singleShot(0, window.offer_demo)
    return int(app.exec())


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

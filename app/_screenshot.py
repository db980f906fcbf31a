"""Screenshots of the real review window for the docs: the scored demo clip with an event selected.

Run under a virtual X server so the real platform plugin paints (``offscreen`` works too)::

    xvfb-run -s "-screen 0 1920x1080x24" python -m app._screenshot --model runs/models/demo_bcae1.safetensors

For each ``--size`` it opens a fresh window of that size, loads the model, opens the built-in demo
clip (or ``--dataset ROOT --clip NAME``, a dataset's test clip with its labels), waits for scoring, selects event ``--event`` (its peak frame is shown, with the overlay and
the input / reconstruction / error view) and saves ``docs/screenshots/review_WxH.png``. Settings
and the score cache stay in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def wait(app, condition, timeout: float = 120.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def settle(app, seconds: float = 0.5) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="checkpoint [the bundled demo model]")
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--size", action="append", help="WxH (repeatable) [1280x800, 1920x1080]")
    parser.add_argument("--event", type=int, default=0, help="index of the event to select [0]")
    parser.add_argument("--dataset", help="open a clip of this dataset (with its labels) instead of the demo")
    parser.add_argument("--clip", help="the dataset's test clip to open, e.g. 04")
    parser.add_argument("--name", default="review", help="file name prefix [review]")
    args = parser.parse_args(argv)
    os.environ["VAD_REVIEW_NO_USER_SETTINGS"] = "1"
    os.environ.setdefault("VAD_REVIEW_HOME", tempfile.mkdtemp(prefix="vad-review-shots-"))

    from app.main import create_application
    from app.windows.review_window import ReviewWindow

    app = create_application()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for size in args.size or ["1280x800", "1920x1080"]:
        width, height = (int(v) for v in size.lower().split("x"))
        window = ReviewWindow()
        window.resize(width, height)
        window.show()
        window.fit_docks()
        settle(app, 0.3)
        if args.model:
            window.load_checkpoint(args.model)
            if (
                not wait(app, lambda w=window: not w.checkpoints.loading, 300)
                or window.session.checkpoint is None
            ):
                print(f"cannot load {args.model}", file=sys.stderr)
                return 1
        if args.dataset:
            if not window.opening.open_dataset_path(args.dataset, args.clip):
                return 1
        else:
            window.demo.open_demo()
        wait(app, lambda w=window: not w.checkpoints.loading, 300)
        if window.session.checkpoint is None:
            print("no model: pass --model or install the bundled demo model", file=sys.stderr)
            return 1
        if not wait(app, lambda w=window: w.session.complete and not w.score_job.running, 900):
            print("scoring did not finish", file=sys.stderr)
            return 1
        events = window.session.events
        if events:
            index = min(args.event, len(events) - 1)
            window.playback.go_to_event(index)
            window.playback.seek(events[index].peak_frame)
        wait(app, lambda w=window: not w.recon.job.running, 30)
        settle(app, 0.8)
        path = out / f"{args.name}_{width}x{height}.png"
        window.grab().save(str(path))
        print(
            f"{path}: {window.width()}x{window.height()}, {len(events)} events, frame {window.playback.frame_index}"
        )
        window.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""Frozen entry point of the review window (``vad-review``); the same as ``python -m app``."""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()  # training data loaders may start worker processes
    from app.main import main

    raise SystemExit(main())

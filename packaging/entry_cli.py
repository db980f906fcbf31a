"""Frozen entry point of the command line (``vad``); the same as ``python -m vad_core``."""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from vad_core.cli.main import main

    raise SystemExit(main())

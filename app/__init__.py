"""vad-review's review window (PySide6): the only package that imports Qt; the engine is ``vad_core``."""

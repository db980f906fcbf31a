"""Command line interface (``vad``)."""

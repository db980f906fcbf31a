"""Scoring whole test sets and measuring the result against their labels.

* ``videos`` - every test clip of a video dataset -> per-clip scores -> the thesis's metrics;
* ``images`` - the test images of an MVTec-style category -> ranked image scores, pixel maps and
  image / pixel metrics (the engine behind the image inspection window and ``vad eval`` on a
  category).

The metric functions themselves live in :mod:`vad_core.metrics`.
"""

"""Colour maps of the error heatmap, shared by the overlay, the colour bar and the side-by-side view.

The overlay's lookup table fades in with the value (alpha 0 at zero error, opaque from half the
per-video scale up), so a well reconstructed frame shows through and only errors are tinted.

Example::

    lut = overlay_lut("inferno")        # (256, 4) uint8 RGBA
    cmap = colormap("inferno")          # pyqtgraph ColorMap for a ColorBarItem
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg

#: Perceptually uniform maps bundled with pyqtgraph; the first is the default.
COLORMAPS = ("inferno", "viridis", "magma", "plasma", "turbo", "cividis")


def colormap(name: str) -> pg.ColorMap:
    """The pyqtgraph colour map ``name`` (falls back to the default for unknown names)."""
    try:
        return pg.colormap.get(name)
    except (FileNotFoundError, KeyError, ValueError):
        return pg.colormap.get(COLORMAPS[0])


@lru_cache(maxsize=16)
def opaque_lut(name: str) -> np.ndarray:
    """(256, 4) uint8 RGBA lookup table of ``name``, fully opaque."""
    return colormap(name).getLookupTable(nPts=256, alpha=True).astype(np.uint8)


@lru_cache(maxsize=16)
def overlay_lut(name: str, fade: float = 0.5) -> np.ndarray:
    """Like ``opaque_lut`` but transparent at 0 and opaque from ``fade`` (fraction of the scale) up."""
    lut = opaque_lut(name).copy()
    ramp = np.clip(np.linspace(0.0, 1.0, 256) / fade, 0.0, 1.0)
    lut[:, 3] = (ramp * 255).astype(np.uint8)
    return lut

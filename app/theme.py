"""The review window's dark theme: Qt's Fusion style with a dark palette matching the plots.

Video is easier to judge on a dark surround, and the pyqtgraph plots are dark already; a light
window around them would be the brightest thing on screen.

Example::

    app.setStyle("Fusion"); app.setPalette(dark_palette())
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

#: The background of every plot and image view (VideoView, TimelineWidget, SideBySideView, ...).
PLOT_BACKGROUND = "#1e1e1e"


def dark_palette() -> QPalette:
    """A dark Fusion palette with readable disabled text and a blue selection."""
    palette = QPalette()
    role = QPalette.ColorRole
    colors = {
        role.Window: "#2b2b2b",
        role.WindowText: "#e0e0e0",
        role.Base: "#1e1e1e",
        role.AlternateBase: "#262626",
        role.ToolTipBase: "#3a3a3a",
        role.ToolTipText: "#f0f0f0",
        role.Text: "#e0e0e0",
        role.Button: "#353535",
        role.ButtonText: "#e0e0e0",
        role.BrightText: "#ff6e6e",
        role.Highlight: "#2f6fab",
        role.HighlightedText: "#ffffff",
        role.Link: "#64b5f6",
        role.PlaceholderText: "#8a8a8a",
        role.Mid: "#3c3c3c",
        role.Dark: "#202020",
        role.Light: "#4a4a4a",
    }
    for color_role, value in colors.items():
        palette.setColor(color_role, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for color_role in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(disabled, color_role, QColor("#7a7a7a"))
    palette.setColor(disabled, role.Highlight, QColor("#454545"))
    return palette

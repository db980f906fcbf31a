"""Playback icons drawn with QPainter (light on the dark theme; no image files to ship).

Example::

    button.setIcon(media_icon("play"))
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QPolygonF

ICON_COLOR = "#e6e6e6"
SIZE = 64  # drawn large, scaled down by Qt


def _triangle(painter: QPainter, x0: float, x1: float, pointing_right: bool) -> None:
    top, bottom, middle = 14.0, 50.0, 32.0
    if pointing_right:
        points = [QPointF(x0, top), QPointF(x1, middle), QPointF(x0, bottom)]
    else:
        points = [QPointF(x1, top), QPointF(x0, middle), QPointF(x1, bottom)]
    painter.drawPolygon(QPolygonF(points))


def _bar(painter: QPainter, x: float, width: float = 6.0) -> None:
    painter.drawRect(QRectF(x, 14.0, width, 36.0))


@cache
def media_icon(name: str) -> QIcon:
    """``play``, ``pause``, ``step_back``, ``step_forward``, ``previous_event`` or ``next_event``."""
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(ICON_COLOR))
    if name == "play":
        _triangle(painter, 18, 50, True)
    elif name == "pause":
        _bar(painter, 18, 10)
        _bar(painter, 36, 10)
    elif name == "step_back":
        _bar(painter, 14)
        _triangle(painter, 22, 50, False)
    elif name == "step_forward":
        _triangle(painter, 14, 42, True)
        _bar(painter, 44)
    elif name == "previous_event":
        _bar(painter, 8)
        _triangle(painter, 14, 34, False)
        _triangle(painter, 34, 54, False)
    elif name == "next_event":
        _triangle(painter, 10, 30, True)
        _triangle(painter, 30, 50, True)
        _bar(painter, 50)
    else:
        raise ValueError(f"unknown icon {name!r}")
    painter.end()
    return QIcon(pixmap)

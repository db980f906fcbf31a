"""Render the application icon from ``resources/icons/vad-review.svg`` into PNG, ICO and ICNS files.

The SVG is the one source; every other icon file is generated from it, so run this after editing it:

    python packaging/make_icons.py            # writes resources/icons/vad-review-{16..256}.png, .ico, .icns

PNGs are drawn with Qt's SVG renderer (offscreen, no display needed). The Windows ``.ico`` (16-256 px)
and the macOS ``.icns`` (16-1024 px) are written with Pillow when it is installed (it is in the
development environment: ``pip install pillow``); without Pillow only the PNGs are written.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
NAME = "vad-review"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def render_png(svg: Path, size: int) -> bytes:
    """The SVG drawn into a transparent ``size`` x ``size`` PNG (bytes)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def main(argv: list[str] | None = None) -> int:
    """Write the PNGs (and the ICO/ICNS when Pillow is there); prints what it wrote."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ICONS, help=f"target folder [{ICONS}]")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - keeps Qt's font system alive
    svg = ICONS / f"{NAME}.svg"
    args.out.mkdir(parents=True, exist_ok=True)
    rendered = {size: render_png(svg, size) for size in sorted({*PNG_SIZES, *ICNS_SIZES})}
    for size in PNG_SIZES:
        path = args.out / f"{NAME}-{size}.png"
        path.write_bytes(rendered[size])
        print(f"wrote {path}")
    try:
        from PIL import Image
    except ImportError:
        print("Pillow is not installed: .ico and .icns not written (pip install pillow)", file=sys.stderr)
        return 0
    images = {size: Image.open(io.BytesIO(data)).convert("RGBA") for size, data in rendered.items()}
    ico = args.out / f"{NAME}.ico"
    images[256].save(
        ico,
        format="ICO",
        sizes=[(s, s) for s in PNG_SIZES],
        append_images=[images[s] for s in PNG_SIZES if s != 256],
    )
    print(f"wrote {ico}")
    icns = args.out / f"{NAME}.icns"
    images[1024].save(icns, format="ICNS", append_images=[images[s] for s in ICNS_SIZES if s != 1024])
    print(f"wrote {icns}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The Help menu's dialogs: About (versions, compute device, where files are) and the getting-started guide.

``version_rows`` is what About shows (and what a bug report should carry): the versions of the app,
Python, Qt / PySide6, torch with its CUDA build and device, numpy, OpenCV and pyqtgraph, then the
log folder, the settings file, the score cache and the shipped resources. "Copy details" puts it
on the clipboard as plain text.

Example::

    AboutDialog(window.settings, parent=window).open()
    GuideDialog(parent=window).show()           # resources/help/guide.html
"""

from __future__ import annotations

import html
import platform
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.settings import AppSettings

APP_NAME = "vad-review"
DESCRIPTION = "Review surveillance video for anomalous events."
GUIDE = ("help", "guide.html")


def app_version() -> str:
    """The installed distribution's version (``unknown`` when running from an uninstalled tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(APP_NAME)
    except PackageNotFoundError:
        return "unknown (not installed)"


def torch_rows() -> list[tuple[str, str]]:
    """torch's version and build, and the CUDA device when there is one."""
    try:
        import torch
    except ImportError as error:  # pragma: no cover - torch is a dependency
        return [("torch", f"not importable ({error})")]
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU"
    rows = [("torch", f"{torch.__version__} ({build} build)")]
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        rows.append(("CUDA device", "; ".join(names)))
        cudnn = torch.backends.cudnn.version()
        if cudnn:
            rows.append(("cuDNN", str(cudnn)))
    else:
        rows.append(("CUDA device", "none (scoring runs on the CPU)"))
    return rows


def _module_version(name: str) -> str:
    try:
        module = __import__(name)
    except ImportError:
        return "not installed"
    return str(getattr(module, "__version__", "?"))


def path_rows(settings: AppSettings | None = None) -> list[tuple[str, str]]:
    """Where the log, the settings, the score cache and the shipped resources are."""
    from app.logging_setup import current_log_file
    from vad_core.paths import cache_dir, log_dir
    from vad_core.resources import resources_root

    log_file = current_log_file()
    return [
        ("Log", str(log_file) if log_file else str(log_dir())),
        ("Settings", (settings or AppSettings()).location()),
        ("Score cache", str(cache_dir())),
        ("Resources", str(resources_root())),
    ]


def version_rows(settings: AppSettings | None = None) -> list[tuple[str, str]]:
    """Everything About lists, as ``(what, value)`` rows."""
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    frozen = " (bundle)" if getattr(sys, "frozen", False) else ""
    rows = [
        (APP_NAME, app_version() + frozen),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Qt", f"{qVersion()} (PySide6 {pyside_version})"),
        *torch_rows(),
        ("numpy", _module_version("numpy")),
        ("OpenCV", _module_version("cv2")),
        ("pyqtgraph", _module_version("pyqtgraph")),
        ("System", f"{platform.system()} {platform.release()} ({platform.machine()})"),
    ]
    return rows + path_rows(settings)


def rows_as_text(rows: list[tuple[str, str]]) -> str:
    """Plain text for the clipboard or a bug report."""
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def app_icon() -> QIcon:
    """The application icon from the shipped PNGs (an empty icon when they are missing)."""
    from vad_core.resources import resource_path

    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        path = resource_path("icons", f"{APP_NAME}-{size}.png")
        if path.is_file():
            icon.addFile(str(path))
    return icon


class AboutDialog(QDialog):
    """Name, version and description, the version table, and Copy details / Open log folder."""

    def __init__(self, settings: AppSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.rows = version_rows(settings)
        layout = QVBoxLayout(self)
        header = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        header.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        title = QLabel(f"<h2>{APP_NAME} {html.escape(self.rows[0][1])}</h2><p>{DESCRIPTION}</p>")
        header.addWidget(title, 1)
        layout.addLayout(header)
        table = "".join(
            f"<tr><td><b>{html.escape(name)}</b>&nbsp;&nbsp;</td><td>{html.escape(value)}</td></tr>"
            for name, value in self.rows
        )
        self.details = QLabel(f"<table>{table}</table>")
        self.details.setObjectName("aboutDetails")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("Copy details")
        copy.clicked.connect(self.copy_details)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        logs = QPushButton("Open log folder")
        logs.clicked.connect(open_log_folder)
        buttons.addButton(logs, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def text(self) -> str:
        """The details as plain text."""
        return rows_as_text(self.rows)

    def copy_details(self) -> None:
        """Put the details on the clipboard (for a bug report)."""
        QGuiApplication.clipboard().setText(self.text())


def open_log_folder() -> bool:
    """Show the log folder in the file manager."""
    from app.logging_setup import current_log_file, open_folder
    from vad_core.paths import log_dir

    log_file = current_log_file()
    return open_folder(log_file.parent if log_file else log_dir())


def guide_path() -> Path:
    """The shipped getting-started guide (HTML)."""
    from vad_core.resources import resource_path

    return resource_path(*GUIDE)


class GuideDialog(QDialog):
    """The getting-started guide in a text browser (links open in the system browser)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{APP_NAME}: getting started")
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        path = guide_path()
        if path.is_file():
            self.browser.setHtml(path.read_text(encoding="utf-8"))
        else:
            self.browser.setPlainText(f"The guide is not installed ({path} is missing).")
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(640, 720)

"""The Help menu of the review window: keyboard shortcuts, the getting-started guide, About, the log.

Example::

    window.help.show_shortcuts()       # F1
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QStyle

from app.widgets.help_dialog import HelpDialog

if TYPE_CHECKING:
    from app.windows.review_window import ReviewWindow

#: The Help menu, in order ("" is a separator).
HELP_ACTIONS = ("help", "guide", "", "open_logs", "about")


class HelpController(QObject):
    """The dialogs of the Help menu (each made once, when first asked for; About anew each time)."""

    def __init__(self, window: ReviewWindow) -> None:
        super().__init__(window)
        self.window = window
        self.shortcuts_dialog: HelpDialog | None = None
        self.guide_dialog: QDialog | None = None
        self.about_dialog: QDialog | None = None
        a = window.add_action
        a(
            "help",
            "&Keyboard shortcuts",
            self.show_shortcuts,
            ("F1",),
            QStyle.StandardPixmap.SP_DialogHelpButton,
        )
        a("guide", "Getting &started", self.show_guide)
        a("about", "&About vad-review", self.show_about)
        a("open_logs", "Open &log folder", self.open_log_folder)

    def show_shortcuts(self) -> None:
        """Help > Keyboard shortcuts: every action with a key, playback first."""
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = HelpDialog(self.window.shortcut_actions(), self.window)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()

    def show_guide(self) -> None:
        """Help > Getting started: the shipped guide (resources/help/guide.html)."""
        from app.about import GuideDialog

        if self.guide_dialog is None:
            self.guide_dialog = GuideDialog(self.window)
        self.guide_dialog.show()
        self.guide_dialog.raise_()

    def show_about(self) -> None:
        """Help > About: versions of the app, Qt and torch, the compute device, where the log is."""
        from app.about import AboutDialog

        if self.about_dialog is not None:
            self.about_dialog.close()
        self.about_dialog = AboutDialog(self.window.settings, self.window)
        self.about_dialog.open()

    def open_log_folder(self) -> None:
        from app.about import open_log_folder

        if not open_log_folder():
            from app.logging_setup import current_log_file

            self.window.notify(f"Could not open a file manager; the log is {current_log_file()}", 15000)

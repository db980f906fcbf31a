"""The questions the label editor asks the operator, as module functions so tests can replace them.

* ``ask_recovery`` - restore the unsaved edits a crashed session left in a journal?
* ``ask_conflict`` - the label file changed on disk: reload, overwrite or save elsewhere?
* ``ask_save_path`` - a new label file name.

``app.controllers.label_editor`` calls them through this module (``label_dialogs.ask_conflict``),
so ``monkeypatch.setattr(label_dialogs, "ask_conflict", ...)`` answers for the operator.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from vad_core.labels.store import Recovery


def ask_recovery(parent: QWidget | None, recovery: Recovery) -> str:
    """Ask whether to restore a crashed session's unsaved edits: ``restore``, ``discard`` or ``later``."""
    changed = (
        "\n\nThe label file was saved by someone else since those edits began: if you restore them, "
        "you will be asked before the file is overwritten."
        if not recovery.base_matches
        else ""
    )
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Restore unsaved labels?",
        f"A session that ended unexpectedly left unsaved label edits for {recovery.label_file.name} "
        f"(written {recovery.written or 'at an unknown time'}"
        f"{' on ' + recovery.host if recovery.host else ''}).{changed}",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    restore = box.addButton("Restore the edits", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard them", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restore)
    box.exec()
    clicked = box.clickedButton()
    return "restore" if clicked is restore else "discard" if clicked is discard else "later"


def ask_conflict(parent: QWidget | None, path: Path) -> str:
    """The label file changed on disk: ``reload``, ``overwrite``, ``save_as`` or ``later``."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Label file changed on disk",
        f"{path.name} was changed by another window or program since you opened it, so your "
        "latest label edits were not written to it.\n\nReload discards your unsaved edits and shows "
        "the file as it is now. Overwrite replaces it with your labels (the other version is kept "
        f"as {path.name}.bak). Save as… keeps both.",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setDetailedText(str(path))
    reload = box.addButton("Reload", QMessageBox.ButtonRole.DestructiveRole)
    overwrite = box.addButton("Overwrite", QMessageBox.ButtonRole.AcceptRole)
    save_as = box.addButton("Save as…", QMessageBox.ButtonRole.ActionRole)
    box.addButton("Decide later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(save_as)
    box.exec()
    clicked = box.clickedButton()
    if clicked is reload:
        return "reload"
    if clicked is overwrite:
        return "overwrite"
    return "save_as" if clicked is save_as else "later"


def ask_save_path(parent: QWidget | None, suggested: Path) -> Path | None:
    """A new label file name (the file dialog asks before replacing one)."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save labels as", str(suggested), "Label files (*.json)")
    return Path(path) if path else None

"""Label documents: anomalous intervals and reviewed frames of a video, saved as readable JSON.

* :mod:`~vad_core.labels.document`: the document, its intervals, undoable edit commands and
  interval algebra (no I/O);
* :mod:`~vad_core.labels.schema`: the versioned JSON format, validation and migration;
* :mod:`~vad_core.labels.store`: atomic saves with ``.bak``, conflict detection, crash-recovery
  journals and the background :class:`AutosaveWriter`;
* :mod:`~vad_core.labels.io`: import of UCSD ``.m``, Avenue ``.mat``, CSV and per-frame arrays;
  export to JSON, CSV and ``.npy``; per-frame labels for ``vad eval``.

Example::

    store, doc = LabelStore.open("clip.labels.json")
    stack = UndoStack(doc)
    stack.push(accept_event(doc, event, tag="bike"))
    store.save(doc)
"""

from vad_core.labels.document import (
    Command,
    CompoundCommand,
    LabelDocument,
    LabelEditError,
    LabelInterval,
    UndoStack,
    VideoInfo,
    accept_event,
    add_interval,
    event_decision,
    mark_reviewed,
    merge_intervals,
    move_interval,
    reject_event,
    remove_interval,
    remove_intervals,
    set_kind,
    set_note,
    set_tag,
    shift_interval,
    split_interval,
    update_interval,
)
from vad_core.labels.schema import CURRENT_VERSION, LabelVersionError, dumps, loads
from vad_core.labels.store import (
    AutosaveWriter,
    FileStamp,
    LabelConflictError,
    LabelStore,
    Recovery,
    SaveRequest,
    find_recoveries,
    load_document,
    read_document,
    restore_recovery,
    save_document,
)

__all__ = [
    "CURRENT_VERSION",
    "AutosaveWriter",
    "Command",
    "CompoundCommand",
    "FileStamp",
    "LabelConflictError",
    "LabelDocument",
    "LabelEditError",
    "LabelInterval",
    "LabelStore",
    "LabelVersionError",
    "Recovery",
    "SaveRequest",
    "UndoStack",
    "VideoInfo",
    "accept_event",
    "add_interval",
    "dumps",
    "event_decision",
    "find_recoveries",
    "load_document",
    "loads",
    "mark_reviewed",
    "merge_intervals",
    "move_interval",
    "read_document",
    "reject_event",
    "remove_interval",
    "remove_intervals",
    "restore_recovery",
    "save_document",
    "set_kind",
    "set_note",
    "set_tag",
    "shift_interval",
    "split_interval",
    "update_interval",
]

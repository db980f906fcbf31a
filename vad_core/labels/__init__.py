"""Label documents: anomalous intervals and reviewed frames of a video, saved as readable JSON.

* :mod:`~vad_core.labels.document`: the document of one video (no I/O);
* :mod:`~vad_core.labels.interval`: its values (``LabelInterval``, ``VideoInfo``) and field helpers;
* :mod:`~vad_core.labels.ranges`: interval algebra on half-open frame ranges;
* :mod:`~vad_core.labels.commands`: undoable edit commands and the Qt-free ``UndoStack``;
* :mod:`~vad_core.labels.edits`: builders that check a request and return a command;
* :mod:`~vad_core.labels.schema`: the versioned JSON format, validation and migration;
* :mod:`~vad_core.labels.store`: atomic saves with ``.bak``, conflict detection, crash-recovery
  journals and the background :class:`AutosaveWriter`;
* :mod:`~vad_core.labels.io`: import of UCSD ``.m``, Avenue ``.mat``, CSV and per-frame arrays;
  export to JSON, CSV and ``.npy``; per-frame labels for ``vad eval``;
* :mod:`~vad_core.labels.locations`: where a video's label file lives (beside it, or in the user
  data folder when its folder is read-only), so the review window and ``vad`` find the same file.

Example::

    store, doc = LabelStore.open("clip.labels.json")
    stack = UndoStack(doc)
    stack.push(accept_event(doc, event, tag="bike"))
    store.save(doc)
"""

from vad_core.labels.commands import (
    Command,
    CompoundCommand,
    InsertInterval,
    RemoveInterval,
    ReplaceInterval,
    SetReviewed,
    UndoStack,
)
from vad_core.labels.document import LabelDocument, LabelEditError
from vad_core.labels.edits import (
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
from vad_core.labels.interval import (
    KINDS,
    MAX_NOTE_LENGTH,
    MAX_TAG_LENGTH,
    ORIGINS,
    LabelInterval,
    VideoInfo,
    clean_tag,
    default_author,
    new_interval_id,
    now_iso,
)
from vad_core.labels.ranges import (
    Ranges,
    clip_ranges,
    intersect_ranges,
    mask_to_ranges,
    normalize_ranges,
    ranges_to_mask,
    subtract_ranges,
    union_ranges,
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
    "KINDS",
    "MAX_NOTE_LENGTH",
    "MAX_TAG_LENGTH",
    "ORIGINS",
    "AutosaveWriter",
    "Command",
    "CompoundCommand",
    "FileStamp",
    "InsertInterval",
    "LabelConflictError",
    "LabelDocument",
    "LabelEditError",
    "LabelInterval",
    "LabelStore",
    "LabelVersionError",
    "Ranges",
    "Recovery",
    "RemoveInterval",
    "ReplaceInterval",
    "SaveRequest",
    "SetReviewed",
    "UndoStack",
    "VideoInfo",
    "accept_event",
    "add_interval",
    "clean_tag",
    "clip_ranges",
    "default_author",
    "dumps",
    "event_decision",
    "find_recoveries",
    "intersect_ranges",
    "load_document",
    "loads",
    "mark_reviewed",
    "mask_to_ranges",
    "merge_intervals",
    "move_interval",
    "new_interval_id",
    "normalize_ranges",
    "now_iso",
    "ranges_to_mask",
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
    "subtract_ranges",
    "union_ranges",
    "update_interval",
]

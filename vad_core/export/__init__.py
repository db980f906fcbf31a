"""Incident export: clips (mp4, avi fallback), JSON sidecars and PNG contact sheets.

``clips`` writes the files of each incident, ``rendering`` draws the frames and the contact sheet,
``sidecar`` builds the JSON record.

Example::

    incidents = select_incidents("accepted", doc=labels, score=scores.score)
    written = run(export_incidents(source, incidents, "out/", ExportInputs.from_scores(scores, labels)))
"""

from vad_core.export.clips import (
    CODECS,
    ExportConfig,
    ExportedIncident,
    ExportInputs,
    ExportProgress,
    Incident,
    export_clip,
    export_incidents,
    incident_stem,
    run,
    safe_name,
    select_incidents,
)
from vad_core.export.rendering import contact_sheet, key_frames

__all__ = [
    "CODECS",
    "ExportConfig",
    "ExportInputs",
    "ExportProgress",
    "ExportedIncident",
    "Incident",
    "contact_sheet",
    "export_clip",
    "export_incidents",
    "incident_stem",
    "key_frames",
    "run",
    "safe_name",
    "select_incidents",
]

"""Incident export: clips (mp4, avi fallback), JSON sidecars and PNG contact sheets.

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
    contact_sheet,
    export_clip,
    export_incidents,
    incident_stem,
    key_frames,
    run,
    safe_name,
    select_incidents,
)

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

"""Files shipped with vad-review (demo models, icons, help text); installed as ``vad_resources``."""

"""The parts of the windows that do things, each a ``QObject`` holding the window it serves.

A controller adds its own actions (``window.add_action``) and docks (``window.add_dock``) and
touches the window's widgets only on the GUI thread; its long work runs as a job (``app.jobs``).
Shared by both windows: ``checkpoints`` (choosing and loading a model in a worker). The review
window's: ``playback`` (with ``playback_clock``), ``scoring``, ``reconstruction``, ``opening``,
``batch_results``, ``demo``, ``training``, ``help``, ``explain_dock`` and the labels:
``labels`` (band, dock, menu, edits), ``label_editor`` (the document, undo, safe saving),
``label_dialogs`` (the questions it asks), ``label_exchange`` (import / export, incident clips).
"""

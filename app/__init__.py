"""vad-review's windows (PySide6): the only package that imports Qt; the engine is ``vad_core``.

Where things are:

* ``main`` - the ``vad-review`` entry point (splash, engine import in the background, the window);
  ``self_test`` - ``vad-review --self-test``; ``_screenshot`` - the docs' screenshots.
* ``windows/`` - the top-level windows: ``review_window.ReviewWindow`` (video review),
  ``image_window.ImageWindow`` (image inspection of part categories) and ``base.AppWindow``,
  what both share (actions, docks, messages, the scoring job's lifecycle, loading a checkpoint,
  closing). A window builds its widgets and wires them to its controllers; it decides little.
* ``controllers/`` - what the windows do, one concept per file, each a ``QObject`` that adds its
  own actions and docks through the window's ``add_action`` / ``add_dock``: ``playback``,
  ``scoring``, ``opening``, ``batch_results``, ``demo``, ``training``, ``reconstruction``,
  ``help``, ``explain_dock``, ``checkpoints`` (both windows) and the labels (``labels``,
  ``label_editor``, ``label_dialogs``, ``label_exchange``).
* ``jobs/`` - long work off the GUI thread: ``worker`` (the one ``Worker`` that runs a generator
  on a pool thread and reports through signals), ``current_job`` (one running job of a kind), and
  the jobs themselves as Qt-free generators (``review``, ``checkpoint``, ``images``, ``explain``)
  with their helpers (``threads``, ``calibration``).
* ``widgets/`` - the small widgets the windows are assembled from (timeline, video view, panels,
  dialogs); they know nothing of each other.
* ``review_session`` - what the review window shows and knows (source, model, scores, events),
  without Qt; ``settings`` (preferences), ``theme``, ``about`` (About and guide dialogs, the app
  icon), ``logging_setup`` (log file, uncaught-exception dialog), ``compat`` (guards against a
  defect of the Qt binding).
"""

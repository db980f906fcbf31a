"""Long work of the windows, off the GUI thread.

* ``worker`` - ``Worker`` (any generator on a pool thread, as Qt signals), ``WorkerPool``,
  ``Progress`` / ``Notice`` items; ``current_job`` - ``CurrentJob``, one running job of a kind
  (a new one cancels it; late signals of the old one are dropped).
* The jobs themselves are plain generators without Qt: ``review`` (scoring, training,
  reconstruction, a batch run's clip), ``checkpoint`` (loading a model), ``images`` (thumbnails
  and scoring of an image category), ``explain`` (the explainability panel's jobs and cache);
  ``threads`` says how a job shares the CPU and the model with the GUI thread, and
  ``calibration`` derives the explanations' calibration from scored videos and categories.
"""

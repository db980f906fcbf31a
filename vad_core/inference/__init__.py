"""Running a model over frames: the scoring loop and everything it needs.

* ``scoring_loop`` - ``score_source`` (a generator of ``ScoredChunk``), ``score_all``, windows of
  temporal models, one frame's reconstruction;
* ``config`` - ``InferenceConfig`` (batch size, device, AMP, error map, reduction); no torch import;
* ``device`` - picking CUDA or the CPU, recognising out-of-memory errors;
* ``device_resize`` - OpenCV's area resize as torch ops, so frames shrink on the GPU;
* ``cuda_graphs`` - replaying full scoring batches from a recorded CUDA graph;
* ``scores_file`` - the ``.npz`` + ``.csv`` files that ``vad score`` writes and the tools read;
* ``score_cache`` - the review window's disk cache of finished scores.

Import from the submodules: this package imports nothing itself, so reading a setting does not load
torch.
"""

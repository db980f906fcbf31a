"""The small widgets the review window is assembled from, one per file (labelme style)."""

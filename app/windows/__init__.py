"""The two windows: ``review_window.ReviewWindow`` (video review) and ``image_window.ImageWindow``
(image inspection of part categories), both built on ``base.AppWindow`` (what they share)."""

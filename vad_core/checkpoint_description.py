"""Validation of a checkpoint's JSON description: every field the engine reads, typed and in range.

``read_description`` (``vad_core.checkpoint``) reads the file through
:mod:`vad_core.json_reading` and hands the object here, so a description that claims an input size
no architecture supports, a version of ``"abc"`` or a ``scoring`` section that is a list is a
``CheckpointError`` naming the file and the field, before any model is built or any batch allocated.

Example::

    description = validate_description(json.loads(text), "run.json")
    description["model"]["size"]            # [128, 128], checked
"""

from __future__ import annotations

from typing import Any

from vad_core.errors import CheckpointError, ConfigError
from vad_core.json_reading import Fields, describe
from vad_core.model_config import MAX_INPUT_SIDE

FORMAT = "vad-review checkpoint"
VERSION = 1
MAX_DESCRIPTION_BYTES = 16 * 1024 * 1024  # ours are < 100 KB; 16 MB leaves room for long training logs
MIN_INPUT_SIDE = 32  # the encoders halve the size five times
CHANNELS = (1, 3)
MAX_PATCH = 1024


def validate_description(data: Any, where: object) -> dict[str, Any]:
    """``data`` (a decoded description) checked field by field; ``CheckpointError`` otherwise."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(where, f"not a {FORMAT} description")
    fields = Fields(data, where, CheckpointError)
    version = fields.integer("version", default=0, minimum=0)
    if version > VERSION:
        raise CheckpointError(
            where, f"written by a newer vad-review (format {version}, this reads {VERSION})"
        )
    if not isinstance(data.get("model"), dict) or "name" not in data["model"]:
        raise CheckpointError(where, "description has no model section")
    _check_model(fields.section("model"))
    _check_preprocess(fields.optional_section("preprocess"))
    check_scoring_fields(fields.optional_section("scoring"))
    fields.optional_section("training")
    for name in ("display_name", "weights_sha256", "created"):
        fields.text(name, default=None)
    _check_calibration(fields.optional_section("calibration"))
    return data


def _check_model(model: Fields) -> None:
    model.text("name")
    model.integer("channels", default=1)
    if model.data.get("channels", 1) not in CHANNELS:
        raise model.fail(
            "channels", f"expected 1 (gray) or 3 (RGB), found {describe(model.data['channels'])}"
        )
    size = model.integers("size", 2, default=[128, 128], minimum=MIN_INPUT_SIDE, maximum=MAX_INPUT_SIDE)
    if any(side % 32 for side in size):
        raise model.fail("size", f"expected multiples of 32, found {size[0]}x{size[1]}")
    options = model.section("options", {})
    for name, value in options.data.items():
        check_option_value(options, name, value)


def check_option_value(options: Fields, name: str, value: Any) -> None:
    """A model option is what registered defaults are: a JSON scalar or a short list of numbers.
    Its range against the architecture is checked where the model is built
    (:func:`vad_core.models.registry.build_model`)."""
    if value is None or isinstance(value, bool | str):
        return
    items = value if isinstance(value, list) and 0 < len(value) <= 16 else [value]
    if not all(_is_bounded_number(item) for item in items):
        raise options.fail(
            name, f"expected a number, text, true/false or a short list of numbers, found {describe(value)}"
        )


def _is_bounded_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= 1e9


def _check_preprocess(preprocess: Fields) -> None:
    preprocess.integers("size", 2, default=None, minimum=MIN_INPUT_SIDE, maximum=MAX_INPUT_SIDE)
    preprocess.integer("channels", default=None, minimum=1, maximum=3)
    value_range = preprocess.array("range", default=None)
    if value_range is not None and (
        len(value_range) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value_range)
    ):
        raise preprocess.fail("range", f"expected [low, high], found {describe(value_range)}")


def check_scoring_fields(scoring: Fields) -> None:
    """A recommended or recorded scoring: error, reduction, score kind, patch and MNAD weight."""
    from vad_core.inference.config import ERROR_TYPES
    from vad_core.scoring.frame_error import REDUCTIONS
    from vad_core.scoring.score_kinds import SCORES

    scoring.text("error", default=None, choices=ERROR_TYPES)
    scoring.text("reduction", default=None, choices=REDUCTIONS)
    scoring.text("score", default=None, choices=SCORES)
    scoring.integer("patch", default=None, minimum=1, maximum=MAX_PATCH)
    scoring.number("mnad_weight", default=None, minimum=0.0, maximum=1.0)


def _check_calibration(calibration: Fields) -> None:
    from vad_core.scoring.causal import ErrorQuantiles

    for name, record in calibration.data.items():
        if not isinstance(record, dict) and name != "error":
            continue  # usable_calibration skips what is not a record (but needs the error record)
        try:
            ErrorQuantiles.from_dict(record)
        except (ConfigError, OverflowError) as error:
            problem = error.problem if isinstance(error, ConfigError) else "a number too large to hold"
            raise calibration.fail(name, problem) from None

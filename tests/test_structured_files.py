"""Every JSON or structured file the engine reads fails with its reader's typed error, whatever it holds.

One hypothesis test per reader feeds arbitrary JSON values and structures (whole files, and valid
files with one field replaced) and asserts that the reader either succeeds or raises its own
``VadError`` subclass: never ``RecursionError``, ``TypeError``, ``OverflowError``, ... .
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vad_core.batch.index import ClipRow, ResultsIndex, ResultsIndexError
from vad_core.checkpoint import load_checkpoint, read_description, save_checkpoint
from vad_core.cli.options import inference_config, scoring_config
from vad_core.errors import (
    CheckpointError,
    ConfigError,
    DatasetError,
    LabelFileError,
    ScoresFileError,
    SourceError,
)
from vad_core.fusion import read_fused
from vad_core.inference.score_cache import ScoreCache
from vad_core.inference.scores_file import read_scores, write_scores
from vad_core.json_reading import MAX_DEPTH, Fields, decode_json, nesting_depth
from vad_core.labels.store import load_document

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["abc", "", "1e400", "mse", "bcae1", "vad-review checkpoint"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
DEEP = "[" * 1000 + "]" * 1000
HUGE_NUMBERS = ['{"version": 1e400}', '{"version": ' + "9" * 5000 + "}", '{"version": NaN}']


def replaced(document: dict, path: list[str], value: object) -> dict:
    """A copy of ``document`` with the field at ``path`` (keys from the top) set to ``value``."""
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return copy


def texts_of(document: dict, paths: list[list[str]]) -> st.SearchStrategy[str]:
    """JSON texts: arbitrary values, ``document`` with one field replaced, deep or huge files."""
    mutated = st.builds(replaced, st.just(document), st.sampled_from(paths), JSON_VALUES)
    as_text = st.one_of(JSON_VALUES, mutated).map(lambda value: json.dumps(value))
    return st.one_of(as_text, st.sampled_from([DEEP, '{"a": ' + DEEP + "}", *HUGE_NUMBERS, "", "{"]))


# --------------------------------------------------------------------------- the reading path
def test_nesting_depth_counts_brackets_outside_strings_only():
    assert nesting_depth(b'{"a": [[1], "[[[["], "b": {}}') == 3
    assert nesting_depth(b'"\\"[[[["') == 0


@pytest.mark.parametrize("text", [DEEP, '{"x": ' + DEEP + "}", '{"a": ' * 200 + "1" + "}" * 200])
def test_deep_nesting_is_a_typed_error_naming_the_file(text):
    with pytest.raises(CheckpointError, match=r"^deep\.json: nested \d+ levels deep"):
        decode_json(text, "deep.json", CheckpointError, max_bytes=10**6)


def test_nesting_within_the_limit_is_read():
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert decode_json(text, "ok.json", CheckpointError, max_bytes=10**6) is not None


@pytest.mark.parametrize("text", HUGE_NUMBERS)
def test_numbers_json_cannot_hold_are_refused_or_checked(text):
    with pytest.raises(CheckpointError, match="huge.json"):
        value = decode_json(text, "huge.json", CheckpointError, max_bytes=10**6)
        Fields(value, "huge.json", CheckpointError).integer("version")


def test_a_field_of_the_wrong_type_names_the_file_and_the_field():
    fields = Fields({"model": {"size": [128, "abc"]}}, "m.json", CheckpointError)
    with pytest.raises(
        CheckpointError, match=r'^m\.json: model\.size\[1\]: expected a whole number, found "abc"'
    ):
        fields.section("model").integers("size", 2)


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed():
    with pytest.raises(LabelFileError, match="too large"):
        decode_json(b"[" + b"0," * 100 + b"0]", "big.json", LabelFileError, max_bytes=100)


# --------------------------------------------------------------------------- label files
LABEL_DOC = {
    "format": "vad-review labels",
    "version": 1,
    "video": {"name": "clip", "path": "clip.avi", "frame_count": 100, "fps": 25.0},
    "intervals": [{"id": "a1", "kind": "anomaly", "start_frame": 3, "end_frame": 9, "tag": "", "note": ""}],
    "reviewed": [[0, 10]],
}
LABEL_PATHS = [
    ["version"],
    ["video"],
    ["video", "frame_count"],
    ["video", "fps"],
    ["intervals"],
    ["reviewed"],
]


@SETTINGS
@given(text=texts_of(LABEL_DOC, LABEL_PATHS))
def test_label_reader_gives_only_label_file_errors(tmp_path, text):
    path = tmp_path / "clip.labels.json"
    path.write_text(text, encoding="utf-8")
    try:
        load_document(path)
    except LabelFileError as error:
        assert str(error).startswith(str(path))


# --------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from vad_core.model_config import ModelConfig
    from vad_core.models.registry import build_model

    folder = tmp_path_factory.mktemp("ckpt")
    model = build_model(ModelConfig("bcae1", channels=1, size=(32, 32)))
    return save_checkpoint(model, folder / "tiny", metadata={"scoring": {"error": "mse"}, "training": {}})


CHECKPOINT_PATHS = [
    ["version"],
    ["model"],
    ["model", "name"],
    ["model", "size"],
    ["model", "channels"],
    ["model", "options"],
    ["preprocess"],
    ["scoring"],
    ["scoring", "patch"],
    ["scoring", "score"],
    ["training"],
    ["display_name"],
    ["calibration"],
    ["calibration", "error"],
]


@SETTINGS
@given(text=st.data())
def test_checkpoint_reader_gives_only_checkpoint_errors(tiny_checkpoint, text):
    description = json.loads(tiny_checkpoint.with_suffix(".json").read_text())
    content = text.draw(texts_of(description, CHECKPOINT_PATHS))
    json_path = tiny_checkpoint.with_name("probe.json")
    json_path.write_text(content, encoding="utf-8")
    json_path.with_suffix(".safetensors").write_bytes(tiny_checkpoint.read_bytes())
    try:
        checkpoint = load_checkpoint(json_path)
    except CheckpointError as error:
        assert str(error).startswith(str(json_path.with_suffix("")))
        return
    # what vad info / vad score / the window read from a loaded checkpoint next
    assert isinstance(checkpoint.display_name, str) and isinstance(checkpoint.trained_on, str)
    assert checkpoint.preprocess.size == checkpoint.config.size
    args = _score_args()
    inference = inference_config(args, checkpoint.scoring)
    with contextlib.suppress(ConfigError):  # a recommended score its error cannot give
        scoring_config(args, checkpoint.scoring, inference)


def _score_args():
    import argparse

    return argparse.Namespace(
        batch_size=4, device="cpu", no_amp=True, cuda_graphs=False, error=None, reduction=None, patch=None,
        smooth=15, threshold=0.5, score=None, mnad_weight=None,
    )  # fmt: skip


def test_checkpoint_claiming_a_huge_input_size_is_refused_before_building(tiny_checkpoint):
    description = json.loads(tiny_checkpoint.with_suffix(".json").read_text())
    description["model"]["size"] = [40000, 40000]
    path = tiny_checkpoint.with_name("huge.json")
    path.write_text(json.dumps(description))
    with pytest.raises(CheckpointError, match=r"huge\.json: model\.size\[0\]: expected 32 <= value <= 1024"):
        read_description(path)


@SETTINGS
@given(
    text=texts_of(
        {"format": "vad-review fused model", "version": 1, "members": []}, [["members"], ["version"]]
    )
)
def test_fused_model_reader_gives_only_checkpoint_errors(tmp_path, text):
    path = tmp_path / "fused.json"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(CheckpointError):
        read_fused(path)


# --------------------------------------------------------------------------- scores files and the cache
@SETTINGS
@given(meta=st.one_of(JSON_VALUES.map(json.dumps), st.sampled_from([DEEP, "{", '{"fps": 1e400}'])))
def test_scores_reader_gives_only_scores_file_errors_whatever_the_meta(tmp_path, meta):
    path = tmp_path / "s.npz"
    errors = np.linspace(0, 1, 8, dtype=np.float32)
    np.savez(path, errors=errors, meta=np.array(meta))
    try:
        scores = read_scores(path)
        assert scores.fps > 0 and isinstance(scores.name, str)
        scoring_config(_score_args(), scores.meta.get("scoring", {}))
    except ScoresFileError as error:
        assert str(error).startswith(str(path))


def test_a_text_file_given_as_scores_says_what_was_expected_not_how_to_unpickle(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("frame,error\n0,0.1\n")
    with pytest.raises(ScoresFileError) as caught:
        read_scores(path)
    assert "allow_pickle" not in str(caught.value) and "expected the .npz archive" in str(caught.value)


@pytest.mark.parametrize("name", ["errors", "regularity", "memory_distance"])
def test_complex_valued_arrays_in_a_scores_file_are_refused(tmp_path, name):
    path = tmp_path / "c.npz"
    arrays = {"errors": np.ones(5, np.float32), name: np.ones(5, np.complex64)}
    np.savez(path, **arrays)
    with pytest.raises(ScoresFileError, match=f"'{name}' holds complex numbers"):
        read_scores(path)


def test_object_arrays_in_a_scores_file_are_refused_without_pickle_advice(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, errors=np.array([1, "a"], dtype=object))
    with pytest.raises(ScoresFileError, match="object arrays") as caught:
        read_scores(path)
    assert "allow_pickle" not in str(caught.value)


@SETTINGS
@given(meta=st.one_of(JSON_VALUES.map(json.dumps), st.just(DEEP)))
def test_score_cache_entry_with_any_meta_is_a_miss_not_an_error(tmp_path, meta):
    cache = ScoreCache(tmp_path / "cache")
    cache.store("k", np.zeros(4, np.float32), None, {})
    path = cache.path_of("k")
    np.savez(path, errors=np.zeros(4, np.float32), meta=np.array(meta))
    hit = cache.load("k")
    assert hit is None or isinstance(hit.meta, dict)


def test_written_scores_still_read_back(tmp_path):
    errors = np.linspace(0, 1, 10, dtype=np.float32)
    path = write_scores(tmp_path / "x", errors, maps=np.zeros((10, 4, 4), np.float16), meta={"fps": 10.0})
    scores = read_scores(path)
    assert scores.fps == 10.0 and scores.maps.dtype == np.float16
    np.testing.assert_array_equal(scores.errors, errors)


# --------------------------------------------------------------------------- the batch results index
def _index_with_row(folder: Path) -> Path:
    values = {name: None for name in ClipRow.__dataclass_fields__}
    values.update(clip="cam/a.avi", path="/a.avi", kind="video", camera="cam", folder="cam", status="done")
    values.update(content_hash="h", model="M", model_name="bcae1", checkpoint="c", checkpoint_sha256="s")
    values.update(settings_hash="x", frames=10, max_error=0.5, n_events=1)
    values["top_events"] = json.dumps(
        [
            {
                "start": 1,
                "end": 4,
                "peak_frame": 2,
                "peak_score": 0.9,
                "peak_error": 0.5,
                "start_s": 0.1,
                "end_s": 0.4,
            }
        ]
    )
    with ResultsIndex.open(folder) as index:
        index.put(values)
        run = index.start_run("/root", "c", "s", {"batch": 4})
        index.finish_run(run, "finished", {"done": 1})
    return folder / "index.sqlite"


COLUMN_VALUES = st.one_of(
    st.none(), st.integers(-(2**62), 2**62), st.floats(allow_nan=True), st.text(max_size=8), st.binary(max_size=4),
    JSON_VALUES.map(json.dumps), st.just(DEEP),
)  # fmt: skip


@SETTINGS
@given(
    column=st.sampled_from([*ClipRow.__dataclass_fields__, "run settings", "run summary"]),
    value=COLUMN_VALUES,
)
def test_results_index_reader_gives_only_results_index_errors(tmp_path_factory, column, value):
    from vad_core.cli.main import main

    folder = tmp_path_factory.mktemp("results")
    path = _index_with_row(folder)
    try:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA ignore_check_constraints=ON")
            if column.startswith("run "):
                db.execute(f"UPDATE runs SET {column.split()[1]} = ?", (value,))
            else:
                db.execute(f"UPDATE clips SET {column} = ?", (value,))
    except sqlite3.IntegrityError:
        return  # SQLite itself refuses such a row (NOT NULL): no index can hold it
    code = main(["batch", "report", str(folder), "--csv", str(folder / "r.csv")])
    assert code in (0, 2)  # 2: a one-line error (main prints str(error) for VadError only)
    try:
        with ResultsIndex.open(folder, readonly=True) as index:
            [row.events for row in index.rows()]
            index.runs()
    except ResultsIndexError as error:
        assert str(error).startswith(str(path))


@pytest.mark.parametrize(
    "schema",
    [
        "CREATE TABLE clips (clip TEXT, score REAL)",
        "CREATE TABLE clips (clip TEXT PRIMARY KEY, status TEXT); CREATE TABLE runs (id INTEGER)",
        "CREATE TABLE runs (run_id INTEGER)",
    ],
)
@pytest.mark.parametrize("readonly", [True, False])
def test_a_results_index_of_another_schema_is_a_typed_error(tmp_path, schema, readonly):
    path = tmp_path / "index.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(schema)
    with (
        pytest.raises(ResultsIndexError, match=r"index\.sqlite: (not a vad-review results index|.*no clips)"),
        ResultsIndex.open(tmp_path, readonly=readonly) as index,
    ):
        index.rows()


def test_batch_report_of_another_schema_prints_one_line(tmp_path, capsys):
    from vad_core.cli.main import main

    with sqlite3.connect(tmp_path / "index.sqlite") as db:
        db.execute("CREATE TABLE clips (clip TEXT, score REAL)")
    assert main(["batch", "report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another schema" in err[0]


# --------------------------------------------------------------------------- training state, synthetic manifest
@SETTINGS
@given(text=st.data())
def test_training_state_reader_gives_only_checkpoint_errors(tmp_path_factory, text):
    import torch

    from vad_core.model_config import ModelConfig
    from vad_core.models.registry import build_model
    from vad_core.training.state import load_training_state, save_training_state, state_paths

    folder = tmp_path_factory.mktemp("state")
    model = build_model(ModelConfig("bcae1", channels=1, size=(32, 32)))
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    save_training_state(
        folder / "run", model, optimizer, scheduler, 3, [], 0.5, 2, 1, dict(model.state_dict())
    )
    _, json_path = state_paths(folder / "run")
    description = json.loads(json_path.read_text())
    paths = [[k] for k in description if k != "format"]
    json_path.write_text(text.draw(texts_of(description, paths)))
    with contextlib.suppress(CheckpointError):
        load_training_state(folder / "run", model, optimizer, scheduler, torch.device("cpu"))


@SETTINGS
@given(
    text=texts_of(
        {"version": 1, "config": {"fps": 10}, "train": [], "test": []}, [["config"], ["train"], ["test"]]
    )
)
def test_synthetic_manifest_reader_gives_only_dataset_errors(tmp_path, text):
    from vad_core.datasets.synthetic import MANIFEST, read_synthetic

    (tmp_path / MANIFEST).write_text(text)
    with contextlib.suppress(DatasetError, SourceError):
        read_synthetic(tmp_path)


# --------------------------------------------------------------------------- the command line
@pytest.mark.parametrize(
    "version",
    ['"abc"', "null", "[1]", "1e400", "-1", "2.5"],
    ids=["text", "null", "list", "1e400", "negative", "fraction"],
)
def test_vad_info_on_a_checkpoint_with_a_bad_version_prints_one_line_naming_the_field(
    tiny_checkpoint, tmp_path, capsys, version
):
    from vad_core.cli.main import main

    text = tiny_checkpoint.with_suffix(".json").read_text()
    description = json.loads(text)
    description["version"] = "VERSION"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(description).replace('"VERSION"', version))
    (tmp_path / "bad.safetensors").write_bytes(tiny_checkpoint.read_bytes())
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.json: version: expected" in err[0], err


@pytest.mark.parametrize(
    "command", [["labels", "show", "{deep}"], ["info", "{deep}"], ["eval", "{scores}", "--labels", "{deep}"]]
)
def test_commands_given_a_deeply_nested_file_print_one_line(tmp_path, capsys, command):
    from vad_core.cli.main import main

    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "vad-review labels", "version": 1, "x": ' + DEEP + "}")
    scores = tmp_path / "s.npz"
    np.savez(scores, errors=np.linspace(0, 1, 20, dtype=np.float32))
    argv = [part.format(deep=deep, scores=scores) for part in command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nested 1001 levels deep" in err[0] and "recursion" not in err[0], err

"""Record a bundled checkpoint's normal range and training footage (the fit check's reference).

Scores the synthetic benchmark's normal training clips as ``vad demo`` writes them (MJPG video)
with the checkpoint's recommended scoring and stores ``metadata["normal_range"]`` (the quantiles
of the per-frame errors) and ``metadata["training"]["footage"]`` in the checkpoint's JSON; the
weights (and so their SHA-256) are unchanged.

    PYTHONPATH=. python packaging/record_normal_range.py resources/models/demo_bcae1.json ...
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def main(paths: list[str]) -> int:
    from vad_core.checkpoint import checkpoint_paths, load_checkpoint
    from vad_core.datasets.synthetic import SyntheticConfig, read_synthetic, write_synthetic_dataset
    from vad_core.evaluation.fit import NORMAL_RANGE
    from vad_core.training.calibration import calibration_record

    with tempfile.TemporaryDirectory() as folder:
        write_synthetic_dataset(Path(folder), SyntheticConfig(seed=0), video=True)
        dataset = read_synthetic(folder)
        clips = [clip.source.read(0, len(clip.source)) for clip in dataset.train]
        first = dataset.train[0].source
        footage = {"size": [int(v) for v in first.frame_size], "channels": int(first.channels)}
        for path in paths:
            checkpoint = load_checkpoint(path)
            record = calibration_record(checkpoint.model, clips, checkpoint.scoring)
            _, json_path = checkpoint_paths(path)
            text = json_path.read_text(encoding="utf-8")
            second = text.splitlines()[1] if "\n" in text else ""
            indent = len(second) - len(second.lstrip(" ")) or 2  # keep the file's own indentation
            description = json.loads(text)
            description[NORMAL_RANGE] = {"error": record["error"], "frames": "training frames"}
            description.setdefault("training", {})["footage"] = footage
            json_path.write_text(json.dumps(description, indent=indent) + "\n", encoding="utf-8")
            print(
                f"{json_path}: normal range of {record['error']['count']} training frames, footage {footage}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

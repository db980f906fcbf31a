"""The shipped files (demo models, icons, help) are found in the source tree and travel in the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from vad_core.resources import demo_model_path, resource_path, resources_root

REPO = Path(__file__).resolve().parents[1]
SHIPPED = (
    "models/demo_bcae1.safetensors",
    "models/demo_bcae1.json",
    "models/demo_unet_predictor.safetensors",
    "models/demo_unet_predictor.json",
    "icons/vad-review.svg",
    "icons/vad-review-16.png",
    "icons/vad-review-256.png",
    "icons/vad-review.ico",
    "icons/vad-review.icns",
    "help/guide.html",
)


def test_resource_path_finds_the_models_icons_and_help_in_the_source_tree():
    assert resources_root().is_dir()
    for name in SHIPPED:
        assert resource_path(*name.split("/")).is_file(), name
    assert demo_model_path("frame").name == "demo_bcae1.safetensors" and demo_model_path("frame").is_file()


def test_the_icon_pngs_have_the_size_their_name_says():
    from PySide6.QtGui import QImage

    for size in (16, 24, 32, 48, 64, 128, 256):
        image = QImage(str(resource_path("icons", f"vad-review-{size}.png")))
        assert (image.width(), image.height()) == (size, size)


@pytest.mark.slow
def test_the_wheel_ships_the_resources_as_vad_resources(tmp_path):
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("app", "vad_core", "resources"):
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=source,
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("vad_review-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in SHIPPED:
        assert f"vad_resources/{name}" in names, f"{name} is not in {wheel.name}"
    assert {"app/main.py", "app/self_test.py", "vad_core/resources.py"} <= names
    assert not [n for n in names if n.startswith(("tests/", "packaging/"))]
    assert not [n for n in names if "mvtec" in n.lower() and not n.endswith(".py")]  # a reader, never data
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "vad-review = app.main:main" in text and "vad = vad_core.cli.main:main" in text

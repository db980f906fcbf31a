"""Package discovery for setuptools (everything else is in pyproject.toml).

``resources/`` is installed as the package ``vad_resources`` (with its folders ``models``, ``icons``,
``help`` as sub-packages holding only data): a renamed package cannot be expressed with
``[tool.setuptools.packages.find]``, which names packages after their folders, so the package list
and the folder mapping live here. The data files are selected by pyproject.toml's package-data.
"""

from pathlib import Path

from setuptools import find_packages, setup

RESOURCES = Path(__file__).resolve().parent / "resources"
RESOURCE_PACKAGES = ["vad_resources"] + [
    f"vad_resources.{folder.name}"
    for folder in sorted(RESOURCES.iterdir())
    if folder.is_dir() and not folder.name.startswith(("_", "."))
]

setup(
    packages=find_packages(include=["vad_core", "vad_core.*", "app", "app.*"]) + RESOURCE_PACKAGES,
    package_dir={"vad_resources": "resources"},
)

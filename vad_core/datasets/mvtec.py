"""MVTec AD: still images of one object or texture category, defect types and pixel masks.

The dataset comes from Bergmann et al., "MVTec AD - A Comprehensive Real-World Dataset for
Unsupervised Anomaly Detection" (CVPR 2019), distributed by MVTec Software GmbH under
CC BY-NC-SA 4.0 (non-commercial). Each category folder has the layout::

    bottle/train/good/000.png ...                  defect-free training images
    bottle/test/good/000.png ...                   defect-free test images
    bottle/test/broken_large/000.png ...           one folder per defect type
    bottle/ground_truth/broken_large/000_mask.png  one mask per defective test image, values 0 / 255

Images may have any size (700-1024 px in the original, 256 px in resized copies) and be RGB or
gray. A defect image without a mask is kept with ``mask_path=None`` and listed in
``ImageDataset.notes``; masks named like their image (``000.png``) are accepted too.

Example::

    dataset = read_mvtec("mvtec_anomaly_detection", "bottle")     # or read_mvtec(".../bottle")
    sample = dataset.test[-1]
    print(sample.defect_type, sample.anomalous, sample.read_mask().mean())
"""

from __future__ import annotations

from pathlib import Path

from vad_core.datasets.base import ImageDataset, ImageSample
from vad_core.errors import DatasetError
from vad_core.sources.image_files import IMAGE_EXTENSIONS, natural_key

GOOD = "good"
_LAYOUT = (
    "expected <category>/train/good/*.png, <category>/test/<defect or good>/*.png "
    "and <category>/ground_truth/<defect>/*_mask.png"
)


def _images(folder: Path) -> list[Path]:
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def _subfolders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: natural_key(p.name),
    )


def is_mvtec_category(folder: str | Path) -> bool:
    """True when ``folder`` looks like a category: ``train/good``, or ``test`` and ``ground_truth``."""
    folder = Path(folder)
    if (folder / "train" / GOOD).is_dir() or (folder / "test" / GOOD).is_dir():
        return True
    return (folder / "test").is_dir() and (folder / "ground_truth").is_dir()


def mvtec_categories(root: str | Path) -> list[str]:
    """Names of the category folders directly inside an MVTec AD root (or ``[]``)."""
    root = Path(root)
    return [p.name for p in _subfolders(root) if is_mvtec_category(p)]


def _category_folder(root: Path, category: str | None) -> Path:
    if not root.exists():
        raise DatasetError(root, "no such folder")
    if not root.is_dir():
        raise DatasetError(root, "not a folder (expected an MVTec AD category or dataset folder)")
    if category is not None:
        folder = root / category
        if not folder.is_dir() and root.name == category and is_mvtec_category(root):
            return root  # pointed at the category folder and named it too
        if not folder.is_dir():
            found = ", ".join(mvtec_categories(root)) or "none"
            raise DatasetError(root, f"no category {category!r} (categories found: {found})")
        if not is_mvtec_category(folder):
            raise DatasetError(folder, f"not an MVTec AD category: {_LAYOUT}")
        return folder
    if is_mvtec_category(root):
        return root
    categories = mvtec_categories(root)
    if len(categories) == 1:
        return root / categories[0]
    if categories:
        raise DatasetError(root, f"holds {len(categories)} categories ({', '.join(categories)}); name one")
    raise DatasetError(root, f"not an MVTec AD folder: {_LAYOUT}")


def _mask_for(ground_truth: Path, defect: str, image: Path) -> Path | None:
    folder = ground_truth / defect
    if not folder.is_dir():
        return None
    for stem in (f"{image.stem}_mask", image.stem):
        for extension in (image.suffix, *IMAGE_EXTENSIONS):
            candidate = folder / f"{stem}{extension}"
            if candidate.is_file():
                return candidate
    return None


def read_mvtec(root_or_category: str | Path, category: str | None = None) -> ImageDataset:
    """Read one MVTec AD category: from its folder, or from the dataset root plus ``category``.

    A root holding a single category needs no name. Problems that leave the category usable
    (a defect image without a mask, an empty defect folder, a missing ``train/good``) are listed
    in ``notes``; a folder of another layout raises ``DatasetError`` naming it. Images and masks
    are not decoded here: ``ImageSample.read_mask`` raises ``GroundTruthError`` for a corrupt mask.
    """
    folder = _category_folder(Path(root_or_category), category)
    notes: list[str] = []
    train_dir = folder / "train" / GOOD
    train: list[ImageSample] = []
    if train_dir.is_dir():
        train = [ImageSample(path, anomalous=False) for path in _images(train_dir)]
        if not train:
            notes.append(f"train/{GOOD} holds no images")
    else:
        notes.append(f"no train/{GOOD} folder: no training images")

    test: list[ImageSample] = []
    ground_truth = folder / "ground_truth"
    for type_dir in _subfolders(folder / "test"):
        defect = type_dir.name
        images = _images(type_dir)
        if not images:
            notes.append(f"test/{defect} holds no images")
        for image in images:
            if defect == GOOD:
                test.append(ImageSample(image, anomalous=False))
                continue
            mask = _mask_for(ground_truth, defect, image)
            if mask is None:
                notes.append(
                    f"test/{defect}/{image.name} has no mask "
                    f"(expected ground_truth/{defect}/{image.stem}_mask.png)"
                )
            test.append(ImageSample(image, anomalous=True, defect_type=defect, mask_path=mask))
    if not train and not test:
        raise DatasetError(folder, f"no images found: {_LAYOUT}")
    return ImageDataset(
        name="MVTec AD", category=folder.name, train=train, test=test, root=folder, notes=notes
    )


__all__ = ["GOOD", "is_mvtec_category", "mvtec_categories", "read_mvtec"]

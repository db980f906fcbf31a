"""The settings form of each explanation method (the gear button on its tile).

The fields and their ranges come from the engine's option tables where it defines them, so the
form offers exactly what ``vad_core.explain`` accepts.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QPushButton,
    QSpinBox,
    QWidget,
)

if TYPE_CHECKING:  # torch and the explainers load with the first explanation, not at start-up
    pass


@dataclass(frozen=True)
class OptionSpec:
    """One field of a method's settings form: an int / float spin box or a choice of strings."""

    key: str
    label: str
    kind: str  # "int", "float" or "choice"
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 1.0
    decimals: int = 0
    choices: tuple[str, ...] = ()
    tip: str = ""


def _choices(module: str, name: str, fallback: tuple[str, ...]) -> tuple[str, ...]:
    """A tuple of allowed strings from the engine module that defines them."""
    try:
        return tuple(getattr(importlib.import_module(module), name))
    except (ImportError, AttributeError):  # pragma: no cover - the engine always has them
        return fallback


@functools.cache
def option_specs() -> dict[str, tuple[OptionSpec, ...]]:
    """The settings form of each method (built on first use: it reads the engine's choices)."""
    return _option_specs()


def _option_specs() -> dict[str, tuple[OptionSpec, ...]]:
    return {
        "shap": (
            OptionSpec(
                "max_evals", "Evaluations", "int", 10, 20000, 50, tip="model calls of the Partition explainer"
            ),
            OptionSpec(
                "background",
                "Masked regions show",
                "choice",
                choices=_choices("vad_core.explain.shap_method", "BACKGROUNDS", ("blur", "reconstruction")),
            ),
            OptionSpec(
                "blur_kernel", "Blur kernel (0 = side/8)", "int", 0, 255, 1, tip="patch blur in model pixels"
            ),
            OptionSpec("seed", "Seed", "int", 0, 1_000_000, 1),
        ),
        "lime": (
            OptionSpec("num_samples", "Samples", "int", 10, 20000, 50, tip="perturbed images"),
            OptionSpec("n_segments", "Superpixels", "int", 2, 1024, 8),
            OptionSpec(
                "segmentation",
                "Segmentation",
                "choice",
                choices=_choices("vad_core.explain.lime_method", "SEGMENTATIONS", ("slic",)),
            ),
            OptionSpec(
                "hide",
                "Hidden superpixels show",
                "choice",
                choices=_choices("vad_core.explain.lime_method", "HIDES", ("blur",)),
            ),
            OptionSpec("seed", "Seed", "int", 0, 1_000_000, 1),
        ),
        "lrp": (
            OptionSpec(
                "epsilon", "Epsilon", "float", 0.0, 10.0, 0.005, 4, tip="stabiliser of the epsilon rule"
            ),
            OptionSpec(
                "loss_rule",
                "Loss layer",
                "choice",
                choices=_choices("vad_core.explain.lrp", "LOSS_RULES", ("lrp0",)),
                tip="midpoint also sees dark defects",
            ),
        ),
        "counterfactual": (
            OptionSpec(
                "grid", "Grid (cells per side)", "int", 2, 64, 1, tip="box size step = image side / grid"
            ),
            OptionSpec(
                "replacement",
                "Repair with",
                "choice",
                choices=_choices("vad_core.explain.counterfactual", "REPLACEMENTS", ("reconstruction",)),
            ),
            OptionSpec(
                "target",
                "Repair until",
                "choice",
                choices=_choices("vad_core.explain.counterfactual", "TARGETS", ("normal",)),
                tip="normal: like the most anomalous good reference; threshold: the minimal flip",
            ),
            OptionSpec("max_boxes", "Boxes at most", "int", 1, 10, 1),
        ),
    }


def method_defaults(method: str) -> dict[str, Any]:
    """Default value of every form field of ``method``: ``method_info`` defaults, else the signature's."""
    from vad_core.explain import method_info

    info = method_info(method)
    signature = inspect.signature(info.function).parameters
    values: dict[str, Any] = {}
    for spec in option_specs()[info.name]:
        if spec.key in info.defaults:
            value = info.defaults[spec.key]
        elif spec.key in signature and signature[spec.key].default is not inspect.Parameter.empty:
            value = signature[spec.key].default
        else:
            value = 0
        if spec.key == "blur_kernel" and value is None:
            value = 0
        values[spec.key] = value
    return values


class MethodSettings(QWidget):
    """The small settings form of one method (spin boxes and combo boxes), with a Defaults button."""

    changed = Signal()

    def __init__(self, method: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method = method
        self.widgets: dict[str, QSpinBox | QDoubleSpinBox | QComboBox] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        for spec in option_specs()[method]:
            if spec.kind == "int":
                widget: QSpinBox | QDoubleSpinBox | QComboBox = QSpinBox()
                widget.setRange(int(spec.minimum), int(spec.maximum))
                widget.setSingleStep(int(spec.step))
                widget.valueChanged.connect(self.changed)
            elif spec.kind == "float":
                widget = QDoubleSpinBox()
                widget.setDecimals(spec.decimals)
                widget.setRange(spec.minimum, spec.maximum)
                widget.setSingleStep(spec.step)
                widget.valueChanged.connect(self.changed)
            else:
                widget = QComboBox()
                widget.addItems(list(spec.choices))
                widget.currentTextChanged.connect(self.changed)
            if spec.tip:
                widget.setToolTip(spec.tip)
            self.widgets[spec.key] = widget
            layout.addRow(spec.label, widget)
        reset = QPushButton("Defaults")
        reset.clicked.connect(self.reset)
        layout.addRow(reset)
        self.reset()

    def reset(self) -> None:
        """Back to the method's defaults (``method_defaults``)."""
        self.set_values(method_defaults(self.method))

    def set_values(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            widget = self.widgets.get(key)
            if widget is None:
                continue
            with QSignalBlocker(widget):
                if isinstance(widget, QComboBox):
                    widget.setCurrentText(str(value))
                elif isinstance(widget, QDoubleSpinBox):
                    widget.setValue(float(value))
                else:
                    widget.setValue(int(value))
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        """The form as ``explain`` options (``seed`` included where the method has one)."""
        out: dict[str, Any] = {}
        for key, widget in self.widgets.items():
            if isinstance(widget, QComboBox):
                out[key] = widget.currentText()
            else:
                out[key] = widget.value()
        if out.get("blur_kernel") == 0:
            out["blur_kernel"] = None
        return out

"""Object classes of the simulator, in the order of the shipped detector (DESIGN.md).

The first three keep their COCO names so that a COCO model is a drop-in replacement.
"""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = ("person", "bicycle", "car", "traffic_cone", "box")
CLASS_IDS: dict[str, int] = {name: index for index, name in enumerate(CLASS_NAMES)}

# Unlabelled things drawn to make the detector's life realistic (negatives and occluders).
DISTRACTOR_KINDS: tuple[str, ...] = ("pole", "bin", "tree", "building", "barrier")

# Default sizes (length x width x height, metres) when a scenario gives none.
DEFAULT_SIZES: dict[str, tuple[float, float, float]] = {
    "person": (0.35, 0.5, 1.75),
    "bicycle": (1.75, 0.5, 1.05),
    "car": (4.3, 1.8, 1.5),
    "traffic_cone": (0.36, 0.36, 0.7),
    "box": (0.6, 0.5, 0.5),
    "pole": (0.12, 0.12, 3.0),
    "bin": (0.55, 0.55, 1.0),
    "tree": (1.2, 1.2, 5.0),
    "building": (8.0, 6.0, 7.0),
    "barrier": (2.0, 0.25, 0.9),
}

"""Class → obstacle profile table (``config/classes.yaml``): one definition, read by every node.

Pure core (PyYAML only). The mapper uses height/width priors and speed gates, the controller the
per-class safety margin, the detector the class order of the shipped model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

REQUIRED_FIELDS = (
    "id",
    "typical_height_m",
    "height_range_m",
    "typical_width_m",
    "max_speed_mps",
    "safety_margin_m",
    "dynamic",
)
DEFAULT_CLASSES_YAML = Path(__file__).resolve().parents[2] / "config" / "classes.yaml"


class ClassProfileError(ValueError):
    """A class table that is missing a field or has an impossible value."""


@dataclass(frozen=True)
class ClassProfile:
    name: str
    id: int
    typical_height_m: float
    height_range_m: tuple[float, float]
    typical_width_m: float
    max_speed_mps: float
    safety_margin_m: float
    dynamic: bool
    # Extent along the line of sight of where the object touches the ground (its near ground
    # contact is half of it in front of its centre). Optional: defaults to typical_width_m.
    contact_depth_m: float | None = None
    # Ground-contact footprint while moving: extent along and across the heading (a walker's feet
    # spread along the stride). Optional: None → contact_depth_m whatever the heading.
    moving_contact_m: tuple[float, float] | None = None


def _pair(value, name: str, source: str) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        along, across = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ClassProfileError(
            f"{source}: class {name!r} moving_contact_m must be [along, across] m"
        ) from err
    if not all(math.isfinite(v) and v > 0 for v in (along, across)):
        raise ClassProfileError(f"{source}: class {name!r} moving_contact_m must be positive and finite")
    return along, across


def _profile(name: str, entry: dict, source: str) -> ClassProfile:
    missing = [f for f in REQUIRED_FIELDS if f not in entry]
    if missing:
        raise ClassProfileError(f"{source}: class {name!r} lacks {missing}")
    low, high = (float(v) for v in entry["height_range_m"])
    profile = ClassProfile(
        name=name,
        id=int(entry["id"]),
        typical_height_m=float(entry["typical_height_m"]),
        height_range_m=(low, high),
        typical_width_m=float(entry["typical_width_m"]),
        max_speed_mps=float(entry["max_speed_mps"]),
        safety_margin_m=float(entry["safety_margin_m"]),
        dynamic=bool(entry["dynamic"]),
        contact_depth_m=float(entry.get("contact_depth_m", entry["typical_width_m"])),
        moving_contact_m=_pair(entry.get("moving_contact_m"), name, source),
    )
    numbers = (low, high, profile.typical_height_m, profile.typical_width_m, profile.contact_depth_m)
    if not all(math.isfinite(v) and v > 0 for v in numbers):
        raise ClassProfileError(f"{source}: class {name!r} sizes must be positive and finite")
    if not low <= profile.typical_height_m <= high:
        raise ClassProfileError(f"{source}: class {name!r} typical height outside height_range_m")
    if not (profile.max_speed_mps >= 0 and profile.safety_margin_m >= 0):
        raise ClassProfileError(f"{source}: class {name!r} max_speed_mps/safety_margin_m must be >= 0")
    return profile


def load_class_profiles(path: str | Path = DEFAULT_CLASSES_YAML) -> dict[str, ClassProfile]:
    """Load the table; the dict is ordered by class id (= the shipped model's output order)."""
    source = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ClassProfileError(f"cannot read class table {source}: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("classes"), dict) or not data["classes"]:
        raise ClassProfileError(f"{source}: expected a top-level 'classes:' mapping")
    profiles = [_profile(name, entry, source) for name, entry in data["classes"].items()]
    ids = sorted(p.id for p in profiles)
    if ids != list(range(len(profiles))):
        raise ClassProfileError(f"{source}: class ids must be 0..{len(profiles) - 1}, got {ids}")
    return {p.name: p for p in sorted(profiles, key=lambda p: p.id)}


def class_names(path: str | Path = DEFAULT_CLASSES_YAML) -> list[str]:
    """Class names in id order."""
    return list(load_class_profiles(path))


def load_model_name_map(path: str | Path = DEFAULT_CLASSES_YAML) -> dict[str, str]:
    """The table's ``model_names:`` section: model class name → profile name (checked).

    A target must be a profile of the table; a key must not be one (a profile maps to itself).
    """
    source = str(path)
    profiles = load_class_profiles(path)
    data = yaml.safe_load(Path(path).read_text())
    names = data.get("model_names") or {}
    if not isinstance(names, dict):
        raise ClassProfileError(f"{source}: 'model_names:' must map model class names to profile names")
    mapping = {str(k): str(v) for k, v in names.items()}
    unknown = sorted({v for v in mapping.values() if v not in profiles})
    if unknown:
        raise ClassProfileError(f"{source}: model_names map onto {unknown}, which are not profiles")
    shadowing = sorted(k for k in mapping if k in profiles)
    if shadowing:
        raise ClassProfileError(
            f"{source}: model_names lists profile names {shadowing} (they map to themselves)"
        )
    return mapping


@dataclass(frozen=True)
class TableMapping:
    """How one model's classes meet the table: renames, kept output classes, dropped classes."""

    remap: dict[str, str]  # model name → profile name (only those that differ)
    keep: tuple[str, ...]  # profile names this model produces, in table order
    dropped: tuple[str, ...]  # model classes with no profile, in model order


def map_model_classes(
    model_names: list[str], path: str | Path = DEFAULT_CLASSES_YAML, extra_remap: dict[str, str] | None = None
) -> TableMapping:
    """Map a model's class names onto the table by name: a profile name is kept as it is, a
    ``model_names`` entry becomes its profile, anything else is dropped (by name, not by index).
    ``extra_remap`` (the user's own renames) wins over the table's entries."""
    profiles = load_class_profiles(path)
    aliases = {**load_model_name_map(path), **(extra_remap or {})}
    remap = {name: aliases[name] for name in model_names if name in aliases}
    produced = {remap.get(name, name) for name in model_names}
    keep = tuple(name for name in profiles if name in produced)
    dropped = tuple(name for name in model_names if remap.get(name, name) not in profiles)
    return TableMapping(remap=remap, keep=keep, dropped=dropped)

"""Read and write calibration files in the formats ROS users already have.

* Intrinsics: the ``camera_calibration_parsers`` camera_info YAML (what ``cameracalibrator``
  writes and ``camera_info_url`` loads).
* Extrinsics: a small YAML ``parent_frame / child_frame / translation / rotation_rpy``.

URLs: ``file:///abs/path``, ``package://edge_rover/config/x.yaml`` or a plain path.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edge_rover.common.camera_model import (
    DISTORTION_MODELS,
    CalibrationError,
    CameraExtrinsics,
    CameraIntrinsics,
)

_REQUIRED_CAMERA_INFO_FIELDS = (
    "image_width",
    "image_height",
    "camera_matrix",
    "distortion_model",
    "distortion_coefficients",
)


def resolve_url(url: str) -> Path:
    """Turn a camera_info_url style string into a local path (no network, ever)."""
    if not url:
        raise CalibrationError("empty calibration URL")
    if url.startswith("file://"):
        return Path(url[len("file://") :])
    if url.startswith("package://"):
        package, _, relative = url[len("package://") :].partition("/")
        return _package_share(package) / relative
    if "://" in url:
        raise CalibrationError(f"unsupported URL scheme in {url!r}: use file://, package:// or a path")
    return Path(url)


def _package_share(package: str) -> Path:
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
    except ImportError:  # pure-Python use without ROS: fall back to this source tree
        get_package_share_directory = None
    if get_package_share_directory is not None:
        try:
            return Path(get_package_share_directory(package))
        except (PackageNotFoundError, LookupError, ValueError, OSError):
            pass
    if package == "edge_rover":
        return Path(__file__).resolve().parent.parent
    raise CalibrationError(f"package {package!r} not found in the ament index (AMENT_PREFIX_PATH)")


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise CalibrationError(f"{what} file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CalibrationError(f"{what} file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CalibrationError(f"{what} file {path} must hold a mapping, got {type(data).__name__}")
    return data


def _matrix_field(data: dict[str, Any], name: str, rows: int, cols: int | None) -> np.ndarray:
    block = data.get(name)
    if not isinstance(block, dict) or "data" not in block:
        raise CalibrationError(f"field {name!r} must be a mapping with rows, cols and data")
    values = block["data"]
    if not isinstance(values, list):
        raise CalibrationError(f"field {name}.data must be a list")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"field {name}.data must hold numbers: {exc}") from exc
    declared_rows, declared_cols = block.get("rows"), block.get("cols")
    if cols is None:  # distortion: 1 x N
        if declared_cols is not None and int(declared_cols) != array.size:
            raise CalibrationError(f"field {name}: cols={declared_cols} but data has {array.size} values")
        return array.reshape(-1)
    if array.size != rows * cols or (declared_rows, declared_cols) not in ((rows, cols), (None, None)):
        raise CalibrationError(
            f"field {name} must be {rows}x{cols}, got rows={declared_rows}, cols={declared_cols}, "
            f"{array.size} values"
        )
    if not np.all(np.isfinite(array)):
        raise CalibrationError(f"field {name} contains NaN or Inf")
    return array.reshape(rows, cols)


def intrinsics_from_dict(data: dict[str, Any], source: str = "camera_info") -> CameraIntrinsics:
    for name in _REQUIRED_CAMERA_INFO_FIELDS:
        if name not in data:
            raise CalibrationError(f"{source}: missing field {name!r}")
    model = data["distortion_model"]
    if model not in DISTORTION_MODELS:
        raise CalibrationError(
            f"{source}: field 'distortion_model' must be one of {DISTORTION_MODELS}, got {model!r}"
        )
    k = _matrix_field(data, "camera_matrix", 3, 3)
    d = _matrix_field(data, "distortion_coefficients", 1, None)
    if not np.all(np.isfinite(d)):
        raise CalibrationError(f"{source}: field 'distortion_coefficients' contains NaN or Inf")
    try:
        return CameraIntrinsics(
            width=int(data["image_width"]),
            height=int(data["image_height"]),
            camera_matrix=k,
            distortion=d,
            distortion_model=model,
            camera_name=str(data.get("camera_name", "camera")),
        )
    except CalibrationError as exc:
        raise CalibrationError(f"{source}: {exc}") from exc


def load_camera_info(url: str) -> CameraIntrinsics:
    """Load a camera_info YAML by URL/path; raise CalibrationError naming the bad field."""
    path = resolve_url(url)
    return intrinsics_from_dict(_read_yaml(path, "camera_info"), source=str(path))


def projection_matrix(intr: CameraIntrinsics) -> np.ndarray:
    """P for a monocular camera: [K | 0] (rectified == raw intrinsics for a mono camera)."""
    return np.hstack([intr.camera_matrix, np.zeros((3, 1))])


def intrinsics_to_dict(intr: CameraIntrinsics) -> dict[str, Any]:
    def block(matrix: np.ndarray) -> dict[str, Any]:
        m = np.atleast_2d(matrix)
        return {"rows": int(m.shape[0]), "cols": int(m.shape[1]), "data": [float(v) for v in m.ravel()]}

    return {
        "image_width": int(intr.width),
        "image_height": int(intr.height),
        "camera_name": intr.camera_name,
        "camera_matrix": block(intr.camera_matrix),
        "distortion_model": intr.distortion_model,
        "distortion_coefficients": block(intr.distortion.reshape(1, -1)),
        "rectification_matrix": block(np.eye(3)),
        "projection_matrix": block(projection_matrix(intr)),
    }


def save_camera_info(intr: CameraIntrinsics, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(intrinsics_to_dict(intr), sort_keys=False, default_flow_style=None))
    return out


def extrinsics_from_dict(data: dict[str, Any], source: str = "extrinsics") -> CameraExtrinsics:
    for name in ("translation", "rotation_rpy"):
        if name not in data:
            raise CalibrationError(f"{source}: missing field {name!r}")
        value = data[name]
        if not isinstance(value, list) or len(value) != 3:
            raise CalibrationError(f"{source}: field {name!r} must be a list of 3 numbers")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value):
            raise CalibrationError(f"{source}: field {name!r} must hold finite numbers, got {value}")
    return CameraExtrinsics(
        translation=tuple(data["translation"]),
        rotation_rpy=tuple(data["rotation_rpy"]),
        parent_frame=str(data.get("parent_frame", "base_link")),
        child_frame=str(data.get("child_frame", "camera_link")),
    )


def load_extrinsics(url: str) -> CameraExtrinsics:
    path = resolve_url(url)
    return extrinsics_from_dict(_read_yaml(path, "extrinsics"), source=str(path))


def extrinsics_to_dict(ext: CameraExtrinsics) -> dict[str, Any]:
    return {
        "parent_frame": ext.parent_frame,
        "child_frame": ext.child_frame,
        "translation": [float(v) for v in ext.translation],
        "rotation_rpy": [float(v) for v in ext.rotation_rpy],
    }


def save_extrinsics(ext: CameraExtrinsics, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(extrinsics_to_dict(ext), sort_keys=False, default_flow_style=None))
    return out

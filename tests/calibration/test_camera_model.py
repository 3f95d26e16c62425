"""The shared camera model against hand-computed cases."""

import numpy as np
import pytest

from edge_rover.calibration.calibration_io import (
    extrinsics_from_dict,
    intrinsics_from_dict,
    intrinsics_to_dict,
    load_camera_info,
    load_extrinsics,
    save_camera_info,
)
from edge_rover.common.camera_model import (
    CalibrationError,
    CameraExtrinsics,
    CameraIntrinsics,
    CameraRig,
    rotation_from_rpy,
    rpy_from_rotation,
)
from tests.conftest import REPO_ROOT


def _pinhole() -> CameraIntrinsics:
    k = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    return CameraIntrinsics(640, 480, k)


def test_pinhole_projection_matches_hand_computation() -> None:
    pixels, in_front = _pinhole().project(np.array([[1.0, -0.5, 5.0], [0, 0, -1.0]]))
    assert in_front.tolist() == [True, False]
    np.testing.assert_allclose(pixels[0], [320 + 500 * 0.2, 240 - 500 * 0.1])
    assert np.all(np.isnan(pixels[1]))


@pytest.mark.parametrize(
    ("model", "coeffs"),
    [
        ("plumb_bob", [-0.28, 0.07, 0.001, -0.0005, 0.0]),
        ("rational_polynomial", [-0.2, 0.05, 0.001, 0.001, 0.0, 0.01, 0.0, 0.0]),
        ("equidistant", [0.05, -0.01, 0.002, 0.0]),
    ],
)
def test_unproject_inverts_project(model: str, coeffs: list[float]) -> None:
    k = np.array([[450.0, 0, 330], [0, 455.0, 235], [0, 0, 1]])
    intr = CameraIntrinsics(640, 480, k, np.array(coeffs), model)
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(-1.5, 1.5, 50), rng.uniform(-1, 1, 50), rng.uniform(2, 10, 50)])
    pixels, _ = intr.project(points)
    rays = intr.unproject(pixels)
    expected = points / np.linalg.norm(points, axis=1, keepdims=True)
    np.testing.assert_allclose(rays, expected, atol=1e-6)


def test_optical_frame_axes_follow_rep103() -> None:
    ext = CameraExtrinsics((0.0, 0.0, 1.0), (0.0, 0.0, 0.0))
    # optical z (forward) → base x; optical x (right) → base -y; optical y (down) → base -z.
    np.testing.assert_allclose(ext.optical_to_base(np.array([[0, 0, 1.0]])), [[1, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(ext.optical_to_base(np.array([[1.0, 0, 0]])), [[0, -1, 1]], atol=1e-12)
    np.testing.assert_allclose(ext.optical_to_base(np.array([[0, 1.0, 0]])), [[0, 0, 0]], atol=1e-12)


def test_positive_pitch_looks_down_and_ground_intersection_is_exact() -> None:
    pitch = np.deg2rad(20)
    rig = CameraRig(_pinhole(), CameraExtrinsics((0.3, 0.0, 1.0), (0.0, pitch, 0.0)))
    # The principal ray hits the ground at height / tan(pitch) ahead of the camera.
    ground, valid = rig.pixels_to_ground(np.array([[320.0, 240.0]]))
    assert valid[0]
    np.testing.assert_allclose(ground[0], [0.3 + 1.0 / np.tan(pitch), 0.0, 0.0], atol=1e-9)


def test_ground_round_trip_and_horizon_rays_are_invalid_not_errors() -> None:
    rig = CameraRig(_pinhole(), CameraExtrinsics((0.2, 0.1, 0.6), (0.01, 0.12, -0.03)))
    points = np.array([[4.0, 1.0, 0.0], [12.0, -3.0, 0.0], [2.5, 0.0, 0.0]])
    pixels, in_front = rig.project_base_points(points)
    assert in_front.all()
    ground, valid = rig.pixels_to_ground(pixels)
    assert valid.all()
    np.testing.assert_allclose(ground, points, atol=1e-6)
    sky, sky_valid = rig.pixels_to_ground(np.array([[320.0, 0.0]]))
    assert not sky_valid[0] and np.all(np.isnan(sky[0]))


def test_rpy_round_trip() -> None:
    rpy = (0.05, -0.2, 1.1)
    np.testing.assert_allclose(rpy_from_rotation(rotation_from_rpy(*rpy)), rpy, atol=1e-12)


def test_camera_info_round_trip(tmp_path) -> None:
    intr = CameraIntrinsics(640, 480, _pinhole().camera_matrix, np.array([-0.1, 0.01, 0, 0, 0]))
    path = save_camera_info(intr, tmp_path / "cam.yaml")
    loaded = load_camera_info(f"file://{path}")
    np.testing.assert_allclose(loaded.camera_matrix, intr.camera_matrix)
    np.testing.assert_allclose(loaded.distortion, intr.distortion)


def test_shipped_default_calibration_loads_by_package_url() -> None:
    intr = load_camera_info("package://edge_rover/config/camera_info.yaml")
    ext = load_extrinsics(str(REPO_ROOT / "config" / "extrinsics.yaml"))
    assert (intr.width, intr.height) == (640, 480)
    assert ext.parent_frame == "base_link"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("camera_matrix"), "camera_matrix"),
        (lambda d: d["camera_matrix"].update(data=[1.0] * 8), "camera_matrix"),
        (lambda d: d["camera_matrix"]["data"].__setitem__(0, float("nan")), "camera_matrix"),
        (lambda d: d.update(distortion_model="banana"), "distortion_model"),
        (lambda d: d["distortion_coefficients"].update(data=[0.0, 0.0], cols=2), "distortion_coefficients"),
        (lambda d: d.update(image_width=0), "image_width"),
    ],
)
def test_bad_camera_info_names_the_field(mutate, field: str) -> None:
    data = intrinsics_to_dict(_pinhole())
    mutate(data)
    with pytest.raises(CalibrationError, match=field):
        intrinsics_from_dict(data)


def test_bad_extrinsics_names_the_field() -> None:
    with pytest.raises(CalibrationError, match="rotation_rpy"):
        extrinsics_from_dict({"translation": [0, 0, 1], "rotation_rpy": [0, float("nan"), 0]})
    with pytest.raises(CalibrationError, match="translation"):
        extrinsics_from_dict({"rotation_rpy": [0, 0, 0]})

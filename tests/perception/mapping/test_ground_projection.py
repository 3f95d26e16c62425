"""Ground projection against boxes rendered from known 3D obstacles through the camera model."""

from __future__ import annotations

import numpy as np
import pytest

from edge_rover.calibration.calibration_io import load_camera_info, load_extrinsics
from edge_rover.common.camera_model import CameraExtrinsics, CameraIntrinsics, CameraRig
from edge_rover.perception.mapping.ground_projection import (
    ABOVE_HORIZON,
    BEYOND_RANGE,
    DEGENERATE_BOX,
    IMPLAUSIBLE_HEIGHT,
    NON_FINITE,
    GroundProjector,
    ProjectionConfig,
)
from edge_rover.perception.mapping.obstacle_types import Detection2D, load_class_profiles
from edge_rover.simulation.synthetic_boxes import cuboid_box
from tests.conftest import REPO_ROOT

PERSON = (0.4, 0.5, 1.7)  # depth = the table's contact_depth_m
# cuboid_box gives tight edge-convention boxes (pixel i spans [i, i+1)): half a pixel, not the
# simulator-trained detector's 1.0.
TIGHT = ProjectionConfig(box_pixel_offset=0.5)
PROFILES = load_class_profiles(REPO_ROOT / "config" / "classes.yaml")


def _rig(distortion: list[float] | None = None) -> CameraRig:
    intr = load_camera_info(str(REPO_ROOT / "config" / "camera_info.yaml"))
    if distortion is not None:
        intr = CameraIntrinsics(intr.width, intr.height, intr.camera_matrix, np.array(distortion))
    return CameraRig(intr, load_extrinsics(str(REPO_ROOT / "config" / "extrinsics.yaml")))


def _project(rig: CameraRig, centre, size=PERSON, klass="person", pitch_offset=0.0, render_rig=None):
    box = cuboid_box(render_rig or rig, centre, size)
    assert box is not None
    return GroundProjector(rig, PROFILES, TIGHT).project(
        [Detection2D(box, klass, 0.9)], pitch_offset=pitch_offset
    )


@pytest.mark.parametrize("centre", [(2.0, 0.0), (5.0, 1.5), (9.0, -2.0), (14.0, 3.0), (20.0, 0.0)])
@pytest.mark.parametrize("distortion", [None, [-0.25, 0.07, 0.0005, -0.0003, 0.0]])
def test_exact_boxes_land_on_the_true_footprint(centre, distortion) -> None:
    rig = _rig(distortion)
    result = _project(rig, centre)
    assert not result.rejected
    (obs,) = result.observations
    error = np.hypot(*(obs.position - np.asarray(centre)))
    assert error <= 0.01 * np.hypot(*centre) + 0.02
    _depth, width, height = obs.size
    # Seen obliquely the box spans the near face and a side: w·cos(bearing) + d·|sin(bearing)|.
    bearing = np.arctan2(centre[1], centre[0] - rig.extrinsics.origin[0])
    visible = 0.5 * np.cos(bearing) + 0.4 * abs(np.sin(bearing))
    assert width == pytest.approx(visible, abs=0.1)
    assert height == pytest.approx(1.7, rel=0.1)
    assert not obs.cut_bottom


def test_position_covariance_grows_with_range() -> None:
    rig = _rig()
    near = _project(rig, (3.0, 0.0)).observations[0]
    far = _project(rig, (15.0, 0.0)).observations[0]
    assert np.linalg.eigvalsh(far.covariance).max() > 10 * np.linalg.eigvalsh(near.covariance).max()
    # Range is the poorly observed direction: the big axis points along the line of sight.
    values, vectors = np.linalg.eigh(far.covariance)
    assert abs(vectors[:, np.argmax(values)][0]) > 0.95


def test_thirty_metre_person_is_rejected() -> None:
    rig = _rig()
    box = cuboid_box(rig, (8.0, 0.0), (0.35, 0.5, 1.7))
    assert box is not None
    tall_top = cuboid_box(rig, (8.0, 0.0), (0.35, 0.5, 30.0))
    assert tall_top is None or tall_top[1] <= 2.0  # the top leaves the image
    # A box whose top is well inside the image but implies ~9 m of height:
    giant = cuboid_box(rig, (25.0, 0.0), (0.35, 0.5, 9.0))
    result = GroundProjector(rig, PROFILES, TIGHT).project([Detection2D(giant, "person", 0.9)])
    assert [reason for _, reason in result.rejected] == [IMPLAUSIBLE_HEIGHT]
    # The same box is fine for a class with no profile of that height? No: unknown classes are
    # lenient up to 4 m × tolerance, 9 m is still rejected.
    result = GroundProjector(rig, PROFILES, TIGHT).project([Detection2D(giant, "mystery", 0.9)])
    assert [reason for _, reason in result.rejected] == [IMPLAUSIBLE_HEIGHT]


def test_box_above_horizon_is_rejected_not_raised() -> None:
    rig = _rig()
    sky = Detection2D((300.0, 10.0, 340.0, 60.0), "person", 0.9)  # bottom far above the horizon
    result = GroundProjector(rig, PROFILES, TIGHT).project([sky])
    assert [reason for _, reason in result.rejected] == [ABOVE_HORIZON]
    # Rover pitched nose-up by 0.5 rad: nearly every row is sky; still no exception.
    normal = Detection2D(cuboid_box(rig, (5.0, 0.0), PERSON), "person", 0.9)
    result = GroundProjector(rig, PROFILES, TIGHT).project([normal, sky], pitch_offset=-0.5)
    assert not result.observations
    assert {reason for _, reason in result.rejected} == {ABOVE_HORIZON}


def test_pitch_offset_is_used_for_the_projection() -> None:
    rig = _rig()
    pitched = CameraRig(rig.intrinsics, rig.extrinsics.with_pitch_offset(0.05))
    # Rendered by a camera dipped 0.05 rad (braking): without the offset, the range is wrong.
    wrong = _project(rig, (10.0, 0.0), render_rig=pitched)
    assert [reason for _, reason in wrong.rejected] == [BEYOND_RANGE]  # lands far beyond 30 m
    right = _project(rig, (10.0, 0.0), render_rig=pitched, pitch_offset=0.05).observations[0]
    assert abs(right.position[0] - 10.0) < 0.15


def test_box_cut_by_the_bottom_edge_uses_the_height_prior() -> None:
    rig = _rig()
    cone = (0.35, 0.35, 0.5)
    centre = (0.75, 0.0)  # base below the image, top visible: the bottom row is not the contact
    box = cuboid_box(rig, centre, cone)
    assert box is not None and box[3] >= rig.intrinsics.height - 1.5 and box[1] > 5
    cut_row_ground, _ = rig.pixels_to_ground(np.array([[0.5 * (box[0] + box[2]), box[3]]]))
    result = GroundProjector(rig, PROFILES, TIGHT).project([Detection2D(box, "traffic_cone", 0.9)])
    (obs,) = result.observations
    assert obs.cut_bottom
    near_face = obs.position[0] - obs.size[0] / 2
    assert near_face < cut_row_ground[0, 0] - 0.1  # nearer than the cut point
    assert obs.position[0] == pytest.approx(centre[0], abs=0.1)


def test_box_cut_at_both_edges_stays_nearer_than_the_cut_point() -> None:
    rig = _rig()
    box = cuboid_box(rig, (0.9, 0.1), PERSON)
    assert box is not None and box[1] <= 0.0 and box[3] >= rig.intrinsics.height - 1.5
    cut_row_ground, _ = rig.pixels_to_ground(np.array([[0.5 * (box[0] + box[2]), box[3]]]))
    (obs,) = GroundProjector(rig, PROFILES, TIGHT).project([Detection2D(box, "person", 0.9)]).observations
    assert obs.cut_bottom
    assert obs.position[0] - obs.size[0] / 2 <= cut_row_ground[0, 0] + 1e-6


def test_bad_boxes_are_rejected_with_a_reason() -> None:
    rig = _rig()
    projector = GroundProjector(rig, PROFILES, ProjectionConfig(max_range=10.0, box_pixel_offset=0.5))
    far = Detection2D(cuboid_box(rig, (18.0, 0.0), PERSON), "person", 0.9)
    result = projector.project(
        [
            Detection2D((np.nan, 1.0, 2.0, 3.0), "person", 0.9),
            Detection2D((10.0, 10.0, 5.0, 20.0), "person", 0.9),
            far,
        ]
    )
    assert [reason for _, reason in result.rejected] == [NON_FINITE, DEGENERATE_BOX, BEYOND_RANGE]


def test_camera_looking_sideways_places_obstacles_sideways() -> None:
    intr = load_camera_info(str(REPO_ROOT / "config" / "camera_info.yaml"))
    rig = CameraRig(intr, CameraExtrinsics((0.0, 0.0, 0.8), (0.0, 0.2, np.pi / 2)))  # looks left
    (obs,) = _project(rig, (0.5, 6.0)).observations
    np.testing.assert_allclose(obs.position, [0.5, 6.0], atol=0.1)


def test_top_edge_cue_only_for_obstacles_taller_than_the_camera() -> None:
    rig = _rig()
    (person,) = _project(rig, (8.0, 1.0)).observations
    assert person.top_tan is not None and person.top_tan > 0 and person.top_tan_sigma > 0
    camera = np.asarray(person.camera_xyz)
    # The top of a 1.7 m person at its footprint centre is on that ray (to a few cm of height).
    distance = np.hypot(*(person.position - camera[:2]))
    assert camera[2] + person.top_tan * distance == pytest.approx(1.7, abs=0.1)
    (cone,) = _project(rig, (6.0, 0.0), size=(0.35, 0.35, 0.5), klass="traffic_cone").observations
    assert cone.top_tan is None
    (close,) = _project(rig, (1.2, 0.0)).observations  # head above the image: top edge cut
    assert close.top_tan is None


# -- boxes cut by the image's left / right side ----------------------------------------------------

CAR = (4.3, 1.8, 1.5)  # the simulator's car body; the class table's width is 1.8 m


@pytest.mark.parametrize("centre", [(4.0, 3.3), (3.0, -2.6), (6.0, 5.5)])
def test_side_cut_box_lies_beyond_its_inner_edge_and_is_trusted_less(centre) -> None:
    rig = _rig()
    car = PROFILES.get("car")
    box = cuboid_box(rig, centre, CAR)
    assert box is not None
    assert box[0] <= 0.0 or box[2] >= rig.intrinsics.width  # the scene really is cut at one side
    (obs,) = GroundProjector(rig, PROFILES, TIGHT).project([Detection2D(box, "car", 0.9)]).observations
    assert obs.cut_side and not obs.cut_bottom
    assert obs.top_tan is None  # the box's centre column is not the car's: no top-edge cue
    assert obs.size[1] >= car.width  # the visible part is a lower bound
    camera = rig.extrinsics.origin[:2]
    normal = obs.side_normal
    assert normal is not None and np.hypot(*normal) == pytest.approx(1.0)
    # The normal points to the hidden side: the true centre lies beyond the inner edge's ray, by
    # between half the width and half the diagonal of the body (here 0.9-2.3 m) ...
    truth_offset = (np.asarray(centre) - camera) @ normal
    assert 0.8 <= truth_offset <= 2.4
    # ... and so does the estimate: never a body reaching across its own visible edge.
    assert (obs.position - camera) @ normal >= car.width / 2 - 1e-9
    # Trusted less: across and along the line of sight.
    sight = (obs.position - camera) / np.hypot(*(obs.position - camera))
    across = np.array([-sight[1], sight[0]])
    assert np.sqrt(across @ obs.covariance @ across) >= 0.5 * car.width
    assert np.sqrt(sight @ obs.covariance @ sight) >= 0.5 * car.depth
    # The same car whole, farther ahead: not flagged, tight across the line of sight.
    whole_box = cuboid_box(rig, (centre[0] + 8.0, 0.3 * centre[1]), CAR)
    (whole,) = (
        GroundProjector(rig, PROFILES, TIGHT).project([Detection2D(whole_box, "car", 0.9)]).observations
    )
    assert not whole.cut_side and whole.side_normal is None
    sight = whole.position - camera
    across_whole = np.array([-sight[1], sight[0]]) / np.hypot(*sight)
    assert np.sqrt(across_whole @ whole.covariance @ across_whole) < 0.25 * car.width


def test_side_cut_estimate_is_pushed_beyond_the_inner_edge() -> None:
    """A car far out to the side, mostly hidden: the visible sliver's centre column would put the
    car's body across the sliver's inner edge; the estimate is pushed out to half its width."""
    rig = _rig()
    camera = rig.extrinsics.origin[:2]
    box = cuboid_box(rig, (3.0, 4.2), CAR)
    assert box is not None and box[0] <= 0.0
    plain = GroundProjector(rig, PROFILES, ProjectionConfig(box_pixel_offset=0.5, handle_side_cut=False))
    (before,) = plain.project([Detection2D(box, "car", 0.9)]).observations
    (obs,) = GroundProjector(rig, PROFILES, TIGHT).project([Detection2D(box, "car", 0.9)]).observations
    assert (before.position - camera) @ obs.side_normal < 0.9  # the problem exists here
    assert (obs.position - camera) @ obs.side_normal == pytest.approx(0.9)
    assert np.hypot(*(obs.position - np.array([3.0, 4.2]))) < np.hypot(
        *(before.position - np.array([3.0, 4.2]))
    )


def test_box_spanning_both_sides_is_not_side_cut() -> None:
    rig = _rig()
    box = cuboid_box(rig, (2.2, 0.0), (0.8, 6.0, 0.9))  # a wide barrier filling the view
    assert box is not None and box[0] <= 0.0 and box[2] >= rig.intrinsics.width
    (obs,) = GroundProjector(rig, PROFILES, TIGHT).project([Detection2D(box, "box", 0.9)]).observations
    assert not obs.cut_side

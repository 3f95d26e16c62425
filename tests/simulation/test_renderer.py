"""Renderer: ground truth matches the pixels, determinism, occlusion, borders, distortion."""

from __future__ import annotations

import numpy as np
import pytest

from edge_rover.calibration.calibration_io import load_camera_info, load_extrinsics
from edge_rover.common.camera_model import CameraIntrinsics, CameraRig
from edge_rover.simulation.classes import CLASS_NAMES
from edge_rover.simulation.renderer import Renderer
from edge_rover.simulation.scene import Lighting, Scene, SceneObject

FLAT = Lighting(shadows=False, haze=0.0)


@pytest.fixture(scope="module")
def rig() -> CameraRig:
    return CameraRig(load_camera_info("config/camera_info.yaml"), load_extrinsics("config/extrinsics.yaml"))


@pytest.fixture(scope="module")
def renderer(rig: CameraRig) -> Renderer:
    return Renderer(rig)


def _pixels_changed(renderer: Renderer, objects: list[SceneObject]) -> np.ndarray:
    empty = renderer.render(Scene(lighting=FLAT, noise_sigma=0.0)).image
    full = renderer.render(Scene(lighting=FLAT, noise_sigma=0.0, objects=objects)).image
    return np.any(full != empty, axis=2)


@pytest.mark.parametrize("kind", CLASS_NAMES)
def test_ground_truth_box_is_tight_on_the_rendered_pixels(renderer: Renderer, kind: str) -> None:
    obj = SceneObject(kind, x=7.0, y=0.8, yaw=0.6, seed=3, walking=1.0, gait_phase=1.0)
    changed = _pixels_changed(renderer, [obj])
    result = renderer.render(Scene(lighting=FLAT, noise_sigma=0.0, objects=[obj]))
    assert len(result.truth) == 1
    truth = result.truth[0]
    assert truth.class_name == kind and truth.class_id == CLASS_NAMES.index(kind)
    rows, cols = np.nonzero(changed)
    # A face may happen to match the ground colour on a pixel or two: allow 1 px.
    assert abs(truth.bbox[0] - cols.min()) <= 1 and abs(truth.bbox[2] - (cols.max() + 1)) <= 1
    assert abs(truth.bbox[1] - rows.min()) <= 1 and abs(truth.bbox[3] - (rows.max() + 1)) <= 1
    assert truth.occlusion == pytest.approx(0.0, abs=1e-9)
    assert not truth.truncated
    assert truth.position[:2] == pytest.approx((7.0, 0.8))


def test_ground_truth_bottom_centre_projects_onto_the_object_footprint(
    rig: CameraRig, renderer: Renderer
) -> None:
    obj = SceneObject("box", x=9.0, y=-1.0, size=(0.6, 0.6, 0.6), seed=1)
    truth = renderer.render(Scene(lighting=FLAT, noise_sigma=0.0, objects=[obj])).truth[0]
    near_bottom, _ = rig.project_base_points(np.array([[9.0 - 0.3, -1.0, 0.0]]))
    top, _ = rig.project_base_points(np.array([[9.0 + 0.3, -1.0, 0.6]]))
    assert truth.bbox[3] == pytest.approx(near_bottom[0, 1], abs=2.0)
    assert truth.bbox[1] == pytest.approx(top[0, 1], abs=2.0)


def test_same_seed_gives_identical_frames_and_noise_changes_with_frame_seed(renderer: Renderer) -> None:
    def scene(frame_seed: int) -> Scene:
        objs = [SceneObject("person", 6.0, 0.0, seed=5, walking=1.0), SceneObject("car", 15.0, 3.0, seed=2)]
        return Scene(
            ground_kind="gravel", ground_seed=2, objects=objs, noise_sigma=4.0, frame_seed=frame_seed
        )

    a, b = renderer.render(scene(1)), renderer.render(scene(1))
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, renderer.render(scene(2)).image)


def test_near_object_occludes_far_one_and_occlusion_is_reported(renderer: Renderer) -> None:
    near = SceneObject("box", x=5.0, y=0.0, size=(0.5, 1.2, 0.8), seed=1)
    far = SceneObject("person", x=10.0, y=0.0, seed=2)
    truths = {t.class_name: t for t in renderer.render(Scene(lighting=FLAT, objects=[far, near])).truth}
    assert truths["box"].occlusion == pytest.approx(0.0)
    assert 0.3 < truths["person"].occlusion < 1.0
    # The far object's visible box is only the part above the near one.
    assert truths["person"].bbox[3] <= truths["box"].bbox[1] + 1


def test_object_at_the_image_border_is_truncated_and_clipped(renderer: Renderer) -> None:
    obj = SceneObject("car", x=5.0, y=4.0, yaw=0.0, seed=1)  # beside the rover, half out of view
    truth = renderer.render(Scene(lighting=FLAT, objects=[obj])).truth[0]
    assert truth.truncated
    assert truth.bbox[0] == 0
    assert truth.bbox[2] < renderer.width


def test_object_behind_the_camera_is_not_drawn(renderer: Renderer) -> None:
    result = renderer.render(Scene(lighting=FLAT, objects=[SceneObject("car", x=-6.0, y=0.0)]))
    assert result.truth == []
    assert not result.id_buffer.any()


def test_distorted_lens_bends_the_object_like_the_camera_model(rig: CameraRig) -> None:
    k = rig.intrinsics.camera_matrix
    lens = CameraIntrinsics(640, 480, k, np.array([-0.3, 0.09, 0.0, 0.0, 0.0]))
    distorted = CameraRig(lens, rig.extrinsics)
    obj = SceneObject("box", x=4.0, y=2.5, size=(0.4, 0.4, 0.4), seed=1)
    truth = Renderer(distorted).render(Scene(lighting=FLAT, objects=[obj])).truth[0]
    corners = np.array([[x, y, z] for x in (3.8, 4.2) for y in (2.3, 2.7) for z in (0.0, 0.4)])
    pixels, _ = distorted.project_base_points(corners)
    assert truth.bbox[0] == pytest.approx(pixels[:, 0].min(), abs=2.0)
    assert truth.bbox[3] == pytest.approx(pixels[:, 1].max(), abs=2.0)


def test_velocity_ground_truth_is_in_base_link(renderer: Renderer) -> None:
    obj = SceneObject("person", x=8.0, y=0.0, velocity=(0.0, 1.0), seed=1)
    scene = Scene(objects=[obj], rover_pose=(0.0, 0.0, np.pi / 2), rover_velocity=(2.0, 0.0))
    # Rover faces +y in the world: the object must sit at x=0, y=-8 in base_link, moving forward.
    obj.x, obj.y = 0.0, 8.0
    truth = renderer.render(scene).truth[0]
    assert truth.position[:2] == pytest.approx((8.0, 0.0), abs=1e-9)
    assert truth.velocity[:2] == pytest.approx((1.0, 0.0), abs=1e-9)
    assert truth.relative_velocity[:2] == pytest.approx((-1.0, 0.0), abs=1e-9)


def test_world_truth_lists_unseen_objects_with_no_pixels(renderer: Renderer) -> None:
    from edge_rover.simulation.renderer import world_truth

    scene = Scene(lighting=FLAT, objects=[SceneObject("car", -6.0, 0.0), SceneObject("box", 6.0, 0.0)])
    truths = world_truth(scene, renderer.render(scene).truth)
    by_class = {t.class_name: t for t in truths}
    assert by_class["car"].visible_pixels == 0 and by_class["car"].occlusion == 1.0
    assert by_class["car"].position[:2] == pytest.approx((-6.0, 0.0))
    assert by_class["box"].visible_pixels > 0


def test_box_edges_match_a_hand_computed_pinhole_projection() -> None:
    # Level camera 0.6 m up, 0.2 m ahead of base_link, f = 320 px, centre (319.5, 239.5).
    from edge_rover.common.camera_model import CameraExtrinsics

    level = CameraRig(CameraIntrinsics.from_fov(640, 480, np.pi / 2), CameraExtrinsics((0.2, 0.0, 0.6)))
    box = SceneObject("box", x=10.0, y=0.0, size=(0.6, 0.6, 0.6), seed=1)
    truth = Renderer(level).render(Scene(lighting=FLAT, noise_sigma=0.0, objects=[box])).truth[0]
    depth = 10.0 - 0.3 - 0.2  # near face, from the camera
    bottom = 239.5 + 320.0 * 0.6 / depth  # ground contact: 0.6 m below the optical axis → 259.7
    half = 320.0 * 0.3 / depth  # ±0.3 m → ±10.1 px
    # Pixel i covers [i - 0.5, i + 0.5] in the camera model's pixel-centre coordinates, so the
    # box edges (x0, y0 inclusive; x1, y1 exclusive) sit at bbox - 0.5 in those coordinates.
    x0, y0, x1, y1 = (v - 0.5 for v in truth.bbox)
    assert y1 == pytest.approx(bottom, abs=1.0)
    assert y0 == pytest.approx(239.5, abs=1.0)  # top face at camera height: on the horizon
    assert x0 == pytest.approx(319.5 - half, abs=1.0)
    assert x1 == pytest.approx(319.5 + half, abs=1.0)


def test_a_cyclist_gives_a_person_box_on_top_of_a_bicycle_box(renderer: Renderer) -> None:
    objects = [
        SceneObject("bicycle", 7.0, 0.0, yaw=1.57, seed=1),
        SceneObject("person", 7.0, 0.0, yaw=1.57, seed=2, riding=True, gait_phase=0.7),
    ]
    truths = {t.class_name: t for t in renderer.render(Scene(lighting=FLAT, objects=objects)).truth}
    bike, rider = truths["bicycle"].bbox, truths["person"].bbox
    assert rider[1] < bike[1] and rider[3] <= bike[3]  # the rider towers over the bicycle
    assert truths["person"].occlusion == pytest.approx(0.0) and 0.0 < truths["bicycle"].occlusion < 0.8

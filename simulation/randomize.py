"""Random scenes for training data: rigs, ground, light, obstacles and distractors, all by seed.

The ranges are deliberately broad (camera height/pitch jitter, five grounds, day to night, fog,
2-30 m, truncation at borders, clusters that occlude each other) so a detector trained on the
output generalizes within the simulator instead of memorizing one look.
"""

from __future__ import annotations

import numpy as np

from edge_rover.common.camera_model import CameraExtrinsics, CameraRig
from edge_rover.simulation.classes import DEFAULT_SIZES
from edge_rover.simulation.scene import GroundDecal, Lighting, Scene, SceneObject
from edge_rover.simulation.textures import GROUND_KINDS

# Relative frequency of each class among the labelled objects of a random scene.
CLASS_WEIGHTS = {"person": 0.34, "bicycle": 0.14, "car": 0.18, "traffic_cone": 0.17, "box": 0.17}
LIGHTING_KINDS = ("day", "overcast", "dusk", "night", "fog", "indoor")
RIDER_PROBABILITY = 0.4  # bicycles that carry a cyclist


def jittered_rig(base: CameraRig, rng: np.random.Generator) -> CameraRig:
    """The same camera with its mount perturbed: height, pitch, roll, yaw."""
    x, y, z = base.extrinsics.translation
    roll, pitch, yaw = base.extrinsics.rotation_rpy
    height = float(np.clip(z * rng.uniform(0.6, 1.6), 0.25, 1.5))
    extrinsics = CameraExtrinsics(
        translation=(x + rng.uniform(-0.1, 0.1), y + rng.uniform(-0.05, 0.05), height),
        rotation_rpy=(roll + rng.normal(0, 0.02), pitch + rng.uniform(-0.08, 0.1), yaw + rng.normal(0, 0.03)),
        parent_frame=base.extrinsics.parent_frame,
        child_frame=base.extrinsics.child_frame,
    )  # fmt: skip
    return CameraRig(base.intrinsics, extrinsics)


def random_lighting(rng: np.random.Generator, kind: str | None = None) -> Lighting:
    kind = kind or str(rng.choice(LIGHTING_KINDS, p=[0.35, 0.18, 0.12, 0.13, 0.1, 0.12]))
    az = float(rng.uniform(-np.pi, np.pi))
    blue_sky = np.array([rng.uniform(190, 245), rng.uniform(120, 165), rng.uniform(60, 110)])
    if kind == "day":
        return Lighting(
            name=kind,
            sun_azimuth=az,
            sun_elevation=float(rng.uniform(0.3, 1.3)),
            ambient=float(rng.uniform(0.4, 0.6)),
            diffuse=float(rng.uniform(0.35, 0.6)),
            gain=float(rng.uniform(0.85, 1.2)),
            tint=tuple(rng.uniform(0.92, 1.08, 3)),
            sky_zenith=tuple(blue_sky),
            sky_horizon=tuple(np.clip(blue_sky + rng.uniform(30, 90), 0, 255)),
            haze=float(rng.uniform(0.2, 0.6)),
        )
    if kind == "overcast":
        grey = rng.uniform(160, 220)
        return Lighting(
            name=kind,
            sun_azimuth=az, sun_elevation=1.2, ambient=0.85, diffuse=0.15, gain=float(rng.uniform(0.8, 1.05)),
            tint=tuple(rng.uniform(0.95, 1.05, 3)), sky_zenith=(grey, grey, grey - 5),
            sky_horizon=(grey + 15, grey + 15, grey + 10), shadows=False, haze=float(rng.uniform(0.4, 0.8)),
        )  # fmt: skip
    if kind == "dusk":
        return Lighting(
            name=kind,
            sun_azimuth=az, sun_elevation=float(rng.uniform(0.08, 0.25)), ambient=0.45, diffuse=0.5,
            gain=float(rng.uniform(0.55, 0.8)), tint=(0.8, 0.95, 1.15), sky_zenith=(140.0, 90.0, 70.0),
            sky_horizon=(120.0, 170.0, 240.0), haze=0.5,
        )  # fmt: skip
    if kind == "night":
        return Lighting(
            name=kind,
            sun_azimuth=az, sun_elevation=0.5, ambient=0.6, diffuse=0.1, gain=float(rng.uniform(0.35, 0.6)),
            tint=(1.1, 1.0, 0.9), sky_zenith=(25.0, 15.0, 10.0), sky_horizon=(45.0, 35.0, 30.0),
            shadows=False, headlight=True, haze=0.7,
        )  # fmt: skip
    if kind == "fog":
        return Lighting(
            name=kind,
            sun_azimuth=az, sun_elevation=1.0, ambient=0.8, diffuse=0.2, gain=1.0,
            contrast=float(rng.uniform(0.35, 0.6)), sky_zenith=(200.0, 200.0, 200.0),
            sky_horizon=(215.0, 215.0, 215.0), shadows=False, haze=1.0,
        )  # fmt: skip
    wall = rng.uniform(120, 210)  # indoor: the "sky" is a far wall
    return Lighting(
        name=kind,
        sun_azimuth=az, sun_elevation=1.4, ambient=0.75, diffuse=0.25, gain=float(rng.uniform(0.75, 1.1)),
        tint=(1.0, 1.0, float(rng.uniform(0.95, 1.15))), sky_zenith=(wall - 30, wall - 30, wall - 25),
        sky_horizon=(wall, wall, wall - 10), shadows=bool(rng.random() < 0.3), haze=0.2,
    )  # fmt: skip


def _random_size(kind: str, rng: np.random.Generator) -> tuple[float, float, float]:
    length, width, height = DEFAULT_SIZES[kind]
    if kind == "person":
        h = float(rng.uniform(1.1, 1.95)) if rng.random() < 0.12 else float(rng.uniform(1.55, 1.95))
        return (0.35, 0.5, h)
    if kind == "box":
        return tuple(float(v) for v in rng.uniform([0.3, 0.25, 0.2], [1.2, 1.0, 1.0]))
    if kind == "traffic_cone":
        h = float(rng.uniform(0.45, 0.9))
        return (h * 0.52, h * 0.52, h)
    scale = rng.uniform(0.9, 1.1)
    return (length * scale, width * scale, height * rng.uniform(0.92, 1.08))


def random_scene(rng: np.random.Generator, rig: CameraRig) -> Scene:
    """One random training scene seen from ``rig`` (rover at the world origin, facing +x)."""
    half_fov = float(np.arctan2(rig.intrinsics.width / 2.0, rig.intrinsics.fx))
    ground = str(rng.choice(GROUND_KINDS, p=[0.4, 0.2, 0.12, 0.14, 0.14]))
    lighting = random_lighting(rng, "indoor" if ground == "indoor_floor" and rng.random() < 0.7 else None)
    objects: list[SceneObject] = []
    count = int(
        rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 10], p=[0.04, 0.14, 0.18, 0.18, 0.14, 0.12, 0.1, 0.06, 0.04])
    )
    names = list(CLASS_WEIGHTS)
    weights = np.array([CLASS_WEIGHTS[n] for n in names])
    for _ in range(count):
        kind = str(rng.choice(names, p=weights / weights.sum()))
        if objects and rng.random() < 0.25:  # cluster behind/beside another: occlusion
            anchor = objects[int(rng.integers(len(objects)))]
            x = anchor.x + float(rng.uniform(-1.0, 4.0))
            y = anchor.y + float(rng.uniform(-1.5, 1.5))
        else:
            distance = float(np.exp(rng.uniform(np.log(2.0), np.log(30.0))))
            bearing = float(rng.uniform(-half_fov - 0.12, half_fov + 0.12))
            x, y = distance * np.cos(bearing), distance * np.sin(bearing)
        if x < (4.0 if kind == "car" else 1.2):
            continue
        size = _random_size(kind, rng)
        if _overlaps(objects, x, y, size):  # two things never share the same ground
            continue
        walking = float(rng.uniform(0.3, 1.0)) if kind == "person" and rng.random() < 0.7 else 0.0
        rider = kind == "bicycle" and rng.random() < RIDER_PROBABILITY
        if rider:
            size = DEFAULT_SIZES["bicycle"]  # the rider's pose is made for the standard frame
        objects.append(
            SceneObject(
                kind=kind, x=float(x), y=float(y), yaw=float(rng.uniform(-np.pi, np.pi)),
                size=size, seed=int(rng.integers(1 << 30)),
                gait_phase=float(rng.uniform(0, 2 * np.pi)), walking=walking,
            )
        )  # fmt: skip
        if rider:  # a cyclist: two labels, person on top of bicycle, as in COCO
            bike = objects[-1]
            objects.append(
                SceneObject(
                    kind="person", x=bike.x, y=bike.y, yaw=bike.yaw, size=_random_size("person", rng),
                    seed=int(rng.integers(1 << 30)), gait_phase=float(rng.uniform(0, 2 * np.pi)), riding=True,
                )
            )  # fmt: skip
    for _ in range(int(rng.integers(0, 7))):  # distractors: near ones occlude, far ones are background
        kind = str(
            rng.choice(["pole", "bin", "tree", "building", "barrier"], p=[0.3, 0.15, 0.25, 0.15, 0.15])
        )
        if kind == "building":
            distance = float(rng.uniform(25, 90))
        elif kind == "tree":
            distance = float(rng.uniform(8, 60))
        else:
            distance = float(rng.uniform(3, 30))
        bearing = float(rng.uniform(-half_fov - 0.2, half_fov + 0.2))
        length, width, height = DEFAULT_SIZES[kind]
        scale = float(rng.uniform(0.7, 1.5))
        objects.append(
            SceneObject(
                kind=kind, x=distance * np.cos(bearing), y=distance * np.sin(bearing),
                yaw=float(rng.uniform(-np.pi, np.pi)), size=(length * scale, width * scale, height * scale),
                seed=int(rng.integers(1 << 30)),
            )
        )  # fmt: skip
    decals = _random_decals(rng, ground)
    speed = float(rng.uniform(0.0, 3.0))
    # Put the rover somewhere random on the (tiled) ground so the texture differs per frame;
    # everything above was placed relative to the rover, so it moves along.
    px, py = float(rng.uniform(-50, 50)), float(rng.uniform(-50, 50))
    for obj in objects:
        obj.x += px
        obj.y += py
    decals = [GroundDecal(d.polygon + np.array([px, py]), d.colour) for d in decals]
    return Scene(
        ground_kind=ground,
        ground_seed=int(rng.integers(0, 6)),
        lighting=lighting,
        objects=objects,
        decals=decals,
        rover_pose=(px, py, 0.0),
        rover_velocity=(speed, 0.0),
        noise_sigma=float(rng.uniform(1.0, 5.0) if not lighting.headlight else rng.uniform(5.0, 12.0)),
        motion_blur_px=float(rng.uniform(0, 5)) if rng.random() < 0.25 else 0.0,
        defocus=float(rng.uniform(0.4, 1.0)) if rng.random() < 0.3 else 0.0,
        frame_seed=int(rng.integers(1 << 30)),
    )


def _overlaps(objects: list[SceneObject], x: float, y: float, size: tuple[float, float, float]) -> bool:
    """Footprint discs (half the diagonal) of a new object and any existing one intersect."""
    radius = 0.5 * float(np.hypot(size[0], size[1]))
    for obj in objects:
        other = 0.5 * float(np.hypot(obj.dims[0], obj.dims[1]))
        if np.hypot(obj.x - x, obj.y - y) < 0.8 * (radius + other):
            return True
    return False


def _random_decals(rng: np.random.Generator, ground: str) -> list[GroundDecal]:
    """Lane lines on roads, painted patches elsewhere; they move with the rover's random offset."""
    decals = []
    if ground == "asphalt" and rng.random() < 0.7:
        colour = (230.0, 230.0, 230.0) if rng.random() < 0.7 else (40.0, 200.0, 230.0)
        for lane_y in rng.choice([-3.5, -1.8, 0.0, 1.8, 3.5], size=int(rng.integers(1, 3)), replace=False):
            dashed = rng.random() < 0.6
            for k in range(0, 40, 3 if dashed else 40):
                x0, x1 = k - 5.0, (k - 5.0 + (1.5 if dashed else 45.0))
                w = 0.07
                decals.append(
                    GroundDecal(
                        np.array([[x0, lane_y - w], [x1, lane_y - w], [x1, lane_y + w], [x0, lane_y + w]]),
                        colour,
                    )
                )
    for _ in range(int(rng.integers(0, 3))):  # stains, puddles, manholes
        cx, cy, r = rng.uniform(2, 25), rng.uniform(-6, 6), rng.uniform(0.3, 1.2)
        angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        poly = np.column_stack([cx + r * np.cos(angles) * rng.uniform(0.6, 1.4), cy + r * np.sin(angles)])
        shade = float(rng.uniform(20, 90))
        decals.append(GroundDecal(poly, (shade, shade, shade * rng.uniform(0.9, 1.1))))
    return decals

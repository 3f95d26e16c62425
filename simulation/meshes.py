"""Low-poly 3D models of the obstacle classes and distractors, in the object's local frame.

Local frame: x forward (the object's heading), y left, z up, origin on the ground under the
centre of the footprint. A mesh is a list of flat faces with an outward normal and a colour;
the renderer transforms, culls, shades, sorts and fills them. Appearance (clothing, paint,
proportions) comes from a seed so a scenario can pin it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from edge_rover.simulation.classes import DEFAULT_SIZES


@dataclass(frozen=True)
class Mesh:
    vertices: np.ndarray  # (F, K, 3) polygon vertices, padded by repeating the last one
    normals: np.ndarray  # (F, 3) outward unit normals (ignored for two-sided faces)
    colours: np.ndarray  # (F, 3) BGR in 0..255 before lighting
    two_sided: np.ndarray  # (F,) bool: thin sheets (wheels, decals) visible from both sides


class MeshBuilder:
    """Collects faces of any vertex count and packs them into a :class:`Mesh`."""

    def __init__(self) -> None:
        self._faces: list[np.ndarray] = []
        self._normals: list[np.ndarray] = []
        self._colours: list[tuple[float, float, float]] = []
        self._two_sided: list[bool] = []

    def face(self, points: np.ndarray, colour: tuple[float, ...], inside: np.ndarray | None = None) -> None:
        """Add a planar polygon; its normal points away from ``inside`` (None: two-sided)."""
        pts = np.asarray(points, dtype=np.float64)
        normal = np.cross(pts[1] - pts[0], pts[2] - pts[0])
        if len(pts) > 3 and np.linalg.norm(normal) < 1e-12:
            normal = np.cross(pts[2] - pts[1], pts[3] - pts[1])
        length = np.linalg.norm(normal)
        normal = normal / length if length > 1e-12 else np.array([0.0, 0.0, 1.0])
        if inside is not None and np.dot(normal, pts.mean(axis=0) - inside) < 0:
            normal = -normal
        self._faces.append(pts)
        self._normals.append(normal)
        self._colours.append(tuple(float(c) for c in colour[:3]))
        self._two_sided.append(inside is None)

    def box(
        self,
        centre: tuple[float, float, float],
        size: tuple[float, float, float],
        colour: tuple[float, ...],
        yaw: float = 0.0,
        face_colours: dict[str, tuple[float, ...]] | None = None,
    ) -> None:
        """An oriented cuboid (size = length x, width y, height z) centred at ``centre``."""
        c = np.asarray(centre, dtype=np.float64)
        hx, hy, hz = (s / 2.0 for s in size)
        corners = np.array(
            [[sx * hx, sy * hy, sz * hz] for sz in (-1, 1) for sy in (-1, 1) for sx in (-1, 1)]
        )
        cy, sy_ = np.cos(yaw), np.sin(yaw)
        rot = np.array([[cy, -sy_, 0.0], [sy_, cy, 0.0], [0.0, 0.0, 1.0]])
        corners = corners @ rot.T + c
        quads = {
            "bottom": [0, 1, 3, 2],
            "top": [4, 5, 7, 6],
            "back": [0, 2, 6, 4],
            "front": [1, 3, 7, 5],
            "right": [0, 1, 5, 4],
            "left": [2, 3, 7, 6],
        }
        for name, idx in quads.items():
            if name == "bottom":
                continue  # never seen from a camera above the ground
            col = (face_colours or {}).get(name, colour)
            self.face(corners[idx], col, inside=c)

    def segment(
        self,
        p0: np.ndarray,
        p1: np.ndarray,
        width: float,
        colour: tuple[float, ...],
        depth: float | None = None,
    ) -> None:
        """A square-section bar from p0 to p1 (limbs, tubes): four side faces."""
        a, b = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
        axis = b - a
        length = np.linalg.norm(axis)
        if length < 1e-9:
            return
        axis /= length
        helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        u = np.cross(axis, helper)
        u /= np.linalg.norm(u)
        v = np.cross(axis, u)
        hu, hv = width / 2.0, (depth if depth is not None else width) / 2.0
        offsets = [hu * u + hv * v, -hu * u + hv * v, -hu * u - hv * v, hu * u - hv * v]
        centre = (a + b) / 2.0
        for k in range(4):
            o0, o1 = offsets[k], offsets[(k + 1) % 4]
            self.face(np.array([a + o0, a + o1, b + o1, b + o0]), colour, inside=centre)

    def frustum(
        self,
        centre_xy: tuple[float, float],
        z0: float,
        z1: float,
        r0: float,
        r1: float,
        colour: tuple[float, ...],
        sides: int = 10,
        cap: bool = True,
        cap_colour: tuple[float, ...] | None = None,
    ) -> None:
        """A vertical cylinder / cone frustum with ``sides`` facets and an optional top cap."""
        angles = np.linspace(0.0, 2 * np.pi, sides, endpoint=False)
        ring = np.column_stack([np.cos(angles), np.sin(angles)])
        cx, cy = centre_xy
        low = np.column_stack([cx + r0 * ring[:, 0], cy + r0 * ring[:, 1], np.full(sides, z0)])
        high = np.column_stack([cx + r1 * ring[:, 0], cy + r1 * ring[:, 1], np.full(sides, z1)])
        inside = np.array([cx, cy, (z0 + z1) / 2.0])
        for k in range(sides):
            j = (k + 1) % sides
            self.face(np.array([low[k], low[j], high[j], high[k]]), colour, inside=inside)
        if cap and r1 > 1e-6:
            self.face(high, cap_colour or colour, inside=inside)

    def ring(
        self,
        centre: np.ndarray,
        radius: float,
        thickness: float,
        colour: tuple[float, ...],
        axis_u: np.ndarray,
        axis_v: np.ndarray,
        segments: int = 12,
    ) -> None:
        """A flat annulus (a wheel seen side-on) in the plane spanned by ``axis_u``/``axis_v``."""
        angles = np.linspace(0.0, 2 * np.pi, segments + 1)
        c = np.asarray(centre, dtype=np.float64)
        outer = [c + radius * (np.cos(t) * axis_u + np.sin(t) * axis_v) for t in angles]
        inner = [c + (radius - thickness) * (np.cos(t) * axis_u + np.sin(t) * axis_v) for t in angles]
        for k in range(segments):
            self.face(np.array([outer[k], outer[k + 1], inner[k + 1], inner[k]]), colour, inside=None)

    def build(self) -> Mesh:
        if not self._faces:
            return Mesh(np.zeros((0, 3, 3)), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0, dtype=bool))
        width = max(len(f) for f in self._faces)
        padded = np.empty((len(self._faces), width, 3))
        for i, face in enumerate(self._faces):
            padded[i, : len(face)] = face
            padded[i, len(face) :] = face[-1]
        return Mesh(
            padded,
            np.asarray(self._normals),
            np.asarray(self._colours),
            np.asarray(self._two_sided, dtype=bool),
        )


# ---------------------------------------------------------------------------------------------
# Appearance helpers


def _colour(rng: np.random.Generator, palette: list[tuple[int, int, int]], jitter: float = 18.0) -> tuple:
    base = np.asarray(palette[int(rng.integers(len(palette)))], dtype=np.float64)
    return tuple(np.clip(base + rng.normal(0, jitter, 3), 0, 255))


_CLOTHES = [
    (40, 40, 40), (200, 200, 200), (140, 60, 20), (30, 30, 150), (40, 120, 40), (20, 140, 220),
    (150, 100, 60), (90, 60, 120), (60, 60, 200), (230, 230, 230), (70, 90, 110), (30, 200, 230),
    (180, 120, 200), (110, 110, 110),
]  # fmt: skip
_PANTS = [
    (40, 30, 30),
    (120, 70, 30),
    (60, 60, 60),
    (90, 110, 130),
    (150, 150, 150),
    (30, 30, 100),
    (20, 20, 20),
]
_SKIN = [(160, 190, 230), (120, 160, 210), (80, 120, 170), (50, 80, 120), (140, 170, 200)]
_HAIR = [(20, 20, 20), (30, 50, 80), (60, 110, 160), (160, 160, 160), (30, 30, 50)]
_CAR_PAINT = [
    (200, 200, 200), (30, 30, 30), (40, 40, 170), (150, 80, 20), (220, 220, 220), (100, 100, 100),
    (40, 120, 40), (20, 160, 220), (90, 40, 20), (130, 130, 150),
]  # fmt: skip
_BOX_COLOURS = [(80, 130, 180), (60, 110, 160), (50, 90, 130), (140, 90, 40), (60, 60, 60), (40, 150, 60)]
_BIKE_FRAME = [(30, 30, 200), (200, 60, 20), (20, 20, 20), (220, 220, 220), (30, 160, 30), (0, 200, 230)]


def person_mesh(seed: int, size: tuple[float, float, float], phase: float, walking: float) -> Mesh:
    """An articulated pedestrian; ``phase`` is the gait phase (rad), ``walking`` 0..1 the stride."""
    rng = np.random.default_rng(seed)
    height = size[2]
    s = height / 1.75
    shirt, pants = _colour(rng, _CLOTHES), _colour(rng, _PANTS)
    skin, hair = _colour(rng, _SKIN, 10), _colour(rng, _HAIR, 10)
    shoes = _colour(rng, [(20, 20, 20), (200, 200, 200), (40, 60, 90)], 10)
    coat = rng.random() < 0.25
    backpack = rng.random() < 0.25
    girth = rng.uniform(0.9, 1.2)
    b = MeshBuilder()
    stride = 0.42 * walking
    thigh, shin = 0.45 * s, 0.44 * s

    def leg(sign: float, hip_z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        swing = stride * np.sin(phase) * sign
        knee_bend = walking * 0.5 * max(0.0, np.sin(phase + sign * np.pi / 2))
        hip = np.array([0.0, sign * 0.09 * s * girth, hip_z])
        knee = hip + thigh * np.array([np.sin(swing), 0.0, -np.cos(swing)])
        ankle = knee + shin * np.array([np.sin(swing - knee_bend), 0.0, -np.cos(swing - knee_bend)])
        return hip, knee, ankle, swing

    # The stance foot stays on the ground at every gait phase: lower the body by however far the
    # lower shoe sole would hover (the mapper ranges people from where their feet meet the ground).
    sole_clearance = min(leg(sign, 0.92 * s)[2][2] for sign in (1.0, -1.0)) - 0.06 * s
    hip_z = 0.92 * s - max(sole_clearance, 0.0)
    for sign in (1.0, -1.0):
        hip, knee, ankle, swing = leg(sign, hip_z)
        b.segment(hip, knee, 0.15 * s * girth, pants)
        b.segment(knee, ankle, 0.11 * s, pants)
        b.box(
            (ankle[0] + 0.05 * s, ankle[1], max(ankle[2] - 0.02 * s, 0.04 * s)),
            (0.24 * s, 0.1 * s, 0.08 * s),
            shoes,
        )
        arm_swing = -0.7 * swing
        shoulder = np.array([0.0, sign * 0.22 * s * girth, 1.43 * s])
        elbow = shoulder + 0.3 * s * np.array([np.sin(arm_swing), 0.0, -np.cos(arm_swing)])
        fore = arm_swing + 0.3 * walking + 0.1
        wrist = elbow + 0.27 * s * np.array([np.sin(fore), 0.0, -np.cos(fore)])
        b.segment(shoulder, elbow, 0.095 * s, shirt)
        b.segment(elbow, wrist, 0.08 * s, skin if rng.random() < 0.4 else shirt)
    torso_bottom = 0.55 * s if coat else 0.88 * s
    b.box(
        (0.0, 0.0, (torso_bottom + 1.48 * s) / 2), (0.22 * s, 0.4 * s * girth, 1.48 * s - torso_bottom), shirt
    )
    b.box((0.0, 0.0, 1.52 * s), (0.09 * s, 0.09 * s, 0.08 * s), skin)
    b.frustum((0.0, 0.0), 1.55 * s, 1.72 * s, 0.095 * s, 0.09 * s, skin, sides=8, cap_colour=hair)
    b.frustum((-0.015 * s, 0.0), 1.68 * s, 1.76 * s, 0.1 * s, 0.07 * s, hair, sides=8)
    if backpack:
        b.box((-0.17 * s, 0.0, 1.2 * s), (0.14 * s, 0.32 * s, 0.4 * s), _colour(rng, _CLOTHES))
    return b.build()


def _knee(hip: np.ndarray, foot: np.ndarray, thigh: float, shin: float) -> np.ndarray:
    """Two-link leg in the x-z plane with the knee forward (riders, pedalling)."""
    d_vec = foot - hip
    d = float(np.linalg.norm(d_vec[[0, 2]]))
    d = min(max(d, 1e-6), (thigh + shin) * 0.999)
    cos_a = np.clip((thigh**2 + d**2 - shin**2) / (2 * thigh * d), -1.0, 1.0)
    alpha = float(np.arccos(cos_a))
    ux, uz = d_vec[0] / d, d_vec[2] / d
    direction = np.array(
        [ux * np.cos(alpha) - uz * np.sin(alpha), 0.0, ux * np.sin(alpha) + uz * np.cos(alpha)]
    )
    knee = hip + thigh * direction
    knee[1] = (hip[1] + foot[1]) / 2.0
    return knee


def rider_mesh(seed: int, size: tuple[float, float, float], phase: float) -> Mesh:
    """A person riding a default-size bicycle (same local frame as :func:`bicycle_mesh`)."""
    rng = np.random.default_rng(seed)
    s = size[2] / 1.75
    shirt, pants = _colour(rng, _CLOTHES), _colour(rng, _PANTS)
    skin, hair = _colour(rng, _SKIN, 10), _colour(rng, _HAIR, 10)
    helmet = _colour(rng, _CLOTHES) if rng.random() < 0.5 else hair
    b = MeshBuilder()
    hip_c = np.array([-0.22, 0.0, 0.95])
    shoulder_c = hip_c + 0.55 * s * np.array([np.sin(0.45), 0.0, np.cos(0.45)])  # leaning forward
    bracket = np.array([-0.05, 0.0, 0.3])
    for sign in (1.0, -1.0):
        crank = phase + (0.0 if sign > 0 else np.pi)
        pedal = bracket + np.array([0.17 * np.cos(crank), sign * 0.12, 0.17 * np.sin(crank)])
        hip = hip_c + np.array([0.0, sign * 0.1 * s, 0.0])
        knee = _knee(hip, pedal, 0.45 * s, 0.46 * s)
        b.segment(hip, knee, 0.15 * s, pants)
        b.segment(knee, pedal, 0.11 * s, pants)
        shoulder = shoulder_c + np.array([0.0, sign * 0.2 * s, 0.0])
        grip = np.array([0.35, sign * 0.22, 1.0])
        elbow = (shoulder + grip) / 2.0 + np.array([0.0, sign * 0.04, -0.06])
        b.segment(shoulder, elbow, 0.095 * s, shirt)
        b.segment(elbow, grip, 0.08 * s, skin)
    b.segment(hip_c, shoulder_c, 0.38 * s, shirt, depth=0.22 * s)
    head = shoulder_c + np.array([0.08 * s, 0.0, 0.1 * s])
    b.frustum(
        (head[0], head[1]), head[2], head[2] + 0.17 * s, 0.095 * s, 0.09 * s, skin, sides=8, cap_colour=helmet
    )
    b.frustum(
        (head[0] - 0.015, head[1]),
        head[2] + 0.13 * s,
        head[2] + 0.21 * s,
        0.11 * s,
        0.07 * s,
        helmet,
        sides=8,
    )
    return b.build()


def car_mesh(seed: int, size: tuple[float, float, float]) -> Mesh:
    rng = np.random.default_rng(seed)
    length, width, height = size
    paint = _colour(rng, _CAR_PAINT, 12)
    glass = tuple(np.clip(np.array([70, 55, 45]) + rng.normal(0, 10, 3), 0, 255))
    tyre = (25, 25, 25)
    b = MeshBuilder()
    clearance, body_h = 0.18 * height, 0.45 * height
    b.box((0.0, 0.0, clearance + body_h / 2), (length, width, body_h), paint)
    # Cabin: a frustum-like box, narrower on top, windows on its sides.
    z0, z1 = clearance + body_h, height
    cab_len = length * rng.uniform(0.45, 0.6)
    cab_x = -length * rng.uniform(0.0, 0.12)
    bot = np.array([[cab_x - cab_len / 2, -width / 2 * 0.95], [cab_x + cab_len / 2, -width / 2 * 0.95]])
    top_shrink = cab_len * 0.18
    x_b0, x_b1 = bot[0, 0], bot[1, 0]
    x_t0, x_t1 = x_b0 + top_shrink * 0.6, x_b1 - top_shrink
    yb, yt = width / 2 * 0.95, width / 2 * 0.8
    lower = np.array([[x_b0, -yb, z0], [x_b1, -yb, z0], [x_b1, yb, z0], [x_b0, yb, z0]])
    upper = np.array([[x_t0, -yt, z1], [x_t1, -yt, z1], [x_t1, yt, z1], [x_t0, yt, z1]])
    inside = np.array([cab_x, 0.0, (z0 + z1) / 2])
    for k in range(4):
        j = (k + 1) % 4
        b.face(np.array([lower[k], lower[j], upper[j], upper[k]]), glass, inside=inside)
    b.face(upper, paint, inside=inside)
    wheel_r = clearance + 0.12 * height
    for wx in (length * 0.32, -length * 0.32):
        for wy in (width / 2 - 0.12, -width / 2 + 0.12):
            b.ring(
                np.array([wx, wy + np.sign(wy) * 0.02, wheel_r]),
                wheel_r,
                wheel_r,
                tyre,
                np.array([1.0, 0.0, 0.0]),
                np.array([0.0, 0.0, 1.0]),
                segments=8,
            )
    lights = (200, 240, 255)
    for ly in (width / 2 - 0.25, -width / 2 + 0.25):
        b.box((length / 2 + 0.005, ly, clearance + body_h * 0.7), (0.01, 0.3, 0.12), lights)
        b.box((-length / 2 - 0.005, ly, clearance + body_h * 0.7), (0.01, 0.3, 0.12), (30, 30, 200))
    return b.build()


def bicycle_mesh(seed: int, size: tuple[float, float, float]) -> Mesh:
    rng = np.random.default_rng(seed)
    length, _, height = size
    sx, sz = length / 1.75, height / 1.05
    frame = _colour(rng, _BIKE_FRAME, 15)
    tyre = (25, 25, 25)
    b = MeshBuilder()
    r = 0.34 * sz
    rear, front = np.array([-0.53 * sx, 0.0, r]), np.array([0.53 * sx, 0.0, r])
    for hub in (rear, front):
        b.ring(hub, r, 0.05 * sz, tyre, np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]), segments=14)
        b.ring(
            hub, r * 0.2, r * 0.2, (150, 150, 150), np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]), 6
        )
    bracket = np.array([-0.05 * sx, 0.0, 0.3 * sz])
    seat = np.array([-0.2 * sx, 0.0, 0.85 * sz])
    head_top, head_bot = np.array([0.38 * sx, 0.0, 0.85 * sz]), np.array([0.42 * sx, 0.0, 0.65 * sz])
    t = 0.035
    for p0, p1 in ((rear, bracket), (rear, seat), (bracket, seat), (seat, head_top), (bracket, head_bot)):
        b.segment(p0, p1, t, frame)
    b.segment(head_bot, front, t, (160, 160, 160))
    bar = head_top + np.array([-0.03, 0.0, 0.15 * sz])
    b.segment(head_top, bar, t, (160, 160, 160))
    b.segment(bar + np.array([0.0, -0.25, 0.0]), bar + np.array([0.0, 0.25, 0.0]), 0.03, (40, 40, 40))
    b.box(seat + np.array([0.0, 0.0, 0.04]), (0.25, 0.12, 0.05), (30, 30, 30))
    return b.build()


def cone_mesh(seed: int, size: tuple[float, float, float]) -> Mesh:
    rng = np.random.default_rng(seed)
    base, _, height = size
    orange = tuple(np.clip(np.array([10, 90, 240]) + rng.normal(0, [8, 20, 12]), 0, 255))
    white = (235, 235, 235)
    b = MeshBuilder()
    b.box((0.0, 0.0, 0.015), (base, base, 0.03), orange if rng.random() < 0.5 else (30, 30, 30))
    r0, r1 = base * 0.42, base * 0.07
    z0 = 0.03

    def radius(z: float) -> float:
        return r0 + (r1 - r0) * (z - z0) / (height - z0)

    bands = [(z0, 0.45), (0.45, 0.62), (0.62, 1.0)] if rng.random() < 0.7 else [(z0, 1.0)]
    for k, (f0, f1) in enumerate(bands):
        za = z0 if f0 == z0 else z0 + f0 * (height - z0)
        zb = z0 + f1 * (height - z0)
        col = white if len(bands) == 3 and k == 1 else orange
        b.frustum((0.0, 0.0), za, zb, radius(za), radius(zb), col, sides=10, cap=(k == len(bands) - 1))
    return b.build()


def box_mesh(seed: int, size: tuple[float, float, float]) -> Mesh:
    rng = np.random.default_rng(seed)
    colour = _colour(rng, _BOX_COLOURS, 15)
    b = MeshBuilder()
    length, width, height = size
    b.box((0.0, 0.0, height / 2), size, colour)
    if rng.random() < 0.6:  # packing tape over the top
        tape = tuple(np.clip(np.asarray(colour) * 1.25, 0, 255))
        b.box((0.0, 0.0, height + 0.002), (length * 1.001, width * 0.18, 0.004), tape)
    return b.build()


def distractor_mesh(kind: str, seed: int, size: tuple[float, float, float]) -> Mesh:
    rng = np.random.default_rng(seed)
    b = MeshBuilder()
    length, width, height = size
    if kind == "pole":
        grey = _colour(rng, [(120, 120, 120), (60, 90, 60), (40, 40, 40)], 10)
        b.frustum((0.0, 0.0), 0.0, height, length / 2, length / 2.4, grey, sides=8)
    elif kind == "bin":
        col = _colour(rng, [(40, 100, 40), (100, 100, 100), (150, 80, 30), (30, 30, 30)], 15)
        b.frustum((0.0, 0.0), 0.0, height * 0.9, length / 2.3, length / 2, col, sides=10)
        b.frustum((0.0, 0.0), height * 0.9, height, length / 1.9, length / 2.1, (40, 40, 40), sides=10)
    elif kind == "tree":
        trunk = _colour(rng, [(30, 50, 80)], 10)
        leaves = _colour(rng, [(30, 110, 40), (20, 80, 30), (40, 130, 90)], 15)
        b.frustum((0.0, 0.0), 0.0, height * 0.45, 0.12 * length, 0.1 * length, trunk, sides=8)
        b.frustum(
            (0.0, 0.0), height * 0.3, height * 0.7, length * 0.2, length / 2, leaves, sides=10, cap=False
        )
        b.frustum((0.0, 0.0), height * 0.7, height, length / 2, length * 0.1, leaves, sides=10)
    elif kind == "building":
        wall = _colour(rng, [(150, 160, 170), (90, 100, 140), (180, 180, 180), (70, 70, 90)], 20)
        b.box((0.0, 0.0, height / 2), size, wall, face_colours={"top": (90, 90, 90)})
        for k in range(int(rng.integers(2, 5))):  # a row of windows on the front face
            wy = -width / 2 + (k + 0.5) * width / 4
            b.box((length / 2 + 0.01, wy, height * 0.6), (0.02, width / 8, height / 5), (60, 50, 40))
    elif kind == "barrier":  # a long, low, striped barrier: not a box
        col = _colour(rng, [(40, 40, 200), (20, 180, 230), (140, 140, 140)], 10)
        stripes = int(rng.integers(4, 9))
        for k in range(stripes):
            x0 = -length / 2 + k * length / stripes
            colour = col if k % 2 == 0 else (235.0, 235.0, 235.0)
            b.box(
                (x0 + length / stripes / 2, 0.0, height * 0.65),
                (length / stripes, width, height * 0.3),
                colour,
            )
        for leg in (-0.4, 0.4):
            b.box((leg * length, 0.0, height * 0.25), (0.08, width * 1.6, height * 0.5), (60.0, 60.0, 60.0))
    else:
        raise ValueError(f"unknown distractor kind {kind!r}")
    return b.build()


GAIT_STEPS = 16  # gait phases per stride cycle kept in the mesh cache


def object_mesh(
    kind: str,
    seed: int,
    size: tuple[float, float, float] | None,
    phase: float,
    walking: float,
    riding: bool = False,
) -> Mesh:
    """The mesh of any class or distractor kind (cached; gait phase quantized to GAIT_STEPS).

    ``riding``: a person seated on a bicycle posed at the same place (pedalling with ``phase``).
    """
    dims = tuple(round(float(v), 3) for v in (size if size is not None else DEFAULT_SIZES[kind]))
    if kind == "person":
        moving = walking > 0 or riding
        step = round(phase / (2 * np.pi) * GAIT_STEPS) % GAIT_STEPS if moving else 0
        return _cached_mesh("rider" if riding else kind, int(seed), dims, step, round(float(walking), 2))
    return _cached_mesh(kind, int(seed), dims, 0, 0.0)


@lru_cache(maxsize=2048)
def _cached_mesh(
    kind: str, seed: int, dims: tuple[float, float, float], gait_step: int, walking: float
) -> Mesh:
    if kind == "person":
        return person_mesh(seed, dims, gait_step * 2 * np.pi / GAIT_STEPS, walking)
    if kind == "rider":
        return rider_mesh(seed, dims, gait_step * 2 * np.pi / GAIT_STEPS)
    if kind == "car":
        return car_mesh(seed, dims)
    if kind == "bicycle":
        return bicycle_mesh(seed, dims)
    if kind == "traffic_cone":
        return cone_mesh(seed, dims)
    if kind == "box":
        return box_mesh(seed, dims)
    return distractor_mesh(kind, seed, dims)

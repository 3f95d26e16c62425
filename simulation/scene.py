"""What one rendered frame shows: ground, light, objects and the rover's pose (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge_rover.simulation.classes import CLASS_IDS, DEFAULT_SIZES


@dataclass(frozen=True)
class Lighting:
    """Sun, ambient light, sky and camera response. Defaults: a clear day."""

    sun_azimuth: float = 0.8  # rad, world frame
    sun_elevation: float = 0.7  # rad above the horizon
    ambient: float = 0.55
    diffuse: float = 0.45
    gain: float = 1.0  # exposure
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # BGR white balance
    contrast: float = 1.0  # < 1: fog / low contrast
    gamma: float = 1.0
    sky_zenith: tuple[float, float, float] = (210.0, 150.0, 90.0)  # BGR
    sky_horizon: tuple[float, float, float] = (235.0, 215.0, 190.0)
    shadows: bool = True
    headlight: bool = False  # night: the rover's own lamp lights the ground ahead
    haze: float = 0.4  # 0..1 blend of far ground into the horizon colour
    name: str = "day"  # which preset made it (dataset metadata)

    @property
    def sun_direction(self) -> np.ndarray:
        """Unit vector towards the sun in the world frame."""
        ce = np.cos(self.sun_elevation)
        return np.array(
            [ce * np.cos(self.sun_azimuth), ce * np.sin(self.sun_azimuth), np.sin(self.sun_elevation)]
        )


@dataclass
class SceneObject:
    """An obstacle (one of CLASS_NAMES) or an unlabelled distractor, posed in the world frame."""

    kind: str
    x: float
    y: float
    yaw: float = 0.0
    size: tuple[float, float, float] | None = None  # length, width, height
    velocity: tuple[float, float] = (0.0, 0.0)  # world frame, m/s
    seed: int = 0
    gait_phase: float = 0.0  # rad, persons only
    walking: float = 0.0  # 0 standing .. 1 full stride
    riding: bool = False  # persons only: seated on a default-size bicycle posed at the same place
    visible: bool = True  # False: not in the world yet (e.g. hidden until triggered)

    @property
    def dims(self) -> tuple[float, float, float]:
        return tuple(self.size) if self.size is not None else DEFAULT_SIZES[self.kind]

    @property
    def labelled(self) -> bool:
        return self.kind in CLASS_IDS


@dataclass(frozen=True)
class GroundDecal:
    """A flat painted polygon on the ground (lane line, patch), world frame (N, 2)."""

    polygon: np.ndarray
    colour: tuple[float, float, float]


@dataclass
class Scene:
    ground_kind: str = "asphalt"
    ground_seed: int = 0
    lighting: Lighting = field(default_factory=Lighting)
    objects: list[SceneObject] = field(default_factory=list)
    decals: list[GroundDecal] = field(default_factory=list)
    rover_pose: tuple[float, float, float] = (0.0, 0.0, 0.0)  # world x, y, yaw of base_link
    rover_velocity: tuple[float, float] = (0.0, 0.0)  # forward speed (m/s), yaw rate (rad/s)
    noise_sigma: float = 3.0  # sensor noise, grey levels
    motion_blur_px: float = 0.0  # length of the motion-blur streak
    defocus: float = 0.0  # Gaussian blur sigma (px)
    frame_seed: int = 0  # picks the noise pattern of this frame

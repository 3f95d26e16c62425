"""Procedural, tileable ground textures (seeded) and their blur pyramid.

Textures are small (512×512) and periodic, so the renderer can sample them with
``cv2.remap(..., borderMode=cv2.BORDER_WRAP)`` at any world coordinate. Each level of the
pyramid has the same size and texel coordinates but is blurred more, so far-away ground (many
texels per pixel) can read a pre-filtered level instead of aliasing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

TEXTURE_SIZE = 512
GROUND_KINDS: tuple[str, ...] = ("asphalt", "grass", "gravel", "indoor_floor", "dirt")

# Metres of ground covered by one texture tile, per kind.
_TILE_METRES = {"asphalt": 6.0, "grass": 5.0, "gravel": 3.0, "indoor_floor": 4.0, "dirt": 5.0}


@dataclass(frozen=True)
class GroundTexture:
    kind: str
    metres_per_tile: float
    levels: tuple[np.ndarray, ...]  # HxWx3 uint8, increasingly blurred

    @property
    def texels_per_metre(self) -> float:
        return TEXTURE_SIZE / self.metres_per_tile

    @property
    def mean_bgr(self) -> np.ndarray:
        return self.levels[-1].reshape(-1, 3).mean(axis=0)


def periodic_noise(rng: np.random.Generator, size: int, scale_px: float) -> np.ndarray:
    """Tileable smooth noise in [-1, 1] with features of about ``scale_px`` texels (FFT low-pass)."""
    white = rng.standard_normal((size, size))
    freqs = np.fft.fftfreq(size)
    radius = np.sqrt(freqs[:, None] ** 2 + freqs[None, :] ** 2)
    spectrum = np.fft.fft2(white) * np.exp(-((radius * scale_px) ** 2) * 4.0)
    field = np.real(np.fft.ifft2(spectrum))
    field -= field.mean()
    return field / (np.abs(field).max() + 1e-9)


def _colour_field(base_bgr: np.ndarray, variation: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    out = base_bgr[None, None, :] + variation[..., None] * amplitude[None, None, :]
    return out


def _asphalt(rng: np.random.Generator, n: int) -> np.ndarray:
    grey = rng.uniform(55, 110)
    base = np.array([grey + rng.uniform(0, 8), grey + rng.uniform(-3, 3), grey - rng.uniform(0, 6)])
    img = _colour_field(base, periodic_noise(rng, n, 60), np.full(3, rng.uniform(6, 18)))
    img += rng.normal(0, rng.uniform(6, 14), (n, n, 1))
    img = img.clip(0, 255).astype(np.uint8)
    for _ in range(rng.integers(0, 5)):  # cracks and tar snakes
        pts = np.cumsum(rng.normal(0, 12, (int(rng.integers(4, 12)), 2)), axis=0) + rng.uniform(0, n, 2)
        cv2.polylines(img, [pts.astype(np.int32)], False, (25, 25, 25), int(rng.integers(1, 3)), cv2.LINE_AA)
    return img


def _grass(rng: np.random.Generator, n: int) -> np.ndarray:
    base = np.array([rng.uniform(20, 50), rng.uniform(90, 150), rng.uniform(50, 100)])
    img = _colour_field(base, periodic_noise(rng, n, 40), np.array([10.0, 30.0, 25.0]))
    blades = cv2.GaussianBlur(rng.normal(0, 1, (n, n)).astype(np.float32), (1, 5), 0)
    img += blades[..., None] * np.array([8.0, 35.0, 20.0])
    dry = periodic_noise(rng, n, 25) > rng.uniform(0.3, 0.7)
    img[dry] = img[dry] * 0.6 + np.array([60.0, 120.0, 140.0]) * 0.4
    return img.clip(0, 255).astype(np.uint8)


def _gravel(rng: np.random.Generator, n: int) -> np.ndarray:
    base = np.array([rng.uniform(70, 110), rng.uniform(85, 120), rng.uniform(95, 135)])
    img = np.ascontiguousarray(
        _colour_field(base, periodic_noise(rng, n, 30), np.full(3, 12.0)).clip(0, 255).astype(np.uint8)
    )
    count = int(rng.integers(1500, 2500))
    centres = rng.uniform(0, n, (count, 2))
    shades = rng.uniform(60, 200, count)
    tints = rng.uniform(-15, 15, (count, 3))
    for (x, y), shade, tint in zip(centres, shades, tints, strict=True):
        axes = (int(rng.integers(2, 6)), int(rng.integers(2, 5)))
        colour = tuple(float(np.clip(shade + t, 0, 255)) for t in tint)
        for dx in (0, -n):  # draw twice across the seam so the tile stays periodic
            for dy in (0, -n):
                cv2.ellipse(
                    img, (int(x) + dx, int(y) + dy), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1
                )
    return img


def _indoor_floor(rng: np.random.Generator, n: int) -> np.ndarray:
    base = rng.choice([[170, 180, 190], [120, 120, 125], [90, 120, 160], [200, 200, 200], [60, 90, 130]])
    base = np.asarray(base, dtype=np.float64) * rng.uniform(0.8, 1.1)
    img = _colour_field(base, periodic_noise(rng, n, 80), np.full(3, 8.0))
    img += rng.normal(0, 3, (n, n, 1))
    img = img.clip(0, 255).astype(np.uint8)
    tiles = int(rng.choice([4, 8, 16]))  # tiles per tile-texture; always divides 512
    step = n // tiles
    grout = tuple(float(v) for v in np.clip(base * rng.uniform(0.5, 0.8), 0, 255))
    width = max(1, step // 32)
    planks = rng.random() < 0.4
    for k in range(tiles):
        cv2.line(img, (0, k * step), (n, k * step), grout, width)
        if not planks:
            cv2.line(img, (k * step, 0), (k * step, n), grout, width)
    return img


def _dirt(rng: np.random.Generator, n: int) -> np.ndarray:
    base = np.array([rng.uniform(50, 80), rng.uniform(80, 110), rng.uniform(110, 150)])
    img = _colour_field(base, periodic_noise(rng, n, 50), np.array([15.0, 18.0, 22.0]))
    img += periodic_noise(rng, n, 6)[..., None] * 14 + rng.normal(0, 6, (n, n, 1))
    return img.clip(0, 255).astype(np.uint8)


_MAKERS = {
    "asphalt": _asphalt,
    "grass": _grass,
    "gravel": _gravel,
    "indoor_floor": _indoor_floor,
    "dirt": _dirt,
}


@lru_cache(maxsize=32)
def ground_texture(kind: str, seed: int) -> GroundTexture:
    """The texture of ``kind`` made from ``seed`` (cached: textures are reused across frames)."""
    if kind not in _MAKERS:
        raise ValueError(f"unknown ground kind {kind!r}; use one of {list(GROUND_KINDS)}")
    rng = np.random.default_rng([seed, GROUND_KINDS.index(kind)])
    img = _MAKERS[kind](rng, TEXTURE_SIZE)
    levels = [img]
    for sigma in (2.0, 5.0, 12.0):
        # Wrap padding keeps the blurred tile periodic.
        pad = int(3 * sigma) + 1
        padded = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_WRAP)
        blurred = cv2.GaussianBlur(padded, (0, 0), sigma)[pad:-pad, pad:-pad]
        levels.append(np.ascontiguousarray(blurred))
    return GroundTexture(kind, _TILE_METRES[kind], tuple(levels))

"""Procedural camera renderer: ground, sky, shadows, obstacles, lens and sensor effects.

Everything is projected through ``edge_rover.common.camera_model`` (intrinsics with distortion and
extrinsics), so the simulated camera has exactly the geometry perception assumes. Speed comes
from work done once per rig: the per-pixel rays (``CameraRig.pixel_rays_in_base`` on the pixel
grid), their ground intersections, texture pyramid levels, sky gradient and headlight pattern.
Per frame the ground is one ``cv2.remap`` of a texture atlas; obstacles are low-poly meshes
filled far → near (painter's order) into the image and into an id buffer, from which the
ground truth is measured on the visible pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from edge_rover.common.camera_model import CameraRig
from edge_rover.simulation.classes import CLASS_IDS
from edge_rover.simulation.meshes import Mesh, object_mesh
from edge_rover.simulation.scene import Lighting, Scene, SceneObject
from edge_rover.simulation.textures import TEXTURE_SIZE, ground_texture

MAX_GROUND_RANGE = 150.0  # m; beyond this the ground is sky/horizon haze
NEAR_PLANE = 0.05  # m in front of the optical centre
SUBPIXEL_BITS = 3  # fillPoly fixed-point precision
_LEVELS = 4  # texture pyramid levels in the atlas
_NOISE_BANK = 6  # noise frames precomputed per (size, sigma)


@dataclass(frozen=True)
class ObjectTruth:
    """Ground truth of one labelled object in one frame."""

    object_index: int  # index in Scene.objects
    class_id: int
    class_name: str
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 on visible pixels (x1, y1 exclusive)
    visible_pixels: int
    silhouette_pixels: int  # in-image pixels the object would cover with nothing in front
    occlusion: float  # 1 - visible / silhouette
    truncated: bool  # the object extends past the image border
    position: tuple[float, float, float]  # centre of its 3D box in base_link
    size: tuple[float, float, float]
    yaw: float  # heading in base_link
    velocity: tuple[float, float, float]  # over-ground velocity expressed in base_link axes
    relative_velocity: tuple[float, float, float]  # d/dt of position as seen from the moving rover


@dataclass
class RenderResult:
    image: np.ndarray  # HxWx3 uint8 BGR
    truth: list[ObjectTruth]
    id_buffer: np.ndarray  # HxW uint16: 0 ground/sky, k+1 = Scene.objects[k]


@dataclass(frozen=True)
class _RigMaps:
    """Per-rig work done once: ground coordinates, pyramid bands, sky, haze and headlight."""

    ground_xy: np.ndarray  # (H - ground_row0) x W x 2 float32, base_link metres (0 where no ground)
    ground_row0: int  # first row that shows any ground
    sky_row1: int  # one past the last row that shows any sky
    sky_mask: np.ndarray  # HxW bool
    sky_weight: np.ndarray  # HxW float32 0 (horizon) .. 1 (zenith)
    level_bands: tuple[tuple[int, int, int], ...]  # (row0, row1, pyramid level) covering the ground rows
    haze_rows: tuple[int, int]  # rows containing hazy far ground
    haze_weight: np.ndarray  # (rows, W, 3) float32 weight of the haze colour in those rows
    headlight: np.ndarray  # HxWx3 float32 gain of the rover's lamp on the ground
    guard: tuple[float, float]  # |x/z|, |y/z| limits beyond which polygons are clipped


def _rig_key(rig: CameraRig) -> tuple:
    intr, ext = rig.intrinsics, rig.extrinsics
    return (
        intr.width,
        intr.height,
        intr.distortion_model,
        tuple(np.round(intr.camera_matrix.ravel(), 9)),
        tuple(np.round(intr.distortion, 12)),
        ext.translation,
        ext.rotation_rpy,
    )


_MAPS_CACHE: dict[tuple, _RigMaps] = {}


def rig_maps(rig: CameraRig) -> _RigMaps:
    """The per-rig maps (cached by calibration values; the first call costs ~0.1-0.2 s at 640×480)."""
    key = _rig_key(rig)
    maps = _MAPS_CACHE.get(key)
    if maps is None:
        if len(_MAPS_CACHE) >= 32:
            _MAPS_CACHE.pop(next(iter(_MAPS_CACHE)))
        maps = _compute_rig_maps(rig)
        _MAPS_CACHE[key] = maps
    return maps


def _level_bands(level: np.ndarray, ground: np.ndarray, row0: int) -> tuple[tuple[int, int, int], ...]:
    """Split the ground rows into bands that each read one pyramid level (the row's median)."""
    h = level.shape[0]
    per_row = []
    for r in range(row0, h):
        values = level[r][ground[r]]
        per_row.append(int(np.median(values)) if len(values) else _LEVELS - 1)
    bands: list[list[int]] = []
    for offset, lvl in enumerate(per_row):
        r = row0 + offset
        if bands and bands[-1][2] == lvl:
            bands[-1][1] = r + 1
        else:
            bands.append([r, r + 1, lvl])
    return tuple((a, b, c) for a, b, c in bands)


def _compute_rig_maps(rig: CameraRig) -> _RigMaps:
    w, h = rig.intrinsics.width, rig.intrinsics.height
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    pixels = np.column_stack([u.ravel(), v.ravel()])
    rays = rig.pixel_rays_in_base(pixels)
    points, valid = rig.pixels_to_ground(pixels, max_range=MAX_GROUND_RANGE)
    points = np.where(valid[:, None], points, 0.0)
    ground = valid.reshape(h, w)
    ground_rows = np.nonzero(ground.any(axis=1))[0]
    row0 = int(ground_rows.min()) if len(ground_rows) else h
    sky_mask = ~ground
    sky_rows = np.nonzero(sky_mask.any(axis=1))[0]
    sky_row1 = int(sky_rows.max()) + 1 if len(sky_rows) else 0
    ground_xy = points[:, :2].reshape(h, w, 2)[row0:].astype(np.float32)
    origin = rig.extrinsics.origin
    distance = np.where(valid, np.linalg.norm(points[:, :2] - origin[:2], axis=1), MAX_GROUND_RANGE)
    # Texel footprint of a pixel: range / focal, stretched by the grazing angle.
    grazing = np.maximum(np.abs(rays[:, 2]), 1e-3)
    footprint_m = distance / rig.intrinsics.fx / np.sqrt(grazing)
    texels_per_metre = TEXTURE_SIZE / 5.0
    level = np.clip(np.floor(np.log2(np.maximum(footprint_m * texels_per_metre, 1e-6)) + 0.5), 0, _LEVELS - 1)
    bands = _level_bands(level.reshape(h, w), ground, row0)
    sky_weight = (np.clip(rays[:, 2], 0.0, 1.0).reshape(h, w) ** 0.6).astype(np.float32)
    haze = np.clip((distance - 25.0) / 100.0, 0.0, 1.0).reshape(h, w) * ground
    rows = np.nonzero(haze.max(axis=1) > 0.0)[0]
    haze_rows = (int(rows.min()), int(rows.max()) + 1) if len(rows) else (0, 0)
    haze_weight = np.repeat(haze[haze_rows[0] : haze_rows[1], :, None], 3, axis=2).astype(np.float32)
    # Headlight: a cone ahead of the rover, fading with distance (night scenes).
    lateral = np.abs(np.arctan2(points[:, 1] - origin[1], np.maximum(points[:, 0] - origin[0], 1e-3)))
    lamp = np.exp(-((distance / 14.0) ** 2)) * np.exp(-((lateral / 0.5) ** 2)) * valid
    headlight = np.repeat((0.12 + 1.6 * lamp).reshape(h, w, 1), 3, axis=2).astype(np.float32)
    # Guard frustum for clipping: a margin around what the image sees in normalized coordinates.
    border = np.array(
        [
            [0, 0],
            [w - 1, 0],
            [0, h - 1],
            [w - 1, h - 1],
            [w / 2, 0],
            [w / 2, h - 1],
            [0, h / 2],
            [w - 1, h / 2],
        ]
    )
    normalized = np.abs(rig.intrinsics.undistort_pixels(border))
    guard = (float(normalized[:, 0].max() * 1.25 + 0.05), float(normalized[:, 1].max() * 1.25 + 0.05))
    return _RigMaps(
        ground_xy, row0, sky_row1, sky_mask, sky_weight, bands, haze_rows, haze_weight, headlight, guard
    )


@lru_cache(maxsize=16)
def _texture(kind: str, seed: int) -> tuple[tuple[np.ndarray, ...], float, tuple[float, float, float]]:
    tex = ground_texture(kind, seed)
    return tex.levels, tex.texels_per_metre, tuple(float(v) for v in tex.mean_bgr)


@lru_cache(maxsize=8)
def _noise_bank(height: int, width: int, sigma_q: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Signed Gaussian noise split into positive/negative uint8 parts (saturating add/subtract)."""
    rng = np.random.default_rng(sigma_q)
    bank = []
    for _ in range(_NOISE_BANK):
        noise = rng.normal(0.0, sigma_q, (height, width, 3)).astype(np.float32)
        noise += rng.normal(0.0, sigma_q * 0.5, (height, width, 1)).astype(np.float32)  # luma noise
        pos = np.clip(noise, 0, 255).astype(np.uint8)
        neg = np.clip(-noise, 0, 255).astype(np.uint8)
        bank.append((pos, neg))
    return tuple(bank)


def _clip_polygon(poly: np.ndarray, planes: np.ndarray) -> np.ndarray:
    """Sutherland–Hodgman clipping of a 3D polygon (optical frame) to ``n·p + d >= 0`` planes."""
    out = poly
    for plane in planes:
        if len(out) == 0:
            break
        dist = out @ plane[:3] + plane[3]
        if np.all(dist >= 0):
            continue
        kept = []
        n = len(out)
        for i in range(n):
            a, b = out[i], out[(i + 1) % n]
            da, db = dist[i], dist[(i + 1) % n]
            if da >= 0:
                kept.append(a)
            if (da >= 0) != (db >= 0):
                kept.append(a + (b - a) * (da / (da - db)))
        out = np.asarray(kept) if kept else np.zeros((0, 3))
    return out


class Renderer:
    """Renders :class:`Scene` objects for one camera rig. Deterministic: same scene, same pixels."""

    def __init__(self, rig: CameraRig) -> None:
        self.rig = rig
        self.width = rig.intrinsics.width
        self.height = rig.intrinsics.height
        self.maps = rig_maps(rig)
        self._distorted = bool(np.any(rig.intrinsics.distortion != 0.0))
        gx, gy = self.maps.guard
        self._planes = np.array(
            [
                [0.0, 0.0, 1.0, -NEAR_PLANE],
                [-1.0, 0.0, gx, 0.0],
                [1.0, 0.0, gx, 0.0],
                [0.0, -1.0, gy, 0.0],
                [0.0, 1.0, gy, 0.0],
            ]
        )
        self._camera_base = rig.extrinsics.origin
        self._r_opt_from_base = rig.extrinsics.rotation_base_from_optical.T

    # -- public ----------------------------------------------------------------------------

    def render(self, scene: Scene, with_truth: bool = True, with_image: bool = True) -> RenderResult:
        """Render ``scene``. ``with_image=False`` draws only the id buffer (ground truth, fast)."""
        if not with_image:
            return self._render_ids(scene, with_truth)
        image = self._ground(scene)
        id_buffer = np.zeros((self.height, self.width), dtype=np.uint16)
        lighting = scene.lighting
        if scene.decals:
            self._draw_decals(image, scene)
        posed = self._pose_objects(scene)
        if lighting.shadows:
            for _obj, mesh, rot, trans in posed:
                self._draw_shadow(image, mesh, rot, trans, lighting, scene)
        projected = []
        for obj_index, mesh, rot, trans in posed:  # far → near: nearer objects paint over
            polys, colours = self._object_polygons(mesh, rot, trans, scene)
            projected.append((obj_index, polys, colours))
            self._fill(image, id_buffer, polys, colours, obj_index + 1)
        truth = self._truth(scene, projected, id_buffer) if with_truth else []
        image = self._post(image, scene)
        return RenderResult(image, truth, id_buffer)

    def _render_ids(self, scene: Scene, with_truth: bool) -> RenderResult:
        id_buffer = np.zeros((self.height, self.width), dtype=np.uint16)
        projected = []
        for obj_index, mesh, rot, trans in self._pose_objects(scene):
            polys, colours = self._object_polygons(mesh, rot, trans, scene)
            projected.append((obj_index, polys, colours))
            for poly in polys:
                cv2.fillPoly(id_buffer, [poly], obj_index + 1, cv2.LINE_8, SUBPIXEL_BITS)
        truth = self._truth(scene, projected, id_buffer) if with_truth else []
        return RenderResult(np.zeros((0, 0, 3), dtype=np.uint8), truth, id_buffer)

    # -- ground and sky -------------------------------------------------------------------

    def _ground(self, scene: Scene) -> np.ndarray:
        maps = self.maps
        levels, texels_per_metre, mean_bgr = _texture(scene.ground_kind, scene.ground_seed)
        lighting = scene.lighting
        image = np.empty((self.height, self.width, 3), dtype=np.uint8)
        row0 = maps.ground_row0
        if row0 < self.height:
            # base_link ground points → world → texels, in one affine pass; the tile wraps.
            px, py, yaw = scene.rover_pose
            c, s = np.cos(yaw) * texels_per_metre, np.sin(yaw) * texels_per_metre
            ox = np.mod(px * texels_per_metre, TEXTURE_SIZE)
            oy = np.mod(py * texels_per_metre, TEXTURE_SIZE)
            affine = np.array([[c, -s, ox], [s, c, oy]], dtype=np.float32)
            texel_map = cv2.transform(maps.ground_xy, affine)
            for r0, r1, level in maps.level_bands:
                image[r0:r1] = cv2.remap(
                    levels[level], texel_map[r0 - row0 : r1 - row0], None, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_WRAP,
                )  # fmt: skip
            h0, h1 = maps.haze_rows
            if h1 > h0 and lighting.haze > 0:
                haze_colour = (
                    np.asarray(lighting.sky_horizon, dtype=np.float32) * 0.85 + np.float32(mean_bgr) * 0.15
                )
                weight = maps.haze_weight * np.float32(lighting.haze)
                band = image[h0:h1].astype(np.float32)
                band += (haze_colour - band) * weight
                image[h0:h1] = band.astype(np.uint8)
            if lighting.headlight:
                image[row0:] = cv2.multiply(image[row0:], maps.headlight[row0:], dtype=cv2.CV_8U)
        sky = self._sky(lighting)
        r1 = maps.sky_row1
        if r1 > 0:
            full_rows = min(row0, r1)
            image[:full_rows] = sky[:full_rows]
            if r1 > full_rows:
                np.copyto(image[full_rows:r1], sky[full_rows:r1], where=maps.sky_mask[full_rows:r1, :, None])
        return image

    def _sky(self, lighting: Lighting) -> np.ndarray:
        return _sky_image(_rig_key(self.rig), self.maps.sky_weight, lighting.sky_zenith, lighting.sky_horizon)

    # -- objects ---------------------------------------------------------------------------

    def _pose_objects(self, scene: Scene) -> list[tuple[int, Mesh, np.ndarray, np.ndarray]]:
        """Meshes in base_link (rotation, translation), sorted far → near from the camera."""
        px, py, pyaw = scene.rover_pose
        c, s = np.cos(-pyaw), np.sin(-pyaw)
        posed = []
        for index, obj in enumerate(scene.objects):
            if not obj.visible:
                continue
            dx, dy = obj.x - px, obj.y - py
            bx, by = c * dx - s * dy, s * dx + c * dy
            dist = np.hypot(bx - self._camera_base[0], by - self._camera_base[1])
            if dist > MAX_GROUND_RANGE:
                continue
            yaw = obj.yaw - pyaw
            cy, sy = np.cos(yaw), np.sin(yaw)
            rot = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
            mesh = object_mesh(obj.kind, obj.seed, obj.dims, obj.gait_phase, obj.walking, obj.riding)
            # A rider shares its bicycle's place: draw it just after (on top of) the bicycle.
            order_distance = dist - (0.01 if obj.riding else 0.0)
            posed.append((order_distance, index, mesh, rot, np.array([bx, by, 0.0])))
        posed.sort(key=lambda item: -item[0])
        return [(index, mesh, rot, trans) for _, index, mesh, rot, trans in posed]

    def _object_polygons(
        self, mesh: Mesh, rot: np.ndarray, trans: np.ndarray, scene: Scene
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Visible faces of one mesh as fixed-point pixel polygons (far → near) and their colours."""
        if len(mesh.vertices) == 0:
            return [], np.zeros((0, 3))
        verts = mesh.vertices @ rot.T + trans  # (F, K, 3) base_link
        normals = mesh.normals @ rot.T
        centroids = verts.mean(axis=1)
        to_face = centroids - self._camera_base
        facing = np.einsum("fk,fk->f", normals, to_face) < 0
        keep = facing | mesh.two_sided
        if not np.any(keep):
            return [], np.zeros((0, 3))
        verts, normals, to_face = verts[keep], normals[keep], to_face[keep]
        colours = self._shade(mesh.colours[keep], normals, mesh.two_sided[keep], to_face, scene)
        order = np.argsort(-np.einsum("fk,fk->f", to_face, to_face))
        verts, colours = verts[order], colours[order]
        optical = (verts - self._camera_base) @ self._r_opt_from_base.T  # (F, K, 3)
        gx, gy = self.maps.guard
        z = optical[..., 2]
        inside = (z > NEAR_PLANE) & (np.abs(optical[..., 0]) <= gx * z) & (np.abs(optical[..., 1]) <= gy * z)
        all_inside = inside.all(axis=1)
        faces: list[np.ndarray] = []
        kept_colours = []
        for i in range(len(optical)):
            poly = optical[i] if all_inside[i] else _clip_polygon(optical[i], self._planes)
            if len(poly) < 3:
                continue
            faces.append(poly)
            kept_colours.append(colours[i])
        if not faces:
            return [], np.zeros((0, 3))
        if self._distorted:
            # Straight 3D edges bend under distortion: subdivide the faces that are large on screen.
            fx = self.rig.intrinsics.fx
            faces = [_densify(f, 4) if _screen_span(f) * fx > 24.0 else f for f in faces]
        counts = [len(f) for f in faces]
        pixels, _ = self.rig.intrinsics.project(np.concatenate(faces))
        fixed = np.round(pixels * (1 << SUBPIXEL_BITS)).astype(np.int32)
        polys = np.split(fixed, np.cumsum(counts)[:-1])
        return polys, np.asarray(kept_colours)

    def _shade(
        self,
        colours: np.ndarray,
        normals: np.ndarray,
        two_sided: np.ndarray,
        to_face: np.ndarray,
        scene: Scene,
    ) -> np.ndarray:
        lighting = scene.lighting
        pyaw = scene.rover_pose[2]
        sun_world = lighting.sun_direction
        c, s = np.cos(-pyaw), np.sin(-pyaw)
        sun = np.array(
            [c * sun_world[0] - s * sun_world[1], s * sun_world[0] + c * sun_world[1], sun_world[2]]
        )
        lambert = normals @ sun
        lambert = np.where(two_sided, np.abs(lambert), np.maximum(lambert, 0.0))
        ground_light = lighting.ambient + lighting.diffuse * max(sun[2], 0.0)
        factor = (lighting.ambient + lighting.diffuse * lambert) / max(ground_light, 1e-3)
        if lighting.headlight:
            dist = np.linalg.norm(to_face[:, :2], axis=1)
            lateral = np.abs(np.arctan2(to_face[:, 1], np.maximum(to_face[:, 0], 1e-3)))
            lamp = np.exp(-((dist / 14.0) ** 2)) * np.exp(-((lateral / 0.5) ** 2))
            facing_lamp = np.clip(
                -(normals[:, :2] * to_face[:, :2]).sum(axis=1) / np.maximum(dist, 1e-3), 0.2, 1
            )
            factor = factor * (0.12 + 1.6 * lamp * facing_lamp)
        return np.clip(colours * factor[:, None], 0, 255)

    def _fill(
        self,
        image: np.ndarray,
        id_buffer: np.ndarray,
        polys: list[np.ndarray],
        colours: np.ndarray,
        object_id: int,
    ) -> None:
        for poly, colour in zip(polys, colours, strict=True):
            cv2.fillPoly(image, [poly], colour.tolist(), cv2.LINE_8, SUBPIXEL_BITS)
            cv2.fillPoly(id_buffer, [poly], object_id, cv2.LINE_8, SUBPIXEL_BITS)

    def _draw_decals(self, image: np.ndarray, scene: Scene) -> None:
        px, py, pyaw = scene.rover_pose
        c, s = np.cos(-pyaw), np.sin(-pyaw)
        bases = []
        for decal in scene.decals:
            d = np.asarray(decal.polygon, dtype=np.float64) - (px, py)
            x, y = c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]
            bases.append(np.column_stack([x, y, np.zeros(len(d))]))
        dim = 0.35 if scene.lighting.headlight else 1.0
        for decal, poly in zip(scene.decals, self._project_ground_polygons(bases), strict=True):
            if poly is not None:
                colour = np.asarray(decal.colour, dtype=np.float64)
                if dim != 1.0:
                    colour = colour * dim
                cv2.fillPoly(image, [poly], colour.tolist(), cv2.LINE_8, SUBPIXEL_BITS)

    def _project_ground_polygon(self, base: np.ndarray) -> np.ndarray | None:
        return self._project_ground_polygons([base])[0]

    def _project_ground_polygons(self, bases: list[np.ndarray]) -> list[np.ndarray | None]:
        """Ground polygons (base_link) → fixed-point pixel polygons, None where nothing is in view.

        One transform and one projection for all of them (a road has ~50 lane dashes a frame); a
        polygon wholly outside one frustum plane is dropped before clipping (Sutherland–Hodgman
        would return nothing), one wholly inside skips it (it would return the polygon)."""
        if not bases:
            return []
        optical = (np.concatenate(bases) - self._camera_base) @ self._r_opt_from_base.T
        dist = optical @ self._planes[:, :3].T + self._planes[:, 3]  # (N, planes)
        clipped: list[np.ndarray | None] = []
        start = 0
        for base in bases:
            stop = start + len(base)
            inside = dist[start:stop] >= 0
            if not inside.any(axis=0).all():
                clipped.append(None)
            else:
                poly = optical[start:stop]
                if not inside.all():
                    poly = _clip_polygon(poly, self._planes)
                if len(poly) < 3:
                    clipped.append(None)
                else:
                    clipped.append(_densify(poly, 6) if self._distorted else poly)
            start = stop
        kept = [poly for poly in clipped if poly is not None]
        if not kept:
            return clipped
        pixels, _ = self.rig.intrinsics.project(np.concatenate(kept))
        fixed = np.round(pixels * (1 << SUBPIXEL_BITS)).astype(np.int32)
        out: list[np.ndarray | None] = []
        start = 0
        for poly in clipped:
            if poly is None:
                out.append(None)
            else:
                out.append(fixed[start : start + len(poly)])
                start += len(poly)
        return out

    def _draw_shadow(
        self,
        image: np.ndarray,
        mesh: Mesh,
        rot: np.ndarray,
        trans: np.ndarray,
        lighting: Lighting,
        scene: Scene,
    ) -> None:
        """Cast the mesh along the sun onto the ground and darken that polygon."""
        if len(mesh.vertices) == 0 or lighting.sun_elevation <= 0.05:
            return
        pyaw = scene.rover_pose[2]
        sun_world = lighting.sun_direction
        c, s = np.cos(-pyaw), np.sin(-pyaw)
        sun = np.array(
            [c * sun_world[0] - s * sun_world[1], s * sun_world[0] + c * sun_world[1], sun_world[2]]
        )
        pts = mesh.vertices.reshape(-1, 3)[:: max(1, len(mesh.vertices) // 24)] @ rot.T + trans
        pts = np.concatenate([pts, mesh.vertices.reshape(-1, 3) @ rot.T + trans])
        cast = pts[:, :2] - pts[:, 2:3] * (sun[:2] / sun[2])
        hull = cv2.convexHull(cast.astype(np.float32)).reshape(-1, 2).astype(np.float64)
        poly = self._project_ground_polygon(np.column_stack([hull, np.zeros(len(hull))]))
        if poly is None:
            return
        x, y, w, h = cv2.boundingRect(poly >> SUBPIXEL_BITS)
        x0, y0 = max(x - 1, 0), max(y - 1, 0)
        x1, y1 = min(x + w + 2, self.width), min(y + h + 2, self.height)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        offset = np.array([x0, y0], dtype=np.int32) << SUBPIXEL_BITS
        cv2.fillPoly(mask, [poly - offset], 1, cv2.LINE_8, SUBPIXEL_BITS)
        roi = image[y0:y1, x0:x1]
        darkness = lighting.ambient / (lighting.ambient + lighting.diffuse * max(sun[2], 0.0))
        shaded = (roi.astype(np.float32) * darkness).astype(np.uint8)
        np.copyto(roi, shaded, where=mask[..., None].astype(bool))

    # -- ground truth ----------------------------------------------------------------------

    def _truth(
        self, scene: Scene, projected: list[tuple[int, list[np.ndarray], np.ndarray]], id_buffer: np.ndarray
    ) -> list[ObjectTruth]:
        truths = []
        for obj_index, polys, _ in projected:
            obj = scene.objects[obj_index]
            if not obj.labelled or not polys:
                continue
            allpix = np.concatenate(polys) >> SUBPIXEL_BITS
            x_min, y_min = allpix.min(axis=0)
            x_max, y_max = allpix.max(axis=0)
            truncated = bool(x_min < 0 or y_min < 0 or x_max >= self.width or y_max >= self.height)
            x0, y0 = max(int(x_min) - 1, 0), max(int(y_min) - 1, 0)
            x1, y1 = min(int(x_max) + 2, self.width), min(int(y_max) + 2, self.height)
            if x1 <= x0 or y1 <= y0:
                continue
            silhouette = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
            offset = np.array([x0, y0], dtype=np.int32) << SUBPIXEL_BITS
            cv2.fillPoly(silhouette, [p - offset for p in polys], 1, cv2.LINE_8, SUBPIXEL_BITS)
            full = int(np.count_nonzero(silhouette))
            visible_mask = id_buffer[y0:y1, x0:x1] == obj_index + 1
            visible = int(np.count_nonzero(visible_mask))
            if full == 0 or visible == 0:
                continue
            rows = np.nonzero(visible_mask.any(axis=1))[0]
            cols = np.nonzero(visible_mask.any(axis=0))[0]
            bbox = (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)
            truths.append(
                object_state_truth(
                    scene, obj_index, bbox, visible, full, float(max(0.0, 1.0 - visible / full)), truncated
                )
            )
        return truths

    # -- camera response -------------------------------------------------------------------

    def _post(self, image: np.ndarray, scene: Scene) -> np.ndarray:
        lighting = scene.lighting
        image = cv2.LUT(image, _response_lut(lighting.gain, lighting.tint, lighting.contrast, lighting.gamma))
        if scene.motion_blur_px >= 1.5:
            k = round(scene.motion_blur_px)
            kernel = np.zeros((k, k), dtype=np.float32)
            kernel[:, k // 2] = 1.0 / k  # forward motion: mostly vertical streaks in the lower image
            image = cv2.filter2D(image, -1, kernel)
        if scene.defocus > 0.3:
            image = cv2.GaussianBlur(image, (0, 0), scene.defocus)
        sigma_q = round(scene.noise_sigma)
        if sigma_q > 0:
            bank = _noise_bank(self.height, self.width, sigma_q)
            pos, neg = bank[scene.frame_seed % len(bank)]
            image = cv2.subtract(cv2.add(image, pos), neg)
        return image


def object_state_truth(
    scene: Scene,
    obj_index: int,
    bbox: tuple[int, int, int, int] = (0, 0, 0, 0),
    visible: int = 0,
    silhouette: int = 0,
    occlusion: float = 1.0,
    truncated: bool = False,
) -> ObjectTruth:
    """The 3D truth of ``scene.objects[obj_index]`` in base_link (+ the given image measurements).

    With the defaults it describes an object the camera does not see (no pixels, occlusion 1).
    """
    obj = scene.objects[obj_index]
    px, py, pyaw = scene.rover_pose
    c, s = np.cos(-pyaw), np.sin(-pyaw)
    speed, yaw_rate = scene.rover_velocity
    dx, dy = obj.x - px, obj.y - py
    bx, by = c * dx - s * dy, s * dx + c * dy
    vx, vy = obj.velocity
    vbx, vby = c * vx - s * vy, s * vx + c * vy
    # Seen from the rover: subtract its own motion (v along x, rotation about z).
    rel = (vbx - speed + yaw_rate * by, vby - yaw_rate * bx, 0.0)
    size = obj.dims
    return ObjectTruth(
        object_index=obj_index,
        class_id=CLASS_IDS[obj.kind],
        class_name=obj.kind,
        bbox=bbox,
        visible_pixels=visible,
        silhouette_pixels=silhouette,
        occlusion=occlusion,
        truncated=truncated,
        position=(float(bx), float(by), size[2] / 2.0),
        size=size,
        yaw=float(np.arctan2(np.sin(obj.yaw - pyaw), np.cos(obj.yaw - pyaw))),
        velocity=(float(vbx), float(vby), 0.0),
        relative_velocity=tuple(float(v) for v in rel),
    )


def world_truth(scene: Scene, seen: list[ObjectTruth]) -> list[ObjectTruth]:
    """Every labelled object in the world: the camera's measurements where it sees it, else none."""
    by_index = {t.object_index: t for t in seen}
    return [
        by_index.get(index) or object_state_truth(scene, index)
        for index, obj in enumerate(scene.objects)
        if obj.labelled and obj.visible
    ]


def _screen_span(poly: np.ndarray) -> float:
    """Extent of an optical-frame polygon in normalized image coordinates (×fx = pixels)."""
    normalized = poly[:, :2] / poly[:, 2:3]
    return float(np.ptp(normalized, axis=0).max())


def _densify(poly: np.ndarray, pieces: int) -> np.ndarray:
    """Split every edge into ``pieces`` so straight 3D edges bend with the lens distortion."""
    nxt = np.roll(poly, -1, axis=0)
    t = (np.arange(pieces) / pieces)[None, :, None]
    return (poly[:, None, :] + (nxt - poly)[:, None, :] * t).reshape(-1, 3)


@lru_cache(maxsize=64)
def _response_lut(gain: float, tint: tuple[float, float, float], contrast: float, gamma: float) -> np.ndarray:
    x = np.arange(256, dtype=np.float64) / 255.0
    channels = []
    for t in tint:
        y = np.clip(x * gain * t, 0, 1) ** (1.0 / max(gamma, 1e-3))
        y = 0.5 + (y - 0.5) * contrast
        channels.append(np.clip(y * 255.0 + 0.5, 0, 255))
    return np.stack(channels, axis=1).astype(np.uint8).reshape(256, 1, 3)


_SKY_CACHE: dict[tuple, np.ndarray] = {}


def _sky_image(rig_key: tuple, weight: np.ndarray, zenith: tuple, horizon: tuple) -> np.ndarray:
    key = (rig_key, tuple(np.round(zenith, 1)), tuple(np.round(horizon, 1)))
    sky = _SKY_CACHE.get(key)
    if sky is None:
        if len(_SKY_CACHE) >= 64:
            _SKY_CACHE.pop(next(iter(_SKY_CACHE)))
        z = np.asarray(zenith, dtype=np.float32)
        h = np.asarray(horizon, dtype=np.float32)
        sky = (h + (z - h) * weight[..., None]).astype(np.uint8)
        _SKY_CACHE[key] = sky
    return sky


def object_is_labelled(obj: SceneObject) -> bool:
    return obj.labelled

"""Export a labelled detector dataset in the YOLO format, with a contact sheet to check it by eye.

Layout under ``--out``::

    images/{train,val}/000000.jpg   labels/{train,val}/000000.txt   data.yaml
    contact_sheet.png   stats.json   meta_{train,val}.jsonl (conditions + every object's truth)

Label lines are ``class cx cy w h`` (normalized), boxes tight on the visible pixels. Every image
is a function of (seed, split, index) only, so any single frame can be regenerated.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from edge_rover.calibration.calibration_io import load_camera_info, load_extrinsics
from edge_rover.common.camera_model import CameraRig
from edge_rover.simulation.classes import CLASS_NAMES
from edge_rover.simulation.randomize import jittered_rig, random_scene
from edge_rover.simulation.renderer import ObjectTruth, Renderer, RenderResult
from edge_rover.simulation.scene import Scene

SPLITS = {"train": 0, "val": 1}
RIG_POOL = 16  # jittered camera mounts per export (their ray maps are computed once each)
SHEET_COLOURS = [(0, 255, 0), (255, 160, 0), (0, 0, 255), (0, 200, 255), (255, 0, 255)]


@dataclass(frozen=True)
class LabelFilter:
    """Which ground-truth objects become labels: enough of it visible to be detectable."""

    min_visible_pixels: int = 24
    min_side_px: int = 3
    max_occlusion: float = 0.85

    def keep(self, truth: ObjectTruth) -> bool:
        x0, y0, x1, y1 = truth.bbox
        return (
            truth.visible_pixels >= self.min_visible_pixels
            and min(x1 - x0, y1 - y0) >= self.min_side_px
            and truth.occlusion <= self.max_occlusion
        )


def yolo_lines(truths: list[ObjectTruth], width: int, height: int, label_filter: LabelFilter) -> list[str]:
    lines = []
    for truth in truths:
        if not label_filter.keep(truth):
            continue
        x0, y0, x1, y1 = truth.bbox
        cx, cy = (x0 + x1) / 2.0 / width, (y0 + y1) / 2.0 / height
        w, h = (x1 - x0) / width, (y1 - y0) / height
        lines.append(f"{truth.class_id} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def parse_imgsz(text: str) -> tuple[int, int]:
    """'640x480' → (640, 480); '640' → (640, 640)."""
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError as exc:
        raise ValueError(f"--imgsz must look like 640x480, got {text!r}") from exc
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 32 or max(values) > 4096:
        raise ValueError(f"--imgsz must be WIDTHxHEIGHT within 32..4096, got {text!r}")
    return values[0], values[1]


def rig_pool(base: CameraRig, seed: int, size: int = RIG_POOL) -> list[CameraRig]:
    rng = np.random.default_rng([seed, 99])
    return [base, *(jittered_rig(base, rng) for _ in range(size - 1))]


def render_sample(renderers: list[Renderer], seed: int, split: str, index: int) -> tuple[RenderResult, dict]:
    """One rendered sample and its metadata; a pure function of (seed, split, index) and the rig pool."""
    rng = np.random.default_rng([seed, SPLITS[split], index])
    renderer = renderers[int(rng.integers(len(renderers)))]
    scene = random_scene(rng, renderer.rig)
    result = renderer.render(scene)
    return result, sample_metadata(scene, renderer, result)


def sample_metadata(scene: Scene, renderer: Renderer, result: RenderResult) -> dict:
    """Conditions of one image (for per-condition evaluation: night, fog, distance, occlusion…)."""
    ext = renderer.rig.extrinsics
    return {
        "ground": scene.ground_kind,
        "lighting": scene.lighting.name,
        "camera_height_m": round(ext.translation[2], 3),
        "camera_pitch_rad": round(ext.rotation_rpy[1], 4),
        "noise_sigma": round(scene.noise_sigma, 2),
        "motion_blur_px": round(scene.motion_blur_px, 2),
        "objects": [
            {
                "class": t.class_name,
                "bbox": list(t.bbox),
                "distance_m": round(float(np.hypot(*t.position[:2])), 2),
                "occlusion": round(t.occlusion, 3),
                "truncated": t.truncated,
                "visible_pixels": t.visible_pixels,
            }
            for t in result.truth
        ],
    }


def export(
    out: Path,
    train: int,
    val: int,
    imgsz: tuple[int, int],
    seed: int,
    camera_info: str = "config/camera_info.yaml",
    extrinsics: str = "config/extrinsics.yaml",
    sheet_count: int = 24,
    label_filter: LabelFilter | None = None,
) -> dict:
    label_filter = label_filter or LabelFilter()
    width, height = imgsz
    intrinsics = load_camera_info(camera_info).scaled(width, height)
    base = CameraRig(intrinsics, load_extrinsics(extrinsics))
    renderers = [Renderer(rig) for rig in rig_pool(base, seed)]
    out = Path(out)
    stats: dict = {"seed": seed, "imgsz": [width, height], "splits": {}}
    sheet: list[np.ndarray] = []
    started = time.perf_counter()
    for split, count in (("train", train), ("val", val)):
        image_dir, label_dir = out / "images" / split, out / "labels" / split
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        per_class = np.zeros(len(CLASS_NAMES), dtype=int)
        empty = 0
        meta_file = (out / f"meta_{split}.jsonl").open("w")
        for index in tqdm(range(count), desc=f"render {split}", unit="img"):
            result, meta = render_sample(renderers, seed, split, index)
            lines = yolo_lines(result.truth, width, height, label_filter)
            name = f"{index:06d}"
            meta_file.write(json.dumps({"image": f"images/{split}/{name}.jpg", **meta}) + "\n")
            cv2.imwrite(str(image_dir / f"{name}.jpg"), result.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
            (label_dir / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
            for line in lines:
                per_class[int(line.split()[0])] += 1
            empty += not lines
            if split == "train" and len(sheet) < sheet_count:
                sheet.append(draw_labels(result.image, lines))
        meta_file.close()
        stats["splits"][split] = {
            "images": count,
            "images_without_labels": empty,
            "boxes_per_class": dict(zip(CLASS_NAMES, per_class.tolist(), strict=True)),
        }
    stats["seconds"] = round(time.perf_counter() - started, 2)
    (out / "data.yaml").write_text(
        yaml.safe_dump(
            {
                "path": str(out.resolve()),
                "train": "images/train",
                "val": "images/val",
                "nc": len(CLASS_NAMES),
                "names": dict(enumerate(CLASS_NAMES)),
            },
            sort_keys=False,
        )
    )
    if sheet:
        cv2.imwrite(str(out / "contact_sheet.png"), contact_sheet(sheet))
    (out / "stats.json").write_text(json.dumps(stats, indent=2))
    return stats


def draw_labels(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """The image with its YOLO label boxes and class names drawn (reads the label text back)."""
    canvas = image.copy()
    h, w = canvas.shape[:2]
    for line in lines:
        cls, cx, cy, bw, bh = line.split()
        k = int(cls)
        cx, cy, bw, bh = float(cx) * w, float(cy) * h, float(bw) * w, float(bh) * h
        p0 = (round(cx - bw / 2), round(cy - bh / 2))
        p1 = (round(cx + bw / 2) - 1, round(cy + bh / 2) - 1)
        colour = SHEET_COLOURS[k % len(SHEET_COLOURS)]
        cv2.rectangle(canvas, p0, p1, colour, 1)
        cv2.putText(
            canvas, CLASS_NAMES[k], (p0[0], max(p0[1] - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1
        )
    return canvas


def contact_sheet(images: list[np.ndarray], columns: int = 4, tile_width: int = 480) -> np.ndarray:
    h, w = images[0].shape[:2]
    tile_height = round(h * tile_width / w)
    tiles = [cv2.resize(img, (tile_width, tile_height), interpolation=cv2.INTER_AREA) for img in images]
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)

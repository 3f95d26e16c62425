"""Renderer speed: frames/s at 640×480 on one core for typical scenes and variants.

Writes benchmarks/results/sim_render.json (machine, versions, parameters, figures) and prints a
Markdown table. ``cv2.setNumThreads(1)`` keeps OpenCV on one core, as the budget states.

    python benchmarks/sim_render.py [--frames 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_rover.calibration.calibration_io import load_camera_info, load_extrinsics
from edge_rover.common.camera_model import CameraIntrinsics, CameraRig
from edge_rover.simulation.renderer import Renderer
from edge_rover.simulation.scene import Lighting, Scene, SceneObject

RESULTS = Path(__file__).resolve().parent / "results" / "sim_render.json"


def typical_objects() -> list[SceneObject]:
    """A street scene: two walking people, a car, a bicycle, two cones, a box, three distractors."""
    return [
        SceneObject("person", 8.0, 1.0, yaw=1.6, seed=1, walking=1.0, velocity=(0.0, 1.2)),
        SceneObject("person", 14.0, -2.0, yaw=3.0, seed=2, walking=0.8),
        SceneObject("car", 20.0, 3.5, yaw=0.1, seed=3),
        SceneObject("bicycle", 11.0, -3.5, yaw=1.2, seed=4),
        SceneObject("traffic_cone", 5.0, -0.8, seed=5),
        SceneObject("traffic_cone", 6.5, 0.9, seed=6),
        SceneObject("box", 9.0, 0.2, yaw=0.4, seed=7),
        SceneObject("pole", 12.0, 4.0, seed=8),
        SceneObject("tree", 30.0, -8.0, seed=9),
        SceneObject("building", 60.0, 15.0, seed=10),
    ]


def time_frames(renderer: Renderer, scene: Scene, frames: int, with_truth: bool = True) -> dict:
    renderer.render(scene)  # warm caches (meshes, textures, noise bank)
    times = []
    for k in range(frames):
        scene.rover_pose = (k * 0.1, 0.0, 0.0)
        scene.frame_seed = k
        for obj in scene.objects:
            obj.gait_phase = k * 0.3
        start = time.perf_counter()
        renderer.render(scene, with_truth=with_truth)
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1e3
    return {
        "fps": round(1000.0 / float(ms.mean()), 1),
        "fps_at_p50": round(1000.0 / float(np.percentile(ms, 50)), 1),
        "mean_ms": round(float(ms.mean()), 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


def closed_loop_rows(rig: CameraRig) -> list[dict]:
    """Headless closed loop (pedestrian_crossing, oracle): steps/s with id-buffer-only vs full frames."""
    from edge_rover.simulation.closed_loop import run_scenario
    from edge_rover.simulation.reference_controllers import OracleController
    from edge_rover.simulation.scenarios import find_scenario

    scenario = find_scenario("pedestrian_crossing")
    rows = []
    for label, images in (
        ("closed loop step, truth only (id buffer)", False),
        ("closed loop step, full frame", True),
    ):
        run_scenario(
            scenario, OracleController(scenario.limits), duration_s=0.5, rig=rig, render_images=images
        )
        start = time.perf_counter()
        result = run_scenario(scenario, OracleController(scenario.limits), rig=rig, render_images=images)
        steps = len(result.log["t"])
        ms = (time.perf_counter() - start) * 1e3 / steps
        rows.append(
            {"case": f"{label}: pedestrian_crossing, oracle, {steps} steps", "resolution": "640x480",
             "fps": round(1000.0 / ms, 1), "fps_at_p50": None, "mean_ms": round(ms, 2), "p50_ms": None,
             "p95_ms": None}
        )  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    intr = load_camera_info("config/camera_info.yaml")
    ext = load_extrinsics("config/extrinsics.yaml")
    rig = CameraRig(intr, ext)
    lens = CameraIntrinsics(640, 480, intr.camera_matrix, np.array([-0.28, 0.08, 0.0005, -0.0005, 0.0]))
    renderer = Renderer(rig)
    start = time.perf_counter()
    distorted = Renderer(CameraRig(lens, ext))
    rig_setup_s = time.perf_counter() - start
    small = Renderer(CameraRig(intr.scaled(320, 240), ext))
    night = Lighting(
        shadows=False, headlight=True, gain=0.5, ambient=0.6, diffuse=0.1, sky_zenith=(25, 15, 10)
    )
    typical = typical_objects
    cases = [
        ("typical street, day (10 objects, shadows, noise, truth)", renderer, Scene(objects=typical()), True),
        ("same, no ground truth", renderer, Scene(objects=typical()), False),
        ("ground + sky only", renderer, Scene(), True),
        (
            "typical, night (headlight)",
            renderer,
            Scene(objects=typical(), lighting=night, noise_sigma=8),
            True,
        ),
        (
            "typical, motion blur + defocus",
            renderer,
            Scene(objects=typical(), motion_blur_px=4, defocus=0.8),
            True,
        ),
        ("typical, distorted lens (plumb_bob k1=-0.28)", distorted, Scene(objects=typical()), True),
        ("typical, 320×240", small, Scene(objects=typical()), True),
    ]
    rows = []
    for name, rend, scene, truth in cases:
        figures = time_frames(rend, scene, args.frames, with_truth=truth)
        rows.append({"case": name, "resolution": f"{rend.width}x{rend.height}", **figures})
    rows.extend(closed_loop_rows(rig))
    report = {
        "benchmark": "sim_render",
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores_visible": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "opencv_threads": cv2.getNumThreads(),
        },
        "parameters": {"frames": args.frames, "rig_setup_s_distorted_640x480": round(rig_setup_s, 3)},
        "results": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print("| case | resolution | frames/s (mean) | frames/s (at p50) | mean ms | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        fps50, p50, p95 = ("–" if row[k] is None else row[k] for k in ("fps_at_p50", "p50_ms", "p95_ms"))
        cells = [row["case"], row["resolution"], row["fps"], fps50, row["mean_ms"], p50, p95]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print(f"\nrig set-up (per-pixel rays, distorted 640×480): {rig_setup_s:.2f} s; JSON: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

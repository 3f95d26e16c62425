"""Write the sample bag for replay (`make demo BAG=out/sample_bag`, replay tests).

By default it renders a simulator scenario (camera, camera_info, odom, ground truth) to a rosbag2
MCAP, the rover driven by the ground-truth oracle controller. ``--procedural`` writes a tiny
procedural scene instead (a textured ground and a box moving toward the camera), used by tests
that need a bag in well under a second.

    python -m edge_rover.tools.make_sample_bag --out out/sample_bag \
        [--scenario pedestrian_crossing --seconds 8]
    python -m edge_rover.tools.make_sample_bag --procedural --out out/tiny_bag \
        [--seconds 6 --fps 15 --size 640x480]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from edge_rover.bags.writer import BagWriter
from edge_rover.calibration.calibration_io import load_camera_info
from edge_rover.common.graph import CAMERA_IMAGE, CAMERA_INFO, resolve
from edge_rover.common.msgs.image import bgr_to_image, intrinsics_to_camera_info
from edge_rover.common.msgs.stamps import sec_to_stamp

DEFAULT_START_S = 1_700_000_000.0  # a fixed epoch: the same bag byte-for-byte each time


def procedural_frame(index: int, width: int, height: int, rng_seed: int = 0) -> np.ndarray:
    """Sky, a noisy ground and a box that grows as it approaches (deterministic per index)."""
    rng = np.random.default_rng(rng_seed + index)
    horizon = int(height * 0.42)
    frame = np.empty((height, width, 3), np.uint8)
    frame[:horizon] = (200, 160, 120)
    ground = rng.normal(90, 12, (height - horizon, width)).clip(0, 255).astype(np.uint8)
    frame[horizon:] = cv2.cvtColor(ground, cv2.COLOR_GRAY2BGR)
    scale = 0.15 + 0.02 * index
    w, h = int(width * 0.2 * scale), int(height * 0.3 * scale)
    cx, bottom = width // 2 + int(40 * np.sin(index / 10)), horizon + int(scale * (height - horizon) * 0.8)
    cv2.rectangle(frame, (cx - w // 2, bottom - h), (cx + w // 2, bottom), (30, 110, 200), -1)
    return frame


def write_procedural_bag(out: Path, seconds: float, fps: float, width: int, height: int) -> Path:
    intrinsics = load_camera_info("package://edge_rover/config/camera_info.yaml").scaled(width, height)
    frames = round(seconds * fps)
    with BagWriter(out, storage="mcap", overwrite=True) as bag:
        for i in tqdm(range(frames), desc="sample bag", unit="frame"):
            t = DEFAULT_START_S + i / fps
            stamp = sec_to_stamp(t)
            stamp_ns = round(t * 1e9)
            frame = procedural_frame(i, width, height)
            bag.write(resolve(CAMERA_IMAGE), bgr_to_image(frame, stamp, "camera_optical_frame"), stamp_ns)
            bag.write(
                resolve(CAMERA_INFO),
                intrinsics_to_camera_info(intrinsics, stamp, "camera_optical_frame"),
                stamp_ns,
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("out/sample_bag"))
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT (procedural only)")
    parser.add_argument("--scenario", default="pedestrian_crossing", help="simulator scenario to render")
    parser.add_argument("--procedural", action="store_true", help="procedural frames, not the simulator")
    args = parser.parse_args(argv)
    if args.procedural:
        width, height = (int(v) for v in args.size.lower().split("x"))
        path = write_procedural_bag(args.out, args.seconds, args.fps, width, height)
    else:
        from edge_rover.simulation.bag_export import write_scenario_bag
        from edge_rover.simulation.scenarios import find_scenario

        _, counts = write_scenario_bag(
            find_scenario(args.scenario), args.out, duration_s=args.seconds, overwrite=True
        )
        print(f"messages per topic: {counts}")
        path = args.out
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

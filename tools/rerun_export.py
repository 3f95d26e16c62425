"""Write a Rerun recording (.rrd) of a run, for viewing off the robot where RViz is not installed.

    python -m edge_rover.tools.rerun_export out/last_run --out out/last_run.rrd
    rerun out/last_run.rrd        # opens the viewer (rerun-sdk, optional extra)

One shared timeline "time" (seconds from the start of the run): camera frames with detection
boxes, tracked obstacles (with track ids) and ground truth in 3D in base_link, the rover path in
the odom frame, the occupancy grid, and speed / brake / steering / TTC / latency as scalars.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from edge_rover.tools.report import RunSeries, _float, load_run

os.environ.setdefault("RERUN_DISABLE_ANALYTICS", "1")  # offline: never phone home


def _rerun():
    try:
        import rerun as rr
    except ImportError as exc:  # optional extra
        raise SystemExit(
            "rerun-sdk is not installed: pip install -c requirements/constraints.txt rerun-sdk"
        ) from exc
    return rr


def export(series: RunSeries, path: Path) -> Path:
    rr = _rerun()
    rec = rr.RecordingStream("edge_rover_run")
    rec.save(str(path))
    rec.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    for t, stamp, frame in series.frames:
        rec.set_time("time", duration=t)
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            rec.log("camera/image", rr.EncodedImage(contents=jpeg.tobytes(), media_type="image/jpeg"))
        scale = frame.shape[1] / 640.0
        dets = series.detections.get(round(stamp, 6), [])
        rec.log(
            "camera/image/detections",
            rr.Boxes2D(
                centers=[(cx * scale, cy * scale) for _, _, (cx, cy, _, _) in dets],
                sizes=[(w * scale, h * scale) for _, _, (_, _, w, h) in dets],
                labels=[f"{name} {score:.2f}" for name, score, _ in dets],
            ),
        )
    for (t, points), ids in zip(series.obstacles, series.obstacle_ids, strict=True):
        rec.set_time("time", duration=t)
        rec.log(
            "world/base_link/obstacles",
            rr.Points3D(np.column_stack([points, np.zeros(len(points))]), labels=ids, radii=0.3),
        )
    for t, points in series.truth:
        rec.set_time("time", duration=t)
        rec.log(
            "world/base_link/ground_truth",
            rr.Points3D(np.column_stack([points, np.zeros(len(points))]), radii=0.15),
        )
    if series.odom:
        odom = np.array(series.odom)
        for i in range(1, len(odom), 5):
            rec.set_time("time", duration=float(odom[i, 0]))
            path_xyz = np.column_stack([odom[: i + 1, 1:3], np.zeros(i + 1)])
            rec.log("world/odom/rover_path", rr.LineStrips3D([path_xyz]))
    for t, cells, _resolution, _origin in series.grids:
        rec.set_time("time", duration=t)
        # unknown (-1) grey, free (0) white, occupied (100) black; row 0 at the grid origin.
        image = np.where(cells < 0, 128, 255 - (cells.astype(np.int16) * 255 // 100)).astype(np.uint8)
        rec.log("grid", rr.Image(np.flipud(image)))
    _log_scalars(rec, rr, series)
    rec.flush()
    rec.disconnect()
    return path


def _log_scalars(rec, rr, series: RunSeries) -> None:
    for status in series.status:
        rec.set_time("time", duration=status["t"])
        for key, entity in (("ego_speed", "speed"), ("brake", "brake"), ("cmd_steering_angle", "steering"),
                            ("ttc", "ttc"), ("latency", "latency")):  # fmt: skip
            value = _float(status.get(key, "nan"))
            if np.isfinite(value):
                rec.log(f"plots/{entity}", rr.Scalars([value]))
    for t, v, _w, latency in series.cmd:
        rec.set_time("time", duration=t)
        rec.log("plots/cmd_speed", rr.Scalars([v]))
        if latency is not None:
            rec.log("plots/e2e_latency", rr.Scalars([latency]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bag", type=Path)
    parser.add_argument("--out", type=Path, default=Path("out/run.rrd"))
    args = parser.parse_args(argv)
    series = load_run(args.bag, max_frames=100_000, frame_stride=1, grid_stride=1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export(series, args.out)
    print(f"wrote {args.out} ({len(series.frames)} frames); open it with: rerun {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

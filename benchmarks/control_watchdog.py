"""Stale input → braking command, measured on the real controller process over DDS.

A probe plays camera_info + detections + obstacles at 30 Hz to ``ros2 run edge_rover controller``
(a separate process, TwistStamped output), lets it drive, then goes silent; repeated ``--trials``
times. Per trial it records, from the /safety/status messages themselves, the input age at the
first WATCHDOG_STOP decision minus the threshold (the DESIGN budget: ≤ one control period), and
on the probe's clock the time from its last publish to the first braking /cmd_vel received.

    python -m benchmarks.control_watchdog [--trials 10]

Writes benchmarks/results/control_watchdog.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from edge_rover.common.graph import CAMERA_INFO, CMD_VEL, DETECTIONS, OBSTACLES, SAFETY_STATUS, resolve
from edge_rover.common.processes import stop_process_group

RESULTS = Path(__file__).resolve().parent / "results" / "control_watchdog.json"


def run(trials: int) -> dict:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import TwistStamped
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import CameraInfo
    from vision_msgs.msg import Detection2DArray, Detection3DArray

    from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
    from edge_rover.control.params import ControllerParams

    params = ControllerParams()
    proc = subprocess.Popen(
        ["ros2", "run", "edge_rover", "controller", "--ros-args", "-p", "cmd_vel_stamped:=true"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    rclpy.init()
    node = rclpy.create_node("watchdog_probe")
    statuses: list[tuple[float, dict]] = []
    cmds: list[tuple[float, float]] = []
    node.create_subscription(
        DiagnosticArray,
        resolve(SAFETY_STATUS),
        lambda m: statuses.append((time.monotonic(), {kv.key: kv.value for kv in m.status[0].values})),
        RELIABLE_QOS,
    )
    node.create_subscription(
        TwistStamped,
        resolve(CMD_VEL),
        lambda m: cmds.append((time.monotonic(), m.twist.linear.x)),
        RELIABLE_QOS,
    )
    pubs = [
        node.create_publisher(CameraInfo, resolve(CAMERA_INFO), SENSOR_QOS),
        node.create_publisher(Detection2DArray, resolve(DETECTIONS), SENSOR_QOS),
        node.create_publisher(Detection3DArray, resolve(OBSTACLES), SENSOR_QOS),
    ]
    state = {"on": True, "last": 0.0}

    def publish() -> None:
        if not state["on"]:
            return
        stamp = node.get_clock().now().to_msg()
        for pub, cls in zip(pubs, (CameraInfo, Detection2DArray, Detection3DArray), strict=True):
            msg = cls()
            msg.header.stamp = stamp
            msg.header.frame_id = "base_link"
            pub.publish(msg)
        state["last"] = time.monotonic()

    node.create_timer(1.0 / 30.0, publish)
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def spin_until(predicate, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not predicate():
            executor.spin_once(timeout_sec=0.005)
        return predicate()

    rows = []
    try:
        for _ in range(trials):
            state["on"] = True
            if not spin_until(
                lambda: statuses and statuses[-1][1]["state"] == "drive" and cmds[-1][1] > 0.5, 30
            ):
                raise RuntimeError("controller never started driving")
            state["on"] = False
            n_status, n_cmd = len(statuses), len(cmds)
            speed_before = cmds[-1][1]

            def braked(n_status: int = n_status, n_cmd: int = n_cmd, speed: float = speed_before) -> bool:
                tripped = any(s["state"] == "stop" for _, s in statuses[n_status:])
                return tripped and any(v < speed for _, v in cmds[n_cmd:])

            if not spin_until(braked, 5.0):
                raise RuntimeError(f"no braking after silence: {statuses[-1][1]}")
            after = [s for _, s in statuses[n_status:]]
            first = next(s for s in after if s["state"] == "stop")
            brake_rx = next(t for t, v in cmds[n_cmd:] if v < speed_before)
            rows.append(
                {
                    "age_at_trip_minus_threshold_ms": (float(first["age_obstacles"]) - params.stale_after)
                    * 1000,
                    "last_publish_to_brake_cmd_ms": (brake_rx - state["last"]) * 1000,
                }
            )
            time.sleep(0.1)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        stop_process_group(proc)
    over = np.array([r["age_at_trip_minus_threshold_ms"] for r in rows])
    wall = np.array([r["last_publish_to_brake_cmd_ms"] for r in rows])
    return {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "parameters": {
            "trials": trials,
            "rate_hz": params.rate_hz,
            "stale_after_ms": params.stale_after * 1000,
            "period_ms": params.period * 1000,
        },
        "trials": rows,
        "figures": {
            "age_over_threshold_ms_max": float(over.max()),
            "age_over_threshold_ms_median": float(np.median(over)),
            "last_publish_to_brake_ms_median": float(np.median(wall)),
            "last_publish_to_brake_ms_max": float(wall.max()),
            "within_one_period": bool(over.max() <= params.period * 1000 + 1e-6),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args(argv)
    result = run(args.trials)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    f, p = result["figures"], result["parameters"]
    print(
        "| threshold ms | period ms | age − threshold at trip, median / max ms "
        "| last input → brake cmd, median / max ms |"
    )
    print("|---|---|---|---|")
    print(
        f"| {p['stale_after_ms']:.0f} | {p['period_ms']:.0f} | {f['age_over_threshold_ms_median']:.1f} / "
        f"{f['age_over_threshold_ms_max']:.1f} | {f['last_publish_to_brake_ms_median']:.1f} / "
        f"{f['last_publish_to_brake_ms_max']:.1f} |"
    )
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

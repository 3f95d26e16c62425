"""The main job (`make demo`): replay a bag through the node graph and summarize what came out.

Default: the built-in sample bag (generated on first use into out/sample_bag). `BAG=...` picks
any rosbag2 (MCAP or sqlite3), including bags recorded on a robot with `ros2 bag record`.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bags.reader import BagError, bag_info, read_messages
from tools.make_sample_bag import write_procedural_bag

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "out"
RECORDED_TOPICS = [
    "/camera/image_raw",
    "/detections",
    "/obstacles",
    "/obstacle_map",
    "/cmd_vel",
    "/safety/status",
]


def ensure_sample_bag() -> Path:
    path = OUT / "sample_bag"
    if not (path / "metadata.yaml").is_file():
        print(f"demo: writing the sample bag to {path}")
        write_procedural_bag(path, seconds=6.0, fps=15.0, width=640, height=480)
    return path


def replay(bag: Path, record_to: Path, timeout_s: float) -> int:
    env = {**os.environ, "ROS_DOMAIN_ID": os.environ.get("ROS_DOMAIN_ID", "42")}
    recorder = subprocess.Popen(
        ["ros2", "run", "edge_rover", "bag_recorder", "--ros-args",
         "-p", f"output:={record_to}", "-p", f"topics:={','.join(RECORDED_TOPICS)}", "-p", "overwrite:=true"],
        env=env, start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(1.5)
        launch = subprocess.run(
            [
                "timeout",
                "-k",
                "5",
                str(int(timeout_s)),
                "ros2",
                "launch",
                "edge_rover",
                "replay.launch.py",
                f"bag:={bag}",
            ],
            env=env,
            check=False,
        )
        time.sleep(1.0)
        return launch.returncode
    finally:
        os.killpg(recorder.pid, signal.SIGINT)
        recorder.wait(timeout=15)


def summarize(source: Path, recorded: Path) -> None:
    info = bag_info(source)
    out = bag_info(recorded)
    print("\n## Replay summary\n")
    print(f"source bag: {info.path} ({info.duration_s:.1f} s)")
    print("| topic | in source bag | recorded from graph |")
    print("|---|---|---|")
    for topic in sorted(set(info.topics) | set(out.topics)):
        print(f"| {topic} | {info.counts.get(topic, 0)} | {out.counts.get(topic, 0)} |")
    print(f"\nrecording: {recorded} (play it with `ros2 bag play {recorded}`)")
    _ = next(read_messages(recorded), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bag", type=Path, help="rosbag2 to replay (default: the built-in sample bag)")
    parser.add_argument("--scenario", help="simulator scenario (closed loop; needs the simulator)")
    args = parser.parse_args(argv)
    if args.scenario:
        print("demo: closed-loop scenarios are not wired yet; replaying a bag instead", file=sys.stderr)
    try:
        bag = args.bag or ensure_sample_bag()
        info = bag_info(bag)
        recorded = OUT / "last_run"
        rc = replay(bag, recorded, timeout_s=info.duration_s + 60)
        summarize(bag, recorded)
    except BagError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    raise SystemExit(main())

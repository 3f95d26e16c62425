"""Reproduce the Fast DDS shared-memory wedge: SIGKILL a participant while 640×480 frames flow, respawn it.

Three processes on real DDS with a Fast DDS profile (default: the project's shared-memory profile):

* ``camera``: publishes 640×480 bgr8 sensor_msgs/Image on /wedge/image at --fps, counts /wedge/ack;
* ``detector``: subscribes /wedge/image and answers each frame with a small /wedge/ack;
* ``viewer``: a bystander that only subscribes /wedge/image.

Each round kills the detector with SIGKILL (no goodbye on DDS, its segments left behind) while
frames flow, starts a new one and checks, within --timeout seconds, that (1) the new detector
receives frames again (the camera gets its acks) and (2) the bystander keeps receiving frames.
A round that fails either is a wedge; the script prints a Markdown table and writes JSON.

    python -m dev.shm_wedge_repro [--rounds 20] [--profile config/fastdds_profiles.xml]
        [--hold 300] [--out benchmarks/results/shm_wedge.json]

``WEDGE_ACK_BURST=N`` makes the detector answer each frame N times (more pushes into the camera's
port: a wider window for the kill to land in). ``--hold S`` keeps the first wedged graph alive for
S seconds and prints its pids, to attach gdb (``gdb -p PID -batch -ex "thread apply all bt"``).
``--kill-in-lock own|push|any`` (needs gdb) kills the detector exactly while one of its threads
holds a shared-memory port's mutex, to test the dead-lock-holder explanation deterministically.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from edge_rover.common.processes import stop_process_group

REPO_ROOT = Path(__file__).resolve().parents[1]
ROLES = ("camera", "detector", "viewer")
ACK_BURST = int(os.environ.get("WEDGE_ACK_BURST", "1"))


def _role(role: str, fps: float, status_path: Path) -> int:
    """Run one participant; write '<frames_in> <acks_in>' to ``status_path`` every 0.2 s."""
    import numpy as np
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from edge_rover.common.dds_identity import use_fresh_participant_id
    from edge_rover.common.qos import SENSOR_QOS

    if os.environ.get("WEDGE_FRESH_ID") == "1":  # what run_node does for every node of ours
        print(use_fresh_participant_id(), flush=True)
    rclpy.init()
    node = rclpy.create_node(f"wedge_{role}")
    counts = {"frames": 0, "acks": 0}
    if role == "camera":
        pub = node.create_publisher(Image, "/wedge/image", SENSOR_QOS)
        frame = Image(height=480, width=640, encoding="bgr8", step=1920)
        pixels = np.random.default_rng(0).integers(0, 255, 640 * 480 * 3, dtype=np.uint8)
        frame.data = pixels.tobytes()

        def tick() -> None:
            frame.header.stamp = node.get_clock().now().to_msg()
            pub.publish(frame)
            counts["frames"] += 1  # the camera counts what it published

        node.create_timer(1.0 / fps, tick)

        def on_ack(_msg: Header) -> None:
            counts["acks"] += 1

        node.create_subscription(Header, "/wedge/ack", on_ack, SENSOR_QOS)
    else:
        ack_pub = node.create_publisher(Header, "/wedge/ack", SENSOR_QOS) if role == "detector" else None

        def on_image(msg: Image) -> None:
            counts["frames"] += 1
            if ack_pub is not None:
                for _ in range(ACK_BURST):  # more pushes into the camera's port: a wider kill window
                    ack_pub.publish(msg.header)

        node.create_subscription(Image, "/wedge/image", on_image, SENSOR_QOS)

    def report() -> None:
        tmp = status_path.with_suffix(".tmp")
        tmp.write_text(f"{counts['frames']} {counts['acks']}")
        os.replace(tmp, status_path)

    node.create_timer(0.2, report)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    with contextlib.suppress(KeyboardInterrupt):
        executor.spin()
    return 0


# gdb script for --kill-in-lock: stop the detector the moment one of its threads calls
# pthread_mutex_timedlock (boost interprocess_mutex::lock in Fast DDS 2.14) on a mutex inside a
# /dev/shm/fastrtps_port<N> mapping, let only that thread finish taking the lock, then SIGKILL the
# process: the dead process holds a shared-memory port's (non-robust) mutex.
#   own  - a listener thread ("dds.shm.<N>") locking its own port N (wait_pop)
#   push - a non-listener thread (the executor, publishing) locking another participant's port
#   any  - the first port mutex taken
KILL_IN_LOCK_GDB = r"""
set pagination off
set confirm off
python
import gdb, os
pid = gdb.selected_inferior().pid
mode = os.environ["WEDGE_KILL_MODE"]
ranges = []
for line in open(f"/proc/{pid}/maps"):
    if "/dev/shm/fastrtps_port" in line:
        a, b = line.split()[0].split("-")
        ranges.append((int(a, 16), int(b, 16), line.split()[-1].rsplit("port", 1)[1]))
class InPortLock(gdb.Breakpoint):
    def stop(self):
        address = int(gdb.parse_and_eval("$rdi"))
        hit = [r[2] for r in ranges if r[0] <= address < r[1] and int(r[2]) >= 8000]
        if not hit:
            return False
        name = gdb.selected_thread().name or ""
        listener = name.startswith("dds.shm.")
        if (mode == "own" and name != f"dds.shm.{hit[0]}") or (mode == "push" and listener):
            return False
        print(f"WEDGE_LOCK thread={name} port={hit[0]}")
        return True
InPortLock("pthread_mutex_timedlock")
end
continue
delete
set scheduler-locking on
finish
python
print("WEDGE_LOCK_TAKEN", int(gdb.parse_and_eval("$rax")) == 0)
os.kill(pid, 9)
end
"""


def _kill_in_port_lock(pid: int, mode: str, work: Path) -> str:
    """SIGKILL ``pid`` while one of its threads holds a shared-memory port mutex (via gdb)."""
    script = work / "kill_in_lock.gdb"
    script.write_text(KILL_IN_LOCK_GDB)
    try:
        result = subprocess.run(
            ["gdb", "-p", str(pid), "-batch", "-x", str(script)],
            capture_output=True, text=True, timeout=90, env={**os.environ, "WEDGE_KILL_MODE": mode},
        )  # fmt: skip
    except subprocess.TimeoutExpired:  # gdb killed: the detector is detached and runs on
        os.kill(pid, signal.SIGKILL)
        return "plain SIGKILL (gdb caught no port lock in 90 s)"
    found = [line for line in result.stdout.splitlines() if line.startswith("WEDGE_LOCK")]
    if len(found) < 2 or not found[-1].endswith("True"):
        os.kill(pid, signal.SIGKILL)
        return "plain SIGKILL (no port lock caught)"
    return found[0].removeprefix("WEDGE_LOCK ")


def _listener_ports(pid: int) -> list[int]:
    """The shared-memory ports ``pid`` listens on (its threads are named dds.shm.<port>)."""
    ports = set()
    for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
        try:
            name = comm.read_text().strip()
        except OSError:
            continue
        if name.startswith("dds.shm.") and name[8:].isdigit() and int(name[8:]) >= 8000:
            ports.add(int(name[8:]))
    return sorted(ports)


def _start(role: str, fps: float, work: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    status = work / f"{role}_{time.monotonic_ns()}.status"
    args = [sys.executable, "-m", "dev.shm_wedge_repro", "--role", role, "--fps", str(fps)]
    proc = subprocess.Popen(
        [*args, "--status", str(status)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    return proc, status


def _read(status: Path) -> tuple[int, int]:
    try:
        frames, acks = status.read_text().split()
        return int(frames), int(acks)
    except (OSError, ValueError):
        return 0, 0


def _wait_growth(status: Path, index: int, timeout_s: float, minimum: int = 5) -> float | None:
    """Seconds until counter ``index`` of ``status`` grew by ``minimum``; None on timeout."""
    start_value, start = _read(status)[index], time.monotonic()
    while time.monotonic() - start < timeout_s:
        if _read(status)[index] >= start_value + minimum:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def _fastdds_version() -> str:
    import rclpy

    libs = sorted((Path(rclpy.__file__).parents[3]).glob("libfastrtps.so.*.*.*"))
    return libs[-1].name.removeprefix("libfastrtps.so.") if libs else "unknown"


def _shm_segments() -> set[str]:
    return {p.name for p in Path("/dev/shm").iterdir() if p.name.startswith("fastrtps_")}


def run(
    rounds: int, fps: float, timeout_s: float, profile: Path, hold_s: float = 0.0, kill_in_lock: str = ""
) -> dict:
    from edge_rover.common.ros_domain import claim_domain_id

    # A domain of its own (the tests' lock files): a foreign participant killed in the same domain
    # can wedge ours too (discovery traffic goes through the same shared-memory ports).
    domain, _domain_lock = claim_domain_id()
    env = {**os.environ, "FASTRTPS_DEFAULT_PROFILES_FILE": str(profile), "PYTHONUNBUFFERED": "1"}
    env["ROS_DOMAIN_ID"] = str(domain)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    work = Path(tempfile.mkdtemp(prefix="shm_wedge_"))
    before = _shm_segments()
    camera, cam_status = _start("camera", fps, work, env)
    viewer, view_status = _start("viewer", fps, work, env)
    detector, _ = _start("detector", fps, work, env)
    results = []
    pids = {"camera": camera.pid, "viewer": viewer.pid}
    try:
        if _wait_growth(cam_status, 1, 60.0) is None:
            raise RuntimeError("no acks at start: the graph never connected (not a wedge)")
        for _ in tqdm(range(rounds), desc="SIGKILL + respawn", unit="round"):
            time.sleep(1.0)  # frames flowing
            if kill_in_lock:
                killed_how = _kill_in_port_lock(detector.pid, kill_in_lock, work)
            else:
                os.kill(detector.pid, signal.SIGKILL)
                killed_how = "SIGKILL"
            detector.wait(timeout=10)
            time.sleep(0.2)
            detector, _ = _start("detector", fps, work, env)
            acks_back = _wait_growth(cam_status, 1, timeout_s)
            viewer_ok = _wait_growth(view_status, 0, 5.0)
            camera_alive = _wait_growth(cam_status, 0, 3.0)
            results.append(
                {
                    "killed": killed_how,
                    "camera_ports": _listener_ports(camera.pid),
                    "acks_back_s": acks_back,
                    "viewer_frames_s": viewer_ok,
                    "camera_publishing": camera_alive is not None,
                    "wedged": acks_back is None or viewer_ok is None,
                }
            )
            if results[-1]["wedged"] and hold_s > 0:
                print(f"\nwedged: pids {pids | {'detector': detector.pid}}; holding {hold_s} s", flush=True)
                time.sleep(hold_s)
                break
    finally:
        for proc in (detector, viewer, camera):
            stop_process_group(proc)
        for name in _shm_segments() - before:
            Path("/dev/shm", name).unlink(missing_ok=True)
    wedged = sum(r["wedged"] for r in results)
    backs = sorted(r["acks_back_s"] for r in results if r["acks_back_s"] is not None)
    return {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "parameters": {
            "rounds": rounds,
            "fps": fps,
            "timeout_s": timeout_s,
            "profile": str(profile.name),
            "ack_burst": ACK_BURST,
            "kill_in_lock": kill_in_lock or None,
            "fresh_participant_id": os.environ.get("WEDGE_FRESH_ID") == "1",
            "domain": domain,
            "fast_dds": _fastdds_version(),
        },
        "figures": {
            "rounds": len(results),
            "wedged": wedged,
            "killed_in_lock": sum(r["killed"].startswith("thread=") for r in results),
            "respawn_to_first_acks_s_median": backs[len(backs) // 2] if backs else None,
            "respawn_to_first_acks_s_max": backs[-1] if backs else None,
        },
        "rounds": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    parser.add_argument("--status", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--fps", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds a respawned detector gets")
    parser.add_argument("--profile", type=Path, default=REPO_ROOT / "config" / "fastdds_profiles.xml")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--kill-in-lock",
        choices=("own", "push", "any"),
        default="",
        help="kill the detector (via gdb) while it holds a shared-memory port mutex",
    )
    parser.add_argument("--hold", type=float, default=0.0, help="on the first wedge: keep it this long, stop")
    args = parser.parse_args(argv)
    if args.role:
        return _role(args.role, args.fps, args.status)
    result = run(args.rounds, args.fps, args.timeout, args.profile.resolve(), args.hold, args.kill_in_lock)
    figures = result["figures"]
    print("| profile | fps | rounds | wedged | respawn → acks median s | max s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.profile.name} | {args.fps} | {figures['rounds']} | {figures['wedged']} | "
        f"{figures['respawn_to_first_acks_s_median']} | {figures['respawn_to_first_acks_s_max']} |"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

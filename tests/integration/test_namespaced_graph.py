"""Two rovers on one network: `sim.launch.py namespace:=rover1` (real processes, real DDS) puts the
whole graph under /rover1/ — the simulator's images reach the detector, detections the mapper,
obstacles the controller, which publishes /rover1/cmd_vel on the global /clock — and nothing of
it is left at the root names another rover would use. `doctor --namespace rover1` checks it."""

import subprocess
import sys

import pytest

from edge_rover.common.graph import (
    CAMERA_IMAGE,
    CLOCK,
    CMD_VEL,
    DETECTIONS,
    OBSTACLES,
    SAFETY_STATUS,
    resolve,
)
from tests.ros_helpers import running_process, shared_memory_transport, spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]

NAMESPACE = "rover1"


def test_sim_graph_runs_under_a_namespace(ros_context) -> None:
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.executors import SingleThreadedExecutor
    from vision_msgs.msg import Detection2DArray, Detection3DArray

    from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS

    node = rclpy.create_node("namespace_probe", context=ros_context)  # in the root namespace
    got: dict[str, list] = {"cmd": [], "detections": [], "obstacles": []}
    node.create_subscription(Twist, resolve(CMD_VEL, NAMESPACE), got["cmd"].append, RELIABLE_QOS)
    node.create_subscription(
        Detection2DArray, resolve(DETECTIONS, NAMESPACE), got["detections"].append, SENSOR_QOS
    )
    node.create_subscription(
        Detection3DArray, resolve(OBSTACLES, NAMESPACE), got["obstacles"].append, SENSOR_QOS
    )
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)

    def publishers(topic: str) -> set[str]:
        return {
            f"{i.node_namespace.rstrip('/')}/{i.node_name}" for i in node.get_publishers_info_by_topic(topic)
        }

    def flowing() -> bool:
        return all(len(v) >= 3 for v in got.values())

    cmd = ["ros2", "launch", "edge_rover", "sim.launch.py", f"namespace:={NAMESPACE}", "scenario:=clear_road",
           "lock_step:=true", "end_action:=hold"]  # fmt: skip
    with shared_memory_transport() as shm_env, running_process(cmd, env=shm_env) as launch:
        spin_until(executor, flowing, timeout_s=120.0)
        doctor = subprocess.run(
            [sys.executable, "-m", "edge_rover.tools.doctor", "--namespace", NAMESPACE, "--listen", "3.0"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        spin_until(executor, lambda: False, timeout_s=0.5)
        inside = [resolve(t, NAMESPACE) for t in (CMD_VEL, CAMERA_IMAGE, SAFETY_STATUS)]
        outside = [resolve(t) for t in (CMD_VEL, DETECTIONS, CAMERA_IMAGE)]
        seen = {t: publishers(t) for t in [*inside, *outside, CLOCK, f"/{NAMESPACE}/clock"]}
        alive = launch.poll() is None
        output = "" if alive else launch.stdout.read()
    assert alive, f"the launch ended early:\n{output[-3000:]}"
    assert flowing(), {k: len(v) for k, v in got.items()}
    assert seen[f"/{NAMESPACE}/cmd_vel"] == {f"/{NAMESPACE}/controller"}, seen
    assert seen[f"/{NAMESPACE}/camera/image_raw"] == {f"/{NAMESPACE}/sim"}, seen
    assert seen[f"/{NAMESPACE}/safety/status"] == {f"/{NAMESPACE}/controller"}, seen
    assert seen[CLOCK] == {f"/{NAMESPACE}/sim"}, "use_sim_time listens to the global /clock"
    # None of the launched nodes may sit at the root. Other participants of this test process's
    # domain may (a probe node of an earlier test that rclpy has not yet destroyed was seen in CI
    # publishing /detections), so the check names the launch's nodes instead of "nobody".
    launched_at_root = {f"/{name}" for name in ("sim", "detector", "obstacle_mapper", "controller")}
    assert not any(seen[t] & launched_at_root for t in outside), seen
    assert not seen[f"/{NAMESPACE}/clock"], seen
    assert f"[PASS] /{NAMESPACE}/cmd_vel: 1 publisher(s)" in doctor.stdout, doctor.stdout + doctor.stderr
    assert f"[PASS] /{NAMESPACE}/detections:" in doctor.stdout, doctor.stdout

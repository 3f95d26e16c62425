"""Render a scenario straight to a rosbag2 (MCAP by default) for replay tests and demos.

Runs the headless closed loop (``run_scenario``) with a built-in controller and writes, per frame,
``/camera/image_raw`` + ``/camera/camera_info`` (identical stamps), ``/odom``, ``/tf`` and
``/sim/ground_truth``; optionally ``/cmd_vel`` (off by default: on replay the real controller
publishes it). Message stamps and bag times are sim time from ``start_s``.
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from edge_rover.bags.writer import BagWriter
from edge_rover.common.ros_conversions import bgr_to_image, intrinsics_to_camera_info, sec_to_stamp
from edge_rover.simulation.closed_loop import Observation, RunResult, default_rig, run_scenario
from edge_rover.simulation.reference_controllers import OracleController, cruise_controller, stop_controller
from edge_rover.simulation.renderer import Renderer, world_truth
from edge_rover.simulation.ros_conversions import rover_to_odometry, rover_to_tf, truth_to_detection3d_array
from edge_rover.simulation.scenarios import Scenario, ScenarioWorld

DEFAULT_START_S = 1_700_000_000.0
CONTROLLERS = ("oracle", "cruise", "stop")


def make_controller(name: str, scenario: Scenario):
    if name == "oracle":
        return OracleController(scenario.limits)
    if name == "cruise":
        return cruise_controller
    if name == "stop":
        return stop_controller
    raise ValueError(f"controller must be one of {list(CONTROLLERS)}, got {name!r}")


def write_scenario_bag(
    scenario: Scenario,
    out: Path,
    controller: str = "oracle",
    duration_s: float | None = None,
    storage: str = "mcap",
    start_s: float = DEFAULT_START_S,
    with_cmd_vel: bool = False,
    overwrite: bool = False,
) -> tuple[RunResult, dict[str, int]]:
    from geometry_msgs.msg import Twist

    rig = default_rig()
    renderer = Renderer(rig)
    controller_fn = make_controller(controller, scenario)
    duration = scenario.duration_s if duration_s is None else duration_s
    progress = tqdm(total=round(duration / scenario.step_s), desc=f"bag {scenario.name}", unit="frame")
    with BagWriter(out, storage=storage, overwrite=overwrite) as bag:

        def record(world: ScenarioWorld, obs: Observation, cmd: tuple[float, float]) -> None:
            t = start_s + world.time
            stamp, stamp_ns = sec_to_stamp(t), round(t * 1e9)
            scene = world.scene(frame_seed=round(world.time / scenario.step_s))
            result = renderer.render(scene)
            frame = "camera_optical_frame"
            bag.write("/camera/image_raw", bgr_to_image(result.image, stamp, frame), stamp_ns)
            bag.write(
                "/camera/camera_info", intrinsics_to_camera_info(rig.intrinsics, stamp, frame), stamp_ns
            )
            bag.write("/odom", rover_to_odometry(world.rover, obs.yaw_rate, stamp), stamp_ns)
            bag.write("/tf", rover_to_tf(world.rover, stamp), stamp_ns)
            bag.write(
                "/sim/ground_truth",
                truth_to_detection3d_array(world_truth(scene, result.truth), stamp),
                stamp_ns,
            )
            if with_cmd_vel:
                twist = Twist()
                twist.linear.x, twist.angular.z = cmd
                bag.write("/cmd_vel", twist, stamp_ns)
            progress.update(1)

        result = run_scenario(scenario, controller_fn, duration_s=duration, rig=rig, on_step=record)
        counts = dict(bag.counts)
    progress.close()
    return result, counts

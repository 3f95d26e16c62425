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
from edge_rover.common.graph import CAMERA_IMAGE, CAMERA_INFO, CMD_VEL, GROUND_TRUTH, ODOM, TF, resolve
from edge_rover.common.msgs.image import bgr_to_image, intrinsics_to_camera_info
from edge_rover.common.msgs.obstacles import obstacles_to_msg
from edge_rover.common.msgs.odometry import pose_to_tf
from edge_rover.common.msgs.stamps import sec_to_stamp
from edge_rover.common.msgs.twist import twist_to_msg
from edge_rover.simulation.closed_loop import Observation, RunResult, default_rig, run_scenario
from edge_rover.simulation.reference_controllers import OracleController, cruise_controller, stop_controller
from edge_rover.simulation.renderer import Renderer, world_truth
from edge_rover.simulation.scenarios import Scenario, ScenarioWorld
from edge_rover.simulation.sim_node import rover_odometry, truth_obstacles

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
    rig = default_rig()  # nominal: camera_info; the frames are rendered with the true mount
    renderer = Renderer(scenario.camera.true_rig(rig))
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
            bag.write(resolve(CAMERA_IMAGE), bgr_to_image(result.image, stamp, frame), stamp_ns)
            bag.write(resolve(CAMERA_INFO), intrinsics_to_camera_info(rig.intrinsics, stamp, frame), stamp_ns)
            rover = world.rover
            bag.write(resolve(ODOM), rover_odometry(rover, obs.yaw_rate, stamp), stamp_ns)
            bag.write(
                resolve(TF), pose_to_tf((rover.x, rover.y, rover.yaw), stamp, "odom", "base_link"), stamp_ns
            )
            truths = truth_obstacles(world_truth(scene, result.truth))
            bag.write(resolve(GROUND_TRUTH), obstacles_to_msg(truths, stamp, "base_link"), stamp_ns)
            if with_cmd_vel:
                bag.write(resolve(CMD_VEL), twist_to_msg(*cmd), stamp_ns)
            progress.update(1)

        result = run_scenario(scenario, controller_fn, duration_s=duration, rig=rig, on_step=record)
        counts = dict(bag.counts)
    progress.close()
    return result, counts

"""Camera frames of a scenario as a plain iterator (for benchmarks and image-folder cameras).

``scenario_frames("pedestrian_crossing", 300, 640, 480)`` yields BGR uint8 frames of the scenario
driven by a built-in controller (the ground-truth oracle by default, so the run does not end in
a collision), restarting the scenario if more frames are asked for than it lasts.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from edge_rover.simulation.closed_loop import Observation, default_rig, visible_truth
from edge_rover.simulation.reference_controllers import OracleController, cruise_controller
from edge_rover.simulation.renderer import Renderer
from edge_rover.simulation.scenarios import ScenarioWorld, find_scenario


def scenario_frames(
    scenario: str, count: int, width: int = 640, height: int = 480, controller: str = "oracle"
) -> Iterator[np.ndarray]:
    """Yield ``count`` frames (HxWx3 uint8 BGR) of ``scenario`` (a name or a YAML path)."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    spec = find_scenario(scenario)
    renderer = Renderer(default_rig(width, height))
    drive = OracleController(spec.limits) if controller == "oracle" else cruise_controller
    steps_per_run = max(1, round(spec.duration_s / spec.step_s))
    world = ScenarioWorld(spec)
    step = 0
    for index in range(count):
        if step >= steps_per_run:
            world, step = ScenarioWorld(spec), 0
        result = renderer.render(world.scene(frame_seed=index))
        obs = Observation(
            time=world.time,
            rover=world.rover,
            yaw_rate=world.rover.yaw_rate(spec.limits),
            cruise_speed=spec.cruise_speed,
            truth=visible_truth(result.truth),
            image=result.image,
        )
        yield result.image
        world.step(*drive(obs))
        step += 1

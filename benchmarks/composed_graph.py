"""All pipeline nodes in one process on one executor (the "composed" mode of the e2e benchmark).

    python -m benchmarks.composed_graph --params merged.yaml

Same node classes as the separate processes; messages still go through DDS (rclpy has no
intra-process shortcut), but there is one interpreter, one executor and no process switches.
"""

from __future__ import annotations

import argparse
import sys

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

from edge_rover.control.controller_node import ControllerNode
from edge_rover.perception.camera.camera_node import CameraNode
from edge_rover.perception.detection.detector_node import DetectorNode
from edge_rover.perception.mapping.obstacle_mapper_node import ObstacleMapperNode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", required=True, help="params YAML with a section per node name")
    args = parser.parse_args(argv)
    rclpy.init(args=["composed_graph", "--ros-args", "--params-file", args.params])
    nodes = []
    try:
        nodes = [CameraNode(), DetectorNode(), ObstacleMapperNode(), ControllerNode()]
        executor = SingleThreadedExecutor()
        for node in nodes:
            executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

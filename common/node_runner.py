"""The one way our nodes start and stop.

A configuration error at start (bad parameter, missing calibration or model) is one line on
stderr and exit code 1 — never a traceback; Ctrl-C and launch's SIGINT are a normal stop (0).
SingleThreadedExecutor: the MultiThreadedExecutor of the PyPI wheels loses messages.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from calibration.camera_model import CalibrationError
from common.params import ParameterValueError

# Errors that mean "this node is configured wrong": reported in one line.
CONFIG_ERRORS: tuple[type[BaseException], ...] = (ParameterValueError, CalibrationError, ValueError, OSError)


def run_node(
    factory: Callable[[], Node],
    name: str,
    args: list[str] | None = None,
    config_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Create the node with ``factory``, spin it until shutdown, clean up; return the exit code."""
    rclpy.init(args=args)
    node = None
    try:
        node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except (*CONFIG_ERRORS, *config_errors) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        rclpy.try_shutdown()

"""Every node's parameter file and parameter table, generated from the node's own spec table.

    python -m edge_rover.common.param_docs            # rewrite config/<node>.yaml and docs/nodes.md
    python -m edge_rover.common.param_docs --check    # list what drifted, exit 1 if anything did
    python -m edge_rover.common.param_docs --markdown # print docs/nodes.md

One source per parameter: each node module's ``PARAM_SPECS`` (name, default, meaning, range,
read-only), whose defaults come from the core's config dataclass where there is one. The YAML
files and the tables are written from it; tests/common/test_param_docs.py fails if a file drifts.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_rover.common.params import ParameterValueError, ParamSpec

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "nodes.md"
COMMAND = "python -m edge_rover.common.param_docs"


@dataclass(frozen=True)
class NodeParams:
    """One node: where its spec table lives, a hand-written intro, and its YAML's overrides."""

    name: str
    module: str  # the node module; it defines PARAM_SPECS
    intro: str  # what it does, what it subscribes and publishes (Markdown)
    # name → (value, why): where config/<node>.yaml deliberately differs from the default. Written
    # into the YAML with its reason and shown in docs/nodes.md; never a silent difference.
    yaml_overrides: Mapping[str, tuple[Any, str]] = field(default_factory=dict)

    @property
    def specs(self) -> tuple[ParamSpec, ...]:
        return tuple(importlib.import_module(self.module).PARAM_SPECS)

    @property
    def yaml_path(self) -> Path:
        return ROOT / "config" / f"{self.name}.yaml"


NODES: tuple[NodeParams, ...] = (
    NodeParams(
        "camera",
        "edge_rover.perception.camera.camera_node",
        "Reads a device, GStreamer pipeline (`csi://N` preset), video file or image folder and publishes "
        "`camera/image_raw` (bgr8) and `camera/camera_info` with identical capture stamps, and "
        "`diagnostics`. A frozen picture is not published (see [running](running.md#camera-node)).",
    ),
    NodeParams(
        "detector",
        "edge_rover.perception.detection.detector_node",
        "Subscribes `camera/image_raw` (or its `/compressed`); publishes `detections` "
        "(vision_msgs/Detection2DArray, the image's stamp and frame), `detections/image` (only while "
        "someone subscribes) and `diagnostics`. See [detector](detector.md).",
    ),
    NodeParams(
        "obstacle_mapper",
        "edge_rover.perception.mapping.obstacle_mapper_node",
        "Subscribes `detections`, `camera/camera_info` and `odom` (optional); publishes `obstacles` "
        "(Detection3DArray in `base_link`, id = track id), `obstacle_map` (OccupancyGrid) and "
        "`obstacles/markers`. No calibration, no output. Defaults come from the core's "
        "`ProjectionConfig`, `TrackerConfig`, `GridConfig` and `MapperConfig`. See "
        "[obstacle map](obstacle_map.md).",
    ),
    NodeParams(
        "controller",
        "edge_rover.control.controller_node",
        "Subscribes `obstacles`, `obstacle_map`, `odom`, `cmd_vel_in` (optional), `camera/camera_info` "
        "and `detections` (watchdog); publishes `cmd_vel` (Twist or TwistStamped), `safety/status` and "
        "`controller/markers`. Core defaults come from `ControllerParams` (control/params.py), which "
        "also checks the rules between parameters on every change. See [control](control.md).",
    ),
    NodeParams(
        "serial_bridge",
        "edge_rover.control.mcu_link.serial_bridge_node",
        "Subscribes `cmd_vel`; talks to the motor MCU over pyserial and publishes `odom`, `battery` and "
        "`diagnostics`. See [control](control.md#serial-bridge).",
    ),
    NodeParams(
        "sim",
        "edge_rover.simulation.sim_node",
        "Renders a scenario on sim time: subscribes `cmd_vel` (and `detections` in lock-step mode); "
        "publishes `camera/image_raw`, `camera/camera_info`, `odom`, `clock`, `sim/ground_truth`, `tf` "
        "and `cmd_vel_in`. See [simulator](simulator.md).",
    ),
    NodeParams(
        "calibration",
        "edge_rover.calibration.calibration_node",
        "Subscribes `image_topic`; collects board views, calibrates, writes `output` (camera_info YAML) "
        "and exits; progress on `diagnostics`. See [calibration](calibration.md).",
    ),
    NodeParams(
        "bag_replay",
        "edge_rover.bags.bag_replay_node",
        "Plays a rosbag2 (MCAP or sqlite3) at recorded timing on the recorded topics, with `clock`. "
        "See [running](running.md#bags-replay-and-recording).",
    ),
    NodeParams(
        "bag_recorder",
        "edge_rover.bags.bag_recorder_node",
        "Records `topics` into a rosbag2 at `output`. See [running](running.md#bags-replay-and-recording).",
    ),
)


def registry() -> dict[str, NodeParams]:
    return {node.name: node for node in NODES}


def spec_tables() -> dict[str, tuple[ParamSpec, ...]]:
    """Node name → its spec table (what launch checks and docs read)."""
    return {node.name: node.specs for node in NODES}


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6))
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _range(spec: ParamSpec) -> str:
    if spec.choices is not None:
        return " / ".join(str(c) for c in spec.choices)
    if spec.min is not None or spec.max is not None:
        return f"{_value(spec.min)} … {_value(spec.max)}"
    return "true / false" if isinstance(spec.default, bool) else "any"


def checked_overrides(node: NodeParams) -> dict[str, tuple[Any, str]]:
    """The node's YAML overrides, refused if one names no parameter, is in range or has no reason."""
    by_name = {spec.name: spec for spec in node.specs}
    problems = []
    for name, (value, why) in node.yaml_overrides.items():
        spec = by_name.get(name)
        if spec is None:
            problems.append(f"{node.name}: override of unknown parameter {name!r}")
        elif (problem := spec.check(value)) is not None:
            problems.append(f"{node.name}: override {problem}")
        elif value == spec.default:
            problems.append(f"{node.name}: override {name}={value!r} equals the default")
        elif not why.strip():
            problems.append(f"{node.name}: override of {name} gives no reason")
    if problems:
        raise ParameterValueError("; ".join(problems))
    return dict(node.yaml_overrides)


def yaml_text(node: NodeParams) -> str:
    overrides = checked_overrides(node)
    lines = [
        f"# Parameters of the {node.name} node (docs/nodes.md#{node.name}).",
        f"# Generated by `{COMMAND}` from {node.module}.PARAM_SPECS; edit that.",
        f"{node.name}:",
        "  ros__parameters:",
    ]
    for spec in node.specs:
        when = "; read at start" if spec.read_only else ""
        lines.append(f"    # {spec.description} [{_range(spec)}{when}]")
        value = spec.default
        if spec.name in overrides:
            value, why = overrides[spec.name]
            lines.append(f"    # overrides the default {_value(spec.default)}: {why}")
        lines.append(f"    {spec.name}: {_value(value)}")
    return "\n".join(lines) + "\n"


def markdown_table(specs: Sequence[ParamSpec], overrides: Mapping[str, tuple[Any, str]] | None = None) -> str:
    rows = ["| parameter | default | range | live | meaning |", "|---|---|---|---|---|"]
    for spec in specs:
        meaning = spec.description.replace("|", "\\|")
        if overrides and spec.name in overrides:
            value, why = overrides[spec.name]
            meaning += f" (config/ YAML sets {_value(value)}: {why})"
        live = "no" if spec.read_only else "yes"
        rows.append(f"| `{spec.name}` | {_value(spec.default)} | {_range(spec)} | {live} | {meaning} |")
    return "\n".join(rows)


def nodes_markdown() -> str:
    parts = [
        "# Nodes and parameters",
        "",
        f"<!-- Generated by `{COMMAND}` from each node's PARAM_SPECS; edit those, not this file. -->",
        "",
        "Every node validates its parameters at start and on every change (out of range: refused with "
        "the reason). Parameters marked *live: no* are read once at start and declared read-only: "
        '`ros2 param set` refuses them ("Trying to set a read-only parameter"); restart the node with '
        "`-p name:=value` or a params file instead. Each node's defaults are also written to "
        "`config/<node>.yaml`, generated from the same table.",
        "",
        "| node | module | params file |",
        "|---|---|---|",
        *(f"| [`{n.name}`](#{n.name}) | `{n.module}` | `config/{n.name}.yaml` |" for n in NODES),
    ]
    for node in NODES:
        parts += [
            "",
            f"## {node.name}",
            "",
            node.intro,
            "",
            markdown_table(node.specs, checked_overrides(node)),
        ]
    return "\n".join(parts) + "\n"


def files() -> dict[Path, str]:
    """Every generated file and the text it must hold."""
    generated = {node.yaml_path: yaml_text(node) for node in NODES}
    generated[DOC] = nodes_markdown()
    return generated


def drifted() -> list[Path]:
    return [path for path, text in files().items() if not path.is_file() or path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="list drifted files, exit 1 if any")
    group.add_argument("--markdown", action="store_true", help="print docs/nodes.md instead")
    args = parser.parse_args(argv)
    if args.markdown:
        print(nodes_markdown(), end="")
        return 0
    if args.check:
        stale = drifted()
        for path in stale:
            print(f"drifted: {path.relative_to(ROOT)} (run {COMMAND})", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files().items():
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The shipped parameter files match the parameter tables and load as valid parameters."""

from __future__ import annotations

import pytest
import yaml

pytest.importorskip("rclpy")

from edge_rover.control.param_docs import files
from edge_rover.control.params import params_from_values


def test_config_files_are_generated_from_the_tables() -> None:
    for path, text in files().items():
        assert path.read_text() == text, f"{path.name} drifted: run python -m edge_rover.control.param_docs"


def test_controller_yaml_values_are_valid() -> None:
    path = next(p for p in files() if p.name == "controller.yaml")
    values = yaml.safe_load(path.read_text())["controller"]["ros__parameters"]
    core = {k: v for k, v in values.items() if k in params_from_values({}).__dataclass_fields__}
    assert params_from_values(core).rate_hz == 50.0


def test_readme_parameter_tables_are_current() -> None:
    from edge_rover.control.controller_node import NODE_SPECS
    from edge_rover.control.mcu_link.serial_bridge_node import PARAM_SPECS as BRIDGE_SPECS
    from edge_rover.control.param_docs import ROOT, markdown_table
    from edge_rover.control.params import PARAM_SPECS

    readme = (ROOT / "docs" / "control.md").read_text()
    assert markdown_table((*PARAM_SPECS, *NODE_SPECS)) in readme, (
        "run python -m edge_rover.control.param_docs --markdown"
    )
    assert markdown_table(BRIDGE_SPECS) in readme

"""One source per parameter: config/*.yaml and docs/nodes.md are generated from the spec tables."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

pytest.importorskip("rclpy")

from edge_rover.common import param_docs
from edge_rover.common.param_docs import NODES, NodeParams, drifted, files, spec_tables
from edge_rover.common.params import ParameterValueError

ROOT = Path(__file__).resolve().parents[2]


def test_generated_files_are_current() -> None:
    stale = [str(p.relative_to(ROOT)) for p in drifted()]
    assert not stale, f"{stale} drifted from the spec tables: run python -m edge_rover.common.param_docs"


def test_every_node_module_is_registered_with_one_table_name() -> None:
    """A new *_node.py must get a params file and a docs table; every table is named PARAM_SPECS."""
    on_disk = {
        ".".join(("edge_rover", *p.relative_to(ROOT).with_suffix("").parts))
        for top in ("perception", "control", "calibration", "simulation", "bags")
        for p in (ROOT / top).rglob("*_node.py")
    }
    assert on_disk == {node.module for node in NODES}
    for node in NODES:
        specs = importlib.import_module(node.module).PARAM_SPECS
        names = [s.name for s in specs]
        assert len(names) == len(set(names)), f"{node.name}: a parameter is declared twice"


def test_every_yaml_holds_valid_values_for_every_parameter() -> None:
    for name, specs in spec_tables().items():
        values = yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text())[name]["ros__parameters"]
        assert set(values) == {s.name for s in specs}, name
        problems = [p for s in specs if (p := s.check(values[s.name])) is not None]
        assert not problems, f"{name}: {problems}"


def test_controller_yaml_passes_the_cross_rules() -> None:
    from edge_rover.control.params import ControllerParams, params_from_values

    values = yaml.safe_load((ROOT / "config" / "controller.yaml").read_text())["controller"][
        "ros__parameters"
    ]
    core = {k: v for k, v in values.items() if k in ControllerParams.__dataclass_fields__}
    assert params_from_values(core).rate_hz == 30.0


def test_the_generator_rewrites_and_check_sees_drift(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "docs").mkdir()
    monkeypatch.setattr(param_docs, "ROOT", tmp_path)
    monkeypatch.setattr(param_docs, "DOC", tmp_path / "docs" / "nodes.md")
    assert param_docs.main(["--check"]) == 1  # nothing there yet
    assert param_docs.main([]) == 0
    assert param_docs.main(["--check"]) == 0
    assert sorted(p.name for p in (tmp_path / "config").iterdir()) == sorted(f"{n.name}.yaml" for n in NODES)
    mapper = tmp_path / "config" / "obstacle_mapper.yaml"
    mapper.write_text(mapper.read_text().replace("min_score: 0.25", "min_score: 0.0"))
    assert param_docs.main(["--check"]) == 1


def test_a_yaml_override_is_explicit_with_its_reason() -> None:
    mapper = next(n for n in NODES if n.name == "obstacle_mapper")
    node = NodeParams(
        mapper.name, mapper.module, mapper.intro, {"min_score": (0.4, "a noisier detector on this rover")}
    )
    text = param_docs.yaml_text(node)
    assert "# overrides the default 0.25: a noisier detector on this rover\n    min_score: 0.4\n" in text
    assert "(config/ YAML sets 0.4: a noisier detector on this rover)" in param_docs.markdown_table(
        node.specs, node.yaml_overrides
    )
    for bad, why in [
        ({"min_scor": (0.4, "typo")}, "unknown parameter"),
        ({"min_score": (2.0, "too high")}, "above its maximum"),
        ({"min_score": (0.25, "same")}, "equals the default"),
        ({"min_score": (0.4, " ")}, "gives no reason"),
    ]:
        with pytest.raises(ParameterValueError, match=why):
            param_docs.yaml_text(NodeParams(mapper.name, mapper.module, mapper.intro, bad))


def test_docs_table_per_node_marks_read_only_parameters() -> None:
    doc = files()[param_docs.DOC]
    for node in NODES:
        assert f"\n## {node.name}\n" in doc
    assert "| `fps` | 30.0 | 0.1 … 240.0 | no |" in doc  # camera: read at start
    assert "| `ttc_warn` | 3.0 | 0.1 … 20.0 | yes |" in doc  # controller: changes apply live


def test_mapper_defaults_have_one_source() -> None:
    """The node's table takes the core's dataclass defaults and the grid's resolution bounds."""
    from edge_rover.perception.mapping.ground_projection import ProjectionConfig
    from edge_rover.perception.mapping.occupancy_grid import RESOLUTION_RANGE, GridConfig

    specs = {s.name: s for s in spec_tables()["obstacle_mapper"]}
    assert specs["min_score"].default == ProjectionConfig().min_score == 0.25
    assert (specs["grid_resolution"].min, specs["grid_resolution"].max) == RESOLUTION_RANGE
    for outside in (0.01, 2.0):
        assert specs["grid_resolution"].check(outside) is not None
        with pytest.raises(ValueError, match="grid resolution"):
            GridConfig(resolution=outside)
    assert "free_range" not in GridConfig.__dataclass_fields__  # one class owns it: MapperConfig

from pathlib import Path

import pytest

from edge_rover.perception.detection.class_profiles import (
    ClassProfileError,
    class_names,
    load_class_profiles,
    load_model_name_map,
    map_model_classes,
)

SIM_CLASSES = ["person", "bicycle", "car", "traffic_cone", "box"]


def _coco_names(shared_data: Path) -> list[str]:
    import onnx

    from edge_rover.perception.detection.backends import names_from_metadata

    model = onnx.load(str(shared_data / "models" / "yolov8n_fp32_dequantized.onnx"), load_external_data=False)
    return names_from_metadata({p.key: p.value for p in model.metadata_props})


def test_shipped_table_has_the_design_classes_in_order() -> None:
    # The simulator model's five classes first (ids = its output order), then the real-world ones.
    assert class_names()[:5] == SIM_CLASSES
    assert class_names()[5:] == ["motorcycle", "large_vehicle", "animal", "large_animal"]
    profiles = load_class_profiles()
    assert profiles["traffic_cone"].max_speed_mps == 0.0
    assert profiles["person"].dynamic
    assert all(p.safety_margin_m > 0 for p in profiles.values())


def test_missing_field_and_bad_ids_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("classes:\n  person: {id: 0, typical_height_m: 1.7}\n")
    with pytest.raises(ClassProfileError, match="lacks"):
        load_class_profiles(bad)
    entry = (
        "{id: %d, typical_height_m: 1.0, height_range_m: [0.5, 2], typical_width_m: 1, "
        "max_speed_mps: 0, safety_margin_m: 0.1, dynamic: false}"
    )
    bad.write_text(f"classes:\n  a: {entry % 0}\n  b: {entry % 2}\n")
    with pytest.raises(ClassProfileError, match="ids must be"):
        load_class_profiles(bad)


def test_contact_depth_is_optional_and_checked(tmp_path: Path) -> None:
    table = tmp_path / "c.yaml"
    entry = (
        "{id: 0, typical_height_m: 1.0, height_range_m: [0.5, 2], typical_width_m: 0.8, "
        "max_speed_mps: 0, safety_margin_m: 0.1, dynamic: false%s}"
    )
    table.write_text(f"classes:\n  a: {entry % ''}\n")
    assert load_class_profiles(table)["a"].contact_depth_m == 0.8  # falls back to the width
    table.write_text(f"classes:\n  a: {entry % ', contact_depth_m: 2.5'}\n")
    assert load_class_profiles(table)["a"].contact_depth_m == 2.5
    table.write_text(f"classes:\n  a: {entry % ', contact_depth_m: -1'}\n")
    with pytest.raises(ClassProfileError, match="positive"):
        load_class_profiles(table)
    # The shipped car is placed by its tyres, not its 4.3 m body.
    assert 2.0 < load_class_profiles()["car"].contact_depth_m < 4.3


def test_moving_contact_is_optional_and_checked(tmp_path: Path) -> None:
    table = tmp_path / "c.yaml"
    entry = (
        "{id: 0, typical_height_m: 1.0, height_range_m: [0.5, 2], typical_width_m: 0.8, "
        "max_speed_mps: 0, safety_margin_m: 0.1, dynamic: false%s}"
    )
    table.write_text(f"classes:\n  a: {entry % ''}\n")
    assert load_class_profiles(table)["a"].moving_contact_m is None
    table.write_text(f"classes:\n  a: {entry % ', moving_contact_m: [0.6, 0.2]'}\n")
    assert load_class_profiles(table)["a"].moving_contact_m == (0.6, 0.2)
    for bad in ("0.6", "[0.6]", "[0.6, -1]"):
        table.write_text(f"classes:\n  a: {entry % (', moving_contact_m: ' + bad)}\n")
        with pytest.raises(ClassProfileError, match="moving_contact_m"):
            load_class_profiles(table)


def test_sim_model_classes_map_onto_themselves() -> None:
    mapping = map_model_classes(SIM_CLASSES)
    assert mapping.remap == {} and mapping.dropped == () and list(mapping.keep) == SIM_CLASSES


def test_coco_classes_map_by_name_and_the_rest_is_dropped(shared_data: Path) -> None:
    names = _coco_names(shared_data)
    assert len(names) == 80 and names[5] == "bus"
    mapping = map_model_classes(names)
    assert mapping.keep == (
        "person",
        "bicycle",
        "car",
        "motorcycle",
        "large_vehicle",
        "animal",
        "large_animal",
    )
    assert mapping.remap["bus"] == mapping.remap["truck"] == "large_vehicle"
    assert mapping.remap["dog"] == "animal" and mapping.remap["horse"] == "large_animal"
    assert {"tie", "chair", "cup", "traffic light"} <= set(mapping.dropped)
    assert not {"person", "car", "bus", "dog", "motorcycle"} & set(mapping.dropped)
    # By name, not by index: the same names in another order map the same way.
    shuffled = list(reversed(names))
    again = map_model_classes(shuffled)
    assert again.remap == mapping.remap and set(again.keep) == set(mapping.keep)
    assert set(again.dropped) == set(mapping.dropped)
    # The user's own rename wins over the table's.
    assert map_model_classes(names, extra_remap={"truck": "car"}).remap["truck"] == "car"


def test_every_new_profile_is_plausible() -> None:
    profiles = load_class_profiles()
    assert profiles["large_vehicle"].typical_height_m > profiles["car"].typical_height_m
    assert profiles["animal"].typical_height_m < profiles["person"].typical_height_m
    assert all(profiles[n].dynamic and profiles[n].max_speed_mps > 0 for n in ("motorcycle", "animal"))
    assert set(load_model_name_map().values()) <= set(profiles)


def test_bad_model_names_are_named(tmp_path: Path) -> None:
    entry = (
        "{id: 0, typical_height_m: 1.0, height_range_m: [0.5, 2], typical_width_m: 1, "
        "max_speed_mps: 0, safety_margin_m: 0.1, dynamic: false}"
    )
    table = tmp_path / "c.yaml"
    table.write_text(f"classes:\n  a: {entry}\nmodel_names:\n  b: nowhere\n")
    with pytest.raises(ClassProfileError, match="not profiles"):
        load_model_name_map(table)
    table.write_text(f"classes:\n  a: {entry}\nmodel_names:\n  a: a\n")
    with pytest.raises(ClassProfileError, match="map to themselves"):
        load_model_name_map(table)


def test_model_card_domain_is_read_and_checked(tmp_path: Path) -> None:
    from edge_rover.perception.detection.model_card import domain_mismatch, load_model_card
    from edge_rover.perception.detection.types import ModelLoadError

    root = Path(__file__).resolve().parents[3]
    for card in (root / "models").glob("*.card.yaml"):
        expected = "real" if "_coco_" in card.name else "sim"
        assert load_model_card(card).domain == expected, card.name
    bad = tmp_path / "m.card.yaml"
    bad.write_text("domain: mars\n")
    with pytest.raises(ModelLoadError, match="domain must be one of"):
        load_model_card(bad)
    bad.write_text("classes: [a]\n")
    assert load_model_card(bad).domain is None
    assert domain_mismatch("sim", "sim") is None and domain_mismatch(None, "real") is None
    assert "fix: launch with model:=" in domain_mismatch("sim", "real")

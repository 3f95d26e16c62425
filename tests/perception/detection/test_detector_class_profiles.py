from pathlib import Path

import pytest

from edge_rover.perception.detection.class_profiles import ClassProfileError, class_names, load_class_profiles


def test_shipped_table_has_the_design_classes_in_order() -> None:
    assert class_names() == ["person", "bicycle", "car", "traffic_cone", "box"]
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

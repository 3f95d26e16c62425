import math

import pytest

from edge_rover.common.params import ParameterValueError, ParamSpec, check_all


def test_param_spec_reports_each_problem() -> None:
    specs = [
        ParamSpec("fps", 30.0, "frame rate", min=0.1, max=240.0),
        ParamSpec("source", "video", "kind", choices=["video", "folder"]),
        ParamSpec("loop", False, "loop"),
    ]
    check_all(specs, {"fps": 30.0, "source": "video", "loop": True})
    with pytest.raises(ParameterValueError) as err:
        check_all(specs, {"fps": -1.0, "source": "usb", "loop": 1})
    message = str(err.value)
    assert "fps=-1.0 is below its minimum 0.1" in message
    assert "'usb' is not one of" in message
    assert "loop must be true/false" in message
    assert specs[0].check(math.nan) == "fps must be finite, got nan"

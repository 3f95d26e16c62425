"""Parameter specs with ranges: validated at start and on every change, refused with a reason.

Pure core (``ParamSpec.check``) plus one rclpy adapter (``declare_validated``) that every node
uses, so that a bad value reads the same from any node at 2 a.m.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class ParameterValueError(ValueError):
    """A parameter value outside its documented range or set."""


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    min: float | None = None
    max: float | None = None
    choices: Sequence[Any] | None = None
    read_only: bool = False

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is unacceptable, or None if it is fine."""
        if isinstance(self.default, bool) and not isinstance(value, bool):
            return f"{self.name} must be true/false, got {value!r}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                return f"{self.name} must be finite, got {value}"
            if self.min is not None and value < self.min:
                return f"{self.name}={value} is below its minimum {self.min}"
            if self.max is not None and value > self.max:
                return f"{self.name}={value} is above its maximum {self.max}"
        if self.choices is not None and value not in self.choices:
            return f"{self.name}={value!r} is not one of {list(self.choices)}"
        return None


def read_at_start(specs: Sequence[ParamSpec]) -> tuple[ParamSpec, ...]:
    """``specs`` declared read-only: for a node that reads its parameters once, at start.

    Without it ``ros2 param set`` succeeds and the node silently keeps the old value; read-only,
    rclpy refuses the change with a reason ("Trying to set a read-only parameter").
    """
    return tuple(dataclasses.replace(spec, read_only=True) for spec in specs)


def check_all(specs: Sequence[ParamSpec], values: dict[str, Any]) -> None:
    """Raise ParameterValueError listing every bad value (not just the first)."""
    problems = [p for spec in specs if (p := spec.check(values[spec.name])) is not None]
    if problems:
        raise ParameterValueError("; ".join(problems))


def _declare_one(node: Any, spec: ParamSpec, descriptor: Any) -> None:
    """Declare one parameter, turning rclpy's range/type rejections into our one-line errors."""
    from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException

    try:
        node.declare_parameter(spec.name, spec.default, descriptor)
    except InvalidParameterValueException as exc:
        # rclpy checked the descriptor range; re-check for our wording (override is private API).
        override = getattr(node, "_parameter_overrides", {}).get(spec.name)
        problem = spec.check(override.value) if override is not None else None
        raise ParameterValueError(problem or f"{spec.name}: {exc}") from exc
    except InvalidParameterTypeException as exc:
        kind = type(spec.default).__name__
        hint = f" (write {float(spec.default)!r}, not an integer)" if isinstance(spec.default, float) else ""
        raise ParameterValueError(f"{spec.name} must be of type {kind}{hint}") from exc


def declare_validated(node: Any, specs: Sequence[ParamSpec]) -> dict[str, Any]:
    """Declare ``specs`` on an rclpy node with descriptors and ranges; return the values.

    Raises ParameterValueError at start-up for bad values and installs a callback that refuses
    bad changes at run time with the same message.
    """
    from rcl_interfaces.msg import (
        FloatingPointRange,
        IntegerRange,
        ParameterDescriptor,
        SetParametersResult,
    )

    by_name = {spec.name: spec for spec in specs}
    for spec in specs:
        descriptor = ParameterDescriptor(description=spec.description, read_only=spec.read_only)
        lo = spec.min if spec.min is not None else None
        hi = spec.max if spec.max is not None else None
        if isinstance(spec.default, float) and lo is not None and hi is not None:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi))]
        elif (
            isinstance(spec.default, int)
            and not isinstance(spec.default, bool)
            and lo is not None
            and hi is not None
        ):
            descriptor.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=0)]
        if spec.choices is not None:
            descriptor.additional_constraints = f"one of {list(spec.choices)}"
        _declare_one(node, spec, descriptor)
    values = {spec.name: node.get_parameter(spec.name).value for spec in specs}
    check_all(specs, values)

    def on_set(params: list[Any]) -> Any:
        for param in params:
            spec = by_name.get(param.name)
            if spec is None:
                continue
            problem = spec.check(param.value)
            if problem is not None:
                node.get_logger().warning(f"refused parameter change: {problem}")
                return SetParametersResult(successful=False, reason=problem)
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
    return values

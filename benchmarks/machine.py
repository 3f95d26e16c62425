"""What a benchmark JSON records about the machine it ran on (shared by the benchmark scripts)."""

from __future__ import annotations

import os
import platform

RUNTIME_MODULES = ("numpy", "cv2", "onnxruntime", "openvino")


def versions(modules: tuple[str, ...] = RUNTIME_MODULES) -> dict[str, str | None]:
    """Python and each module's version (None where it is not installed)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for module in modules:
        try:
            found[module] = __import__(module).__version__
        except ImportError:
            found[module] = None
    return found


def load_average() -> list[float]:
    """1/5/15-minute load averages: a benchmark on a busy machine says so in its JSON."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []

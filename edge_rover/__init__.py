"""edge_rover: an offline perception-to-control stack for a camera rover, as ROS 2 nodes.

Everything the package installs lives under this one name (``edge_rover.perception``,
``edge_rover.control``, ...), so it never collides with another project's ``common`` or ``tools``
in a ROS workspace or a venv. In the source tree the subpackages are the top-level folders beside
this one (``perception/``, ``control/``, ...; setup.py maps them in with ``package_dir``), so here
the repository root is added to this package's search path: ``python -m edge_rover.tools.demo``
and the tests run straight from a checkout, without installing.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.2.0"

_HERE = Path(__file__).resolve().parent
if not (_HERE / "perception").is_dir():  # a source checkout, not an installed package
    __path__.append(str(_HERE.parent))

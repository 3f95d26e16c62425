"""SROS2 conventions shared by the launch files and the keystore tool (no crypto imports here).

Every node of ours runs in the enclave ``/edge_rover/<node>`` (launch passes ``--enclave``; without
``ROS_SECURITY_ENABLE=true`` rcl ignores it). ``security:=true`` on a launch file sets the three
variables rcl reads, after checking that the keystore has an enclave for each node it starts and
that the Fast DDS library was built with DDS Security: without it rmw refuses every node ("This
Fast DDS version doesn't have the security libraries"), and the respawning nodes would repeat
that every few seconds instead of the launch saying it once.
"""

from __future__ import annotations

import os
from pathlib import Path

ENCLAVE_ROOT = "/edge_rover"
KEYSTORE_ENV = "ROS_SECURITY_KEYSTORE"
# What a secured launch gives every node: authentication, access control and encryption enforced
# (Enforce: a node whose enclave files are missing or invalid does not start; Permissive would
# start it unsecured).
SECURITY_ENV = {"ROS_SECURITY_ENABLE": "true", "ROS_SECURITY_STRATEGY": "Enforce"}
# The name of Fast DDS's authentication plugin: present in a libfastrtps built with -DSECURITY=ON.
SECURITY_MARKER = b"builtin.PKI-DH"


class SecurityConfigError(ValueError):
    """A secured launch that cannot work; the message is the one line the launch stops with."""


def enclave_of(node: str) -> str:
    return f"{ENCLAVE_ROOT}/{node}"


def enclave_arguments(node: str) -> list[str]:
    """Node arguments that put ``node`` in its enclave."""
    return ["--ros-args", "--enclave", enclave_of(node)]


def enclave_dir(keystore: Path, node: str) -> Path:
    return keystore / "enclaves" / enclave_of(node).lstrip("/")


def find_fastdds_library(environ: dict[str, str] | None = None) -> Path | None:
    """The libfastrtps the nodes will load: LD_LIBRARY_PATH first (the loader's order), then the
    ROS prefixes (AMENT_PREFIX_PATH/*/lib), then the prefix of the rclpy in this interpreter."""
    env = os.environ if environ is None else environ
    folders = [Path(p) for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    folders += [Path(p) / "lib" for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    try:
        import rclpy

        folders.append(Path(rclpy.__file__).parents[3])  # pip wheels: <venv>/lib
    except ImportError:
        pass
    for folder in folders:
        found = sorted(folder.glob("libfastrtps.so*")) if folder.is_dir() else []
        real = [p for p in found if not p.is_symlink()] or found
        if real:
            return real[-1]
    return None


def has_security_plugins(library: Path) -> bool:
    """Whether ``library`` (a libfastrtps) contains the builtin security plugins."""
    data = library.read_bytes()
    return SECURITY_MARKER in data


def check_secured_launch(keystore_text: str, nodes: list[str], environ: dict[str, str] | None = None) -> Path:
    """The keystore for ``security:=true``; SecurityConfigError with one line when it cannot work."""
    if not keystore_text:
        raise SecurityConfigError(
            "security:=true needs a keystore: keystore:=DIR or $ROS_SECURITY_KEYSTORE "
            "(make one with python -m edge_rover.tools.keystore create --keystore DIR)"
        )
    keystore = Path(keystore_text).expanduser().resolve()
    missing = [n for n in nodes if not (enclave_dir(keystore, n) / "cert.pem").is_file()]
    if missing:
        force = " --force" if (keystore / "enclaves").is_dir() else ""
        raise SecurityConfigError(
            f"keystore {keystore} has no enclave for {', '.join(missing)} "
            f"(expected {enclave_dir(keystore, missing[0])}/cert.pem): "
            f"python -m edge_rover.tools.keystore create --keystore {keystore}{force} "
            f"--nodes {','.join(nodes)}"
        )
    library = find_fastdds_library(environ)
    if library is not None and not has_security_plugins(library):
        raise SecurityConfigError(
            f"security:=true, but {library} was built without DDS Security (-DSECURITY=ON; no "
            f"{SECURITY_MARKER.decode()} plugin): rmw would refuse to start every node. ROS 2's apt "
            "packages are normally built with it, the PyPI ros-jazzy wheels are not"
        )
    return keystore

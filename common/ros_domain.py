"""Claim a ROS_DOMAIN_ID that no other process on this machine holds (tests, batch runs).

A lock file per domain id, held for the life of the returned handle: parallel test processes and
parallel scenario runs never see each other's topics.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path
from typing import IO

LOCK_DIR = Path(tempfile.gettempdir()) / "edge_rover_ros_domains"


def claim_domain_id(first: int = 1, last: int = 100) -> tuple[int, IO[str]]:
    """Return (domain id, lock handle); keep the handle open while the id is in use.

    Stay within 0..101: DDS ports are 7400 + 250 × domain, and above 101 they fall into Linux's
    ephemeral port range, where they collide at random with other sockets (nodes then silently
    miss each other — seen here with domains 101..200).
    """
    if not 0 <= first <= last <= 101:
        raise ValueError(f"domain ids must lie in 0..101, got {first}..{last}")
    LOCK_DIR.mkdir(exist_ok=True)
    span = last - first + 1
    start = os.getpid() % span
    for offset in range(span):
        domain = first + (start + offset) % span
        handle = open(LOCK_DIR / f"{domain}.lock", "w")  # noqa: SIM115 - returned to the caller
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        return domain, handle
    raise RuntimeError(f"no free ROS_DOMAIN_ID in {first}..{last}")

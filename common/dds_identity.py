"""A fresh DDS participant id for every start of a node, so a respawned node always rejoins.

The shared-memory wedge (docs/security.md §2): a node SIGKILLed while it is not waiting on its
shared-memory port leaves writers (the camera, the simulator) mapping that port's segment. Fast
DDS gives the respawned node the lowest free participant id — the dead one's — hence the same
port number; it deletes the zombie segment and creates a new one under the same name, and the
writers keep pushing into the old, deleted mapping: the new node never hears them (Fast DDS 2.14.5
without the fix of eProsima/Fast-DDS PR #4728).

Here each start claims an id nobody holds *and* whose shared-memory ports no live process maps —
a killed node's port files stay in /dev/shm, and its id is not reused while any writer still maps
them (measured here: a writer unmaps a dead reader's port 10–25 s after the kill, when discovery
drops the dead participant; then the id is safe again: Fast DDS deletes the zombie and nobody
holds the old segment) — and writes a per-start copy of the Fast DDS profile with that
``participantID``. The id is
held with a lock file for the life of the process (a killed process releases it). Our ids lie in
``FIRST_ID..LAST_ID``, away from the low ids Fast DDS hands out automatically to other processes
(ros2 CLI, RViz), and every UDP transport's ``maxInitialPeersRange`` is raised to cover them, so
localhost discovery (initial peers on 127.0.0.1) still reaches every participant.

``EDGE_ROVER_FRESH_PARTICIPANT_ID=0`` turns it off (Fast DDS then picks ids as usual).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO

from edge_rover.common.dds_profile import NAMESPACE, PROFILE_ENV, _parse, _q, _udp_descriptors

FIRST_ID, LAST_ID = 20, 59  # 7410 + 250·domain + 2·59 + 1 stays inside the domain's 250 ports
PEERS_RANGE = LAST_ID + 1  # initial peers on 127.0.0.1 probe participant ids 0..LAST_ID
ENABLE_ENV = "EDGE_ROVER_FRESH_PARTICIPANT_ID"
LOCK_DIR = Path(tempfile.gettempdir()) / "edge_rover_participant_ids"


def unicast_ports(domain: int, participant_id: int) -> tuple[int, int]:
    """RTPS metatraffic and user unicast ports (also the shared-memory port numbers)."""
    base = 7400 + 250 * domain
    return base + 10 + 2 * participant_id, base + 11 + 2 * participant_id


def _udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_MAPPED = re.compile(r"/fastrtps_port(\d+)\b")


def mapped_shm_ports(proc: Path = Path("/proc")) -> set[int]:
    """Shared-memory port numbers some live process maps (one pass over /proc/*/maps)."""
    ports: set[int] = set()
    for maps in proc.glob("[0-9]*/maps"):
        try:
            text = maps.read_text()
        except OSError:  # gone meanwhile, or another user's process (it cannot map our segments)
            continue
        ports.update(int(m) for m in _MAPPED.findall(text))
    return ports


def remove_unmapped_segments(paths: list[Path], proc: Path = Path("/proc")) -> list[Path]:
    """Unlink those of ``paths`` (Fast DDS files in /dev/shm) that no live process maps, with their
    companions (``_el``/``_sl`` lock files, ``sem.…_mutex``) judged by the segment they belong to.

    The way to clean up after a run: a port or segment file of a live participant (another run on
    the same machine) must never be unlinked — a writer that opens that port later creates a new
    file nobody listens on, and the live node goes deaf for good. Returns what was removed.
    """
    mapped: set[str] = set()
    for maps in proc.glob("[0-9]*/maps"):
        with contextlib.suppress(OSError):
            mapped.update(re.findall(r"/dev/shm/(\S+)", maps.read_text()))
    removed = []
    for path in paths:
        base = path.name.removeprefix("sem.").removesuffix("_mutex").removesuffix("_el").removesuffix("_sl")
        if path.name not in mapped and base not in mapped:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def id_is_fresh(domain: int, participant_id: int, mapped: set[int]) -> bool:
    """No live socket on its ports, and no live process maps a shared-memory port under them
    (a port file without a mapping is a zombie Fast DDS removes safely)."""
    ports = unicast_ports(domain, participant_id)
    if any(p in mapped for p in ports):  # a live owner, or a writer's (possibly stale) mapping
        return False
    return all(_udp_port_free(p) for p in ports)


def claim_participant_id(
    domain: int, first: int = FIRST_ID, last: int = LAST_ID
) -> tuple[int, IO[str]] | None:
    """(id, lock handle held for the process' life), or None when every id is taken or stale."""
    LOCK_DIR.mkdir(exist_ok=True)
    mapped = mapped_shm_ports()
    span = last - first + 1
    start = os.getpid() % span  # spread simultaneous starts (a launch starts every node at once)
    for offset in range(span):
        candidate = first + (start + offset) % span
        handle = open(LOCK_DIR / f"d{domain}_p{candidate}.lock", "w")  # noqa: SIM115 - returned
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        if id_is_fresh(domain, candidate, mapped):
            return candidate, handle
        handle.close()
    return None


def with_participant_id(xml_text: str, participant_id: int, peers_range: int = PEERS_RANGE) -> str:
    """The profile with ``participantID`` in every participant profile and the UDP transports'
    ``maxInitialPeersRange`` at least ``peers_range``."""
    root = _parse(xml_text)
    for descriptor in _udp_descriptors(root):
        element = descriptor.find(_q("maxInitialPeersRange"))
        if element is None:
            element = ET.SubElement(descriptor, _q("maxInitialPeersRange"))
            element.text = "0"
        element.text = str(max(int(element.text or 0), peers_range))
    participants = list(root.iter(_q("participant")))
    if not participants:
        raise ValueError("the profile has no <participant> profile to give a participantID")
    for participant in participants:
        rtps = participant.find(_q("rtps"))
        if rtps is None:
            rtps = ET.SubElement(participant, _q("rtps"))
        element = rtps.find(_q("participantID"))
        if element is None:
            element = ET.SubElement(rtps, _q("participantID"))
        element.text = str(participant_id)
    ET.register_namespace("", NAMESPACE)
    ET.indent(root)
    header = f"<!-- Per-start copy by edge_rover.common.dds_identity: participantID {participant_id}. -->\n"
    return '<?xml version="1.0" encoding="UTF-8" ?>\n' + header + ET.tostring(root, encoding="unicode") + "\n"


_held: list[IO[str]] = []  # lock handles of this process' claimed ids (released at exit)
_claimed: list[tuple[int, int]] = []  # (domain, participant id) of this process' claims


def own_ports() -> set[int]:
    """The unicast (and shared-memory) ports of the ids this process claimed (empty: none)."""
    return {port for domain, pid in _claimed for port in unicast_ports(domain, pid)}


def use_fresh_participant_id(environ: dict[str, str] | None = None) -> str:
    """Before rclpy.init: point FASTRTPS_DEFAULT_PROFILES_FILE at a per-start copy of the current
    profile with a fresh participant id. Returns one line for the log (what was done or why not)."""
    env = os.environ if environ is None else environ
    if env.get(ENABLE_ENV, "1") == "0":
        return f"fresh participant id off ({ENABLE_ENV}=0)"
    source = env.get(PROFILE_ENV)
    if not source or not Path(source).is_file():
        return "fresh participant id not used: no Fast DDS profile file in FASTRTPS_DEFAULT_PROFILES_FILE"
    domain = int(env.get("ROS_DOMAIN_ID", "0") or 0)
    claimed = claim_participant_id(domain)
    if claimed is None:
        return (
            f"fresh participant id not used: ids {FIRST_ID}..{LAST_ID} of domain {domain} all taken or stale"
        )
    participant_id, handle = claimed
    _held.append(handle)
    _claimed.append((domain, participant_id))
    text = with_participant_id(Path(source).read_text(), participant_id)
    out = LOCK_DIR / f"d{domain}_p{participant_id}_profile.xml"
    with contextlib.suppress(FileNotFoundError):
        out.unlink()
    out.write_text(text)
    env[PROFILE_ENV] = str(out)
    return f"DDS participant id {participant_id} (fresh for this start; profile {out} from {source})"

"""Which network interfaces our DDS participants listen on: the Fast DDS profile's allowlist.

The shipped profiles (config/fastdds_profiles.xml, config/fastdds_udp_profiles.xml) bind every
UDP socket to 127.0.0.1: a participant elsewhere on the network cannot discover, join or publish
to our nodes (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` only limits whom a node *looks for*,
not who may talk to it). On the robot, where RViz on a laptop may need to see the graph, the
launch files derive a profile that names the interfaces explicitly (``dds_interfaces:=lo,wlan0``);
"all interfaces" is only ever an explicit choice. docs/security.md tells the whole story.

    python -m edge_rover.common.dds_profile --interfaces lo,wlan0 [--profile FILE] --out FILE
    python -m edge_rover.common.dds_profile --show [--profile FILE]     # print each UDP transport's allowlist
"""

from __future__ import annotations

import argparse
import fcntl
import ipaddress
import socket
import struct
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

NAMESPACE = "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"
UDP_TYPES = ("UDPv4", "UDPv6")
ALL_INTERFACES = "all"
PROFILE_ENV = "FASTRTPS_DEFAULT_PROFILES_FILE"
# Environment variable the launch files read for dds_interfaces (e.g. from a systemd unit).
INTERFACES_ENV = "EDGE_ROVER_DDS_INTERFACES"
_SIOCGIFADDR = 0x8915


class ProfileError(ValueError):
    """A profile or interface choice that would not give the binding asked for."""


def _q(tag: str) -> str:
    return f"{{{NAMESPACE}}}{tag}"


def _parse(xml_text: str) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=False))
    try:
        return ET.fromstring(xml_text, parser=parser)
    except ET.ParseError as exc:
        raise ProfileError(f"not a Fast DDS XML profile: {exc}") from exc


def _udp_descriptors(root: ET.Element) -> list[ET.Element]:
    return [
        d
        for d in root.iter(_q("transport_descriptor"))
        if (d.findtext(_q("type")) or "").strip() in UDP_TYPES
    ]


def udp_allowlists(xml_text: str) -> dict[str, list[str]]:
    """``transport_id`` → allowlisted addresses of each UDP transport ([] = every interface)."""
    root = _parse(xml_text)
    result = {}
    for descriptor in _udp_descriptors(root):
        allowlist = descriptor.find(_q("interfaceWhiteList"))
        addresses = [] if allowlist is None else [(a.text or "").strip() for a in allowlist]
        result[(descriptor.findtext(_q("transport_id")) or "?").strip()] = addresses
    return result


def uses_builtin_transports(xml_text: str) -> bool:
    """True when a participant profile leaves Fast DDS's builtin transports on (UDP on all interfaces)."""
    root = _parse(xml_text)
    flags = [(e.text or "").strip().lower() for e in root.iter(_q("useBuiltinTransports"))]
    return not flags or any(flag != "false" for flag in flags)


def with_allowlist(xml_text: str, addresses: list[str] | None) -> str:
    """The profile with every UDP transport's allowlist set to ``addresses`` (None: removed).

    The source's comments are dropped (they describe its own allowlist); one header says what this is.
    """
    root = _parse(xml_text)
    descriptors = _udp_descriptors(root)
    if not descriptors:
        raise ProfileError("the profile defines no UDP transport descriptor to restrict")
    for descriptor in descriptors:
        for old in descriptor.findall(_q("interfaceWhiteList")):
            descriptor.remove(old)
        if addresses is None:
            continue
        allowlist = ET.SubElement(descriptor, _q("interfaceWhiteList"))
        for address in addresses:
            ET.SubElement(allowlist, _q("address")).text = address
    ET.register_namespace("", NAMESPACE)
    ET.indent(root)
    where = ", ".join(addresses) if addresses is not None else "EVERY interface"
    header = f"<!-- Written by edge_rover.common.dds_profile: UDP sockets listen on {where}. -->\n"
    return '<?xml version="1.0" encoding="UTF-8" ?>\n' + header + ET.tostring(root, encoding="unicode") + "\n"


def interface_address(name: str) -> str:
    """The IPv4 address of network interface ``name`` (Linux ioctl; no address → ProfileError)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError as exc:
            known = ", ".join(n for _, n in socket.if_nameindex())
            raise ProfileError(
                f"network interface {name!r} has no IPv4 address here ({exc.strerror}); interfaces: {known}"
            ) from exc
    return socket.inet_ntoa(packed[20:24])


def resolve_interfaces(spec: str) -> list[str]:
    """``"lo,wlan0,192.168.1.5"`` → IPv4 addresses (names resolved now, addresses kept as given)."""
    addresses = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if item.lower() == ALL_INTERFACES:
            raise ProfileError(f"'{ALL_INTERFACES}' cannot be combined with named interfaces: {spec!r}")
        try:
            addresses.append(str(ipaddress.IPv4Address(item)))
        except ValueError:
            addresses.append(interface_address(item))
    if not addresses:
        raise ProfileError(f"no interface named in {spec!r}")
    return list(dict.fromkeys(addresses))


def check_restricted(xml_text: str, source: str) -> None:
    """Refuse a profile under which some socket would listen on every interface."""
    if uses_builtin_transports(xml_text):
        raise ProfileError(
            f"{source}: builtin transports are on (UDP on every interface); set "
            "useBuiltinTransports false with an allowlisted UDP transport, or pass "
            f"dds_interfaces:={ALL_INTERFACES} to accept that on purpose"
        )
    open_ids = [tid for tid, addresses in udp_allowlists(xml_text).items() if not addresses]
    if open_ids:
        raise ProfileError(
            f"{source}: UDP transport(s) {', '.join(open_ids)} have no interfaceWhiteList and would "
            f"listen on every interface; name them with dds_interfaces:=lo,<iface> or pass "
            f"dds_interfaces:={ALL_INTERFACES} to accept that on purpose"
        )


def launch_profile(profile: Path, interfaces: str, out_dir: Path | None = None) -> tuple[Path, str]:
    """The profile file the launched nodes get, and one line saying what they listen on.

    ``interfaces`` "" keeps the profile's own allowlist (refused if it has none); "all" strips it
    (an explicit, logged choice); "lo,wlan0,…" writes a copy restricted to those interfaces.
    """
    text = profile.read_text()
    spec = interfaces.strip()
    if spec.lower() == ALL_INTERFACES:
        derived, note = (
            with_allowlist(text, None),
            "DDS listens on EVERY network interface (dds_interfaces:=all)",
        )
    elif spec:
        addresses = resolve_interfaces(spec)
        derived, note = with_allowlist(text, addresses), f"DDS listens on {', '.join(addresses)} only"
    else:
        check_restricted(text, str(profile))
        addresses = sorted({a for lst in udp_allowlists(text).values() for a in lst})
        return profile, f"DDS listens on {', '.join(addresses)} only ({profile})"
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the file outlives this call on purpose
        "w", prefix="edge_rover_fastdds_", suffix=".xml", dir=out_dir, delete=False
    )
    with handle:
        handle.write(derived)
    return Path(handle.name), f"{note} (profile {handle.name}, from {profile})"


def _shipped_profile() -> Path:
    """config/fastdds_profiles.xml of the installed package, else of this checkout."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        return Path(get_package_share_directory("edge_rover")) / "config" / "fastdds_profiles.xml"
    except (ImportError, PackageNotFoundError):
        return Path(__file__).resolve().parents[1] / "config" / "fastdds_profiles.xml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = _shipped_profile()
    parser.add_argument("--profile", type=Path, default=default, help="source Fast DDS profile")
    parser.add_argument("--interfaces", default="", help="lo,wlan0,192.168.1.5 | all")
    parser.add_argument("--out", type=Path, help="write the restricted profile here")
    parser.add_argument("--show", action="store_true", help="print each UDP transport's allowlist")
    args = parser.parse_args(argv)
    try:
        text = args.profile.read_text()
        if args.show:
            for tid, addresses in udp_allowlists(text).items():
                print(f"{tid}: {', '.join(addresses) or 'EVERY interface'}")
            return 0
        if not args.out or not args.interfaces:
            parser.error("--interfaces and --out are needed to write a profile (or --show)")
        spec = args.interfaces.strip()
        addresses = None if spec.lower() == ALL_INTERFACES else resolve_interfaces(spec)
        args.out.write_text(with_allowlist(text, addresses))
    except (OSError, ProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: UDP on {', '.join(addresses) if addresses else 'EVERY interface'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

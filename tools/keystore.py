"""SROS2 keystore for the rover: CAs, one enclave per node, signed governance and permissions.

    python -m edge_rover.tools.keystore create --keystore ~/rover_keystore [--nodes camera,...,sim]
        [--domains 0-232] [--encrypt-all] [--force]
    python -m edge_rover.tools.keystore verify --keystore ~/rover_keystore     # needs the openssl CLI

The layout is the one rmw reads (and `ros2 security create_keystore/create_enclave` of sros2 write):

    public/{identity_ca,permissions_ca}.cert.pem      private/{identity_ca,permissions_ca}.key.pem
    enclaves/governance.xml, enclaves/governance.p7s
    enclaves/edge_rover/<node>/{cert.pem, key.pem, identity_ca.cert.pem, permissions_ca.cert.pem,
                                governance.p7s, permissions.xml, permissions.p7s}

Two CAs: the identity CA signs each enclave's certificate (who a participant is), the permissions
CA signs governance and permissions (what the domain demands, what each may do). Governance: no
unauthenticated participant, join access control, discovery and liveliness encrypted; the command
path (/cmd_vel, /cmd_vel_in, /obstacles and the rest of COMMAND_TOPICS) encrypted with read and
write access control; every other topic signed with access control (``--encrypt-all``: encrypted).
Each enclave's permissions allow exactly the topics of its node in common/graph.py NODE_IO, plus
what every ROS 2 node needs (rosout, parameter events, its own parameter services, the rmw graph
topic), and deny the rest. Keys: ECDSA P-256, certificates and permissions valid ``--days``.

Keep ``private/`` off the robot (only ``enclaves/`` and ``public/`` are needed there) and re-run
``create --force`` after a topic is added to NODE_IO. Works with cryptography >= 3.4 (Ubuntu
22.04's python3-cryptography), no sros2 needed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from edge_rover.common.graph import (
    CMD_VEL,
    CMD_VEL_IN,
    ESTOP,
    NODE_IO,
    OBSTACLE_MAP,
    OBSTACLES,
    ROVER_NODES,
    SAFETY_STATUS,
    resolve,
)
from edge_rover.common.sros2 import enclave_dir, enclave_of

# Topics whose content moves the rover or decides whether it brakes: always encrypted.
COMMAND_TOPICS = (CMD_VEL, CMD_VEL_IN, OBSTACLES, OBSTACLE_MAP, ESTOP, SAFETY_STATUS)
# What rcl/rmw create for every node, beside the node's own topics (DDS names).
ROS_INFRA_PUBLISH = ("rt/rosout", "rt/parameter_events", "ros_discovery_info")
ROS_INFRA_SUBSCRIBE = ("rt/parameter_events", "ros_discovery_info", "rt/clock")
ENCLAVE_FILES = (
    "cert.pem",
    "key.pem",
    "identity_ca.cert.pem",
    "permissions_ca.cert.pem",
    "governance.p7s",
    "permissions.p7s",
)
DDS_MAX_DOMAIN = 232
GOVERNANCE_XSD = "http://www.omg.org/spec/DDS-Security/20170801/omg_shared_ca_governance.xsd"
PERMISSIONS_XSD = "http://www.omg.org/spec/DDS-Security/20170801/omg_shared_ca_permissions.xsd"


class KeystoreError(Exception):
    """A keystore that cannot be made or does not verify; the message is the one line to show."""


def dds_topic(ros_topic: str, namespace: str = "") -> str:
    """The DDS topic name of a graph topic in ``namespace`` (what governance and permissions match):
    cmd_vel -> rt/cmd_vel; in namespace rover1 -> rt/rover1/cmd_vel; /clock -> rt/clock."""
    return "rt" + resolve(ros_topic, namespace)


def node_topics(node: str, namespace: str = "") -> tuple[list[str], list[str]]:
    """(publish, subscribe) DDS topic names of ``node``'s own topics in ``namespace``, from NODE_IO."""
    io = NODE_IO[node]
    return (
        sorted({dds_topic(t, namespace) for t in io.publishes}),
        sorted({dds_topic(t, namespace) for t in io.subscribes}),
    )


def _service_prefix(node: str, namespace: str) -> str:
    """The DDS name stem of the node's own services: rq/<ns>/<node>/... (parameters)."""
    ns = namespace.strip("/")
    return f"{ns}/{node}" if ns else node


def parse_domains(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        raise KeystoreError(
            f"--domains {text!r}: expected N or N-M (DDS domain ids 0..{DDS_MAX_DOMAIN})"
        ) from None
    if not 0 <= first <= last <= DDS_MAX_DOMAIN:
        raise KeystoreError(f"--domains {text!r}: expected 0 <= N <= M <= {DDS_MAX_DOMAIN}")
    return first, last


# ---------------------------------------------------------------------------------------- XML


def _domains_xml(domains: tuple[int, int], indent: str) -> str:
    return (
        f"{indent}<domains>\n{indent}  <id_range><min>{domains[0]}</min><max>{domains[1]}</max></id_range>\n"
        f"{indent}</domains>\n"
    )


def _topic_rule(expression: str, protection: str) -> str:
    return (
        "        <topic_rule>\n"
        f"          <topic_expression>{escape(expression)}</topic_expression>\n"
        "          <enable_discovery_protection>true</enable_discovery_protection>\n"
        "          <enable_liveliness_protection>true</enable_liveliness_protection>\n"
        "          <enable_read_access_control>true</enable_read_access_control>\n"
        "          <enable_write_access_control>true</enable_write_access_control>\n"
        f"          <metadata_protection_kind>{protection}</metadata_protection_kind>\n"
        f"          <data_protection_kind>{protection}</data_protection_kind>\n"
        "        </topic_rule>\n"
    )


def governance_xml(domains: tuple[int, int], encrypt_all: bool = False, namespace: str = "") -> str:
    """Domain rules: authentication required; command topics encrypted; the rest signed (or encrypted).

    Topic rules apply first match first, so the command topics come before the catch-all "*".
    """
    rules = "".join(_topic_rule(dds_topic(t, namespace), "ENCRYPT") for t in COMMAND_TOPICS)
    rules += _topic_rule("*", "ENCRYPT" if encrypt_all else "SIGN")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:noNamespaceSchemaLocation="{GOVERNANCE_XSD}">\n'
        "  <domain_access_rules>\n"
        "    <domain_rule>\n"
        + _domains_xml(domains, "      ")
        + "      <allow_unauthenticated_participants>false</allow_unauthenticated_participants>\n"
        "      <enable_join_access_control>true</enable_join_access_control>\n"
        "      <discovery_protection_kind>ENCRYPT</discovery_protection_kind>\n"
        "      <liveliness_protection_kind>ENCRYPT</liveliness_protection_kind>\n"
        "      <rtps_protection_kind>SIGN</rtps_protection_kind>\n"
        "      <topic_access_rules>\n" + rules + "      </topic_access_rules>\n"
        "    </domain_rule>\n"
        "  </domain_access_rules>\n"
        "</dds>\n"
    )


def _topics_xml(kind: str, topics: list[str]) -> str:
    items = "".join(f"            <topic>{escape(t)}</topic>\n" for t in topics)
    return f"        <{kind}>\n          <topics>\n{items}          </topics>\n        </{kind}>\n"


def permissions_xml(
    node: str,
    domains: tuple[int, int],
    not_before: dt.datetime,
    not_after: dt.datetime,
    namespace: str = "",
) -> str:
    """One grant for the node's enclave: its own topics (NODE_IO) and the ROS 2 plumbing; DENY else."""
    publish, subscribe = node_topics(node, namespace)
    # The node's parameter services: requests come in (subscribe rq/), replies go out (publish rr/).
    services = _service_prefix(node, namespace)
    publish = [*publish, *ROS_INFRA_PUBLISH, f"rr/{services}/*"]
    subscribe = [*subscribe, *ROS_INFRA_SUBSCRIBE, f"rq/{services}/*"]
    stamp = "%Y-%m-%dT%H:%M:%S"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:noNamespaceSchemaLocation="{PERMISSIONS_XSD}">\n'
        "  <permissions>\n"
        f'    <grant name="{escape(enclave_of(node))}">\n'
        f"      <subject_name>CN={escape(enclave_of(node))}</subject_name>\n"
        "      <validity>\n"
        f"        <not_before>{not_before.strftime(stamp)}</not_before>\n"
        f"        <not_after>{not_after.strftime(stamp)}</not_after>\n"
        "      </validity>\n"
        "      <allow_rule>\n"
        + _domains_xml(domains, "        ")
        + _topics_xml("publish", sorted(set(publish)))
        + _topics_xml("subscribe", sorted(set(subscribe)))
        + "      </allow_rule>\n"
        "      <default>DENY</default>\n"
        "    </grant>\n"
        "  </permissions>\n"
        "</dds>\n"
    )


# ------------------------------------------------------------------------------ keys and certs


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    """A CA certificate (``issuer`` None: self-signed) or an enclave certificate signed by ``issuer``."""
    is_ca = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(subject) if is_ca else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True)
    )
    if is_ca:
        usage = {"key_cert_sign": True, "crl_sign": True, "digital_signature": True}
    else:
        usage = {"key_cert_sign": False, "crl_sign": False, "digital_signature": True}
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=not is_ca,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _sign_smime(data: bytes, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
    """S/MIME, clear-signed (detached, text/plain): what Fast DDS and sros2 read and write."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
    return builder.sign(
        serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Text, pkcs7.PKCS7Options.DetachedSignature]
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if private:  # created 0600, never world-readable for a moment
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


def _load_ca(keystore: Path, name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((keystore / "public" / f"{name}.cert.pem").read_bytes())
    key = serialization.load_pem_private_key((keystore / "private" / f"{name}.key.pem").read_bytes(), None)
    return cert, key


def create(
    keystore: Path,
    nodes: list[str],
    domains: tuple[int, int] = (0, DDS_MAX_DOMAIN),
    encrypt_all: bool = False,
    days: int = 3650,
    force: bool = False,
    namespace: str = "",
) -> list[Path]:
    """Write (or, with ``force``, rewrite) the keystore; returns the enclave folders.

    The CAs of an existing keystore are kept (enclaves made before stay valid); enclaves,
    governance and permissions are rewritten.
    """
    unknown = [n for n in nodes if n not in NODE_IO]
    if unknown:
        raise KeystoreError(f"unknown node(s) {', '.join(unknown)}: choose from {', '.join(NODE_IO)}")
    enclaves_dir = keystore / "enclaves"
    if enclaves_dir.exists() and not force:
        raise KeystoreError(f"{keystore} already has enclaves/: pass --force to regenerate them")
    not_before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=5)
    not_after = not_before + dt.timedelta(days=days)
    cas = {}
    for ca in ("identity_ca", "permissions_ca"):
        if (keystore / "private" / f"{ca}.key.pem").is_file():
            cas[ca] = _load_ca(keystore, ca)
            continue
        key = _new_key()
        cert = _certificate(f"edge_rover {ca.replace('_', ' ')}", key, None, key, not_before, not_after)
        _write(keystore / "private" / f"{ca}.key.pem", _key_pem(key), private=True)
        _write(keystore / "public" / f"{ca}.cert.pem", _pem(cert))
        cas[ca] = cert, key
    identity_cert, identity_key = cas["identity_ca"]
    permissions_cert, permissions_key = cas["permissions_ca"]
    if enclaves_dir.exists():
        shutil.rmtree(enclaves_dir)
    governance = governance_xml(domains, encrypt_all, namespace).encode()
    governance_p7s = _sign_smime(governance, permissions_cert, permissions_key)
    _write(enclaves_dir / "governance.xml", governance)
    _write(enclaves_dir / "governance.p7s", governance_p7s)
    folders = []
    for node in nodes:
        folder = enclave_dir(keystore, node)
        key = _new_key()
        cert = _certificate(enclave_of(node), key, identity_cert, identity_key, not_before, not_after)
        permissions = permissions_xml(node, domains, not_before, not_after, namespace).encode()
        _write(folder / "key.pem", _key_pem(key), private=True)
        _write(folder / "cert.pem", _pem(cert))
        _write(folder / "identity_ca.cert.pem", _pem(identity_cert))
        _write(folder / "permissions_ca.cert.pem", _pem(permissions_cert))
        _write(folder / "governance.p7s", governance_p7s)
        _write(folder / "permissions.xml", permissions)
        _write(folder / "permissions.p7s", _sign_smime(permissions, permissions_cert, permissions_key))
        folders.append(folder)
    return folders


# --------------------------------------------------------------------------------------- verify


def enclave_folders(keystore: Path) -> list[Path]:
    return sorted(p.parent for p in (keystore / "enclaves").rglob("cert.pem"))


def _openssl(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("openssl") is None:
        raise KeystoreError("verify needs the openssl command (apt install openssl)")
    return subprocess.run(["openssl", *args], capture_output=True, timeout=30)


def smime_content(p7s: Path, ca: Path) -> bytes:
    """The signed content of ``p7s`` if its signature verifies against ``ca``; else KeystoreError.

    Text mode signs the content with CRLF line ends (S/MIME canonical text); they are turned back
    into LF here to compare with the XML file."""
    result = _openssl("smime", "-verify", "-in", str(p7s), "-CAfile", str(ca), "-text")
    if result.returncode != 0:
        raise KeystoreError(
            f"{p7s}: signature does not verify against {ca.name}: {result.stderr.decode().strip()}"
        )
    return result.stdout.replace(b"\r\n", b"\n")


def verify_enclave(folder: Path) -> None:
    """Every file rmw needs is there, the certificate chains to the identity CA, both .p7s verify
    against the permissions CA and carry the XML beside them (governance: ../governance.xml)."""
    missing = [f for f in ENCLAVE_FILES if not (folder / f).is_file()]
    if missing:
        raise KeystoreError(f"{folder}: missing {', '.join(missing)}")
    result = _openssl("verify", "-CAfile", str(folder / "identity_ca.cert.pem"), str(folder / "cert.pem"))
    if result.returncode != 0:
        raise KeystoreError(
            f"{folder}/cert.pem is not signed by its identity CA: {result.stdout.decode().strip()}"
        )
    ca = folder / "permissions_ca.cert.pem"
    if smime_content(folder / "permissions.p7s", ca) != (folder / "permissions.xml").read_bytes():
        raise KeystoreError(f"{folder}/permissions.p7s does not carry permissions.xml")
    governance = next(
        (p / "governance.xml" for p in folder.parents if (p / "governance.xml").is_file()), None
    )
    if governance is not None and smime_content(folder / "governance.p7s", ca) != governance.read_bytes():
        raise KeystoreError(f"{folder}/governance.p7s does not carry {governance}")


def verify(keystore: Path) -> list[Path]:
    folders = enclave_folders(keystore)
    if not folders:
        raise KeystoreError(f"{keystore}: no enclaves (enclaves/**/cert.pem); create one first")
    for folder in folders:
        verify_enclave(folder)
    return folders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge_rover.tools.keystore",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("create", help="CAs, governance and one enclave per node")
    make.add_argument("--keystore", type=Path, required=True)
    make.add_argument(
        "--nodes",
        default=",".join(ROVER_NODES),
        help=f"comma list of {', '.join(NODE_IO)} (default: the rover's, {', '.join(ROVER_NODES)})",
    )
    make.add_argument(
        "--domains", default=f"0-{DDS_MAX_DOMAIN}", help="DDS domain id or range the rules cover"
    )
    make.add_argument(
        "--encrypt-all", action="store_true", help="encrypt every topic, not only the command path"
    )
    make.add_argument("--days", type=int, default=3650, help="validity of certificates and permissions")
    make.add_argument("--force", action="store_true", help="regenerate enclaves of an existing keystore")
    make.add_argument(
        "--namespace", default="", help="the launch namespace (namespace:=...) the permissions name topics in"
    )
    check = sub.add_parser("verify", help="check every enclave with openssl")
    check.add_argument("--keystore", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "create":
            nodes = [n for n in args.nodes.split(",") if n]
            folders = create(
                args.keystore,
                nodes,
                parse_domains(args.domains),
                args.encrypt_all,
                args.days,
                args.force,
                args.namespace,
            )
            names = ", ".join(enclave_of(n) for n in nodes)
            print(f"keystore {args.keystore}: {len(folders)} enclaves ({names})")
        else:
            folders = verify(args.keystore)
            print(f"keystore {args.keystore}: {len(folders)} enclaves verify")
    except (KeystoreError, OSError) as error:
        print(f"keystore: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

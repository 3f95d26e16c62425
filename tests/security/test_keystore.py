"""The SROS2 keystore (tools/keystore.py): real keys, certificates and S/MIME files, checked with
the openssl CLI and cryptography, and the node table they are built from checked against the
graph table and against real nodes."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cryptography import x509

from edge_rover.common.graph import DIAGNOSTICS, NODE_IO, RECORDED_TOPICS, ROVER_NODES, TOPICS, resolve
from edge_rover.common.sros2 import enclave_dir, enclave_of
from edge_rover.tools import keystore as ks

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every node's enclave (the default is the rover's five)."""
    path = tmp_path_factory.mktemp("keystore")
    assert ks.main(["create", "--keystore", str(path), "--nodes", ",".join(NODE_IO)]) == 0
    return path


def _openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


def _smime(p7s: Path, ca: Path) -> subprocess.CompletedProcess:
    return _openssl("smime", "-verify", "-in", str(p7s), "-CAfile", str(ca), "-text")


@pytest.mark.parametrize("node", list(NODE_IO))
def test_each_enclave_has_the_files_rmw_reads_and_they_verify(store: Path, node: str) -> None:
    folder = enclave_dir(store, node)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*ks.ENCLAVE_FILES, "permissions.xml"])
    assert (folder / "key.pem").stat().st_mode & 0o077 == 0  # the private key is the owner's only
    cert = x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes())
    identity_ca = x509.load_pem_x509_certificate((folder / "identity_ca.cert.pem").read_bytes())
    permissions_ca = x509.load_pem_x509_certificate((folder / "permissions_ca.cert.pem").read_bytes())
    cert.verify_directly_issued_by(identity_ca)  # raises if not
    assert cert.subject.rfc4514_string() == f"CN={enclave_of(node)}"
    assert (
        _openssl(
            "verify", "-CAfile", str(folder / "identity_ca.cert.pem"), str(folder / "cert.pem")
        ).returncode
        == 0
    )
    # The identity CA cannot vouch for the permissions, nor the other way round (two CAs).
    with pytest.raises(ValueError):
        cert.verify_directly_issued_by(permissions_ca)
    for p7s, xml in [
        ("permissions.p7s", folder / "permissions.xml"),
        ("governance.p7s", store / "enclaves" / "governance.xml"),
    ]:
        good = _smime(folder / p7s, folder / "permissions_ca.cert.pem")
        assert good.returncode == 0, good.stderr
        assert good.stdout.replace("\r\n", "\n") == xml.read_text()
        assert _smime(folder / p7s, folder / "identity_ca.cert.pem").returncode != 0


def test_a_tampered_permissions_file_fails_verification(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "controller"
    shutil.copytree(enclave_dir(store, "controller"), copy)
    signed = (copy / "permissions.p7s").read_text()
    (copy / "permissions.p7s").write_text(
        signed.replace("<topic>rt/cmd_vel</topic>", "<topic>rt/*</topic>", 1)
    )
    assert _smime(copy / "permissions.p7s", copy / "permissions_ca.cert.pem").returncode != 0
    with pytest.raises(ks.KeystoreError, match="signature does not verify"):
        ks.verify_enclave(copy)
    assert ks.main(["verify", "--keystore", str(store)]) == 0


def _grant(folder: Path) -> ET.Element:
    [grant] = ET.parse(folder / "permissions.xml").getroot().iter("grant")
    return grant


@pytest.mark.parametrize("node", list(NODE_IO))
def test_permissions_allow_exactly_the_nodes_topics_and_deny_the_rest(store: Path, node: str) -> None:
    grant = _grant(enclave_dir(store, node))
    assert grant.findtext("subject_name") == f"CN={enclave_of(node)}"
    assert grant.findtext("default") == "DENY"
    [rule] = grant.findall("allow_rule")
    published = {t.text for t in rule.iterfind("publish/topics/topic")}
    subscribed = {t.text for t in rule.iterfind("subscribe/topics/topic")}
    own_published = {n for n in published if n not in ks.ROS_INFRA_PUBLISH and not n.startswith("rr/")}
    own_subscribed = {n for n in subscribed if n not in ks.ROS_INFRA_SUBSCRIBE and not n.startswith("rq/")}
    assert own_published == {ks.dds_topic(t) for t in NODE_IO[node].publishes}
    assert own_subscribed == {ks.dds_topic(t) for t in NODE_IO[node].subscribes}
    # Services: only the node's own parameter services.
    assert {n for n in published if n.startswith("rr/")} == {f"rr/{node}/*"}
    assert {n for n in subscribed if n.startswith("rq/")} == {f"rq/{node}/*"}


def test_the_default_keystore_is_the_rovers_and_only_its_controller_may_write_cmd_vel(tmp_path: Path) -> None:
    assert ks.main(["create", "--keystore", str(tmp_path)]) == 0
    assert {p.name for p in (tmp_path / "enclaves" / "edge_rover").iterdir()} == set(ROVER_NODES)
    writers = {
        node
        for node in ROVER_NODES
        for rule in _grant(enclave_dir(tmp_path, node)).iterfind("allow_rule/publish/topics/topic")
        if fnmatch.fnmatchcase("rt/cmd_vel", rule.text) or fnmatch.fnmatchcase("rt/cmd_vel_in", rule.text)
    }
    assert writers == {"controller"}  # nobody on the robot may write /cmd_vel_in: a planner needs an enclave


def _first_rule(governance: ET.Element, topic: str) -> ET.Element:
    """The topic rule DDS applies to ``topic``: the first whose expression matches."""
    return next(
        r for r in governance.iter("topic_rule") if fnmatch.fnmatchcase(topic, r.findtext("topic_expression"))
    )


@pytest.mark.parametrize("encrypt_all", [False, True])
def test_governance_requires_authentication_and_encrypts_the_command_topics(
    tmp_path: Path, encrypt_all: bool
) -> None:
    ks.create(tmp_path, ["controller"], encrypt_all=encrypt_all)
    root = ET.parse(tmp_path / "enclaves" / "governance.xml").getroot()
    [domain_rule] = root.iter("domain_rule")
    assert domain_rule.findtext("allow_unauthenticated_participants") == "false"
    assert domain_rule.findtext("enable_join_access_control") == "true"
    assert domain_rule.findtext("discovery_protection_kind") == "ENCRYPT"
    for topic in ["rt/cmd_vel", "rt/cmd_vel_in", "rt/obstacles"]:
        rule = _first_rule(root, topic)
        assert rule.findtext("topic_expression") == topic
        assert rule.findtext("data_protection_kind") == rule.findtext("metadata_protection_kind") == "ENCRYPT"
        assert (
            rule.findtext("enable_write_access_control")
            == rule.findtext("enable_read_access_control")
            == "true"
        )
    other = _first_rule(root, "rt/camera/image_raw")
    assert other.findtext("topic_expression") == "*"
    assert other.findtext("data_protection_kind") == ("ENCRYPT" if encrypt_all else "SIGN")
    assert other.findtext("enable_write_access_control") == "true"


def test_node_io_agrees_with_the_graph_table() -> None:
    """Who writes each topic of TOPICS: the nodes its ``publisher`` names, nobody else (bag_replay
    writes whatever was recorded). Publishers that are not ours (teleop, a planner, an operator's
    e-stop) need enclaves of their own; /diagnostics is published by whichever node reports."""
    for topic, spec in TOPICS.items():
        if topic == DIAGNOSTICS:
            continue
        named = {n.strip() for n in spec.publisher.split("|")} & set(NODE_IO)
        writers = {node for node, io in NODE_IO.items() if topic in io.publishes}
        assert writers - {"bag_replay"} == named - {"bag_replay"}, (topic, writers, named)
    assert set(NODE_IO["bag_replay"].publishes) <= {*RECORDED_TOPICS, "/clock"}
    assert set(NODE_IO["bag_recorder"].subscribes) == set(RECORDED_TOPICS)


def test_regenerating_keeps_the_cas_and_refuses_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ks.create(tmp_path, ["controller"])
    old_ca = (tmp_path / "public" / "identity_ca.cert.pem").read_bytes()
    assert ks.main(["create", "--keystore", str(tmp_path), "--nodes", "controller"]) == 1
    assert "pass --force" in capsys.readouterr().err
    assert ks.main(["create", "--keystore", str(tmp_path), "--nodes", "controller,camera", "--force"]) == 0
    assert (tmp_path / "public" / "identity_ca.cert.pem").read_bytes() == old_ca
    assert ks.main(["verify", "--keystore", str(tmp_path)]) == 0
    assert ks.main(["create", "--keystore", str(tmp_path / "x"), "--nodes", "controler"]) == 1
    assert "unknown node(s) controler" in capsys.readouterr().err
    assert ks.main(["create", "--keystore", str(tmp_path / "y"), "--domains", "300"]) == 1


@pytest.mark.ros
@pytest.mark.parametrize("node", ["controller", "obstacle_mapper"])
def test_node_io_is_what_the_real_node_publishes_and_subscribes(ros_context, node: str) -> None:
    """Started as `ros2 run` would; its endpoints read from the graph (ROS names, /rosout and
    /parameter_events left out)."""
    from rclpy.executors import SingleThreadedExecutor

    from tests.ros_helpers import running_process, spin_until

    probe = __import__("rclpy").create_node("keystore_probe", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(probe)
    plumbing = {"/rosout", "/parameter_events"}

    def endpoints() -> tuple[set[str], set[str]]:
        try:
            pubs = probe.get_publisher_names_and_types_by_node(node, "/")
            subs = probe.get_subscriber_names_and_types_by_node(node, "/")
        except Exception:
            return set(), set()
        return {n for n, _ in pubs} - plumbing, {n for n, _ in subs} - plumbing

    expected = {resolve(t) for t in NODE_IO[node].publishes}, {resolve(t) for t in NODE_IO[node].subscribes}
    with running_process([str(Path(sys.prefix) / "bin" / node)]):
        assert spin_until(executor, lambda: endpoints() == expected, 30.0), (endpoints(), expected)


def test_a_namespaced_keystore_names_the_topics_and_services_under_the_namespace(tmp_path: Path) -> None:
    """namespace:=rover1 moves every graph topic to /rover1/...: the rules must follow, or the
    secured controller would be denied its own /rover1/cmd_vel (and the root rules guard nothing)."""
    assert (
        ks.main(["create", "--keystore", str(tmp_path), "--nodes", "controller", "--namespace", "rover1"])
        == 0
    )
    root = ET.parse(tmp_path / "enclaves" / "governance.xml").getroot()
    rule = _first_rule(root, "rt/rover1/cmd_vel")
    assert rule.findtext("topic_expression") == "rt/rover1/cmd_vel"
    assert rule.findtext("data_protection_kind") == "ENCRYPT"
    grant = _grant(enclave_dir(tmp_path, "controller"))
    published = {t.text for t in grant.iterfind("allow_rule/publish/topics/topic")}
    subscribed = {t.text for t in grant.iterfind("allow_rule/subscribe/topics/topic")}
    assert "rt/rover1/cmd_vel" in published and "rt/cmd_vel" not in published
    assert "rr/rover1/controller/*" in published
    assert "rt/clock" in subscribed  # /clock stays absolute under a namespace

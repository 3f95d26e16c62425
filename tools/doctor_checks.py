"""`doctor` checks as pure functions over a snapshot of the running graph (no rclpy here).

Each check returns pass/fail lines with the fix, for the user who says "nothing happens".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge_rover.common.graph import CLOCK, CMD_VEL, TOPICS, TopicSpec, resolve
from edge_rover.common.graph_checks import CheckResult, Endpoint, check_clock, check_qos
from edge_rover.perception.detection.model_card import domain_mismatch

# Which world the images come from, by the node that publishes /camera/image_raw: the simulator
# renders, a camera or a recorded bag is real footage.
SOURCE_DOMAIN_BY_NODE = {"sim": "sim", "camera": "real", "bag_replay": "real"}


@dataclass
class GraphSnapshot:
    namespace: str = ""  # the graph's namespace ("" = the root); topics are keyed by table name
    publishers: dict[str, list[Endpoint]] = field(default_factory=dict)
    subscribers: dict[str, list[Endpoint]] = field(default_factory=dict)
    image_size: tuple[int, int] | None = None  # (width, height) of /camera/image_raw
    camera_info_size: tuple[int, int] | None = None
    diagnostics: dict[str, tuple[int, str, dict[str, str]]] = field(
        default_factory=dict
    )  # name → level, msg, kv
    use_sim_time: dict[str, bool] = field(default_factory=dict)  # node → parameter value


def check_topic(spec: TopicSpec, snap: GraphSnapshot) -> list[CheckResult]:
    pubs = snap.publishers.get(spec.name, [])
    subs = snap.subscribers.get(spec.name, [])
    topic = resolve(spec.name, snap.namespace)
    if not pubs:
        if spec.optional:
            return []
        return [
            CheckResult(
                False,
                f"{topic}: no publisher ({len(subs)} subscriber(s))",
                f"start the node that publishes it ({spec.publisher}); check its log for a start-up error",
            )
        ]
    results = [CheckResult(True, f"{topic}: {len(pubs)} publisher(s), {len(subs)} subscriber(s)")]
    wrong_types = sorted({e.type_name for e in pubs + subs} - {spec.type_name})
    if wrong_types and spec.name != CMD_VEL:  # cmd_vel may be TwistStamped by parameter
        results.append(
            CheckResult(
                False,
                f"{topic}: type {wrong_types} seen, expected {spec.type_name}",
                "publishers and subscribers of one topic must agree on its type",
            )
        )
    results.extend(check_qos(topic, pubs, subs))
    return results


def check_camera_info(snap: GraphSnapshot) -> list[CheckResult]:
    if snap.image_size is None:
        return [
            CheckResult(False, "no image received on /camera/image_raw", "is the camera/sim/bag running?")
        ]
    if snap.camera_info_size is None:
        return [
            CheckResult(
                False,
                "no /camera/camera_info received",
                "give the camera node a camera_info_url (see README: calibration)",
            )
        ]
    if snap.image_size != snap.camera_info_size:
        return [
            CheckResult(
                False,
                f"camera_info is {snap.camera_info_size[0]}x{snap.camera_info_size[1]} but images are "
                f"{snap.image_size[0]}x{snap.image_size[1]}",
                "calibrate at the published resolution or set the camera's width/height to match",
            )
        ]
    return [CheckResult(True, f"camera_info matches the images ({snap.image_size[0]}x{snap.image_size[1]})")]


def check_diagnostics(snap: GraphSnapshot) -> list[CheckResult]:
    """Every node's own /diagnostics: OK is a pass; WARN/ERROR/STALE is a fail with its message."""
    if not snap.diagnostics:
        return [CheckResult(False, "no /diagnostics received", "are the nodes running?")]
    results = []
    for name, (level, message, values) in sorted(snap.diagnostics.items()):
        figures = ", ".join(
            f"{k}={v}" for k, v in values.items() if any(w in k for w in ("latency", "drop", "sha256", "fps"))
        )
        detail = f"{name}: {message}" + (f" ({figures})" if figures else "")
        results.append(CheckResult(level == 0, detail, "see that node's log for the reason"))
    return results


def check_sim_time(snap: GraphSnapshot) -> list[CheckResult]:
    has_clock = bool(snap.publishers.get(CLOCK))
    results = [
        problem
        for node, sim_time in sorted(snap.use_sim_time.items())
        if (problem := check_clock(node, sim_time, has_clock)) is not None
    ]
    if not results and snap.use_sim_time:
        mode = "sim time (/clock)" if has_clock else "wall time"
        results.append(CheckResult(True, f"all {len(snap.use_sim_time)} nodes agree on {mode}"))
    return results


def image_source_domain(snap: GraphSnapshot) -> str | None:
    """sim / real from the node publishing /camera/image_raw (None: unknown or several worlds)."""
    domains = {
        SOURCE_DOMAIN_BY_NODE.get(e.node.rsplit("/", 1)[-1])
        for e in snap.publishers.get("/camera/image_raw", [])
    }
    return domains.pop() if len(domains) == 1 else None


def check_model_domain(snap: GraphSnapshot) -> list[CheckResult]:
    """The detector's model card domain against where the images come from (the publisher of
    /camera/image_raw, else the detector's own source_domain parameter)."""
    results = []
    for name, (_, _, values) in sorted(snap.diagnostics.items()):
        model_domain = values.get("model_domain")
        if model_domain is None:
            continue
        declared = values.get("source_domain")
        source = image_source_domain(snap) or (declared if declared in ("sim", "real") else None)
        problem = domain_mismatch(model_domain if model_domain != "unknown" else None, source)
        if problem is not None:
            what, _, fix = problem.partition("; fix: ")
            results.append(CheckResult(False, f"{name}: {what}", fix))
        elif source is not None and model_domain != "unknown":
            results.append(CheckResult(True, f"{name}: a {model_domain} model on {source} images"))
    return results


def run_checks(snap: GraphSnapshot) -> list[CheckResult]:
    results: list[CheckResult] = []
    for spec in TOPICS.values():
        results.extend(check_topic(spec, snap))
    results.extend(check_camera_info(snap))
    results.extend(check_diagnostics(snap))
    results.extend(check_model_domain(snap))
    results.extend(check_sim_time(snap))
    return results

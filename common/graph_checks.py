"""Graph checks shared by `doctor` (whole graph) and every node's start-up self-check (its inputs).

Pure functions over endpoint descriptions (no rclpy here): a check returns pass/fail lines, each
failure with the fix, for the user who says "nothing happens".
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_rover.common.graph import CLOCK, TOPICS, graph_name


@dataclass(frozen=True)
class Endpoint:
    node: str
    type_name: str
    reliable: bool
    transient_local: bool = False


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        mark = "PASS" if self.ok else "FAIL"
        return f"[{mark}] {self.what}" + (f"\n       fix: {self.fix}" if self.fix and not self.ok else "")


def check_qos(topic: str, pubs: list[Endpoint], subs: list[Endpoint]) -> list[CheckResult]:
    """A RELIABLE subscriber never receives from a BEST_EFFORT publisher — silently."""
    results = []
    for sub in subs:
        for pub in pubs:
            if sub.reliable and not pub.reliable:
                results.append(
                    CheckResult(
                        False,
                        f"{topic}: {sub.node} subscribes RELIABLE but {pub.node} publishes BEST_EFFORT "
                        "— they never match",
                        f"make {sub.node} subscribe with BEST_EFFORT (sensor data QoS)",
                    )
                )
            if sub.transient_local and not pub.transient_local:
                results.append(
                    CheckResult(
                        False,
                        f"{topic}: {sub.node} wants TRANSIENT_LOCAL but {pub.node} is VOLATILE",
                        f"make {sub.node} subscribe VOLATILE",
                    )
                )
    return results


def input_checks(
    node: str, inputs: dict[str, Endpoint], publishers: dict[str, list[Endpoint]], use_sim_time: bool
) -> list[CheckResult]:
    """What a node can check about its own inputs a few seconds after it started.

    ``inputs``: the node's subscriptions (resolved topic → its endpoint); ``publishers``: every
    publisher the graph shows on those topics and on /clock. Topics the graph table marks optional
    (odometry, the clock, ground truth, cmd_vel_in) or does not list may have no publisher.
    """
    results: list[CheckResult] = []
    for topic, subscription in sorted(inputs.items()):
        pubs = publishers.get(topic, [])
        spec = TOPICS.get(graph_name(topic) or "")  # the node may run in a namespace
        if not pubs:
            if spec is not None and not spec.optional:
                results.append(
                    CheckResult(
                        False,
                        f"{node}: nothing publishes {topic} yet",
                        f"start {spec.publisher} (same ROS_DOMAIN_ID and discovery range); "
                        "`python -m edge_rover.tools.doctor` lists the whole graph",
                    )
                )
            continue
        problems = check_qos(topic, pubs, [subscription])
        results.extend(problems)
        if not problems:
            results.append(CheckResult(True, f"{topic}: {len(pubs)} publisher(s), QoS compatible"))
    clock_problem = check_clock(node, use_sim_time, bool(publishers.get(CLOCK)))
    if clock_problem is not None:
        results.append(clock_problem)
    return results


def check_clock(node: str, use_sim_time: bool, has_clock: bool) -> CheckResult | None:
    """A node on sim time without /clock stands still; one on wall time beside /clock mis-stamps."""
    if use_sim_time and not has_clock:
        return CheckResult(
            False,
            f"{node} has use_sim_time=true but nobody publishes /clock: its time stands still",
            "start the simulator or the bag replay, or set use_sim_time:=false",
        )
    if not use_sim_time and has_clock:
        return CheckResult(
            False,
            f"{node} runs on wall time while /clock is published: stamps will not match",
            "launch it with use_sim_time:=true",
        )
    return None

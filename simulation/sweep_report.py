"""A sweep's summary (``summary.json``, Wilson 95 % intervals) and HTML report with plots and GIFs.

Definitions (also in docs/sweeps.md):
- a *run* is a seed the oracle passes (DISCARDED seeds: the oracle fails them; ERROR: the task
  failed twice); rates are over runs;
- *avoidable collision*: the stack collided on a scenario the oracle passes;
- *false stop*: the rover stood still ≥ 0.5 s (after having moved) while no obstacle was, or within
  2 s would be, in the corridor 8 m ahead (``stack_runner.StandstillWatch``): it stopped for nothing;
- *failure class*: the situation and the first failed criterion (collision, left the road, too
  close, stopped too far short, too cautious, braked for nothing).
"""

from __future__ import annotations

import gzip
import html
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

PASSED, FAILED = "PASSED", "FAILED"
FALSE_STOP_S = 0.5
# First matching pattern names the failure category; the order is the severity.
CATEGORIES = (
    ("collision", re.compile(r"^collided")),
    ("left the road", re.compile(r"^left the road")),
    ("too close to the target", re.compile(r"^closest approach")),
    ("passed too close", re.compile(r"^clearance")),
    ("never stopped before the target", re.compile(r"^never stopped")),
    ("stopped too far short", re.compile(r"^stopped .* short")),
    ("braked for nothing", re.compile(r"^braked for")),
    ("too cautious (slow / stood still)", re.compile(r"^(mean speed|stood still|progress)")),
)


def wilson(successes: int, n: int, z: float = 1.959964) -> list[float] | None:
    """Wilson score 95 % interval of a proportion (None for n = 0)."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _rate(k: int, n: int) -> dict[str, Any]:
    return {"count": k, "rate": round(k / n, 4) if n else None, "ci95": wilson(k, n)}


def category(reasons: list[str]) -> str:
    for name, pattern in CATEGORIES:
        if any(pattern.search(r) for r in reasons):
            return name
    return "other"


def is_false_stop(record: dict[str, Any]) -> bool:
    return (record.get("stages") or {}).get("false_stop_s", 0.0) >= FALSE_STOP_S


def valid_runs(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["verdict"] in (PASSED, FAILED)]


def failure_classes(runs: list[dict]) -> list[dict[str, Any]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for r in valid_runs(runs):
        if r["verdict"] == FAILED:
            groups[f"{r['conditions']['situation']}: {category(r['reasons'])}"].append(r["seed"])
    severity = {name: i for i, (name, _) in enumerate(CATEGORIES)}
    rows = [{"class": k, "runs": len(v), "seeds": v} for k, v in groups.items()]
    return sorted(rows, key=lambda row: (severity.get(row["class"].split(": ", 1)[1], 99), -row["runs"]))


def severity_key(record: dict[str, Any]) -> tuple:
    """Sort key, worst first: collisions (earliest), leaving the road, other failures (smallest gap)."""
    m = record.get("metrics") or {}
    gap = m.get("min_gap_m")
    gap = math.inf if gap is None else gap
    if m.get("collided"):
        return (0, m.get("collision_time") or 0.0)
    if m.get("left_road_s") is not None:
        return (1, gap)
    if record["verdict"] == FAILED:
        return (2 + [n for n, _ in CATEGORIES].index(category(record["reasons"])) / 10, gap)
    return (9, gap)


def write_summary(out: Path, runs: list[dict], engine: str, extra: dict | None = None) -> dict[str, Any]:
    valid = valid_runs(runs)
    n = len(valid)
    collided = [r for r in valid if r["metrics"]["collided"]]
    avoidable = [r for r in collided if r["oracle"]["verdict"] == PASSED]
    passed = sum(r["verdict"] == PASSED for r in valid)
    false_stops = [r for r in valid if is_false_stop(r)]
    sim_s = sum(r.get("sim_s", 0.0) for r in valid)
    task_wall = sum(r.get("wall_s", 0.0) for r in runs)
    summary = {
        "runs": n,
        "seeds": len(runs),
        "discarded": sum(r["verdict"] == "DISCARDED" for r in runs),
        "errors": sum(r["verdict"] == "ERROR" for r in runs),
        "error_seeds": [r["seed"] for r in runs if r["verdict"] == "ERROR"],
        "passed": passed,
        "failed": n - passed,
        "collisions": len(collided),
        "collision_seeds": [r["seed"] for r in collided],
        "avoidable_collisions": len(avoidable),
        "success_rate": round(passed / n, 4) if n else None,
        "success_rate_ci95": wilson(passed, n),
        "collision_rate": _rate(len(collided), n),
        "avoidable_collision_rate": _rate(len(avoidable), n),
        "false_stop_rate": round(len(false_stops) / n, 4) if n else None,
        "false_stop_rate_ci95": wilson(len(false_stops), n),
        "false_stop_seeds": [r["seed"] for r in false_stops],
        "left_road": _rate(sum(r["metrics"]["left_road_s"] is not None for r in valid), n),
        "failure_classes": failure_classes(runs),
        "by_situation": _by(valid, "situation"),
        "engine": engine,
        "sim_s": round(sim_s, 1),
        "task_wall_s": round(task_wall, 1),
        "sim_s_per_task_wall_s": round(sim_s / task_wall, 3) if task_wall else None,
        **(extra or {}),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _by(valid: list[dict], key: str) -> dict[str, dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in valid:
        groups[str(r["conditions"][key])].append(r)
    return {
        k: {
            "runs": len(v),
            "passed": sum(r["verdict"] == PASSED for r in v),
            "collisions": sum(r["metrics"]["collided"] for r in v),
            "success_ci95": wilson(sum(r["verdict"] == PASSED for r in v), len(v)),
        }
        for k, v in sorted(groups.items())
    }


# ---------------------------------------------------------------------------------------------
# Plots and the HTML page


def _bins(values: list[float], edges: list[float], unit: str) -> list[str]:
    """Each value's bin label ("1.2–1.4 m/s"); the last bin includes its upper edge. The labels
    start with a hidden sort key (the bin index) that the plot strips."""
    labels = []
    for v in values:
        i = min(max(int(np.searchsorted(edges, v, side="right")) - 1, 0), len(edges) - 2)
        labels.append(f"{i:02d}|{edges[i]:g}–{edges[i + 1]:g}{unit}")
    return labels


def condition_labels(valid: list[dict]) -> dict[str, list[str]]:
    c = [r["conditions"] for r in valid]
    return {
        "situation": [x["situation"] for x in c],
        "class": [x["class"] + (" (child)" if x.get("child") else "") for x in c],
        "lighting": [x["lighting"] for x in c],
        "cruise speed": _bins([x["cruise_speed"] for x in c], [1.2, 1.4, 1.6, 1.8, 2.0], " m/s"),
        "camera pitch error": _bins([x["pitch_error_deg"] for x in c], [-2, -1, 0, 1, 2], "°"),
        "camera height error": _bins([x["height_error_m"] * 100 for x in c], [-3, -1.5, 0, 1.5, 3], " cm"),
    }


def _outcome(r: dict) -> str:
    if r["metrics"]["collided"]:
        return "collision"
    return "passed" if r["verdict"] == PASSED else "failed (no collision)"


def plot_outcomes(valid: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcomes = [_outcome(r) for r in valid]
    colours = {"passed": "#4c9a2a", "failed (no collision)": "#e0a030", "collision": "#c0392b"}
    labels = condition_labels(valid)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, (name, values) in zip(axes.flat, labels.items(), strict=True):
        keys = sorted(set(values))
        bottom = np.zeros(len(keys))
        for outcome, colour in colours.items():
            counts = np.array(
                [sum(v == k and o == outcome for v, o in zip(values, outcomes, strict=True)) for k in keys]
            )
            ax.bar([k.split("|")[-1] for k in keys], counts, bottom=bottom, color=colour, label=outcome)
            bottom += counts
        ax.set_title(f"outcome by {name}")
        ax.tick_params(axis="x", rotation=30, labelsize=8)
        ax.set_ylabel("runs")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_histograms(valid: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.5))
    for outcome, colour in (
        ("passed", "#4c9a2a"),
        ("failed (no collision)", "#e0a030"),
        ("collision", "#c0392b"),
    ):
        group = [r for r in valid if _outcome(r) == outcome]
        brake = [
            r["metrics"]["threat_reaction_s"] for r in group if r["metrics"]["threat_reaction_s"] is not None
        ]
        gaps = [min(r["metrics"]["min_gap_m"], 6.0) for r in group if r["metrics"]["min_gap_m"] is not None]
        if brake:
            a.hist(brake, bins=30, alpha=0.6, color=colour, label=f"{outcome} ({len(brake)})")
        if gaps:
            b.hist(gaps, bins=30, range=(0, 6), alpha=0.6, color=colour, label=f"{outcome} ({len(gaps)})")
    a.set_title("time to first brake after the first threat in the corridor (s; < 0: braked before)")
    a.set_xlabel("first braking command − first obstacle in the corridor ahead (s)")
    b.set_title("closest approach to any obstacle (m, 6 = 6 or more)")
    b.set_xlabel("minimum footprint gap (m); 0 = collision")
    for ax in (a, b):
        ax.set_ylabel("runs")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def camera_gif(out: Path, record: dict, path: Path, every: int = 5, width: int = 256) -> bool:
    """Replays the run from its trace (the commands it got, the boxes the detector saw) as a GIF:
    the world is deterministic given the commands, so no detector is needed. Every ``every``-th
    frame, without sensor noise (it would not compress). False: no trace."""
    import cv2
    from PIL import Image

    from edge_rover.simulation.closed_loop import default_rig
    from edge_rover.simulation.renderer import Renderer
    from edge_rover.simulation.scenarios import ScenarioWorld, load_scenario

    trace_path = out / "traces" / f"{record['scenario']}.json.gz"
    if not trace_path.is_file() or "scenario_file" not in record:
        return False
    with gzip.open(trace_path, "rt") as f:
        trace = json.load(f)
    scenario = load_scenario(out / record["scenario_file"])
    world = ScenarioWorld(scenario)
    renderer = Renderer(scenario.camera.true_rig(default_rig()))
    frames = []
    for i, (v, w) in enumerate(zip(trace["cmd_v"], trace["cmd_w"], strict=True)):
        if i % every == 0:
            scene = world.scene(frame_seed=i)
            scene.noise_sigma = 0.0  # for the GIF only: sensor noise does not compress (~60 kB a frame)
            image = renderer.render(scene, with_truth=False).image.copy()
            for x1, y1, x2, y2, name, score in trace["boxes"][i] if i < len(trace["boxes"]) else []:
                cv2.rectangle(image, (int(x1), int(y1)), (int(x2), int(y2)), (0, 255, 255), 2)
                cv2.putText(
                    image, f"{name} {score:.2f}", (int(x1), max(int(y1) - 4, 10)), 0, 0.5, (0, 255, 255), 1
                )
            cv2.putText(
                image,
                f"t={world.time:.2f}s v={world.rover.speed:.2f} cmd={v:.2f}",
                (8, 20),
                0,
                0.6,
                (255, 255, 255),
                2,
            )
            small = cv2.resize(
                image, (width, int(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA
            )
            frames.append(Image.fromarray(small[:, :, ::-1]).quantize(colors=64, dither=Image.Dither.NONE))
        world.step(v, w)
    if not frames:
        return False
    frames[0].save(
        path, save_all=True, append_images=frames[1:], duration=int(1000 * scenario.step_s * every), loop=0
    )
    return True


def _table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _ci(ci: list[float] | None) -> str:
    return "–" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def write_report(out: Path, runs: list[dict], summary: dict[str, Any], worst: int = 10) -> Path:
    report = out / "report"
    report.mkdir(parents=True, exist_ok=True)
    valid = valid_runs(runs)
    parts = [
        "<!doctype html><meta charset='utf-8'><title>edge_rover sweep</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;vertical-align:top}"
        "code{font-size:12px}</style>",
        f"<h1>Sweep: {summary['runs']} runs ({summary['engine']})</h1>",
        _table(
            [
                ["runs (oracle passes)", summary["runs"], ""],
                ["discarded (oracle fails)", summary["discarded"], ""],
                ["errors (task failed twice)", summary["errors"], summary["error_seeds"]],
                ["success rate", summary["success_rate"], _ci(summary["success_rate_ci95"])],
                ["collisions", summary["collisions"], _ci(summary["collision_rate"]["ci95"])],
                [
                    "avoidable collisions",
                    summary["avoidable_collisions"],
                    _ci(summary["avoidable_collision_rate"]["ci95"]),
                ],
                ["false stop rate", summary["false_stop_rate"], _ci(summary["false_stop_rate_ci95"])],
                ["left the road", summary["left_road"]["count"], _ci(summary["left_road"]["ci95"])],
                ["simulated s / task wall s", summary["sim_s_per_task_wall_s"], ""],
            ],
            ["", "value", "Wilson 95 % interval / seeds"],
        ),
        "<h2>Failure classes</h2>",
        _table(
            [
                [html.escape(c["class"]), c["runs"], ", ".join(map(str, c["seeds"]))]
                for c in summary["failure_classes"]
            ],
            ["situation: first failed criterion", "runs", "seeds"],
        ),
    ]
    if valid:
        plot_outcomes(valid, report / "outcomes.png")
        plot_histograms(valid, report / "histograms.png")
        parts += [
            "<h2>Outcome by condition</h2><img src='outcomes.png' width='100%'>",
            "<h2>Time to first brake, closest approach</h2><img src='histograms.png' width='100%'>",
        ]
    rows = []
    for record in sorted(valid, key=severity_key)[:worst]:
        gif = report / f"{record['scenario']}.gif"
        has_gif = camera_gif(out, record, gif)
        file = html.escape(str((out / record["scenario_file"]).resolve()))
        c, m = record["conditions"], record["metrics"]
        rows.append(
            [
                record["seed"],
                f"{record['verdict']}<br>{html.escape('; '.join(record['reasons']))}",
                html.escape(
                    f"{c['situation']}, {c['class']}{' (child)' if c.get('child') else ''}, {c['lighting']}, "
                    f"{c['cruise_speed']} m/s, pitch {c['pitch_error_deg']}°, height {c['height_error_m']} m"
                ),
                "–" if m["min_gap_m"] is None else f"{m['min_gap_m']:.2f}",
                f"<code>make demo SCENARIO={file}</code> (the real graph; writes its bag)"
                f"<br><code>python -m edge_rover.simulation.stack_runner {file}</code>",
                f"<img src='{gif.name}'>" if has_gif else "–",
            ]
        )
    parts += [
        f"<h2>The {worst} worst runs</h2>",
        _table(
            rows,
            ["seed", "verdict", "conditions", "closest approach (m)", "replay", "camera (detector boxes)"],
        ),
    ]
    by = Counter(r["verdict"] for r in runs)
    parts.append(f"<p>Verdicts over all seeds: {html.escape(json.dumps(dict(by)))}</p>")
    path = report / "index.html"
    path.write_text("\n".join(parts))
    return path

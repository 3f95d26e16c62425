"""Controller benchmark: cycle time of the pure core, and closed-loop behaviour on kinematic scenarios.

    python -m benchmarks.control [--cycles 2000]

Part 1 times ``edge_rover.control.controller.step`` (arc scoring + braking + watchdog) with 0 / 5 / 20
obstacles, with and without a 10 m × 10 m occupancy grid, against the 20 ms budget of a 50 Hz loop.
Part 2 runs the controller in ``edge_rover.control.kinematic_loop`` (perfect perception, no actuator lag —
the simulator's closed-loop runs add those) on scenario shapes of issue 8: static obstacle,
late-appearing obstacle, obstacle beside the path, clear road, cone slalom, crossing pedestrian,
and reports collisions, minimum clearance, impact speed, false-braking share and reaction time.
Writes benchmarks/results/control.json and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from edge_rover.control.controller import ControlInputs, ControllerState, Obstacle, step
from edge_rover.control.geometry import GridMap
from edge_rover.control.kinematic_loop import Loop, WorldObstacle
from edge_rover.control.params import ControllerParams
from edge_rover.control.watchdog import WatchdogState

RESULTS = Path(__file__).resolve().parent / "results" / "control.json"


def time_cycles(cycles: int) -> list[dict]:
    params = ControllerParams()
    rng = random.Random(0)
    occupancy = np.zeros((200, 200), dtype=np.int8)
    for _ in range(30):
        r, c = rng.randrange(200), rng.randrange(40, 200)
        occupancy[max(r - 3, 0) : r + 3, c : c + 6] = 100
    grid = GridMap.from_occupancy(occupancy, 0.05, (0.0, -5.0, 0.0))
    rows = []
    for n_obstacles in (0, 5, 20):
        obstacles = tuple(
            Obstacle(str(i), rng.uniform(1, 10), rng.uniform(-4, 4), rng.uniform(-1, 1), rng.uniform(-1, 1))
            for i in range(n_obstacles)
        )
        for with_grid in (False, True):
            state = ControllerState(
                last_now=0.0, speed=1.0, watchdog=WatchdogState(False, "", None, 0.0, True)
            )
            times = []
            t = 0.0
            for _ in range(cycles):
                t += params.period
                inputs = ControlInputs(
                    obstacles=obstacles,
                    obstacles_stamp=t,
                    obstacles_received=t,
                    frames_received=t,
                    grid=grid if with_grid else None,
                    grid_received=t,
                    ego_speed=1.0,
                )
                start = time.perf_counter()
                state, _, _ = step(params, state, inputs, t)
                times.append((time.perf_counter() - start) * 1000.0)
            rows.append(
                {
                    "obstacles": n_obstacles,
                    "grid": with_grid,
                    "median_ms": float(np.median(times)),
                    "p99_ms": float(np.percentile(times, 99)),
                    "budget_ms": params.period * 1000.0,
                }
            )
    return rows


def _summarise(name: str, loop: Loop, appear_t: float | None = None, blocking: bool = True) -> dict:
    log = loop.log
    clear = [c for *_, c in log]
    speeds = [cmd.speed for _, cmd, *_ in log]
    collided = [i for i, c in enumerate(clear) if c <= 0.0]
    driving = [i for i, (_, cmd, rep, *_rest) in enumerate(log) if rep.state != "WATCHDOG_STOP"]
    braking = [
        i for i in driving if log[i][1].brake > 0.0 or log[i][2].state in ("PARTIAL_BRAKE", "FULL_BRAKE")
    ]
    reaction = None
    if appear_t is not None:
        first = next((t for t, cmd, rep, *_ in log if t >= appear_t and rep.state != "DRIVING"), None)
        reaction = None if first is None else round((first - appear_t) * 1000.0, 1)
    return {
        "scenario": name,
        "collisions": len(collided) > 0,
        # The rover's actual speed (after the drive lag) when the footprints first touch.
        "impact_speed": round(log[collided[0]][2].ego_speed, 3) if collided else 0.0,
        "min_clearance_m": round(min(clear), 3) if math.isfinite(min(clear)) else None,
        "final_speed": round(speeds[-1], 3),
        "distance_m": round(loop.x, 2),
        "braking_share_pct": round(100.0 * len(braking) / max(len(driving), 1), 2),
        "max_steering_rad": round(max(abs(cmd.steering_angle) for _, cmd, *_ in log), 3),
        "reaction_ms": reaction,
        "final_state": log[-1][2].state,
        "expects_braking": blocking,
    }


def scenarios() -> list[dict]:
    base = ControllerParams()
    no_steer = replace(base, num_arcs=1)
    out = []
    loop = Loop(params=no_steer, obstacles=[WorldObstacle("box", 8.0, 0.0, size=0.5)])
    loop.run(14.0)
    out.append(_summarise("static_obstacle_ahead (steering off)", loop))
    loop = Loop(params=no_steer)
    loop.run(4.0)
    loop.obstacles.append(WorldObstacle("late", loop.x + 0.65 + 1.0, 0.0, size=0.5))
    appear = loop.t
    loop.run(4.0)
    out.append(_summarise("late_obstacle_1m_from_bumper (steering off)", loop, appear))
    loop = Loop(params=replace(no_steer, cruise_speed=2.0))
    loop.run(4.0)
    loop.obstacles.append(WorldObstacle("late", loop.x + 0.65 + 1.5, 0.0, size=0.5))
    appear = loop.t
    loop.run(4.0)
    out.append(_summarise("late_obstacle_1.5m_at_2m/s (steering off)", loop, appear))
    loop = Loop(params=replace(no_steer, cruise_speed=2.0))
    loop.run(4.0)
    loop.obstacles.append(WorldObstacle("late", loop.x + 0.65 + 0.5, 0.0, size=0.5))
    appear = loop.t
    loop.run(4.0)
    out.append(_summarise("late_obstacle_0.5m_at_2m/s, cannot stop (steering off)", loop, appear))
    loop = Loop(obstacles=[WorldObstacle("side", 6.0, 1.2, size=0.5)])
    loop.run(12.0)
    out.append(_summarise("obstacle_beside_path", loop, blocking=False))
    loop = Loop()
    loop.run(12.0)
    out.append(_summarise("clear_road", loop, blocking=False))
    loop = Loop(
        obstacles=[WorldObstacle(f"c{i}", 4.0 + 4.0 * i, 0.2 * (-1) ** i, size=0.3) for i in range(4)]
    )
    loop.run(22.0)
    out.append(_summarise("cone_slalom", loop, blocking=False))
    loop = Loop(params=no_steer, obstacles=[WorldObstacle("ped", 5.0, -3.0, vy=1.2, size=0.5)])
    loop.run(12.0)
    out.append(_summarise("pedestrian_crossing (steering off)", loop))
    loop = Loop(obstacles=[WorldObstacle("box", 8.0, 0.0, size=0.5)])
    loop.run(14.0)
    out.append(_summarise("static_obstacle_ahead (steering on)", loop, blocking=False))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=2000)
    args = parser.parse_args(argv)
    timing = time_cycles(args.cycles)
    closed = scenarios()
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "python": platform.python_version(),
        },
        "versions": {"numpy": np.__version__},
        "parameters": {**asdict(ControllerParams()), "cycles": args.cycles},
        "cycle_time": timing,
        "closed_loop": closed,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(result, indent=2, default=lambda v: None if isinstance(v, float) and math.isinf(v) else v)
        + "\n"
    )
    print("| obstacles | grid | median ms | p99 ms | budget ms |\n|---|---|---|---|---|")
    for r in timing:
        grid = "yes" if r["grid"] else "no"
        print(
            f"| {r['obstacles']} | {grid} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} | {r['budget_ms']:.0f} |"
        )
    print()
    header = ["scenario", "collision", "impact m/s", "min clearance m", "braking %", "max steer rad"]
    print("| " + " | ".join([*header, "reaction ms", "end state"]) + " |")
    print("|---" * (len(header) + 2) + "|")
    keys = [
        "scenario",
        "collisions",
        "impact_speed",
        "min_clearance_m",
        "braking_share_pct",
        "max_steering_rad",
    ]
    for r in closed:
        cells = [("YES" if r[k] else "no") if k == "collisions" else str(r[k]) for k in keys]
        cells += ["–" if r["reaction_ms"] is None else str(r["reaction_ms"]), r["final_state"]]
        print("| " + " | ".join(cells) + " |")
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

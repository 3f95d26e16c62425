"""Simulator command line: ``python -m simulation {render,run,bag} ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _render(args: argparse.Namespace) -> int:
    from edge_rover.simulation.dataset import export, parse_imgsz

    stats = export(
        Path(args.out),
        train=args.train,
        val=args.val,
        imgsz=parse_imgsz(args.imgsz),
        seed=args.seed,
        camera_info=args.camera_info,
        extrinsics=args.extrinsics,
        sheet_count=args.sheet,
    )
    print(json.dumps(stats, indent=2))
    print(
        f"dataset: {Path(args.out) / 'data.yaml'}; check the labels in {Path(args.out) / 'contact_sheet.png'}"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from edge_rover.simulation.bag_export import make_controller
    from edge_rover.simulation.closed_loop import run_scenario
    from edge_rover.simulation.scenarios import find_scenario, scenario_names

    names = scenario_names() if args.scenario == "all" else [args.scenario]
    rows = []
    for name in names:
        scenario = find_scenario(name)
        result = run_scenario(scenario, make_controller(args.controller, scenario), duration_s=args.duration)
        rows.append(
            {
                "scenario": name,
                "success": result.success,
                "reasons": result.reasons,
                **result.metrics.as_dict(),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"controller: {args.controller}")
    print("| scenario | success | collided | min gap m | first visible s | first brake s | stop dist m | "
          "false braking s | mean speed m/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [r["min_gap_m"], r["first_visible_s"], r["first_brake_s"], r["stopping_distance_m"]]
        gap, visible, brake, stop = ("–" if v is None else f"{v:.2f}" for v in cells)
        print(f"| {r['scenario']} | {'yes' if r['success'] else 'no: ' + '; '.join(r['reasons'])} | "
              f"{'yes' if r['collided'] else 'no'} | {gap} | {visible} | {brake} | {stop} | "
              f"{r['false_braking_s']:.2f} | {r['mean_speed']:.2f} |")  # fmt: skip
    return 0


def _bag(args: argparse.Namespace) -> int:
    from edge_rover.simulation.bag_export import write_scenario_bag
    from edge_rover.simulation.scenarios import find_scenario

    scenario = find_scenario(args.scenario)
    result, counts = write_scenario_bag(
        scenario,
        Path(args.out),
        controller=args.controller,
        duration_s=args.duration,
        storage=args.storage,
        with_cmd_vel=args.with_cmd_vel,
        overwrite=args.overwrite,
    )
    print(
        json.dumps(
            {"bag": args.out, "messages": counts, "success": result.success, "reasons": result.reasons}
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulation", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="render a labelled YOLO dataset with a contact sheet")
    render.add_argument("--out", required=True, help="output folder (created)")
    render.add_argument("--train", type=int, default=2000, help="training images")
    render.add_argument("--val", type=int, default=300, help="validation images")
    render.add_argument("--imgsz", default="640x480", help="WIDTHxHEIGHT of the images")
    render.add_argument("--seed", type=int, default=0)
    render.add_argument("--camera-info", default="config/camera_info.yaml", help="camera_info YAML or URL")
    render.add_argument("--extrinsics", default="config/extrinsics.yaml", help="extrinsics YAML or URL")
    render.add_argument("--sheet", type=int, default=24, help="samples on the contact sheet")
    render.set_defaults(func=_render)
    controllers = ("oracle", "cruise", "stop")
    run = sub.add_parser("run", help="run scenarios headless with a built-in controller, print metrics")
    run.add_argument("--scenario", default="all", help="scenario name, YAML path, or 'all'")
    run.add_argument("--controller", choices=controllers, default="oracle")
    run.add_argument("--duration", type=float, default=None, help="override the scenario duration (s)")
    run.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    run.set_defaults(func=_run)
    bag = sub.add_parser("bag", help="render a scenario to a rosbag2 (MCAP) for replay")
    bag.add_argument("--scenario", required=True, help="scenario name or YAML path")
    bag.add_argument("--out", required=True, help="bag directory to create")
    bag.add_argument("--controller", choices=controllers, default="oracle", help="who drives while recording")
    bag.add_argument("--duration", type=float, default=None, help="override the scenario duration (s)")
    bag.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    bag.add_argument("--with-cmd-vel", action="store_true", help="also record the driving /cmd_vel")
    bag.add_argument("--overwrite", action="store_true", help="replace an existing bag")
    bag.set_defaults(func=_bag)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

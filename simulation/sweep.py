"""Randomized scenario sweeps on Ray: one task per seed, on this machine or on a cluster.

Each task draws scenario ``seed`` from the distribution (``simulation/generator.py``), checks it with
the ground-truth oracle (an unsolvable draw is recorded as DISCARDED, never run) and runs it through
the real stack headless (``simulation/stack_runner.py``: rendered frames → INT8 detector → mapper →
controller). The driver keeps at most ``--max-in-flight`` tasks submitted (bounded memory), appends
one JSON line per finished seed to ``OUT/runs.jsonl`` as it goes (a killed sweep resumes where it
stopped: seeds already there are skipped), writes each scenario to ``OUT/scenarios/`` (replay alone
with ``make demo SCENARIO=<file>``) and, at the end, ``OUT/summary.json`` and ``OUT/report/``.
A task that raises is retried once by Ray, then recorded as ERROR with its exception: never dropped.

With no ``--address`` a local Ray is started on this machine (``--workers`` CPUs); with
``--address ray://host:10001`` (or ``host:6379`` / ``auto``) the same tasks run on that cluster,
the checkout shipped as the job's working directory (its nodes need requirements/runtime.txt, or
``--cluster-pip`` to let Ray install it).

    make sweep RUNS=40 OUT=/tmp/sweep [ADDRESS=ray://host:10001] [DIST=file]
    python -m edge_rover.simulation.sweep --runs 40 --out /tmp/sweep [--workers 2] [--first-seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from edge_rover.perception.detection.backends import CPU_PINNING_ENV
from edge_rover.simulation.generator import (
    DEFAULT_DISTRIBUTION,
    DistributionError,
    Generated,
    check_solvable,
    generate,
    load_distribution,
)

ROOT = Path(__file__).resolve().parent.parent
RUNS_FILE = "runs.jsonl"
DISCARDED, ERROR = "DISCARDED", "ERROR"
# What the checkout ships to a cluster as the job's working directory (Ray caps it at 500 MB).
CLUSTER_EXCLUDES = [".git", "out", "build", "install", "log", ".venv", "**/__pycache__", "*.egg-info", "bags"]
_DETECTOR: dict[int, Any] = {}  # per worker process: the detector is loaded once, not per task


def ray_version() -> str:
    import ray

    return f"ray {ray.__version__}"


# ---------------------------------------------------------------------------------------------
# The task: one seed


def _detector(threads: int) -> Any:
    from edge_rover.simulation.stack_runner import make_detector

    if threads not in _DETECTOR:
        _DETECTOR[threads] = make_detector(threads)
    return _DETECTOR[threads]


def run_seed(seed: int, dist: dict[str, Any], latency_s: float, threads: int) -> dict[str, Any]:
    """Generate, check and run one seed; the record of ``runs.jsonl`` plus the scenario and trace."""
    from edge_rover.simulation.stack_runner import run_stack

    start = time.perf_counter()
    generated = generate(seed, dist)
    scenario = generated.scenario(source=f"{generated.name}.yaml")
    oracle = check_solvable(scenario)
    record: dict[str, Any] = {
        "seed": seed,
        "scenario": generated.name,
        "conditions": generated.conditions,
        "oracle": {"verdict": "PASSED" if oracle.success else "FAILED", "reasons": oracle.reasons},
        "host": socket.gethostname(),
    }
    trace: dict[str, Any] = {}
    if not oracle.success:
        record.update(verdict=DISCARDED, reasons=["the oracle fails it: " + "; ".join(oracle.reasons)])
    else:
        boxes: list[list] = []
        run = run_stack(scenario, _detector(threads), latency_s, on_detections=boxes.append)
        result = run.result
        record.update(
            verdict=run.verdict,
            reasons=result.reasons,
            metrics=result.metrics.as_dict(),
            stages=run.stages,
            sim_s=round(result.metrics.duration_s, 3),
        )
        trace = {"cmd_v": result.log["cmd_v"], "cmd_w": result.log["cmd_w"], "boxes": boxes}
    record["wall_s"] = round(time.perf_counter() - start, 3)
    return {"record": record, "scenario": generated.data, "trace": trace}


# ---------------------------------------------------------------------------------------------
# The driver


def done_seeds(out: Path) -> set[int]:
    """Seeds already in ``out/runs.jsonl`` (a torn last line from a killed sweep is ignored)."""
    path = out / RUNS_FILE
    seeds = set()
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                seeds.add(int(json.loads(line)["seed"]))
            except (ValueError, KeyError, TypeError):
                continue
    return seeds


def read_runs(out: Path) -> list[dict[str, Any]]:
    """Every record of ``out/runs.jsonl``, the last one per seed."""
    by_seed: dict[int, dict] = {}
    path = out / RUNS_FILE
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            record = json.loads(line)
            by_seed[int(record["seed"])] = record
        except (ValueError, KeyError, TypeError):
            continue
    return [by_seed[s] for s in sorted(by_seed)]


class ResultWriter:
    """Appends records (flushed: a killed sweep keeps what finished) and the per-seed files."""

    def __init__(self, out: Path) -> None:
        self.out = out
        (out / "scenarios").mkdir(parents=True, exist_ok=True)
        (out / "traces").mkdir(parents=True, exist_ok=True)
        self.file = (out / RUNS_FILE).open("a")
        self.sim_s = 0.0  # simulated by the runs this writer recorded

    def write(self, result: dict[str, Any]) -> dict[str, Any]:
        record = result["record"]
        if result.get("scenario"):
            path = Generated(record["seed"], result["scenario"], record.get("conditions", {})).write(
                self.out / "scenarios"
            )
            record["scenario_file"] = str(path.relative_to(self.out))
        if result.get("trace"):
            with gzip.open(self.out / "traces" / f"{record['scenario']}.json.gz", "wt") as f:
                json.dump(result["trace"], f)
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        self.sim_s += record.get("sim_s", 0.0)
        return record

    def close(self) -> None:
        self.file.close()


def error_record(seed: int, exc: BaseException) -> dict[str, Any]:
    """The record of a task that failed twice (Ray retried it once)."""
    cause = getattr(exc, "cause", None) or exc
    text = "".join(traceback.format_exception_only(type(cause), cause)).strip().splitlines()
    return {
        "record": {
            "seed": seed,
            "scenario": f"sweep_{seed:06d}",
            "verdict": ERROR,
            "reasons": [text[-1] if text else repr(cause)],
        }
    }


def sweep_tasks(
    remote_fn: Any,
    seeds: Iterable[int],
    args: tuple,
    on_result: Callable[[dict[str, Any]], None],
    max_in_flight: int,
    progress: tqdm | None = None,
) -> None:
    """Submit ``remote_fn.remote(seed, *args)`` for every seed, never more than ``max_in_flight`` at
    once, and hand each result (or its error record) to ``on_result`` as it finishes."""
    import ray

    pending = iter(seeds)
    in_flight: dict[Any, int] = {}
    while True:
        while len(in_flight) < max_in_flight:
            seed = next(pending, None)
            if seed is None:
                break
            in_flight[remote_fn.remote(seed, *args)] = seed
        if not in_flight:
            return
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        for ref in ready:
            seed = in_flight.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as exc:  # retried once already (max_retries=1): record, never drop
                result = error_record(seed, exc)
            on_result(result)
            if progress is not None:
                progress.update(1)


def start_ray(address: str | None, workers: int, cluster_pip: bool) -> bool:
    """Connect to ``address`` or start a local Ray; False when this process already had one."""
    import ray

    if ray.is_initialized():
        return False

    # Several detector processes per host: OpenVINO's default core pinning put two 1-thread workers
    # on the same core here (1.8 s per frame instead of 60 ms), so sweep workers run unpinned.
    env_vars = {CPU_PINNING_ENV: "0"}
    if address:
        runtime_env: dict[str, Any] = {
            "working_dir": str(ROOT),
            "excludes": CLUSTER_EXCLUDES,
            "env_vars": env_vars,
        }
        if cluster_pip:
            runtime_env["pip"] = str(ROOT / "requirements" / "runtime.txt")
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        return True
    # Local workers import this checkout (they inherit the driver's environment).
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    os.environ.update(env_vars)
    ray.init(
        num_cpus=workers,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=200 * 1024 * 1024,  # results are small JSON; keep the store small
    )
    return True


def remote_run_seed() -> Any:
    import ray

    # num_cpus=1: one scenario per CPU; max_retries=1 + retry_exceptions: one retry, on a worker
    # crash and on an exception alike.
    return ray.remote(num_cpus=1, max_retries=1, retry_exceptions=True)(run_seed)


def check_distribution_file(out: Path, dist: dict[str, Any]) -> None:
    """A resumed sweep must use the distribution it started with (a seed means one scenario)."""
    stored = out / "distribution.yaml"
    if stored.is_file():
        if yaml.safe_load(stored.read_text()) != dist:
            raise DistributionError(
                f"{out} holds a sweep of another distribution ({stored}); use a new OUT folder"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        stored.write_text(yaml.safe_dump(dist, sort_keys=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, required=True, help="number of seeds")
    parser.add_argument("--out", type=Path, required=True, help="results folder (resumable)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--dist", type=Path, default=DEFAULT_DISTRIBUTION, help="distribution YAML")
    parser.add_argument("--address", default="", help="Ray cluster (ray://host:10001); empty: local Ray")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="local Ray CPUs")
    parser.add_argument("--max-in-flight", type=int, default=0, help="submitted tasks (0: 2 x CPUs)")
    parser.add_argument("--threads", type=int, default=1, help="detector threads per task")
    parser.add_argument("--latency", type=float, default=None, help="modelled graph latency (s)")
    parser.add_argument("--cluster-pip", action="store_true", help="Ray installs runtime.txt on the cluster")
    parser.add_argument("--no-report", action="store_true", help="summary.json only, no HTML report")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.first_seed < 0 or args.workers < 1:
        print("sweep: --runs and --workers must be >= 1, --first-seed >= 0", file=sys.stderr)
        return 2
    from edge_rover.simulation.stack_runner import GRAPH_LATENCY_S
    from edge_rover.simulation.sweep_report import write_report, write_summary

    latency = GRAPH_LATENCY_S if args.latency is None else args.latency
    try:
        dist = load_distribution(args.dist)
        check_distribution_file(args.out, dist)
    except DistributionError as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return 2
    seeds = range(args.first_seed, args.first_seed + args.runs)
    done = done_seeds(args.out)
    todo = [s for s in seeds if s not in done]
    print(f"sweep: {len(seeds)} seeds, {len(seeds) - len(todo)} already in {args.out / RUNS_FILE}")
    wall = sim_s = 0.0
    engine = ray_version()
    if todo:
        import ray

        started = start_ray(args.address or None, args.workers, args.cluster_pip)
        cpus = int(ray.cluster_resources().get("CPU", args.workers))
        writer = ResultWriter(args.out)
        start = time.perf_counter()
        try:
            with tqdm(total=len(todo), desc="sweep", unit="run") as bar:
                sweep_tasks(
                    remote_run_seed(),
                    todo,
                    (dist, latency, args.threads),
                    writer.write,
                    args.max_in_flight or 2 * cpus,
                    bar,
                )
        finally:
            writer.close()
            wall, sim_s = time.perf_counter() - start, writer.sim_s
            if started:
                ray.shutdown()
    else:
        cpus = 0
    wanted = set(seeds)
    runs = [r for r in read_runs(args.out) if r["seed"] in wanted]
    summary = write_summary(
        args.out,
        runs,
        engine=engine,
        extra={
            "address": args.address or "local",
            "cpus": cpus,
            "latency_s": latency,
            "distribution": str(args.dist),
            "this_invocation": {
                "runs": len(todo),
                "wall_s": round(wall, 1),
                "sim_s": round(sim_s, 1),
                "sim_s_per_wall_s": round(sim_s / wall, 3) if wall else None,
            },
            "load_average": os.getloadavg(),
        },
    )
    if not args.no_report:
        write_report(args.out, runs, summary)
    print(json.dumps({k: summary[k] for k in ("runs", "collisions", "success_rate", "false_stop_rate")}))
    print(
        f"sweep: {args.out / 'summary.json'}"
        + ("" if args.no_report else f", {args.out / 'report' / 'index.html'}")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

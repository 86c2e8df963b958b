"""Ingest throughput and latency: Kizuna's ingest beside a minimal FastAPI reference (issue #3).

    python -m bench.ingest [--reps 3] [--duration 10] [--warmup 2] [--sizes 1,10,50,100]

For every batch size and repetition, starts a stack of its own on free ports (one uvicorn
worker for ingest, the metrics consumer off so that it takes no CPU) and `bench/reference_app.py`
on the same broker; Kizuna and the reference take turns on the same request bodies:

1. peak: wrk, closed loop on `--connections` keep-alive connections, after a warm-up run;
   every request is answered only once Kafka acknowledged its events;
2. latency at `--fraction` of that peak: `bench.loadgen`, open loop at a constant rate,
   latency counted from when each request was due.

Batches of 1 go to POST /v1/track (one call, no batch), the others to POST /v1/batch. Prints a
table of medians over the repetitions and writes bench/results/ingest.json. Targets 127.0.0.1
only and stops by itself. Needs wrk (`apt-get install wrk`).
"""

import argparse
import base64
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import payloads, wrk
from bench.common import ROOT, bench_stack, free_port, write_result
from bench.cpu import CpuMeter
from bench.reference import reference_server

GOAL_EVENTS_PER_CORE = 80_000  # on 50-event batches
GOAL_RATIO = 0.9  # Kizuna ÷ reference, on 50-event batches
GOAL_SINGLE_REQUESTS = 4_000  # requests/s with one event per request
GOAL_P99_MS = 50.0  # at the latency fraction of peak


@dataclass
class Target:
    name: str
    url: str
    pid: int


@dataclass
class Options:
    sizes: list[int]
    reps: int
    duration: int
    warmup: int
    connections: int
    latency_connections: int
    fraction: float
    authorization: str
    work: Path
    body_bytes: dict[int, int] = field(default_factory=dict)


def main() -> int:
    options, tmp = _parse()
    if not wrk.available():
        print("bench.ingest needs wrk: apt-get install -y wrk", file=sys.stderr)
        return 2
    load_before = os.getloadavg()

    runs = []
    with tmp:
        for rep in range(options.reps):
            for size in options.sizes:
                # A fresh broker for each pair: the embedded one keeps every record in memory,
                # and one grown to gigabytes slows the whole machine, and so what follows.
                with _servers(options, f"r{rep}s{size}") as targets:
                    # Alternate which goes first, so neither always runs on a warmer machine.
                    for target in targets if rep % 2 == 0 else targets[::-1]:
                        runs.append(_measure(target, size, rep, options))

    result = _summarize(runs, options)
    result.update(load_before=_load(load_before), load_after=_load(os.getloadavg()))
    result.update(_code())
    write_result("ingest", result)
    _print_table(result)
    return 0


def _parse() -> tuple[Options, tempfile.TemporaryDirectory[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50,100")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="seconds before each")
    parser.add_argument("--connections", type=int, default=64, help="for the peak")
    parser.add_argument("--latency-connections", type=int, default=64)
    parser.add_argument("--fraction", type=float, default=0.8, help="of peak, for latency")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="kizuna-bench-ingest-")
    options = Options(
        sizes=[int(size) for size in args.sizes.split(",")],
        reps=args.reps,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        latency_connections=args.latency_connections,
        fraction=args.fraction,
        authorization="",
        work=Path(tmp.name),
    )
    for size in options.sizes:
        body = payloads.body(size)
        (options.work / f"body-{size}.json").write_bytes(body)
        options.body_bytes[size] = len(body)
    return options, tmp


@contextmanager
def _servers(options: Options, name: str) -> Iterator[list[Target]]:
    """Kizuna's stack and the reference on its broker, both up and answering, in a directory of
    their own."""
    env = {"KIZUNA_CONSUME": "false"}
    var = options.work / name
    with bench_stack(var, service_env=env) as (stack, demo):
        key = base64.b64encode(f"{demo.write_key}:".encode()).decode()
        options.authorization = f"Basic {key}"
        ingest = stack.services["ingest"].process
        assert ingest is not None
        kizuna = Target("kizuna", stack.settings.url("ingest"), ingest.pid)

        port = free_port()
        logs = var / "logs"
        with reference_server(stack.bootstrap, port, logs / "reference.log") as (pid, _):
            yield [kizuna, Target("reference", f"http://127.0.0.1:{port}", pid)]


def _measure(target: Target, size: int, rep: int, options: Options) -> dict[str, Any]:
    """One peak measurement and one latency measurement of `target` with `size`-event bodies."""
    body = options.work / f"body-{size}.json"
    url = target.url + payloads.path(size)
    tag = f"{target.name[0]}{rep}s{size}"

    _saturate(url, body, f"{tag}w", options.warmup, options)
    meter = CpuMeter(target.pid)
    peak = _saturate(url, body, f"{tag}p", options.duration, options)
    cpu = meter.read(client_cpu_s=peak["client_cpu_s"])

    seconds = peak["duration_us"] / 1e6
    ok = peak["requests"] - peak["errors"]["status"]
    requests_per_s = ok / seconds
    latency = _latency(url, body, f"{tag}l", requests_per_s * options.fraction, options)

    run = {
        "target": target.name,
        "size": size,
        "rep": rep,
        "requests_per_s": round(requests_per_s, 1),
        "events_per_s": round(requests_per_s * size),
        "peak_errors": {k: v for k, v in peak["errors"].items() if v},
        "peak_latency_ms": {k: v / 1000 for k, v in peak["latency_us"].items()},
        "cpu_cores": cpu,
        "at_fraction": latency,
    }
    print(_progress(run), file=sys.stderr, flush=True)
    return run


def _saturate(url: str, body: Path, tag: str, seconds: int, options: Options) -> dict[str, Any]:
    return wrk.run(
        url, body, options.authorization, tag, options.connections, seconds, options.work
    )


def _latency(url: str, body: Path, tag: str, rate: float, options: Options) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.loadgen", url, "--body", str(body)]
    command += ["--rate", f"{rate:.1f}", "--connections", str(options.latency_connections)]
    command += ["--duration", str(options.duration), "--warmup", str(options.warmup)]
    command += ["--header", f"Authorization: {options.authorization}", "--tag", tag]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.loadgen failed ({done.returncode}): {done.stderr.strip()}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _summarize(runs: list[dict[str, Any]], options: Options) -> dict[str, Any]:
    """Medians per batch size, under the field names bench/report.py reads (`batches`)."""
    batches: dict[str, Any] = {}
    for size in options.sizes:
        kizuna = [r for r in runs if r["size"] == size and r["target"] == "kizuna"]
        reference = [r for r in runs if r["size"] == size and r["target"] == "reference"]
        # Each repetition's pair ran back to back: their ratio is steadier than the medians'.
        ratios = [
            k["events_per_s"] / r["events_per_s"] for k, r in zip(kizuna, reference, strict=True)
        ]
        batches[str(size)] = {
            "endpoint": payloads.path(size),
            "body_bytes": options.body_bytes[size],
            **_medians("kizuna", kizuna),
            **_medians("reference", reference),
            "ratio": round(statistics.median(ratios), 3),
            "ratios": [round(ratio, 3) for ratio in ratios],
            # Kizuna's latency at the fraction of its own peak, as report.py reads it.
            "p50_ms": _percentile(kizuna, "p50"),
            "p99_ms": _percentile(kizuna, "p99"),
        }
    return {
        "batches": batches,
        "goals": _goals(batches),
        "server_processes": 1,
        "method": _method(options),
        "runs": runs,
    }


def _percentile(runs: list[dict[str, Any]], name: str) -> float:
    return round(statistics.median(r["at_fraction"]["latency_ms"][name] for r in runs), 2)


def _medians(target: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float]) -> float:
        return round(statistics.median(values), 2)

    return {
        f"{target}_events_per_s": round(statistics.median(r["events_per_s"] for r in runs)),
        f"{target}_requests_per_s": median([r["requests_per_s"] for r in runs]),
        f"{target}_server_cpu_cores": median([r["cpu_cores"]["server"] for r in runs]),
        f"{target}_broker_cpu_cores": median([r["cpu_cores"]["broker"] for r in runs]),
        f"{target}_client_cpu_cores": median([r["cpu_cores"]["client"] for r in runs]),
        f"{target}_other_cpu_cores": median([r["cpu_cores"]["other"] for r in runs]),
        f"{target}_p50_ms": _percentile(runs, "p50"),
        f"{target}_p99_ms": _percentile(runs, "p99"),
        f"{target}_latency_rate_achieved": median(
            [r["at_fraction"]["requests_per_s"] / r["at_fraction"]["target_rate"] for r in runs]
        ),
    }


def _goals(batches: dict[str, Any]) -> dict[str, Any]:
    """The issue's goals, with the server's figures taken as per core: it is one process."""
    goals: dict[str, Any] = {}
    if "50" in batches:
        fifty = batches["50"]
        goals["events_per_core_50"] = _goal(fifty["kizuna_events_per_s"], GOAL_EVENTS_PER_CORE)
        goals["ratio_50"] = _goal(fifty["ratio"], GOAL_RATIO)
    goals["ratio_lowest"] = _goal(min(b["ratio"] for b in batches.values()), GOAL_RATIO)
    if "1" in batches:
        goals["single_requests_per_core"] = _goal(
            batches["1"]["kizuna_requests_per_s"], GOAL_SINGLE_REQUESTS
        )
    worst = max(b["p99_ms"] for b in batches.values())
    goals["p99_ms_at_fraction"] = {
        "measured": worst,
        "goal": GOAL_P99_MS,
        "met": worst <= GOAL_P99_MS,
    }
    return goals


def _goal(measured: float, goal: float) -> dict[str, Any]:
    return {"measured": measured, "goal": goal, "met": measured >= goal}


def _method(options: Options) -> dict[str, Any]:
    return {
        "server": "one uvicorn worker process each (at most one core: per-core = measured)",
        "uvicorn_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "uvicorn_http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "peak": f"wrk -t1 -c{options.connections}, closed loop, {options.duration} s "
        f"after a {options.warmup} s warm-up",
        "latency": f"bench.loadgen open loop at {options.fraction:.0%} of that run's peak, "
        f"{options.latency_connections} connections, {options.duration} s after "
        f"{options.warmup} s; latency from each request's due time",
        "message_ids": "unique per request and event",
        "reference": "bench/reference_app.py: FastAPI body model, one Kafka record per request",
        "kizuna_producer": "one Kafka record per request, keyed by product:user",
        "repetitions": options.reps,
        "stacks": "a fresh stack and broker for each repetition and batch size",
        "cpu_cores": "CPU seconds ÷ wall seconds during the peak run; other = machine - "
        "server - broker - wrk",
    }


def _code() -> dict[str, Any]:
    """The commit measured, and the files of the services that differed from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout

    changed = git("status", "--porcelain", "--", "services", "shared").splitlines()
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted": [line[3:] for line in changed],
    }


def _load(load: tuple[float, float, float]) -> list[float]:
    return [round(value, 2) for value in load]


def _progress(run: dict[str, Any]) -> str:
    lat, cpu = run["at_fraction"]["latency_ms"], run["cpu_cores"]
    return (
        f"{run['target']:<9} rep {run['rep']} size {run['size']:>3}: "
        f"{run['events_per_s']:>8,} events/s {run['requests_per_s']:>8,.0f} req/s "
        f"cores: server {cpu['server']:.2f} broker {cpu['broker']:.2f} wrk {cpu['client']:.2f} "
        f"other {cpu['other']:.2f}  "
        f"@{run['at_fraction']['target_rate']:,.0f} req/s p50 {lat['p50']} p99 {lat['p99']} ms"
    )


def _print_table(result: dict[str, Any]) -> None:
    print(
        f"{'batch':>5} {'endpoint':<10} {'kizuna ev/s':>12} {'req/s':>8} {'cpu':>5} "
        f"{'ref ev/s':>10} {'req/s':>8} {'cpu':>5} {'K÷R':>6} "
        f"{'K p50/p99 ms':>14} {'R p50/p99 ms':>14}"
    )
    for size, b in result["batches"].items():
        print(
            f"{size:>5} {b['endpoint']:<10} {b['kizuna_events_per_s']:>12,} "
            f"{b['kizuna_requests_per_s']:>8,.0f} {b['kizuna_server_cpu_cores']:>5.2f} "
            f"{b['reference_events_per_s']:>10,} {b['reference_requests_per_s']:>8,.0f} "
            f"{b['reference_server_cpu_cores']:>5.2f} {b['ratio']:>6.2f} "
            f"{b['p50_ms']:>6.1f}/{b['p99_ms']:<7.1f} "
            f"{b['reference_p50_ms']:>6.1f}/{b['reference_p99_ms']:<7.1f}"
        )
    print()
    for name, goal in result["goals"].items():
        met = "met" if goal["met"] else "NOT met"
        print(f"{name:<28} {goal['measured']:>10} (goal {goal['goal']}) {met}")
    print(f"load average before {result['load_before']}, after {result['load_after']}")


if __name__ == "__main__":
    sys.exit(main())

"""End to end: replay XuetangX through HTTP into a fresh embedded stack until all is queryable,
then the accept → queryable latency at a steady 20k events/s on the same stack.

    python -m bench.replay_e2e [--courses C769,C645] [--data DIR]

Starts its own stack on free ports in a temporary directory, runs `kizuna replay` as a separate
process, then waits until the metrics consumer has written every message; then runs
bench.freshness. Prints a table and writes bench/results/replay_e2e.json. Targets 127.0.0.1
only and stops by itself.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import freshness
from bench.common import DATA, bench_stack, write_result
from kizuna import xuetangx
from kizuna.stack import Stack


def rows_written(metrics_url: str) -> int:
    written: int = httpx.get(f"{metrics_url}/healthz", timeout=10).json()["rows_written"]
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--courses", default=None)
    args = parser.parse_args()

    summary = xuetangx.summarize(args.data / xuetangx.USAGE_FILE)
    chosen = args.courses.split(",") if args.courses else list(summary)
    events = sum(summary[c].events for c in chosen)
    messages = events + sum(summary[c].users for c in chosen)

    with (
        tempfile.TemporaryDirectory(prefix="kizuna-bench-") as tmp,
        bench_stack(Path(tmp) / "var") as (stack, demo),
    ):
        result = run(stack, demo.write_key, args.data, args.courses, messages)
        result["freshness"] = freshness.measure(
            stack,
            demo.write_key,
            Path(tmp),
            rate=20_000,
            batch=50,
            duration_s=10.0,
            warmup_s=2.0,
            poll_s=0.005,
        )
    result.update(courses=len(chosen), events=events, messages=messages)
    write_result("replay_e2e", result)
    for key, value in result.items():
        print(f"{key:<28} {value}")
    return 0


def run(
    stack: Stack, write_key: str, data: Path, courses: str | None, messages: int
) -> dict[str, object]:
    command = [sys.executable, "-m", "kizuna.cli", "replay", "xuetangx", str(data)]
    command += ["--host", stack.settings.url("ingest"), "--write-key", write_key]
    command += ["--courses", courses] if courses else []
    metrics = stack.settings.url("metrics")

    started = time.monotonic()
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    sent = time.monotonic() - started
    while rows_written(metrics) < messages:
        time.sleep(0.1)
    queryable = time.monotonic() - started
    return {
        "http_seconds": round(sent, 1),
        "queryable_seconds": round(queryable, 1),
        "lag_after_http_seconds": round(queryable - sent, 1),
        "events_per_second": round(messages / queryable),
    }


if __name__ == "__main__":
    sys.exit(main())

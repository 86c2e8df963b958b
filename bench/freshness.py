"""Accept → queryable: how long after its HTTP 200 an event can be counted, at a steady rate.

    python -m bench.freshness [--rate 20000] [--batch 50] [--duration 10] [--warmup 2]

Starts its own stack (or, from bench.replay_e2e, uses that one), sends `batch`-event /v1/batch
requests open loop at rate ÷ batch requests/s with bench.loadgen, which logs when each 200
arrived, and meanwhile polls the metrics service's count of written events every `--poll-ms`.

The k-th event acknowledged is taken to be queryable at the first poll that counts k events
written: a first-in, first-out estimate. Per event it may be early or late (partitions are
written in their own order), but the number of events accepted and not yet queryable is exact
at every poll, and so is the mean wait. The count is raised after the offsets are committed,
a little after the insert made the rows queryable, so the figures err on the slow side, by the
poll interval at most besides. On its own it prints the figures; bench.replay_e2e records them.
"""

import argparse
import base64
import bisect
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import payloads
from bench.common import ROOT, bench_stack
from kizuna.stack import Stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=20_000, help="events/s")
    parser.add_argument("--batch", type=int, default=50, help="events per request")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--poll-ms", type=float, default=5.0)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="kizuna-bench-") as tmp,
        bench_stack(Path(tmp) / "var") as (stack, demo),
    ):
        poll_s = args.poll_ms / 1000
        work = Path(tmp)
        result = measure(
            stack, demo.write_key, work, args.rate, args.batch, args.duration, args.warmup, poll_s
        )
    for key, value in result.items():
        print(f"{key:<20} {value}")
    return 0


def measure(
    stack: Stack,
    write_key: str,
    work: Path,
    rate: int,
    batch: int,
    duration_s: float,
    warmup_s: float,
    poll_s: float,
) -> dict[str, Any]:
    """Send at `rate` events/s for warmup + duration; return latency percentiles of the events
    acknowledged after the warm-up. Raises RuntimeError when the load generator fails."""
    body, answers = work / f"fresh-{batch}.json", work / "fresh-answers.txt"
    body.write_bytes(payloads.body(batch))
    authorization = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    command = [sys.executable, "-m", "bench.loadgen", stack.settings.url("ingest") + "/v1/batch"]
    command += ["--body", str(body), "--rate", str(rate / batch), "--answers", str(answers)]
    command += ["--duration", str(duration_s), "--warmup", str(warmup_s), "--tag", "fresh"]
    command += ["--header", f"Authorization: {authorization}"]

    with httpx.Client(base_url=stack.settings.url("metrics"), timeout=10) as metrics:
        _until_consuming(stack.settings.url("ingest"), authorization, body, metrics, poll_s)
        before = _written(metrics)
        load = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        polls = _poll_while(load, metrics, before, poll_s)
        if load.returncode != 0:
            raise RuntimeError(f"bench.loadgen failed ({load.returncode})")
        accepted = [float(line) for line in answers.read_text().split()]
        polls += _poll_until(metrics, before, len(accepted) * batch, poll_s)

    waits = _waits(accepted, batch, polls, accepted[0] + warmup_s)
    return {
        "events_per_s": rate,
        "events_per_request": batch,
        "events_measured": len(waits),
        "unwritten": len(accepted) * batch - polls[-1][1],
        "p50_ms": _percentile(waits, 50),
        "p99_ms": _percentile(waits, 99),
        "max_ms": round(max(waits) * 1000, 1) if waits else None,
        "poll_ms": poll_s * 1000,
    }


def _written(metrics: httpx.Client) -> int:
    written: int = metrics.get("/healthz").json()["rows_written"]
    return written


def _until_consuming(
    ingest: str, authorization: str, body: Path, metrics: httpx.Client, poll_s: float
) -> None:
    """Send one batch and wait until it is written: the consumer has joined its group (which
    takes the broker a few seconds after a start) and steady state can be measured."""
    before = _written(metrics)
    probe = body.read_bytes().replace(payloads.REQUEST_ID.encode(), b"probe")
    headers = {"Authorization": authorization, "Content-Type": "application/json"}
    httpx.post(f"{ingest}/v1/batch", content=probe, headers=headers).raise_for_status()
    if _poll_until(metrics, before, 1, poll_s)[-1][1] < 1:
        raise RuntimeError("the metrics consumer wrote nothing within 30 s")


def _poll_while(
    load: subprocess.Popen[bytes], metrics: httpx.Client, before: int, poll_s: float
) -> list[tuple[float, int]]:
    polls = []
    while load.poll() is None:
        polls.append((time.perf_counter(), _written(metrics) - before))
        time.sleep(poll_s)
    return polls


def _poll_until(
    metrics: httpx.Client, before: int, expected: int, poll_s: float, limit_s: float = 30.0
) -> list[tuple[float, int]]:
    """Polls until `expected` events are written, or `limit_s` passed."""
    polls, deadline = [], time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        polls.append((time.perf_counter(), _written(metrics) - before))
        if polls[-1][1] >= expected:
            break
        time.sleep(poll_s)
    return polls


def _waits(
    accepted: list[float], batch: int, polls: list[tuple[float, int]], counted_from: float
) -> list[float]:
    """Seconds from each event's acknowledgement to the first poll that counts it written."""
    counts = [count for _, count in polls]
    waits = []
    for index, at in enumerate(accepted):
        if at < counted_from:
            continue
        # The request's last event, index * batch + batch in order, is written last.
        first = bisect.bisect_left(counts, (index + 1) * batch)
        if first == len(polls):
            break  # never written within the limit: reported as unwritten
        waits.extend([polls[first][0] - at] * batch)
    return waits


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 1)


if __name__ == "__main__":
    sys.exit(main())

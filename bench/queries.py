"""Queries: how fast the metrics API answers, on the real data and on the same data copied ×10.

    python -m bench.queries [--var-dir DIR [--reuse]] [--passes 5] [--courses C769,C645]
                            [--note "before pre-aggregation"]

1. Load: a stack of its own in <var>/real; `kizuna replay xuetangx` over HTTP, then wait until
   the metrics consumer has written every message. With --reuse, a <var>/real that already
   holds every event is queried as it is (it is loaded when it does not).
2. Query: for every course (its 30-day window) and for the whole product (every window), each
   endpoint of ENDPOINTS through one keep-alive client, one request at a time, with the demo
   API key: a warm-up pass, then --passes timed passes.
3. Scale: with the stack stopped (a chDB path belongs to one process), copy <var>/real to
   <var>/x10 and insert 9 more copies of `events` there, with new user and message ids. Tables
   that materialized views fill from `events` get their copies the same way; a table no view
   fills is named in the result, since its figures then describe the real data only.
4. Query <var>/x10 the same way.

Writes bench/results/queries.json (fields: see bench/report.py) and docs/img/queries_latency.png,
and prints a table. Without --var-dir everything lives in a temporary directory. Talks to
127.0.0.1 only and stops by itself.
"""

import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx

from bench.common import DATA, bench_stack, write_result
from bench.report import IMG, QUERY_GOALS_MS, plot_queries
from kizuna import xuetangx

PRODUCT = "(product)"  # the target that names no account
COPIES = 9  # the ×10 scale: the real rows plus nine copies
COPY_SUFFIX = "-copy"
REPLAY_TIMEOUT_S = 1800
CONSUMER_TIMEOUT_S = 600

# name → (path, fixed query parameters); a target adds the account and its dates.
ENDPOINTS: dict[str, tuple[str, dict[str, str]]] = {
    "active-users/day": ("/v1/metrics/active-users", {"interval": "day"}),
    "active-users/week": ("/v1/metrics/active-users", {"interval": "week"}),
    "active-users/month": ("/v1/metrics/active-users", {"interval": "month"}),
    "stickiness": ("/v1/metrics/stickiness", {}),
    "events/day": ("/v1/metrics/events", {"interval": "day"}),
}


@dataclass(frozen=True)
class Target:
    """What one pass asks about: an account (None: the whole product) and its days."""

    name: str
    account: str | None
    start: date
    end: date
    stickiness_day: date

    def params(self, endpoint: str) -> dict[str, str]:
        _, fixed = ENDPOINTS[endpoint]
        params = {"product": "demo", **fixed}
        if self.account is not None:
            params["account"] = self.account
        if endpoint == "stickiness":
            return {**params, "date": self.stickiness_day.isoformat()}
        return {**params, "start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class Plan:
    """What a run loads and asks: the dataset (some courses, or all), targets and passes."""

    data: Path
    courses: str | None  # comma-separated, as `kizuna replay --courses` takes them
    targets: list[Target]
    events: int  # track calls
    messages: int  # track calls and one group call per user
    passes: int


def read_targets(data: Path, courses: list[str] | None) -> list[Target]:
    """One target per course of courses.csv (or of `courses`), then the whole product: every
    window, and stickiness on the day most windows end (the busiest 30 days)."""
    with (data / "courses.csv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if not courses or row["course_id"] in courses]
    targets = []
    for row in rows:
        start, end = date.fromisoformat(row["window_start"]), date.fromisoformat(row["window_end"])
        targets.append(Target(row["course_id"], row["course_id"], start, end, end))

    ends = [t.end for t in targets]
    busiest = max(sorted(set(ends)), key=ends.count)
    first, last = min(t.start for t in targets), max(ends)
    return [*targets, Target(PRODUCT, None, first, last, busiest)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--courses", default=None, help="comma-separated course ids (default all)")
    parser.add_argument("--var-dir", type=Path, default=None, help="keep the stacks' data here")
    parser.add_argument("--reuse", action="store_true", help="query <var-dir>/real as loaded")
    parser.add_argument("--passes", type=int, default=5, help="timed passes (default 5)")
    parser.add_argument("--note", default="", help="kept in the result, e.g. what code ran")
    args = parser.parse_args()
    if args.reuse and args.var_dir is None:
        parser.error("--reuse needs --var-dir")
    if args.passes < 2:
        parser.error("--passes must be at least 2")

    plan = make_plan(args.data, args.courses, args.passes)
    with var_root(args.var_dir) as var:
        result = run(var, plan, args.reuse)
    result.update(note=args.note, passes=plan.passes, courses=len(plan.targets) - 1)
    result.update(commit=commit())
    path = write_result("queries", result)
    plot_queries(result, IMG / "queries_latency.png")
    print_table(result)
    print(f"\nwrote {path} and {IMG / 'queries_latency.png'}")
    return 0


def make_plan(data: Path, courses: str | None, passes: int) -> Plan:
    chosen = courses.split(",") if courses else None
    summary = xuetangx.summarize(data / xuetangx.USAGE_FILE)
    counts = [summary[course] for course in (chosen or summary)]
    events = sum(c.events for c in counts)
    messages = events + sum(c.users for c in counts)
    return Plan(data, courses, read_targets(data, chosen), events, messages, passes)


def run(var: Path, plan: Plan, reuse: bool) -> dict[str, Any]:
    """Load (unless reused), query, scale ×10, query again; the result without machine fields."""
    real, scaled = var / "real", var / f"x{COPIES + 1}"
    if not reuse:
        shutil.rmtree(real, ignore_errors=True)
    first = measure(real, 1, plan, load_if_needed=True)

    shutil.rmtree(scaled, ignore_errors=True)
    shutil.copytree(real, scaled, symlinks=True, ignore=shutil.ignore_patterns("logs"))
    with get_context("spawn").Pool(1) as pool:  # chDB lets go of a path only when its process ends
        copied = pool.apply(scale_events, (str(scaled / "clickhouse"), COPIES))
    print(f"copied events ×{COPIES} in {copied['seconds']} s", flush=True)
    second = measure(scaled, COPIES + 1, plan, load_if_needed=False)

    first.update(events_rows=copied["rows_before"], events_parts=copied["parts_before"])
    second.update(events_rows=copied["rows_after"], events_parts=copied["parts_after"])
    return {
        "goal_p95_ms": {str(scale): ms for scale, ms in QUERY_GOALS_MS.items()},
        "scales": [first, second],
        "copy_seconds": copied["seconds"],
        "tables_not_scaled": copied["tables_not_scaled"],
    }


@contextmanager
def var_root(var_dir: Path | None) -> Iterator[Path]:
    if var_dir is not None:
        var_dir.mkdir(parents=True, exist_ok=True)
        yield var_dir.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="kizuna-bench-queries-") as tmp:
        yield Path(tmp)


def measure(var_dir: Path, scale: int, plan: Plan, load_if_needed: bool) -> dict[str, Any]:
    """Start a stack on `var_dir` (loading it first when asked and it lacks events), check that
    it holds `scale` × the plan's events, then time every endpoint for every target.

    Raises RuntimeError when the data is not what the plan expects."""
    code = commit()  # the services' code may change between the two scales' stacks
    with bench_stack(var_dir) as (stack, demo):
        if demo.revoked:
            raise RuntimeError(f"the demo keys in {var_dir} are revoked; delete demo-keys.json")
        headers = {"Authorization": f"Bearer {demo.api_key}"}
        metrics = stack.settings.url("metrics")
        with httpx.Client(base_url=metrics, headers=headers, timeout=120) as client:
            held = tracked_total(client, plan.targets[-1])
            if load_if_needed and held != plan.events:
                load(plan, stack.settings.url("ingest"), metrics, demo.write_key)
                held = tracked_total(client, plan.targets[-1])
            if held != scale * plan.events:
                raise RuntimeError(f"{var_dir} holds {held} events, not {scale} × {plan.events}")

            settled_in = wait_settled(metrics)
            print(f"×{scale}: {held:,} events, settled in {settled_in:.0f} s; querying", flush=True)
            load_before = os.getloadavg()[0]
            samples, sizes = time_passes(client, plan.targets, plan.passes)
    figures = summarize_scale(scale, held, samples, sizes)
    # Anything else running on the machine shows here, and in the figures.
    figures["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    figures["commit"] = code
    figures["settle_seconds"] = round(settled_in, 1)
    return figures


def wait_settled(metrics: str) -> float:
    """Block until the settler has counted every day (two passes after the call, the second
    with none left), as a service that has been running a while would have; returns the
    seconds waited. Raises TimeoutError after CONSUMER_TIMEOUT_S."""
    started = time.monotonic()
    first: int | None = None
    while time.monotonic() - started < CONSUMER_TIMEOUT_S:
        health = httpx.get(f"{metrics}/healthz", timeout=10).json()
        first = health["settle_passes"] if first is None else first
        if health["settle_passes"] >= first + 2 and health["unsettled_days"] == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    raise TimeoutError("the settler has not counted every day")


def load(plan: Plan, ingest: str, metrics: str, write_key: str) -> None:
    """Replay XuetangX over HTTP and block until the consumer has written every message.

    Raises subprocess.CalledProcessError / TimeoutExpired, or TimeoutError when the consumer
    is still behind CONSUMER_TIMEOUT_S after the replay."""
    command = [sys.executable, "-m", "kizuna.cli", "replay", "xuetangx", str(plan.data)]
    command += ["--host", ingest, "--write-key", write_key]
    command += ["--courses", plan.courses] if plan.courses else []
    print(f"loading {plan.messages:,} messages (about a minute for all courses)", flush=True)
    started = time.monotonic()
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL, timeout=REPLAY_TIMEOUT_S)

    deadline = time.monotonic() + CONSUMER_TIMEOUT_S
    while httpx.get(f"{metrics}/healthz", timeout=10).json()["rows_written"] < plan.messages:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the consumer has not written {plan.messages} rows")
        time.sleep(0.2)
    print(f"loaded in {time.monotonic() - started:.0f} s", flush=True)


def get(client: httpx.Client, endpoint: str, target: Target) -> Any:
    response = client.get(ENDPOINTS[endpoint][0], params=target.params(endpoint))
    response.raise_for_status()
    return response.json()


def tracked_total(client: httpx.Client, target: Target) -> int:
    """Track calls the events endpoint counts for `target` over its days."""
    return sum(point["events"] for point in get(client, "events/day", target)["series"])


Samples = dict[str, dict[str, list[float]]]  # endpoint → target name → milliseconds


def time_passes(
    client: httpx.Client, targets: list[Target], passes: int
) -> tuple[Samples, dict[str, int]]:
    """One untimed pass, then `passes` timed ones; also the track calls of each target."""
    sizes = {target.name: tracked_total(client, target) for target in targets}
    samples: Samples = {endpoint: {t.name: [] for t in targets} for endpoint in ENDPOINTS}
    for number in range(passes + 1):
        began = time.monotonic()
        for target in targets:
            for endpoint in ENDPOINTS:
                started = time.perf_counter()
                get(client, endpoint, target)
                if number > 0:
                    samples[endpoint][target.name].append(1000 * (time.perf_counter() - started))
        kind = f"pass {number}/{passes}" if number else "warm-up"
        print(f"  {kind} took {time.monotonic() - began:.0f} s", flush=True)
    return samples, sizes


def percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "max_ms": round(max(values), 1),
    }


def summarize_scale(
    scale: int, held: int, samples: Samples, sizes: dict[str, int]
) -> dict[str, Any]:
    """Pooled figures per endpoint (every target and pass) and per target."""
    endpoints = {}
    for endpoint, by_target in samples.items():
        pooled = [ms for values in by_target.values() for ms in values]
        slowest = max(by_target, key=lambda name: percentiles(by_target[name])["p95_ms"])
        endpoints[endpoint] = {**percentiles(pooled), "requests": len(pooled), "slowest": slowest}
    targets = {
        name: {
            "track_events": size,
            "endpoints": {e: percentiles(samples[e][name]) for e in samples},
        }
        for name, size in sizes.items()
    }
    return {"scale": scale, "track_events": held, "endpoints": endpoints, "targets": targets}


def scale_events(clickhouse_path: str, copies: int) -> dict[str, Any]:
    """Insert `copies` copies of every `events` row with new user and message ids, straight into
    the chDB path (no service may have it open). Runs in a process of its own."""
    import clickhouse_connect  # only here: this process opens chDB, the parent must not

    client = clickhouse_connect.get_client(dsn=f"chdb://{clickhouse_path}")
    try:
        before = {"rows_before": events_rows(client), "parts_before": events_parts(client)}
        columns = insertable_columns(client)
        started = time.monotonic()
        for number in range(1, copies + 1):
            client.command(copy_sql(columns, f"{COPY_SUFFIX}{number}"))
        seconds = round(time.monotonic() - started, 1)
        return {
            **before,
            "rows_after": events_rows(client),
            "parts_after": events_parts(client),
            "seconds": seconds,
            "tables_not_scaled": tables_not_fed(client),
        }
    finally:
        client.close()


def events_rows(client: Any) -> int:
    return int(client.command("SELECT count() FROM events"))


def events_parts(client: Any) -> int:
    sql = "SELECT count() FROM system.parts WHERE database = currentDatabase() AND active"
    return int(client.command(sql + " AND table = 'events'"))


def insertable_columns(client: Any) -> list[str]:
    """Columns of `events` an INSERT may name, read at run time: the schema is changing."""
    sql = (
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'events'"
        " AND default_kind NOT IN ('MATERIALIZED', 'ALIAS', 'EPHEMERAL') ORDER BY position"
    )
    return [row[0] for row in client.query(sql).result_rows]


def copy_sql(columns: list[str], suffix: str) -> str:
    """INSERT … SELECT of the original rows (no copy suffix) under new user and message ids."""
    renamed = {
        "message_id": f"concat(message_id, '{suffix}')",
        "user_id": f"if(user_id = '', '', concat(user_id, '{suffix}'))",
        "anonymous_id": f"if(anonymous_id = '', '', concat(anonymous_id, '{suffix}'))",
    }
    select = ", ".join(renamed.get(column, column) for column in columns)
    return (
        f"INSERT INTO events ({', '.join(columns)}) SELECT {select} FROM events"
        f" WHERE position(message_id, '{COPY_SUFFIX}') = 0"
    )


# Filled by the metrics service's settler from tables the views fill, once its stack starts.
SETTLED_TABLES = {"daily_event_counts"}


def tables_not_fed(client: Any) -> list[str]:
    """Tables beside `events` that no materialized view fills from it, directly or through
    another view, nor the settler: inserting into `events` leaves them at the real data."""
    sql = (
        "SELECT name, engine, create_table_query FROM system.tables"
        " WHERE database = currentDatabase() AND NOT is_temporary"
    )
    tables = client.query(sql).result_rows
    views = [
        (query, target)
        for _, engine, query in tables
        if engine == "MaterializedView"
        for target in re.findall(r"\bTO\s+(?:`?\w+`?\.)?`?(\w+)`?", query)[:1]
    ]
    fed, grew = {"events"}, True
    while grew:
        sources = {target for query, target in views if set(_sources(query)) & fed}
        grew = not sources <= fed
        fed |= sources
    stored = {
        name
        for name, engine, _ in tables
        if "MergeTree" in engine and not name.startswith(".inner")
    }
    return sorted(stored - fed - SETTLED_TABLES)


def _sources(query: str) -> list[str]:
    return re.findall(r"\b(?:FROM|JOIN)\s+(?:`?\w+`?\.)?`?(\w+)`?", query)


def commit() -> str:
    """The checked-out commit, `+` when the tree has changes: what code was measured."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "services", "shared"], capture_output=True, text=True
    )
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def print_table(result: dict[str, Any]) -> None:
    columns = ("endpoint", "scale", "rows", "p50 ms", "p95 ms", "max ms", "goal", "", "slowest")
    line = "{:<20} {:>5} {:>12} {:>8} {:>8} {:>8} {:>6} {:<8} {}"
    print("\n" + line.format(*columns))
    for scale in result["scales"]:
        goal = result["goal_p95_ms"][str(scale["scale"])]
        for endpoint, e in scale["endpoints"].items():
            met = "met" if e["p95_ms"] <= goal else "NOT met"
            figures = (e["p50_ms"], e["p95_ms"], e["max_ms"], f"≤{goal}", met, e["slowest"])
            print(
                line.format(endpoint, f"×{scale['scale']}", f"{scale['events_rows']:,}", *figures)
            )
    if result["tables_not_scaled"]:
        print(f"not scaled (no view fills them from events): {result['tables_not_scaled']}")


if __name__ == "__main__":
    sys.exit(main())

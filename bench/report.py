"""Write docs/benchmarks.md and its plots (docs/img/*.png) from bench/results/*.json.

    python -m bench.report

A missing result file is reported as "not yet measured"; a missing field, as "—". Every file
also carries what `bench.common.write_result` adds: `machine`, `cores` (the machine's cores),
`python`, `at` (ISO time). An older file may hold `machine`
as text, e.g. "x86_64, 2 cores".

The fields read, per file (the benchmark scripts write them; keep both sides in step):

ingest.json (bench/ingest.py)
    batches: {"<events per request>": {...}} for each batch size measured, "1" and "50" at least:
        kizuna_events_per_s      peak events/s Kizuna's ingest accepted (median of runs)
        kizuna_requests_per_s    the same peak in requests/s
        reference_events_per_s   peak events/s of the reference server, same load and machine
        ratio                    kizuna_events_per_s / reference_events_per_s
        p50_ms, p99_ms           request latency at 80 % of that batch size's peak rate
    server_processes             uvicorn workers per server, what per-core figures divide by

consumer.json (bench/consumer.py)
    events            events consumed from Kafka and written to ClickHouse
    seconds           wall time for them
    events_per_s      events / seconds
    events_per_cpu_s  events / CPU-seconds of the consumer's process: the per-core figure

replay_e2e.json (bench/replay_e2e.py)
    events, messages          track calls; track calls plus one group call per user
    http_seconds              until the replay's last request was acknowledged
    queryable_seconds         until the metrics consumer had written every message
    lag_after_http_seconds    queryable_seconds - http_seconds
    events_per_second         messages / queryable_seconds
    freshness (optional)      {"events_per_s", "p50_ms", "p99_ms"}: accept → queryable latency
                              of events sent at a steady events_per_s

queries.json (bench/queries.py)
    note, commit, passes, courses, copy_seconds
    goal_p95_ms               {"1": 50, "10": 200}
    tables_not_scaled         tables the ×10 copy did not reach (none, when all is well)
    scales: [{scale, events_rows, events_parts, track_events,
              endpoints: {name: {p50_ms, p95_ms, max_ms, requests, slowest}},
              targets: {account or "(product)": {track_events, endpoints: {name: {p50_ms,
                        p95_ms, max_ms}}}}}]
"""

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT

DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"

# Goals, as medians on the 2-core reference machine.
INGEST_EVENTS_PER_CORE = 80_000  # events/s per core, 50-event batches
INGEST_REFERENCE_RATIO = 0.9  # of the reference server's events/s, every batch size
INGEST_REQUESTS_PER_CORE = 4_000  # requests/s per core, single-event requests
INGEST_P99_MS = 50  # at 80 % of peak
CONSUMER_EVENTS_PER_CORE = 150_000
E2E_QUERYABLE_S = 75  # the whole 3.16 M-event replay
E2E_FRESHNESS_P99_MS = 500  # accept → queryable, at 20k events/s
QUERY_GOALS_MS = {1: 50, 10: 200}  # every endpoint's p95, by data scale

NOT_MEASURED = "not yet measured"
INGEST_COLUMNS = ("events/request", "Kizuna events/s", "per core", "requests/s")
INGEST_COLUMNS += ("reference events/s", "ratio", "p50 ms", "p99 ms")
QUERY_COLUMNS = ("endpoint", "scale", "rows in `events`", "p50 ms", "p95 ms", "max ms")
QUERY_COLUMNS += ("goal p95", "slowest")

INTRO = """\
# Benchmarks

_Written by `bench/report.py` from `bench/results/*.json`: run it again rather than editing._

## How to run

```sh
make bench          # every benchmark, then this page
make bench-queries  # one benchmark (bench-ingest, bench-consumer, bench-e2e likewise)
make bench-report   # only this page and its plots, from the result files there are
```

Each benchmark starts its own stack on free ports (127.0.0.1 only), writes
`bench/results/<name>.json` with the machine and the time, and stops by itself. Goals are medians
on a 2-core machine. Per core means per worker process for ingest (one uvicorn worker, so one
core at most) and per CPU-second of the consumer's process (ClickHouse's threads included).

- **Ingest** (`bench/ingest.py`): the peak events/s and requests/s the ingest API acknowledges,
  by events per request, beside a reference server on the same machine; latency at 80 % of peak.
- **Consumer** (`bench/consumer.py`): events/s the metrics consumer reads from Kafka and writes
  to ClickHouse.
- **End to end** (`bench/replay_e2e.py`): the XuetangX replay (3.16 M events) over HTTP, timed
  until every message is queryable.
- **Queries** (`bench/queries.py`): p50/p95 of every metrics endpoint for each of the 25 accounts
  and the whole product, on the real data and on the same data copied ×10 under new user ids.

## Summary
"""


@dataclass(frozen=True)
class Goal:
    text: str
    measured: str = "—"
    met: bool | None = None  # None: no figure yet

    def status(self) -> str:
        return NOT_MEASURED if self.met is None else ("met" if self.met else "**not met**")


Section = Callable[[dict[str, Any]], tuple[list[Goal], list[str]]]


def main() -> int:
    results = {path.stem: json.loads(path.read_text()) for path in sorted(RESULTS.glob("*.json"))}
    sections: list[tuple[str, str, Section]] = [
        ("ingest", "Ingest", ingest_section),
        ("consumer", "Consumer", consumer_section),
        ("replay_e2e", "End to end", e2e_section),
        ("queries", "Queries", queries_section),
    ]
    summary, body = [row("benchmark", "goal", "measured", "status"), row(*"----")], []
    for name, title, section in sections:
        result = results.get(name)
        if result is None:
            summary.append(row(title, "", "", NOT_MEASURED))
            body += ["", f"## {title}", "", f"_{NOT_MEASURED}_: there is no `{name}.json`."]
            continue
        goals, lines = section(result)
        summary += [row(title, g.text, g.measured, g.status()) for g in goals]
        body += ["", f"## {title}", "", f"Measured on {machine(result)}.", "", *lines]

    DOC.write_text(INTRO + "\n" + "\n".join([*summary, *body]) + "\n")
    print(f"wrote {DOC}")
    return 0


def row(*cells: object) -> str:
    """A Markdown table row; a cell of dashes makes the separator, `:` aligns it right."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def machine(result: dict[str, Any]) -> str:
    described = str(result.get("machine", "an unknown machine"))
    if "cores" in result:
        described += f", {result['cores']} cores, Python {result.get('python', '?')}"
    return f"{described}, {result.get('at', 'at an unknown time')}"


def num(value: Any, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def check(
    text: str, value: float | None, limit: float, at_most: bool = False, unit: str = ""
) -> Goal:
    if value is None:
        return Goal(text)
    measured = f"{num(value, 2 if value < 10 else 1 if value < 100 else 0)}{unit}"
    return Goal(text, measured, value <= limit if at_most else value >= limit)


def ingest_section(result: dict[str, Any]) -> tuple[list[Goal], list[str]]:
    by_size = dict(sorted(result.get("batches", {}).items(), key=lambda item: int(item[0])))
    # Each server is this many uvicorn worker processes, one core at most each: per core is
    # the measured rate divided by them, not by the machine's cores (the broker and the load
    # generator use the others).
    processes = result.get("server_processes")

    def per_core(size: str, field: str) -> float | None:
        value = by_size.get(size, {}).get(field)
        return None if value is None or not processes else value / processes

    ratios = [b["ratio"] for b in by_size.values() if b.get("ratio") is not None]
    p99s = [b["p99_ms"] for b in by_size.values() if b.get("p99_ms") is not None]
    goals = [
        check(
            f"≥ {INGEST_EVENTS_PER_CORE:,} events/s per core, 50-event batches",
            per_core("50", "kizuna_events_per_s"),
            INGEST_EVENTS_PER_CORE,
            unit=" events/s per core",
        ),
        check(
            f"≥ {INGEST_REFERENCE_RATIO} × the reference at every batch size (lowest)",
            min(ratios) if ratios else None,
            INGEST_REFERENCE_RATIO,
            unit=" ×",
        ),
        check(
            f"≥ {INGEST_REQUESTS_PER_CORE:,} requests/s per core, single-event requests",
            per_core("1", "kizuna_requests_per_s"),
            INGEST_REQUESTS_PER_CORE,
            unit=" requests/s per core",
        ),
        check(
            f"p99 ≤ {INGEST_P99_MS} ms at 80 % of peak (highest)",
            max(p99s) if p99s else None,
            INGEST_P99_MS,
            at_most=True,
            unit=" ms",
        ),
    ]
    lines = [
        row(*INGEST_COLUMNS),
        row(*["---:"] * 8),
    ]
    for size, b in by_size.items():
        lines.append(
            row(
                size,
                num(b.get("kizuna_events_per_s")),
                num(per_core(size, "kizuna_events_per_s")),
                num(b.get("kizuna_requests_per_s")),
                num(b.get("reference_events_per_s")),
                num(b.get("ratio"), 2),
                num(b.get("p50_ms"), 1),
                num(b.get("p99_ms"), 1),
            )
        )
    if by_size:
        plot_ingest(by_size, IMG / "ingest_throughput.png")
        lines += [
            "",
            "![events/s by batch size, Kizuna and the reference](img/ingest_throughput.png)",
        ]
    return goals, lines


def consumer_section(result: dict[str, Any]) -> tuple[list[Goal], list[str]]:
    # Per core: events per CPU-second of the consumer's process, ClickHouse's threads included.
    rate, rate_per_core = result.get("events_per_s"), result.get("events_per_cpu_s")
    text = f"≥ {CONSUMER_EVENTS_PER_CORE:,} events/s per core"
    lines = [
        row("events", "seconds", "events/s", "per core"),
        row(*["---:"] * 4),
        row(
            num(result.get("events")), num(result.get("seconds"), 1), num(rate), num(rate_per_core)
        ),
    ]
    unit = " events/s per core"
    return [check(text, rate_per_core, CONSUMER_EVENTS_PER_CORE, unit=unit)], lines


def e2e_section(result: dict[str, Any]) -> tuple[list[Goal], list[str]]:
    fresh = result.get("freshness") or {}
    goals = [
        check(
            f"{num(result.get('messages'))} messages queryable in ≤ {E2E_QUERYABLE_S} s",
            result.get("queryable_seconds"),
            E2E_QUERYABLE_S,
            at_most=True,
            unit=" s",
        ),
        check(
            f"accept → queryable p99 ≤ {E2E_FRESHNESS_P99_MS} ms at 20k events/s",
            fresh.get("p99_ms"),
            E2E_FRESHNESS_P99_MS,
            at_most=True,
            unit=" ms",
        ),
    ]
    lines = [
        row("events", "messages", "HTTP done s", "queryable s", "lag after HTTP s", "messages/s"),
        row(*["---:"] * 6),
        row(
            num(result.get("events")),
            num(result.get("messages")),
            num(result.get("http_seconds"), 1),
            num(result.get("queryable_seconds"), 1),
            num(result.get("lag_after_http_seconds"), 1),
            num(result.get("events_per_second")),
        ),
        "",
        "Accept → queryable latency at a steady rate: "
        + (
            f"p50 {num(fresh.get('p50_ms'), 1)} ms, p99 {num(fresh.get('p99_ms'), 1)} ms"
            f" at {num(fresh.get('events_per_s'))} events/s."
            if fresh
            else f"_{NOT_MEASURED}_."
        ),
    ]
    if result.get("queryable_seconds") is not None:
        plot_e2e(result, IMG / "e2e.png")
        lines += ["", "![replay time against the goal](img/e2e.png)"]
    return goals, lines


def _settled(scales: list[dict[str, Any]]) -> str:
    """How long each stack took to settle its event counts before the passes, when recorded."""
    waits = [f"×{s['scale']} {s['settle_seconds']} s" for s in scales if "settle_seconds" in s]
    if not waits:
        return ""
    return (
        " Event counts of days that stopped changing are read from settled counts"
        " (services/metrics/settle.py). Each stack had counted every day before its passes:"
        f" the wait, once its data was in, was {', '.join(waits)}."
    )


def queries_section(result: dict[str, Any]) -> tuple[list[Goal], list[str]]:
    scales = result.get("scales", [])
    lines = [
        f"Code: `{result.get('commit', '?')}`. {result.get('note', '')}".strip(),
        "",
        f"{result.get('courses', '?')} accounts and the whole product,"
        f" {result.get('passes', '?')} passes after a warm-up, one request at a time. p50/p95"
        " pool every target's requests; `slowest` is the target with the highest p95. Load"
        " average (1 min) before and after the passes: "
        + ", ".join(f"×{s['scale']} {_span(s.get('load_average'))}" for s in scales)
        + "."
        + _settled(scales),
        "",
        row(*QUERY_COLUMNS),
        row("---", *["---:"] * 6, "---"),
    ]
    goals = []
    for scale in scales:
        limit = result.get("goal_p95_ms", {}).get(str(scale["scale"]))
        lines += [query_row(scale, name, e, limit) for name, e in scale["endpoints"].items()]
        goals += [query_goal(scale, limit)] if limit is not None and scale["endpoints"] else []
    if result.get("tables_not_scaled"):
        missed = ", ".join(result["tables_not_scaled"])
        lines += ["", f"The ×10 copy did not reach {missed}: no view fills them from `events`."]
    if scales:
        plot_queries(result, IMG / "queries_latency.png")
        lines += ["", "![query latency against rows](img/queries_latency.png)"]
    for scale in scales:
        lines += ["", f"p95 ms by target, ×{scale['scale']}:", "", *target_table(scale)]
    return goals, lines


def _span(pair: list[float] | None) -> str:
    return "—" if not pair else f"{pair[0]} → {pair[1]}"


def query_row(scale: dict[str, Any], name: str, e: dict[str, Any], limit: Any) -> str:
    return row(
        name,
        f"×{scale['scale']}",
        num(scale.get("events_rows")),
        num(e["p50_ms"], 1),
        num(e["p95_ms"], 1),
        num(e["max_ms"], 1),
        f"≤ {limit}",
        e.get("slowest", ""),
    )


def query_goal(scale: dict[str, Any], limit: float) -> Goal:
    endpoints = scale["endpoints"]
    worst = max(endpoints, key=lambda name: endpoints[name]["p95_ms"])
    data = "the real data" if scale["scale"] == 1 else f"the data ×{scale['scale']}"
    text = f"every endpoint p95 ≤ {limit} ms on {data} (highest)"
    return check(text, endpoints[worst]["p95_ms"], limit, at_most=True, unit=f" ms, {worst}")


def target_table(scale: dict[str, Any]) -> list[str]:
    names = list(scale["endpoints"])
    lines = [row("target", "track calls", *names), row("---", *["---:"] * (len(names) + 1))]
    for target, figures in scale.get("targets", {}).items():
        p95 = [num(figures["endpoints"][name]["p95_ms"], 1) for name in names]
        lines.append(row(target, num(figures.get("track_events")), *p95))
    return lines


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ingest(by_size: dict[str, dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    sizes = list(by_size)
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.4
    for offset, field, label in (
        (-width / 2, "kizuna_events_per_s", "Kizuna"),
        (width / 2, "reference_events_per_s", "reference"),
    ):
        values = [by_size[s].get(field) or 0 for s in sizes]
        bars = ax.bar([i + offset for i in range(len(sizes))], values, width, label=label)
    ratios = [by_size[s].get("ratio") for s in sizes]
    ax.bar_label(bars, [f"{r:.2f}×" if r is not None else "" for r in ratios], fontsize=8)
    ax.set_xticks(range(len(sizes)), sizes)
    ax.set(yscale="log", xlabel="events per request", ylabel="events/s acknowledged (log)")
    ax.set_title("Ingest throughput by batch size; labels: Kizuna ÷ reference")
    ax.yaxis.set_major_formatter(_eng())
    ax.legend()
    _save(plt, fig, path)


def _eng() -> Any:
    from matplotlib.ticker import EngFormatter

    return EngFormatter(sep="")


def plot_e2e(result: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 2.6))
    http, lag = result.get("http_seconds") or 0, result.get("lag_after_http_seconds") or 0
    ax.barh(["replay"], [http], label="until the last request was acknowledged")
    ax.barh(["replay"], [lag], left=[http], label="then until all was queryable")
    ax.axvline(E2E_QUERYABLE_S, color="black", linestyle="--", label=f"goal {E2E_QUERYABLE_S} s")
    ax.set_xlabel("seconds")
    ax.set_title(f"XuetangX replay, {num(result.get('messages'))} messages")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3)
    _save(plt, fig, path)


def plot_queries(result: dict[str, Any], path: Path) -> None:
    """Left: pooled p50/p95 of each endpoint against rows in `events`. Right: each target's p95
    against the track calls in its window, one marker per scale."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    scales = result.get("scales", [])
    for index, name in enumerate(scales[0]["endpoints"] if scales else []):
        color = colors[index % len(colors)]
        _latency_against_rows(left, scales, name, color)
        _latency_per_target(right, scales, name, color)

    goals = [(s["events_rows"], result["goal_p95_ms"][str(s["scale"])]) for s in scales]
    left.plot([r for r, _ in goals], [ms for _, ms in goals], "kx:", label="goal (p95)")
    left.set(xscale="log", yscale="log", xlabel="rows in events", ylabel="ms")
    left.set_title("p50 (dashed) and p95 against table rows")
    right.set(xscale="log", yscale="log", xlabel="track calls of the target", ylabel="p95 ms")
    right.set_title("p95 per account and for the product (o ×1, ^ ×10)")
    for ax in (left, right):
        _plain_log_ticks(ax)
        ax.legend(fontsize=7)
    fig.suptitle(f"Metrics API latency {result.get('note', '')}".strip())
    _save(plt, fig, path)


def _plain_log_ticks(ax: Any) -> None:
    """Log axes labelled 20, 50, 100 ms and 3M rows rather than powers of ten."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.xaxis.set_major_formatter(_eng())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


def _latency_against_rows(ax: Any, scales: list[dict[str, Any]], name: str, color: str) -> None:
    rows = [s["events_rows"] for s in scales]
    p95 = [s["endpoints"][name]["p95_ms"] for s in scales]
    p50 = [s["endpoints"][name]["p50_ms"] for s in scales]
    ax.plot(rows, p95, "o-", color=color, label=name)
    ax.plot(rows, p50, "s--", color=color, alpha=0.6)


def _latency_per_target(ax: Any, scales: list[dict[str, Any]], name: str, color: str) -> None:
    for scale, marker in zip(scales, "o^v", strict=False):
        targets = scale["targets"].values()
        sizes = [t["track_events"] for t in targets]
        p95 = [t["endpoints"][name]["p95_ms"] for t in targets]
        label = name if marker == "o" else None
        ax.scatter(sizes, p95, marker=marker, color=color, s=14, alpha=0.7, label=label)


if __name__ == "__main__":
    sys.exit(main())

"""A constant-rate HTTP/1.1 load generator, for latency at a given request rate.

    python -m bench.loadgen URL --body FILE --rate 2000 [--connections 64] [--duration 10]
        [--warmup 2] [--header 'Authorization: Basic ...'] [--tag run1]

Open loop: request i is due at start + i / rate whatever the server does, and its latency runs
from when it was due, not from when a connection was free to send it, so a server that falls
behind shows in the percentiles (no coordinated omission; wrk2 measures the same way). With
`--rate 0` it is closed loop instead: every connection sends again as soon as it is answered,
for when wrk is not installed.

The body file is a template from `bench.payloads`: each request replaces REQUEST_ID with
`<tag>-<n>`. Requests due during the warm-up are sent but not counted. Prints one JSON object
on stdout and exits after warmup + duration (plus at most `--drain` seconds for late answers).
Keep-alive connections to one host; no TLS, no chunked responses: enough for 127.0.0.1.
`--answers FILE` also writes, one a line, the `time.perf_counter()` at which each 200 arrived
(warm-up included): on Linux that is CLOCK_MONOTONIC, comparable across processes.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from bench.payloads import REQUEST_ID

# The event loop's own clock is cached per iteration and, under uvloop, in whole milliseconds.
clock = time.perf_counter
TICK_S = 0.001


class Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, generator: "Generator") -> None:
        self.generator = generator
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.due = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def send(self, request: bytes, due: float) -> None:
        assert self.transport is not None
        self.due = due
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buffer[:end]).lower()
            start = head.find(b"\r\ncontent-length:")
            if start < 0:
                raise RuntimeError("a response without content-length")
            stop = head.find(b"\r\n", start + 2)
            length = int(head[start + 17 : stop if stop >= 0 else None])
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            self.generator.answered(self, int(head[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.generator.lost(self)


class Generator:
    def __init__(self, args: argparse.Namespace, template: bytes) -> None:
        url = urlsplit(args.url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.head = f"POST {url.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        self.head += "Content-Type: application/json\r\n"
        self.head += "".join(f"{header}\r\n" for header in args.header)
        self.parts = template.split(REQUEST_ID.encode())
        self.tag, self.rate, self.connections = args.tag, args.rate, args.connections
        self.sent = 0
        self.idle: deque[Connection] = deque()
        self.backlog: deque[float] = deque()  # due times of requests waiting for a connection
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.in_flight = 0
        self.lost_connections = 0
        self.accepted_at: list[float] | None = [] if args.answers else None

    def request(self) -> bytes:
        self.sent += 1
        body = f"{self.tag}-{self.sent}".encode().join(self.parts)
        return f"{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body

    def dispatch(self, due: float) -> None:
        if not self.idle:
            self.backlog.append(due)
            return
        self.in_flight += 1
        self.idle.popleft().send(self.request(), due)

    def answered(self, connection: Connection, status: int) -> None:
        now = clock()
        self.in_flight -= 1
        if self.accepted_at is not None and status == 200:
            self.accepted_at.append(now)
        if self.counted_from <= connection.due < self.until:
            self.latencies.append(now - connection.due)
            self.statuses[status] = self.statuses.get(status, 0) + 1
        if self.backlog:
            self.in_flight += 1
            connection.send(self.request(), self.backlog.popleft())
        elif self.rate == 0 and now < self.until:
            self.in_flight += 1
            connection.send(self.request(), now)
        else:
            self.idle.append(connection)

    def lost(self, connection: Connection) -> None:
        self.lost_connections += 1
        if connection in self.idle:
            self.idle.remove(connection)

    async def run(self, warmup_s: float, duration_s: float, drain_s: float) -> None:
        self.loop = asyncio.get_running_loop()
        for _ in range(self.connections):
            _, connection = await self.loop.create_connection(
                lambda: Connection(self), self.host, self.port
            )
            self.idle.append(connection)

        start = clock()
        self.counted_from, self.until = start + warmup_s, start + warmup_s + duration_s
        if self.rate == 0:
            for _ in range(self.connections):
                self.dispatch(start)
        else:
            await self.schedule(start)

        deadline = clock() + drain_s
        while (self.in_flight or self.backlog) and clock() < deadline:
            await asyncio.sleep(0.01)

    async def schedule(self, start: float) -> None:
        """Dispatch every request as it falls due, waking every millisecond at most: event
        loop timers are no finer, and shorter sleeps would only spin. A request sent up to a
        millisecond late counts that in its latency."""
        index = 0
        while (due := start + index / self.rate) < self.until:
            now = clock()
            while due <= now and due < self.until:
                self.dispatch(due)
                index += 1
                due = start + index / self.rate
            await asyncio.sleep(max(TICK_S, due - now))

    def report(self, duration_s: float) -> dict[str, object]:
        ordered = sorted(self.latencies)

        def percentile(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)

        cpu = os.times()
        return {
            "mode": "closed" if self.rate == 0 else "open",
            "target_rate": self.rate,
            "answered": len(ordered),
            "requests_per_s": round(len(ordered) / duration_s, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "unanswered": self.in_flight + len(self.backlog),
            "lost_connections": self.lost_connections,
            "latency_ms": {f"p{p:g}": percentile(p) for p in (50, 90, 99, 99.9)}
            | {"max": round(ordered[-1] * 1000, 2) if ordered else None},
            "client_cpu_s": round(cpu.user + cpu.system, 2),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--body", type=Path, required=True, help="a bench.payloads template")
    parser.add_argument("--rate", type=float, required=True, help="requests/s; 0: closed loop")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--tag", default=f"lg{os.getpid()}")
    parser.add_argument("--answers", type=Path, help="write when each 200 arrived here")
    args = parser.parse_args()
    if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("only 127.0.0.1 is a target")

    generator = Generator(args, args.body.read_bytes())
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(generator.run(args.warmup, args.duration, args.drain))
    if generator.accepted_at is not None:
        args.answers.write_text("".join(f"{t:.6f}\n" for t in generator.accepted_at))
    print(json.dumps(generator.report(args.duration)))
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    sys.exit(main())

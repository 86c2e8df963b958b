"""`kizuna replay`: send a public dataset through Kizuna's Segment-compatible ingest API.

    kizuna replay xuetangx DIR [--host URL] [--write-key KEY] [--courses C1038,C1235] ...

Three stages: the dataset module yields one list of messages per user (pure); `pack_jobs` packs
them into requests under the API's limits; `Sender` posts them to `/v1/batch`, a few in flight.

Ordering: a user's messages stay in one request whenever they fit, group call first (the server
processes a batch in order). A user too big for one request is split into a chain of requests,
each posted only after the previous one was acknowledged. Different users may arrive in any order.

Failures, all subclasses of `ReplayError`, stop the whole replay:

    ReplayError
    ├── BatchRejected        the server answered 400/401/413/...: a bug or a wrong key, not retried
    └── ServerUnreachable    no request acknowledged for `stall_timeout_s` (connection errors, 503)

503 and 429 are retried after their Retry-After; connection errors and other 5xx with backoff.
Message ids are deterministic, so a retried batch cannot count twice.
"""

import argparse
import asyncio
import json
import logging
import sys
import time
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

import httpx
import orjson
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from kizuna import xuetangx
from shared import logs
from shared.settings import KizunaSettings

log = logging.getLogger(__name__)

DEFAULT_HOST = "http://127.0.0.1:8001"
BATCH_PATH = "/v1/batch"
KEYS_FILE = "demo-keys.json"

# The API's limits are 500 KB per request and 32 KB per event; stay a little under both.
MAX_BODY_BYTES = 500_000
MAX_EVENT_BYTES = 32_000
# `{"batch":[` + `]}`, rounded up.
ENVELOPE_BYTES = 16


class UsageError(Exception):
    """Bad command-line input: reported on stderr with exit code 2."""


class ReplayError(Exception):
    """The replay cannot go on: reported on stderr with exit code 1."""


class BatchRejected(ReplayError):
    """The server refused a batch for a reason that retrying cannot fix."""


class ServerUnreachable(ReplayError):
    """No batch was acknowledged for too long."""


# --- Packing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchLimits:
    max_events: int = 200
    max_body_bytes: int = MAX_BODY_BYTES
    max_event_bytes: int = MAX_EVENT_BYTES


@dataclass(frozen=True)
class Batch:
    """One request's messages, already encoded. `tracks` counts the track calls among them."""

    messages: tuple[bytes, ...]
    tracks: int

    def body(self) -> bytes:
        # No sentAt: the timestamps are history, not a live clock to correct, and ingest keeps
        # them exactly when sentAt is absent (docs/ingest.md).
        return b'{"batch":[%b]}' % b",".join(self.messages)


# Batches posted one after the other, each once the previous one was acknowledged.
Job = list[Batch]


def pack_jobs(users: Iterable[list[xuetangx.Message]], limits: BatchLimits) -> Iterator[Job]:
    """Pack users' messages into jobs. Lazy: holds one open batch and one user at a time."""
    packer = _Packer(limits)
    for messages in users:
        yield from packer.add([encode(message, limits) for message in messages])
    yield from packer.finish()


def encode(message: xuetangx.Message, limits: BatchLimits) -> tuple[bytes, bool]:
    """The message as JSON, and whether it is a track call. ValueError when it is too big."""
    data = orjson.dumps(message)
    if len(data) > limits.max_event_bytes:
        raise ValueError(f"message {message.get('messageId')} is {len(data)} bytes encoded")
    return data, message["type"] == "track"


class _Packer:
    def __init__(self, limits: BatchLimits) -> None:
        self._limits = limits
        self._chain: Job = []
        self._open: list[bytes] = []
        self._tracks = 0
        self._bytes = ENVELOPE_BYTES

    def add(self, items: list[tuple[bytes, bool]]) -> Iterator[Job]:
        # A user who does not fit next to others starts a fresh batch. One who does not fit
        # even there is cut into a chain; its last part stays open for the users after it.
        if not self._fits(items):
            yield from self.finish()
        for item in items:
            if not self._fits([item]):
                self._chain.append(self._close())
            self._append(item)

    def finish(self) -> Iterator[Job]:
        if self._open:
            self._chain.append(self._close())
        if self._chain:
            yield self._chain
        self._chain = []

    def _fits(self, items: list[tuple[bytes, bool]]) -> bool:
        if len(self._open) + len(items) > self._limits.max_events:
            return False
        size = sum(len(data) + 1 for data, _ in items)  # +1 for the comma
        return self._bytes + size <= self._limits.max_body_bytes

    def _append(self, item: tuple[bytes, bool]) -> None:
        data, is_track = item
        self._open.append(data)
        self._tracks += is_track
        self._bytes += len(data) + 1

    def _close(self) -> Batch:
        batch = Batch(messages=tuple(self._open), tracks=self._tracks)
        self._open, self._tracks, self._bytes = [], 0, ENVELOPE_BYTES
        return batch


# --- Sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderConfig:
    concurrency: int = 8
    # Give up when no request at all was acknowledged for this long.
    stall_timeout_s: float = 60.0
    first_backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    # When a 503 or 429 comes without a usable Retry-After.
    default_retry_after_s: float = 1.0


@dataclass
class ReplayStats:
    batches: int = 0
    messages: int = 0
    tracks: int = 0
    retries: int = 0
    started: float = field(default_factory=time.monotonic)

    def seconds(self) -> float:
        return time.monotonic() - self.started


class Sender:
    """Posts jobs to `/v1/batch` with at most `concurrency` requests in flight.

    `client` carries the base URL and auth. `on_acked` is called after each acknowledged batch.
    `run` blocks until every job is acknowledged; it raises a `ReplayError` subclass on failure
    (after cancelling the requests still in flight).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: SenderConfig,
        on_acked: Callable[[Batch], None] = lambda batch: None,
    ) -> None:
        self._client = client
        self._config = config
        self._on_acked = on_acked
        self.stats = ReplayStats()
        self._last_progress = time.monotonic()

    async def run(self, jobs: Iterable[Job]) -> ReplayStats:
        self.stats = ReplayStats()
        self._last_progress = time.monotonic()
        slots = asyncio.Semaphore(self._config.concurrency)
        try:
            async with asyncio.TaskGroup() as group:
                for job in jobs:
                    await slots.acquire()
                    group.create_task(self._run_job(job, slots))
        except* ReplayError as failures:
            raise failures.exceptions[0] from None
        return self.stats

    async def _run_job(self, job: Job, slots: asyncio.Semaphore) -> None:
        try:
            for batch in job:
                await self._deliver(batch)
        finally:
            slots.release()

    async def _deliver(self, batch: Batch) -> None:
        attempt = 0
        while True:
            retry_in = await self._post(batch, attempt)
            if retry_in is None:
                self._acknowledged(batch)
                return

            self._check_stall(retry_in)
            self.stats.retries += 1
            attempt += 1
            await asyncio.sleep(retry_in)

    async def _post(self, batch: Batch, attempt: int) -> float | None:
        """Post once. None when acknowledged, else seconds to wait before the next try."""
        body = batch.body()
        headers = {"Content-Type": "application/json"}
        try:
            response = await self._client.post(BATCH_PATH, content=body, headers=headers)
        except httpx.TransportError as exc:
            log.warning("batch_retrying", extra={"reason": type(exc).__name__, "attempt": attempt})
            return self._backoff(attempt)

        status = response.status_code
        if status == 200:
            return None
        if status in (429, 503):
            log.warning("batch_retrying", extra={"status": status, "attempt": attempt})
            return _retry_after(response, self._config.default_retry_after_s)
        if status >= 500:
            log.warning("batch_retrying", extra={"status": status, "attempt": attempt})
            return self._backoff(attempt)
        raise BatchRejected(_rejection_message(response, batch))

    def _backoff(self, attempt: int) -> float:
        return min(self._config.first_backoff_s * 2.0**attempt, self._config.max_backoff_s)

    def _check_stall(self, retry_in: float) -> None:
        stalled = time.monotonic() - self._last_progress
        if stalled + retry_in > self._config.stall_timeout_s:
            raise ServerUnreachable(
                f"no batch acknowledged by {self._client.base_url} for {stalled:.0f} s; "
                "is the Kizuna stack running (`kizuna run`) and its broker up?"
            )

    def _acknowledged(self, batch: Batch) -> None:
        self._last_progress = time.monotonic()
        self.stats.batches += 1
        self.stats.messages += len(batch.messages)
        self.stats.tracks += batch.tracks
        log.debug("batch_sent", extra={"messages": len(batch.messages)})
        self._on_acked(batch)


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", default))
    except ValueError:  # an HTTP date: rare enough that the default will do
        return default
    return max(seconds, 0.0)


def _rejection_message(response: httpx.Response, batch: Batch) -> str:
    first_id = orjson.loads(batch.messages[0]).get("messageId")
    what = f"the server answered HTTP {response.status_code} to a batch starting at {first_id}"
    hint = " (check --write-key)" if response.status_code in (401, 403) else ""
    try:
        error = response.json()
    except ValueError:
        return f"{what}{hint}: {response.text[:500]}"
    if not isinstance(error, dict):
        return f"{what}{hint}: {error!r}"[:1000]

    detail = ", ".join(
        f"{key}={error[key]}" for key in ("code", "attr", "detail") if error.get(key)
    )
    errors = error.get("errors")
    more = f"; errors: {json.dumps(errors[:5])}" if isinstance(errors, list) and errors else ""
    return f"{what}{hint}: {detail}{more}"


# --- Command line ----------------------------------------------------------------------------


@dataclass(frozen=True)
class XuetangxPlan:
    csv_path: Path
    courses: list[str] | None  # None: every course
    tz: tzinfo
    host: str
    write_key: str
    limits: BatchLimits
    config: SenderConfig
    users: int
    events: int


def add_parser(subparsers: Any) -> None:
    """Register `replay` and its datasets on the `kizuna` command's subparsers."""
    replay = subparsers.add_parser("replay", help="replay a public dataset through the ingest API")
    datasets = replay.add_subparsers(dest="dataset", required=True, metavar="DATASET")

    xtx = datasets.add_parser(
        "xuetangx",
        help="XuetangX KDD Cup 2015 learner activity (25 courses, 3.16M events)",
        description=(
            "Replay the XuetangX dataset through the ingest API: a group call per learner "
            "(account = course), then each day's tracked events spread over that day. "
            "messageIds are deterministic, so replaying twice counts once. All 25 courses "
            "(3.16 M events) take about 5 minutes on 2 cores; --courses picks some."
        ),
    )
    xtx.add_argument("dir", type=Path, help=f"the dataset directory (holds {xuetangx.USAGE_FILE})")
    xtx.add_argument("--courses", help="comma-separated course ids (default: all)")
    xtx.add_argument("--timezone", default="UTC", help="IANA zone the dates are in (default UTC)")
    _add_sending_options(xtx)
    xtx.set_defaults(handler=run_xuetangx)


def _add_sending_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"ingest URL (default {DEFAULT_HOST})")
    parser.add_argument("--write-key", help=f"default: write_key from var/{KEYS_FILE}")
    parser.add_argument(
        "--batch-size", type=_positive_int, default=200, help="events per request (default 200)"
    )
    parser.add_argument(
        "--concurrency", type=_positive_int, default=8, help="requests in flight (default 8)"
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_xuetangx(args: argparse.Namespace) -> int:
    """The `replay xuetangx` handler. Returns 0, 1 (replay failed) or 2 (bad input)."""
    settings = KizunaSettings()
    logs.configure(settings.log_level)
    try:
        plan = plan_xuetangx(args, settings.var_dir)
    except (UsageError, xuetangx.DatasetError) as exc:
        print(f"kizuna replay: {exc}", file=sys.stderr)
        return 2

    try:
        stats = asyncio.run(replay_xuetangx(plan))
    except ReplayError as exc:
        print(f"kizuna replay: {exc}", file=sys.stderr)
        return 1

    seconds = stats.seconds()
    print(
        f"sent {stats.tracks:,} events and {stats.messages - stats.tracks:,} group calls "
        f"in {stats.batches:,} requests, {seconds:.1f} s, {stats.tracks / seconds:,.0f} events/s"
    )
    return 0


def plan_xuetangx(args: argparse.Namespace, var_dir: Path) -> XuetangxPlan:
    """Check every input before anything is sent. Raises UsageError or DatasetError."""
    csv_path = _usage_file(args.dir)
    tz = _timezone(args.timezone)
    write_key = args.write_key or demo_key(var_dir / KEYS_FILE, "write_key", "--write-key")
    host = host_url(args.host)

    summary = xuetangx.summarize(csv_path)
    courses = _courses(args.courses, summary)
    selected = [summary[course] for course in courses or summary]
    return XuetangxPlan(
        csv_path=csv_path,
        courses=courses,
        tz=tz,
        host=host,
        write_key=write_key,
        limits=BatchLimits(max_events=args.batch_size),
        config=SenderConfig(concurrency=args.concurrency),
        users=sum(course.users for course in selected),
        events=sum(course.events for course in selected),
    )


async def replay_xuetangx(plan: XuetangxPlan) -> ReplayStats:
    """Replay the plan with a progress bar on stderr. Raises ReplayError."""
    users = xuetangx.iter_user_messages(plan.csv_path, plan.courses, plan.tz)
    jobs = pack_jobs(users, plan.limits)
    log.info(
        "replay_started", extra={"host": plan.host, "users": plan.users, "events": plan.events}
    )

    with (
        logging_redirect_tqdm(),
        tqdm(total=plan.events, unit="event", unit_scale=True, disable=None) as bar,
    ):

        def advance(batch: Batch) -> None:
            bar.update(batch.tracks)

        async with _client(plan) as client:
            stats = await Sender(client, plan.config, on_acked=advance).run(jobs)

    log.info("replay_finished", extra={"events": stats.tracks, "retries": stats.retries})
    return stats


def _client(plan: XuetangxPlan) -> httpx.AsyncClient:
    connections = plan.config.concurrency
    return httpx.AsyncClient(
        base_url=plan.host,
        auth=httpx.BasicAuth(plan.write_key, ""),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(30.0),
    )


def _usage_file(directory: Path) -> Path:
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory")
    csv_path = directory / xuetangx.USAGE_FILE
    if not csv_path.is_file():
        raise UsageError(f"{csv_path} not found; is {directory} the xuetangx dataset?")
    return csv_path


def _timezone(name: str) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(
            f"unknown --timezone {name!r}; use an IANA name like Asia/Shanghai"
        ) from exc


def demo_key(keys_file: Path, field: str, flag: str) -> str:
    """The demo tenant's key `field` from the stack's keys file; raises UsageError."""
    hint = f"pass {flag}, or start the stack once (`kizuna run`) to create it"
    name = field.replace("_", " ")
    try:
        keys = json.loads(keys_file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"no {name}: {keys_file} does not exist; {hint}") from exc
    except (OSError, ValueError) as exc:
        raise UsageError(f"no {name}: cannot read {keys_file} ({exc}); {hint}") from exc

    key = keys.get(field) if isinstance(keys, dict) else None
    if not isinstance(key, str) or not key:
        raise UsageError(f'no {name}: {keys_file} has no "{field}" field; {hint}')
    return key


def host_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--host must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _courses(text: str | None, summary: dict[str, xuetangx.CourseSummary]) -> list[str] | None:
    if text is None:
        return None
    courses = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not courses:
        raise UsageError("--courses is empty")

    unknown = [course for course in courses if course not in summary]
    if unknown:
        known = ",".join(sorted(summary))
        raise UsageError(f"unknown course id(s) {','.join(unknown)}; the dataset has {known}")
    return courses

"""The events consumer: Kafka → ClickHouse, in four stages.

1. decode: of each record (a JSON array of `shared.events.Event`, already shaped as rows of
   `events`) read only what attribution needs and check it (msgspec). A record that fails is
   dead-lettered whole, byte for byte, not dropped.
2. transform: attribute the events that name no account (attribution.py). Records whose events
   all keep the default account (`group_id`) go on as the bytes they arrived as; only the others
   are rewritten with `account_id`.
3. batch: records gather until the batch holds `batch_max_rows` events or is `batch_max_age_s`
   old (`batch_max_age_behind_s` while the broker holds a backlog past the batch).
4. write: one insert of every record's array; ClickHouse parses the JSON and checks each column.
   Records it refuses are isolated by bisection and dead-lettered, the rest written; then the
   account changes are written, and only then the offsets committed. A crash anywhere before the
   commit replays the batch, which the warehouse counts once (see schema.EVENTS).

Python never builds the rows: parsing them is ClickHouse's work, several times faster.

Anything unexpected propagates and stops the consumer; the service then exits and the
supervisor restarts it.
"""

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from services.metrics.attribution import Attribution, Naming
from services.metrics.schema import HISTORY_COLUMNS
from services.metrics.settings import MetricsSettings
from services.metrics.warehouse import Warehouse
from shared.events import EARLIEST, LATEST, CallType
from shared.kafka import make_consumer, make_producer
from shared.topics import EVENTS, EVENTS_DLQ

log = logging.getLogger(__name__)

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Aware = Annotated[datetime, msgspec.Meta(tz=True)]


class EventKeys(msgspec.Struct):
    """What the consumer reads of an event; ClickHouse reads the rest. Checked here because
    the warehouse would take them silently: an empty message id defeats deduplication, a time
    outside DateTime64's range wraps around, an impossible date becomes another."""

    product_id: NonEmpty
    message_id: NonEmpty
    user_id: NonEmpty
    type: CallType
    timestamp: Aware
    day: date  # ClickHouse reads "2014-13-45" as some date rather than refuse it
    group_id: str | None = None

    def __post_init__(self) -> None:
        if not EARLIEST <= self.timestamp <= LATEST:
            raise ValueError(f"timestamp must be between {EARLIEST.date()} and {LATEST.date()}")


_keys_decoder = msgspec.json.Decoder(list[EventKeys])
_raw_events = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])
_encoder = msgspec.json.Encoder()


def decode_keys(value: bytes | None) -> list[EventKeys]:
    """Raises msgspec.ValidationError, msgspec.DecodeError or ValueError."""
    if not value:
        raise ValueError("empty record")
    return _keys_decoder.decode(value)


@dataclass
class DeadLetter:
    key: bytes | None
    value: bytes | None
    error: str


@dataclass
class Record:
    """A record's bytes and the keys of its events, in order."""

    key: bytes | None
    value: bytes
    events: list[EventKeys]


@dataclass
class Batch:
    opened_at: float = field(default_factory=time.monotonic)
    records: list[Record] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    events: int = 0

    def add(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            events = decode_keys(record.value)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, ValueError) as exc:
            self.dead.append(DeadLetter(record.key, record.value, _reason(exc)))
        else:
            if events:  # an empty array holds nothing to write
                self.records.append(Record(record.key, record.value.strip(), events))
                self.events += len(events)
        self.next_offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1

    def __len__(self) -> int:
        return self.events + len(self.dead)

    def age(self) -> float:
        return time.monotonic() - self.opened_at


def with_accounts(record: Record, accounts: list[str]) -> Record:
    """`record` with `account_id` set on the events whose account `accounts` names (by index;
    "" for the ones that keep the default, their own `group_id`)."""
    if not any(accounts):
        return record
    # Fields stay raw JSON: only their bytes are copied back, so a value Python could not hold
    # (a number beyond a float, say) passes through to ClickHouse as it came.
    events = _raw_events.decode(record.value)
    for event, account in zip(events, accounts, strict=True):
        if account:
            event["account_id"] = msgspec.Raw(_encoder.encode(account))
    return Record(record.key, _encoder.encode(events), record.events)


def block_of(records: list[Record]) -> bytes:
    """One JSON array of every record's events, which JSONEachRow reads as rows."""
    return b"[" + b",".join(record.value[1:-1] for record in records) + b"]"


def _reason(exc: BaseException) -> str:
    return str(exc)[:500] or type(exc).__name__


async def insert_isolating_refused(warehouse: Warehouse, records: list[Record]) -> list[DeadLetter]:
    """Insert the records' events; when ClickHouse refuses the data, split the records until
    the ones it refuses are alone, insert the rest, and return the refused ones.

    Raises the driver's OperationalError (ClickHouse unreachable) and any other failure.
    """
    try:
        await warehouse.insert_json_rows("events", None, block_of(records))
        return []
    except DatabaseError as exc:
        if isinstance(exc, OperationalError) or not _refused_data(exc):
            raise
        if len(records) == 1:
            [refused] = records
            return [DeadLetter(refused.key, refused.value, f"warehouse refused: {_reason(exc)}")]
    middle = len(records) // 2
    left = await insert_isolating_refused(warehouse, records[:middle])
    return left + await insert_isolating_refused(warehouse, records[middle:])


# ClickHouse error codes that mean "this data cannot be stored" rather than "something is
# wrong with the warehouse" (a missing table, say, which must stop the consumer instead).
DATA_ERRORS = frozenset({6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 349})


def _refused_data(exc: DatabaseError) -> bool:
    match = re.search(r"Code: (\d+)", str(exc))
    return match is not None and int(match.group(1)) in DATA_ERRORS


# A backlog of this many records (requests, of up to 500 events each) past the batch means the
# consumer is behind rather than keeping pace: at a steady 20k events/s it holds a few dozen.
BEHIND_RECORDS = 1000


def age_limit(
    batch: Batch,
    highwater: Callable[[TopicPartition], int | None],
    settings: MetricsSettings,
) -> float:
    """How old `batch` may grow: `batch_max_age_behind_s` while the broker holds
    BEHIND_RECORDS records or more past it (`highwater` is the consumer's last known end of each
    partition, which asks the broker nothing), else `batch_max_age_s`."""
    backlog = 0
    for partition, next_offset in batch.next_offsets.items():
        end = highwater(partition)
        backlog += 0 if end is None else end - next_offset
    if backlog >= BEHIND_RECORDS:
        return settings.batch_max_age_behind_s
    return settings.batch_max_age_s


class EventsConsumer:
    def __init__(self, settings: MetricsSettings, warehouse: Warehouse) -> None:
        self._settings = settings
        self._warehouse = warehouse
        self._attribution = Attribution(warehouse)
        self._dlq_topic = EVENTS_DLQ.name(settings.kafka_namespace)
        self._consumer: AIOKafkaConsumer = make_consumer(settings, EVENTS, group="metrics")
        self._producer: AIOKafkaProducer = make_producer(settings, client_id="kizuna-metrics")
        self.written = 0  # events inserted since start, for /healthz and tests

    async def run(self) -> None:
        """Consume until cancelled; raises on any failure it cannot handle."""
        await self._producer.start()
        await self._consumer.start()
        topic = EVENTS.name(self._settings.kafka_namespace)
        log.info("consumer_started", extra={"group": "metrics", "topic": topic})
        try:
            await self._loop()
        finally:
            await self._consumer.stop()
            await self._producer.stop()
            log.info("consumer_stopped")

    async def _loop(self) -> None:
        max_rows, max_age = self._settings.batch_max_rows, self._settings.batch_max_age_s
        batch = Batch()
        while True:
            wait = max(0.0, max_age - batch.age()) if len(batch) else max_age
            # Records hold up to a few hundred events each; the row cap is checked below.
            fetched = await self._consumer.getmany(timeout_ms=int(wait * 1000))
            for records in fetched.values():
                for record in records:
                    batch.add(record)
            if len(batch) >= max_rows or (
                len(batch)
                and batch.age() >= age_limit(batch, self._consumer.highwater, self._settings)
            ):
                await self._flush(batch)
                batch = Batch()

    async def _flush(self, batch: Batch) -> None:
        started = time.monotonic()
        if batch.records:
            records, changes = await self._attribute(batch.records)
            batch.dead += await insert_isolating_refused(self._warehouse, records)
            if changes:
                await self._warehouse.insert_json_rows(
                    "user_account_history", HISTORY_COLUMNS, _encoder.encode_lines(changes)
                )
        if batch.dead:
            await self._dead_letter(batch.dead)
        try:
            await self._consumer.commit(batch.next_offsets)
        except CommitFailedError:
            # The partitions moved to another consumer during a rebalance; it re-reads this
            # batch and the warehouse counts each message once.
            log.warning("commit_skipped_after_rebalance", extra={"events": batch.events})
        self.written += batch.events
        log.debug(
            "batch_written",
            extra={
                "events": batch.events,
                "dead": len(batch.dead),
                "s": f"{time.monotonic() - started:.3f}",
            },
        )

    async def _attribute(self, records: list[Record]) -> tuple[list[Record], list[Naming]]:
        events = [event for record in records for event in record.events]
        accounts, changes = await self._attribution.assign(events)
        attributed, start = [], 0
        for record in records:
            end = start + len(record.events)
            attributed.append(with_accounts(record, accounts[start:end]))
            start = end
        return attributed, changes

    async def _dead_letter(self, dead: list[DeadLetter]) -> None:
        acks = [
            await self._producer.send(
                self._dlq_topic, value=d.value, key=d.key, headers=[("error", d.error.encode())]
            )
            for d in dead
        ]
        for ack in acks:
            await ack
        log.warning("events_dead_lettered", extra={"n": len(dead), "first_error": dead[0].error})

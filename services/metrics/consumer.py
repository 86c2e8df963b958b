"""The events consumer: Kafka → ClickHouse, in four stages.

1. decode: a record's bytes → its `Event`s (msgspec). A record that fails is dead-lettered
   whole, byte for byte, not dropped.
2. transform: `Event` → a warehouse row (pure).
3. batch: rows gather until the batch holds `batch_max_rows` or is `batch_max_age_s` old.
4. write: attribute rows to accounts, insert, dead-letter the bad records, and only then
   commit the offsets. A crash anywhere before the commit replays the batch, which the
   warehouse counts once (see schema.EVENTS).

Anything unexpected propagates and stops the consumer; the service then exits and the
supervisor restarts it.
"""

import functools
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from services.metrics.attribution import Attribution
from services.metrics.schema import EVENT_COLUMNS, HISTORY_COLUMNS
from services.metrics.settings import MetricsSettings
from services.metrics.warehouse import Warehouse
from shared.events import Event, as_utc, decode_record
from shared.kafka import make_consumer, make_producer
from shared.topics import EVENTS, EVENTS_DLQ

log = logging.getLogger(__name__)

Row = dict[str, Any]


@dataclass
class DeadLetter:
    key: bytes | None
    value: bytes | None
    error: str


@dataclass
class Batch:
    opened_at: float = field(default_factory=time.monotonic)
    rows: list[Row] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)

    def add(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            self.rows.extend(to_row(event) for event in decode(record.value))
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, ValueError) as exc:
            self.dead.append(DeadLetter(record.key, record.value, _reason(exc)))
        self.next_offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1

    def __len__(self) -> int:
        return len(self.rows) + len(self.dead)

    def age(self) -> float:
        return time.monotonic() - self.opened_at


def decode(value: bytes | None) -> list[Event]:
    if not value:
        raise ValueError("empty record")
    return decode_record(value)


def to_row(event: Event) -> Row:
    """Columns of `events`. ClickHouse reads the JSON objects into String columns and nulls
    as the column's default; msgspec writes the datetimes."""
    timestamp = as_utc(event.timestamp)
    return {
        "day": local_day(timestamp, event.timezone),
        "product_id": event.product_id,
        "message_id": event.message_id,
        "tenant_id": event.tenant_id,
        "type": event.type,
        "event": event.event,
        "name": event.name,
        "user_id": event.user_id or event.anonymous_id,
        "anonymous_id": event.anonymous_id,
        "group_id": event.group_id,
        "account_id": event.group_id,
        "previous_id": event.previous_id,
        "timestamp": timestamp,
        "original_timestamp": event.original_timestamp,
        "sent_at": event.sent_at,
        "received_at": event.received_at,
        "properties": event.properties,
        "traits": event.traits,
        "context": event.context,
    }


def local_day(moment: datetime, timezone: str) -> date:
    """The calendar day of `moment` (UTC) in `timezone`; raises ValueError for an unknown zone."""
    if timezone == "UTC":
        return moment.date()
    return moment.astimezone(_zone(timezone)).date()


@functools.cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


_encoder = msgspec.json.Encoder()


def _lines(rows: list[Row]) -> bytes:
    """Newline-delimited JSON for ClickHouse's JSONEachRow."""
    return _encoder.encode_lines(rows)


def _reason(exc: BaseException) -> str:
    return str(exc)[:500] or type(exc).__name__


async def insert_isolating_refused(warehouse: Warehouse, rows: list[Row]) -> list[DeadLetter]:
    """Insert rows; when ClickHouse refuses the data, split the batch until the rows it refuses
    are alone, insert the rest, and return the refused ones as dead letters.

    Raises the driver's OperationalError (ClickHouse unreachable) and any other failure.
    """
    block = _lines(rows)
    try:
        await warehouse.insert_json_rows("events", EVENT_COLUMNS, block)
        return []
    except DatabaseError as exc:
        if isinstance(exc, OperationalError) or not _refused_data(exc):
            raise
        if len(rows) == 1:
            key = f"{rows[0]['product_id']}:{rows[0]['user_id']}".encode()
            return [DeadLetter(key, block, f"warehouse refused: {str(exc)[:300]}")]
    middle = len(rows) // 2
    left = await insert_isolating_refused(warehouse, rows[:middle])
    return left + await insert_isolating_refused(warehouse, rows[middle:])


# ClickHouse error codes that mean "this data cannot be stored" rather than "something is
# wrong with the warehouse" (a missing column, say, which must stop the consumer instead).
DATA_ERRORS = frozenset({6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 349})


def _refused_data(exc: DatabaseError) -> bool:
    match = re.search(r"Code: (\d+)", str(exc))
    return match is not None and int(match.group(1)) in DATA_ERRORS


class EventsConsumer:
    def __init__(self, settings: MetricsSettings, warehouse: Warehouse) -> None:
        self._settings = settings
        self._warehouse = warehouse
        self._attribution = Attribution(warehouse)
        self._dlq_topic = EVENTS_DLQ.name(settings.kafka_namespace)
        self._consumer: AIOKafkaConsumer = make_consumer(settings, EVENTS, group="metrics")
        self._producer: AIOKafkaProducer = make_producer(settings, client_id="kizuna-metrics")
        self.written = 0  # rows inserted since start, for /healthz and tests

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
            fetched = await self._consumer.getmany(
                timeout_ms=int(wait * 1000), max_records=max_rows - len(batch)
            )
            for records in fetched.values():
                for record in records:
                    batch.add(record)
            if len(batch) >= max_rows or (len(batch) and batch.age() >= max_age):
                await self._flush(batch)
                batch = Batch()

    async def _flush(self, batch: Batch) -> None:
        started = time.monotonic()
        if batch.rows:
            changes = await self._attribution.assign(batch.rows)
            batch.dead += await insert_isolating_refused(self._warehouse, batch.rows)
            if changes:
                await self._warehouse.insert_json_rows(
                    "user_account_history", HISTORY_COLUMNS, _lines(changes)
                )
        if batch.dead:
            await self._dead_letter(batch.dead)
        try:
            await self._consumer.commit(batch.next_offsets)
        except CommitFailedError:
            # The partitions moved to another consumer during a rebalance; it re-reads this
            # batch and the warehouse counts each message once.
            log.warning("commit_skipped_after_rebalance", extra={"rows": len(batch.rows)})
        self.written += len(batch.rows)
        log.debug(
            "batch_written",
            extra={
                "rows": len(batch.rows),
                "dead": len(batch.dead),
                "s": f"{time.monotonic() - started:.3f}",
            },
        )

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

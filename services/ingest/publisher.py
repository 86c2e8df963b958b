"""Producing accepted events to Kafka, and answering 503 rather than hanging when it is down.

The producer is started in the background and restarted until the broker answers, so ingest
comes up (and reports unready) even while the broker is away.
"""

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.errors import Unavailable
from shared.events import Event, encode_record, record_key
from shared.kafka import make_producer
from shared.settings import KizunaSettings
from shared.topics import EVENTS

log = logging.getLogger(__name__)


# The most one record may hold. Kafka refuses records over its message.max.bytes (1 MB by
# default), and a 500 KB request can grow past that: the batch's context is copied into each of
# its events, and every event gains its product, day and times.
MAX_RECORD_BYTES = 900_000


def records_of(events: list[Event], limit: int = MAX_RECORD_BYTES) -> list[bytes]:
    """`events` as one record, or, when that would be over `limit` bytes, as several records that
    fit, in order. A single event is one record whatever its size (ingest caps it at 32 KB)."""
    value = encode_record(events)
    if len(value) <= limit or len(events) == 1:
        return [value]
    middle = len(events) // 2
    return records_of(events[:middle], limit) + records_of(events[middle:], limit)


class Publisher:
    def __init__(self, settings: KizunaSettings, retry_after_s: int) -> None:
        self._settings = settings
        self._topic = EVENTS.name(settings.kafka_namespace)
        self._timeout = settings.dependency_timeout_s
        self._retry_after = str(retry_after_s)
        self._producer: AIOKafkaProducer | None = None
        self._starter: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self._producer is not None

    def start(self) -> None:
        self._starter = asyncio.create_task(self._start_until_connected())

    async def _start_until_connected(self) -> None:
        while True:
            producer = make_producer(self._settings, client_id="kizuna-ingest")
            try:
                await producer.start()
            except KafkaError as exc:
                log.warning("producer_start_failed", extra={"error": type(exc).__name__})
                await producer.stop()
                await asyncio.sleep(1.0)
                continue
            self._producer = producer
            log.info("producer_started", extra={"topic": self._topic})
            return

    async def stop(self) -> None:
        if self._starter is not None:
            self._starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starter
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, events: list[Event]) -> None:
        """Return once the broker acknowledged every event; raise Unavailable after the timeout.

        On Unavailable some events may still reach the broker later; clients retry with the
        same messageIds and the warehouse counts each once.
        """
        if self._producer is None:
            raise self._unavailable("the event broker is not connected")
        try:
            # asyncio.timeout, unlike wait_for, makes no task per request.
            async with asyncio.timeout(self._timeout):
                await self._send_all(self._producer, events)
        except (TimeoutError, KafkaError) as exc:
            log.warning("publish_failed", extra={"error": type(exc).__name__, "n": len(events)})
            raise self._unavailable("the event broker did not acknowledge in time") from exc

    async def _send_all(self, producer: AIOKafkaProducer, events: list[Event]) -> None:
        # A request's records share a key, and so a partition: its events stay in order.
        key = record_key(events)
        acks = [await producer.send(self._topic, value=v, key=key) for v in records_of(events)]
        for ack in acks:
            await ack

    def _unavailable(self, detail: str) -> Unavailable:
        return Unavailable(
            detail, code="broker_unavailable", headers={"Retry-After": self._retry_after}
        )

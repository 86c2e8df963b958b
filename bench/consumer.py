"""The metrics consumer alone: a topic pre-filled with N events → ClickHouse (chDB).

    python -m bench.consumer [--events 1000000] [--per-record 50]

Starts a Tansu broker on a free port, fills a fresh topic with records shaped as ingest writes
them (a JSON array of events per record), then runs the real EventsConsumer in this process
into a chDB warehouse in a temporary directory until every event is written. Reports wall time
and events per CPU-second of this process (ClickHouse's threads included), from the first batch
written to the last. Writes bench/results/consumer.json.
"""

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaProducer

from bench.common import free_port, write_result
from kizuna.broker import TansuBroker
from services.metrics.consumer import EventsConsumer
from services.metrics.settings import MetricsSettings
from services.metrics.warehouse import Warehouse
from shared.events import Event, encode_record, local_day, record_key
from shared.kafka import create_topics
from shared.topics import EVENTS


def make_records(events: int, per_record: int) -> list[tuple[bytes, bytes]]:
    """Records as ingest writes them: one user's batch of track calls each, every call naming
    its account (as Kizuna's snippet and most server-side clients do)."""
    start = datetime(2024, 5, 1, tzinfo=UTC)
    received = datetime.now(UTC)
    context = msgspec.Raw(msgspec.json.encode({"library": {"name": "analytics.js"}}))
    records = []
    for first in range(0, events, per_record):
        user = f"user-{first // per_record % 5000}"
        batch = []
        for n in range(first, min(first + per_record, events)):
            timestamp = start + timedelta(seconds=n)
            properties = {"format": "csv", "rows": n % 1000, "plan": "pro"}
            batch.append(
                Event(
                    tenant_id="ten_bench",
                    product_id="prd_bench",
                    message_id=f"m-{n}",
                    type="track",
                    day=local_day(timestamp, "Asia/Tokyo"),
                    timestamp=timestamp,
                    received_at=received,
                    user_id=user,
                    event="Report Exported",
                    group_id=f"acct-{first // per_record % 200}",
                    properties=msgspec.Raw(msgspec.json.encode(properties)),
                    context=context,
                    timezone="Asia/Tokyo",
                )
            )
        records.append((record_key(batch), encode_record(batch)))
    return records


async def fill(settings: MetricsSettings, records: list[tuple[bytes, bytes]]) -> None:
    await create_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        topic = EVENTS.name(settings.kafka_namespace)
        acks = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def consume(settings: MetricsSettings, events: int) -> tuple[int, float, float]:
    """Run the consumer until `events` rows are written. Returns the events written after the
    first batch and the wall and CPU seconds they took: joining the consumer group takes
    Tansu seconds of waiting, which is start-up, not throughput."""
    warehouse = Warehouse(settings.clickhouse_dsn())
    await warehouse.open()
    consumer = EventsConsumer(settings, warehouse)
    task = asyncio.create_task(consumer.run())
    while consumer.written == 0:
        _check(task)
        await asyncio.sleep(0.001)
    first, cpu_before, wall_before = consumer.written, _cpu(), time.monotonic()
    while consumer.written < events:
        _check(task)
        await asyncio.sleep(0.001)
    wall, cpu = time.monotonic() - wall_before, _cpu() - cpu_before
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await warehouse.close()
    return consumer.written - first, wall, cpu


def _check(task: "asyncio.Task[None]") -> None:
    if task.done():
        task.result()  # raises what stopped the consumer


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-record", type=int, default=50)
    args = parser.parse_args()

    records = make_records(args.events, args.per_record)
    port = free_port()
    broker = TansuBroker("127.0.0.1", port)
    broker.start()
    try:
        with tempfile.TemporaryDirectory(prefix="kizuna-consumer-") as tmp:
            settings = MetricsSettings(
                kafka_bootstrap=broker.bootstrap,
                kafka_namespace=f"bench{uuid.uuid4().hex[:6]}",
                var_dir=Path(tmp),
            )
            asyncio.run(fill(settings, records))
            measured, wall, cpu = asyncio.run(consume(settings, args.events))
    finally:
        broker.stop()

    result = {
        "events": args.events,
        "events_per_record": args.per_record,
        "measured_events": measured,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "events_per_s": round(measured / wall),
        "events_per_cpu_s": round(measured / cpu),
        "cores": round(cpu / wall, 2),
    }
    write_result("consumer", result)
    for key, value in result.items():
        print(f"{key:<20} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The metrics consumer alone: a topic pre-filled with N events → ClickHouse (chDB).

    python -m bench.consumer [--events 1000000] [--per-record 50]

Starts a Tansu broker on a free port, fills a fresh topic with records shaped as ingest writes
them (a JSON array of events per record), then runs the real EventsConsumer in this process
into a chDB warehouse in a temporary directory until every event is written. Reports wall time
and events per CPU-second of this process (ClickHouse's threads included). Writes
bench/results/consumer.json.
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

from aiokafka import AIOKafkaProducer

from bench.common import free_port, write_result
from kizuna.broker import TansuBroker
from services.metrics.consumer import EventsConsumer
from services.metrics.settings import MetricsSettings
from services.metrics.warehouse import Warehouse
from shared.events import Event, encode_record, record_key
from shared.kafka import create_topics
from shared.topics import EVENTS


def make_records(events: int, per_record: int) -> list[tuple[bytes, bytes]]:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    received = datetime.now(UTC)
    records = []
    for first in range(0, events, per_record):
        user = f"user-{first // per_record % 5000}"
        batch = [
            Event(
                tenant_id="ten_bench",
                product_id="prd_bench",
                message_id=f"m-{n}",
                type="track",
                timestamp=start + timedelta(seconds=n),
                received_at=received,
                user_id=user,
                event="Report Exported",
                group_id=f"acct-{first // per_record % 200}",
                properties={"format": "csv", "rows": n % 1000, "plan": "pro"},
                context={"library": {"name": "analytics.js", "version": "4.1.0"}},
                timezone="Asia/Tokyo",
            )
            for n in range(first, min(first + per_record, events))
        ]
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


async def consume(settings: MetricsSettings, events: int) -> tuple[float, float]:
    """Run the consumer until `events` rows are written; return wall and CPU seconds."""
    warehouse = Warehouse(settings.clickhouse_dsn())
    await warehouse.open()
    consumer = EventsConsumer(settings, warehouse)
    cpu_before, wall_before = _cpu(), time.monotonic()
    task = asyncio.create_task(consumer.run())
    while consumer.written < events:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    wall, cpu = time.monotonic() - wall_before, _cpu() - cpu_before
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await warehouse.close()
    return wall, cpu


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
            wall, cpu = asyncio.run(consume(settings, args.events))
    finally:
        broker.stop()

    result = {
        "events": args.events,
        "events_per_record": args.per_record,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "events_per_s": round(args.events / wall),
        "events_per_cpu_s": round(args.events / cpu),
        "cores": round(cpu / wall, 2),
    }
    write_result("consumer", result)
    for key, value in result.items():
        print(f"{key:<20} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

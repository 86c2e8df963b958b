"""A record on the events topic that is not a valid event goes to the dead-letter topic, byte for
byte, and the consumer carries on."""

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.topics import EVENTS, EVENTS_DLQ
from tests.integration.conftest import RunningStack, eventually

pytestmark = pytest.mark.integration


async def test_an_invalid_record_is_dead_lettered_and_later_events_still_count(
    running: RunningStack,
) -> None:
    namespace = running.stack.settings.kafka_namespace
    poison = f'{{"not": "an event", "nonce": "{uuid.uuid4().hex}"}}'.encode()
    producer = AIOKafkaProducer(bootstrap_servers=running.stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(EVENTS.name(namespace), value=poison, key=b"x:y")
    finally:
        await producer.stop()

    dead = AIOKafkaConsumer(
        EVENTS_DLQ.name(namespace),
        bootstrap_servers=running.stack.bootstrap,
        auto_offset_reset="earliest",
        group_id=f"test-{uuid.uuid4().hex}",
    )
    await dead.start()
    try:
        record = await asyncio.wait_for(_next_with_value(dead, poison), timeout=30)
    finally:
        await dead.stop()
    headers = dict(record.headers)
    # A record is a JSON array of events; this one is an object.
    assert headers["error"].startswith(b"Expected `array`, got `object`")

    account = f"after-poison-{uuid.uuid4().hex[:6]}"
    with running.ingest() as ingest:
        body = {
            "userId": "u",
            "event": "e",
            "timestamp": "2022-02-02T00:00:00Z",
            "context": {"groupId": account},
        }
        assert ingest.post("/v1/track", json=body).status_code == 200

    def counted() -> bool:
        params = {"product": "demo", "account": account, "start": "2022-02-02", "end": "2022-02-02"}
        with running.api("metrics") as api:
            series = api.get("/v1/metrics/active-users", params=params).json()["series"]
        return bool(series[0]["active_users"] == 1)

    assert eventually(counted)


async def _next_with_value(consumer: AIOKafkaConsumer, value: bytes):  # type: ignore[no-untyped-def]
    async for record in consumer:
        if record.value == value:
            return record
    raise AssertionError("the dead-letter topic ended")

"""Kafka helpers: one way to build producers and consumers, and to create the topic registry.

aiokafka is the client. With `kafka_idempotence` on (real Kafka) producers are idempotent;
Tansu, the embedded broker, rejects InitProducerId, so the embedded stack turns it off.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from shared.settings import KizunaSettings
from shared.topics import ALL, Topic

log = logging.getLogger(__name__)


def make_producer(settings: KizunaSettings, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=2,
        max_batch_size=256 * 1024,
        request_timeout_ms=int(settings.dependency_timeout_s * 1000),
    )


def make_consumer(settings: KizunaSettings, topic: Topic, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic.name(settings.kafka_namespace),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_namespace}.{group}",
        client_id=f"kizuna-{group}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        # How long the broker may hold a fetch for data to arrive: events wait for it on
        # their way to the warehouse (aiokafka's 500 ms default would be most of it).
        fetch_max_wait_ms=100,
    )


async def create_topics(settings: KizunaSettings, topics: tuple[Topic, ...] = ALL) -> list[str]:
    """Create the registry's topics that do not exist yet; return the names created.

    Raises KafkaConnectionError when the broker cannot be reached.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, client_id="kizuna-admin"
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t.name(settings.kafka_namespace) not in existing]
        new = [
            NewTopic(t.name(settings.kafka_namespace), t.partitions, replication_factor=1)
            for t in wanted
        ]
        if new:
            # Another process may have created them since we looked.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
        names = [t.name for t in new]
        if names:
            log.info("topics_created", extra={"topics": ",".join(names)})
        return names
    finally:
        await admin.close()


async def wait_for_broker(settings: KizunaSettings, timeout_s: float = 30.0) -> None:
    """Block until the broker answers metadata requests; raise TimeoutError after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no Kafka broker at {settings.kafka_bootstrap}") from None
            await asyncio.sleep(0.2)
        finally:
            await admin.close()


class Keyed(Protocol):
    def key(self) -> bytes: ...

    def model_dump_json(self) -> str: ...


async def send_all(producer: AIOKafkaProducer, topic: str, messages: Sequence[Keyed]) -> None:
    """Send pydantic messages as JSON under their keys; return once the broker has them all."""
    acks = [
        await producer.send(topic, value=m.model_dump_json().encode(), key=m.key())
        for m in messages
    ]
    await asyncio.gather(*acks)

"""Health updates and events from Kafka, acted on by the rules (services.rules.engine).

One consumer reads both topics. Each fetched batch is acted on in one database transaction,
committed before the Kafka offsets: a crash in between redelivers the batch, and the keys of
the messages already processed (table processed_messages) make the second pass change nothing.
"""

import logging
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.rules import engine
from services.rules.models import Rule
from services.rules.settings import RulesSettings
from shared.events import decode_record
from shared.health import HealthUpdate
from shared.topics import EVENTS, HEALTH_UPDATES

log = logging.getLogger(__name__)


class RulesConsumer:
    def __init__(self, settings: RulesSettings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._health = HEALTH_UPDATES.name(settings.kafka_namespace)
        self._events = EVENTS.name(settings.kafka_namespace)
        self._consumer = AIOKafkaConsumer(
            self._health,
            self._events,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=f"{settings.kafka_namespace}.rules",
            client_id="kizuna-rules",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=200,
        )
        self.handled = 0  # messages acted on since start, for /healthz and tests
        self.fired = 0  # tasks raised, re-fired or closed since start
        self._event_rules: dict[str, list[Rule]] = {}

    async def run(self) -> None:
        await self._consumer.start()
        log.info("rules_consumer_started", extra={"topics": [self._health, self._events]})
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=500, max_records=500)
                if batch:
                    await self._handle(batch)
        finally:
            await self._consumer.stop()

    async def _handle(
        self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        now = datetime.now(UTC)
        outcomes: list[engine.Outcome] = []
        self._event_rules = {}  # product → its event rules, read once per batch
        async with self._sessions() as session:
            for partition, records in batch.items():
                for record in records:
                    if partition.topic == self._health:
                        outcomes += await self._health_update(session, record.value, now)
                    else:
                        outcomes += await self._track_calls(session, record.value, now)
            await session.commit()
        try:
            await self._consumer.commit(
                {tp: records[-1].offset + 1 for tp, records in batch.items()}
            )
        except CommitFailedError:
            log.warning("rules_commit_skipped_after_rebalance")
        self.handled += sum(len(records) for records in batch.values())
        self.fired += len(outcomes)
        for outcome in outcomes:
            log.info(
                "rule_fired",
                extra={
                    "rule": outcome.rule_id,
                    "account": outcome.account_id,
                    "action": outcome.action,
                },
            )

    async def _health_update(
        self, session: AsyncSession, value: bytes | None, now: datetime
    ) -> list[engine.Outcome]:
        try:
            update = HealthUpdate.model_validate_json(value or b"")
        except ValidationError as exc:
            log.error("health_update_refused", extra={"error": str(exc)[:500]})
            return []
        return await engine.on_health(session, update, now)

    async def _track_calls(
        self, session: AsyncSession, value: bytes | None, now: datetime
    ) -> list[engine.Outcome]:
        try:
            events = decode_record(value or b"")
        except Exception:  # the metrics consumer dead-letters these; nothing for rules here
            return []
        outcomes = []
        for event in events:
            if event.type != "track" or not event.group_id:
                continue
            if event.product_id not in self._event_rules:
                self._event_rules[event.product_id] = await engine.rules_of(
                    session, event.product_id, "event"
                )
            if not self._event_rules[event.product_id]:
                continue
            try:
                properties = orjson.loads(bytes(event.properties)) if event.properties else {}
            except orjson.JSONDecodeError:
                properties = {}
            outcomes += await engine.on_event(
                session,
                event.product_id,
                event.message_id,
                event.group_id,
                event.event,
                event.user_id,
                properties if isinstance(properties, dict) else {},
                now,
                self._event_rules[event.product_id],
                event.received_at,
            )
        return outcomes

"""The tasks topic into ClickHouse (`task_events`), for dashboards: batches written before their
offsets are committed; a batch read twice is kept once (ReplacingMergeTree on history_id)."""

import json
import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError
from pydantic import ValidationError

from services.metrics.settings import MetricsSettings
from services.metrics.warehouse import Warehouse
from shared.tasks import TaskEvent
from shared.topics import TASKS

log = logging.getLogger(__name__)


def row_of(event: TaskEvent) -> dict[str, object]:
    row = event.model_dump(mode="json")
    row["rule_id"] = event.rule_id or ""
    row["assignee"] = event.assignee or ""
    return row


class TaskEventsConsumer:
    def __init__(self, settings: MetricsSettings, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        self._consumer = AIOKafkaConsumer(
            TASKS.name(settings.kafka_namespace),
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=f"{settings.kafka_namespace}.metrics-tasks",
            client_id="kizuna-metrics-tasks",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=200,
        )
        self.written = 0

    async def run(self) -> None:
        await self._consumer.start()
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=1000, max_records=5000)
                if batch:
                    await self._write([r.value for rs in batch.values() for r in rs])
                    try:
                        await self._consumer.commit(
                            {tp: rs[-1].offset + 1 for tp, rs in batch.items()}
                        )
                    except CommitFailedError:
                        log.warning("task_events_commit_skipped_after_rebalance")
        finally:
            await self._consumer.stop()

    async def _write(self, values: list[bytes | None]) -> None:
        rows = []
        for value in values:
            try:
                rows.append(row_of(TaskEvent.model_validate_json(value or b"")))
            except ValidationError as exc:  # only the rules service writes here
                log.error("task_event_refused", extra={"error": str(exc)[:500]})
        if rows:
            block = b"\n".join(json.dumps(row).encode() for row in rows)
            await self._warehouse.insert_json_rows("task_events", None, block)
            self.written += len(rows)

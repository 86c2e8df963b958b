"""Task events kept in ClickHouse: one row per change, also when a change arrives twice."""

import json
from datetime import UTC, datetime

import pytest

from services.metrics.task_events import row_of
from services.metrics.warehouse import Warehouse
from shared.tasks import TaskEvent

pytestmark = pytest.mark.integration


def event(history_id: int, kind: str, status: str) -> TaskEvent:
    return TaskEvent(
        history_id=history_id,
        at=datetime(2024, 6, 1, 12, history_id, tzinfo=UTC),
        kind=kind,
        actor="rule:rul_1",
        product_id="prd_te1",
        task_id="tsk_1",
        rule_id=None,
        account_id="acme",
        title="Acme is red",
        type="risk",
        priority="high",
        status=status,
        assignee=None,
        due_at=None,
    )


async def test_a_change_sent_twice_is_kept_once(warehouse: Warehouse) -> None:
    rows = [row_of(event(1, "created", "open")), row_of(event(2, "closed", "done"))]
    block = b"\n".join(json.dumps(r).encode() for r in [*rows, rows[0]])
    await warehouse.insert_json_rows("task_events", None, block)

    found = await warehouse.rows(
        "SELECT history_id, kind, status, rule_id, assignee FROM task_events FINAL"
        " WHERE product_id = 'prd_te1' ORDER BY history_id"
    )
    latest = await warehouse.rows(
        "SELECT argMax(status, history_id) FROM task_events WHERE task_id = 'tsk_1'"
    )
    assert found == [(1, "created", "open", "", ""), (2, "closed", "done", "", "")]
    assert latest == [("done",)]

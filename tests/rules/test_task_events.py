"""Task events from the task history, on SQLite and PostgreSQL: every change sent once it is
committed, in order, and again when sending failed."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.rules.models import TaskHistory
from services.rules.task_events import TaskEventPublisher
from shared.tasks import TaskEvent
from tests.rules.test_engine import (
    DAY,
    NOW,
    RED_NEAR_RENEWAL,
    Sessions,
    add_rule,
    feed,
    update,
)


async def test_every_change_is_sent_in_order_and_once(sessions: Sessions) -> None:
    await add_rule(sessions, "red", **{**RED_NEAR_RENEWAL, "auto_close": True})
    traits = {"renewal_date": "2024-07-01", "owner": "kim@vendor.example"}
    await feed(
        sessions,
        update("acme", band="red", traits=traits),
        update("acme", DAY + timedelta(days=1), band="green", traits=traits),
    )
    sent: list[TaskEvent] = []

    async def send(events: list[TaskEvent]) -> None:
        sent.extend(events)

    publisher = TaskEventPublisher(sessions, send, interval_s=1)

    assert await publisher.publish_pending() == 2
    assert await publisher.publish_pending() == 0
    assert [(e.kind, e.account_id, e.assignee) for e in sent] == [
        ("created", "acme", "kim@vendor.example"),
        ("closed", "acme", "kim@vendor.example"),
    ]
    assert sent[0].history_id < sent[1].history_id
    assert sent[1].status == "done"
    assert sent[0].at == NOW


async def test_a_failed_send_leaves_the_changes_to_send_again(sessions: Sessions) -> None:
    await add_rule(sessions, "red", **RED_NEAR_RENEWAL)
    await feed(sessions, update("acme", band="red", traits={"renewal_date": "2024-07-01"}))

    async def broken(events: list[TaskEvent]) -> None:
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        await TaskEventPublisher(sessions, broken, interval_s=1).publish_pending()
    async with sessions() as session:
        assert list(await session.scalars(select(TaskHistory.published))) == [False]

    sent: list[TaskEvent] = []

    async def send(events: list[TaskEvent]) -> None:
        sent.extend(events)

    assert await TaskEventPublisher(sessions, send, interval_s=1).publish_pending() == 1
    assert [e.kind for e in sent] == ["created"]

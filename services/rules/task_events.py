"""Task events on Kafka, from the task history: every history row is written with the change it
records, unpublished; this loop sends the unpublished ones in order, waits for the broker, and
marks them. A crash between the two sends them again (consumers keep one per history_id)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.rules.models import Task, TaskHistory
from shared.tasks import TaskEvent

log = logging.getLogger(__name__)

Send = Callable[[list[TaskEvent]], Awaitable[None]]
BATCH = 500


class TaskEventPublisher:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], send: Send, interval_s: float
    ) -> None:
        self._sessions = sessions
        self._send = send
        self._interval_s = interval_s
        self.published = 0

    async def run(self) -> None:
        while True:
            try:
                while await self.publish_pending() == BATCH:
                    pass
            except Exception:  # the broker or the database may be away; try again later
                log.exception("task_events_pass_failed")
            await asyncio.sleep(self._interval_s)

    async def publish_pending(self) -> int:
        """Send up to BATCH unpublished changes; returns how many."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(TaskHistory, Task)
                    .join(Task, Task.id == TaskHistory.task_id)
                    .where(TaskHistory.published.is_(False))
                    .order_by(TaskHistory.id)
                    .limit(BATCH)
                )
            ).all()
            if not rows:
                return 0
            await self._send([event_of(history, task) for history, task in rows])
            for history, _ in rows:
                history.published = True
            await session.commit()
        self.published += len(rows)
        return len(rows)


def event_of(history: TaskHistory, task: Task) -> TaskEvent:
    """The task as it stands now, under this change: a change's own fields (status, assignee)
    are the task's at the time it is sent, which for a backlog may be later than the change."""
    return TaskEvent(
        history_id=history.id,
        at=history.at,
        kind=history.kind,
        actor=history.actor,
        product_id=task.product_id,
        task_id=task.id,
        rule_id=task.rule_id,
        account_id=task.account_id,
        title=task.title,
        type=task.type,
        priority=task.priority,
        status=task.status,
        assignee=task.assignee,
        due_at=task.due_at,
    )

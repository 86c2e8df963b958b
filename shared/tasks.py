"""What the rules service tells the others about CS tasks: one record per change of a task."""

from datetime import datetime

from pydantic import BaseModel


class TaskEvent(BaseModel):
    """A task as it stood after one change (`kind`: created, refired, snoozed, updated, woke,
    closed). `history_id` numbers the changes: the same change sent twice has the same one."""

    history_id: int
    at: datetime
    kind: str
    actor: str  # "rule:<id>" or "api"
    product_id: str
    task_id: str
    rule_id: str | None
    account_id: str
    title: str
    type: str
    priority: str
    status: str
    assignee: str | None
    due_at: datetime | None

    def key(self) -> bytes:
        return self.task_id.encode()

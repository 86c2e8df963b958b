"""Onboarding completion per checklist, from the snippet's experience events.

For one checklist (its experience id), over the events of a date range:
- started: users shown it (`experience_shown`), and their accounts;
- completed: of those, users with `experience_completed` for it; an account has completed it
  when one of its users has;
- days to complete: from a user's first `experience_shown` to their first
  `experience_completed`, in days (fractional), median over the users who completed;
- funnel: per item, the users who completed it (`checklist_item_completed` with its
  `item_id`) among those started.
"""

import statistics
from dataclasses import dataclass
from datetime import date

from services.metrics.queries import Scope
from services.metrics.warehouse import Warehouse

PER_USER = """
SELECT user_id, any(account_id),
    minIf(timestamp, event = 'experience_shown') AS shown,
    minIf(timestamp, event = 'experience_completed') AS completed,
    countIf(event = 'experience_completed') > 0 AS done,
    groupUniqArrayIf(JSONExtractString(properties, 'item_id'),
        event = 'checklist_item_completed') AS items
FROM events FINAL
WHERE {where} AND type = 'track'
    AND event IN ('experience_shown', 'experience_completed', 'checklist_item_completed')
    AND JSONExtractString(properties, 'experience_id') = {{checklist:String}}
GROUP BY user_id
HAVING countIf(event = 'experience_shown') > 0
"""


@dataclass(frozen=True)
class Completion:
    users: int
    users_completed: int
    accounts: int
    accounts_completed: int
    median_days: float | None
    items: dict[str, int]  # item id → users who completed it

    @property
    def user_rate(self) -> float | None:
        return self.users_completed / self.users if self.users else None

    @property
    def account_rate(self) -> float | None:
        return self.accounts_completed / self.accounts if self.accounts else None


async def completion(
    warehouse: Warehouse, scope: Scope, checklist: str, start: date, end: date
) -> Completion:
    rows = await warehouse.rows(
        PER_USER.format(where=scope.where()),
        {**scope.parameters(start, end), "checklist": checklist},
    )
    accounts: dict[str, bool] = {}
    days: list[float] = []
    items: dict[str, int] = {}
    for _, account, shown, completed, done, done_items in rows:
        if account:
            accounts[account] = accounts.get(account, False) or bool(done)
        if done:
            days.append((completed - shown).total_seconds() / 86_400)
        for item in done_items:
            items[item] = items.get(item, 0) + 1
    return Completion(
        users=len(rows),
        users_completed=sum(1 for row in rows if row[4]),
        accounts=len(accounts),
        accounts_completed=sum(accounts.values()),
        median_days=_median(days),
        items=dict(sorted(items.items())),
    )


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None

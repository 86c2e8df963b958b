"""Which account an event belongs to.

A call that names a group (a group call, or `context.groupId`) belongs to that account. A call
that names none belongs to the account its user had named last *at the event's time*, among
the calls received before it: after group(acme) at 09:00 and group(globex) at 17:00, a track
at 12:00 counts for acme, whatever order they arrived in. A group call that arrives after an
event does not move that event.

The consumer keeps, per user, only the moments the account changed (a track that names the
account the user already had at that time changes nothing), in memory in partition order (one
user's events share a partition). It writes new change points to `user_account_history` and
reads them back for users it has not seen since it started.
"""

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from services.metrics.warehouse import Warehouse

UserKey = tuple[str, str]  # (product_id, user_id)
# (when it was named, in UTC; account id), oldest first.
Namings = list[tuple[datetime, str]]
# A row of `user_account_history`.
Naming = dict[str, Any]

LOOKUP = """
SELECT product_id, user_id, groupArray((named_at, account_id))
FROM user_account_history
WHERE (product_id, user_id) IN {keys:Array(Tuple(String, String))}
GROUP BY product_id, user_id
"""

# Sorts after every account id, so that bisect finds namings at the same millisecond too.
_AFTER_ANY = "\U0010ffff"


class Attributable(Protocol):
    @property
    def product_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def group_id(self) -> str | None: ...


class Attribution:
    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        # TODO(#3): bound this map (LRU) for products with millions of users.
        self._namings: dict[UserKey, Namings] = {}

    async def assign(self, events: Sequence[Attributable]) -> tuple[list[str], list[Naming]]:
        """The account of each event that names none ("" where it names one, or where its
        user had named none by then), and the new change points, as `user_account_history`
        rows for the caller to write. In order; reads ClickHouse for users not seen yet."""
        await self._load_missing(events)
        accounts, changes = [], []
        for event in events:
            namings = self._namings[(event.product_id, event.user_id)]
            if not event.group_id:
                accounts.append(account_at(namings, event.timestamp))
                continue
            accounts.append("")
            if add_naming(namings, event.timestamp, event.group_id):
                changes.append(
                    {
                        "product_id": event.product_id,
                        "user_id": event.user_id,
                        "named_at": event.timestamp,
                        "account_id": event.group_id,
                    }
                )
        return accounts, changes

    async def _load_missing(self, events: Sequence[Attributable]) -> None:
        # Users who name a group need their history too: a later event of theirs may fall
        # before this naming, and a naming that changes nothing must not be written again.
        missing = {
            (event.product_id, event.user_id)
            for event in events
            if (event.product_id, event.user_id) not in self._namings
        }
        if not missing:
            return
        found = await self._warehouse.rows(LOOKUP, {"keys": sorted(missing)})
        for product_id, user_id, pairs in found:
            stored = [(at.replace(tzinfo=UTC), account) for at, account in pairs]
            self._namings[(product_id, user_id)] = sorted(stored)
        for key in missing - {(product_id, user_id) for product_id, user_id, _ in found}:
            self._namings[key] = []


def add_naming(namings: Namings, timestamp: datetime, account: str) -> bool:
    """Record that the user named `account` at `timestamp`; False when that changed nothing."""
    index = bisect_right(namings, (timestamp, _AFTER_ANY))
    if index and namings[index - 1][1] == account:
        return False
    namings.insert(index, (timestamp, account))
    if index + 1 < len(namings) and namings[index + 1][1] == account:
        del namings[index + 1]  # the next change point now changes nothing
    return True


def account_at(namings: Namings, timestamp: datetime) -> str:
    """The account named last at or before `timestamp`; "" when none was."""
    index = bisect_right(namings, (timestamp, _AFTER_ANY))
    return namings[index - 1][1] if index else ""

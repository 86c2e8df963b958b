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
from datetime import UTC, datetime
from typing import Any

from services.metrics.warehouse import Warehouse

UserKey = tuple[str, str]  # (product_id, user_id)
# (when it was named, in UTC; account id), oldest first.
Namings = list[tuple[datetime, str]]

LOOKUP = """
SELECT product_id, user_id, groupArray((named_at, account_id))
FROM user_account_history
WHERE (product_id, user_id) IN {keys:Array(Tuple(String, String))}
GROUP BY product_id, user_id
"""

# Sorts after every account id, so that bisect finds namings at the same millisecond too.
_AFTER_ANY = "\U0010ffff"


class Attribution:
    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        # TODO(#3): bound this map (LRU) for products with millions of users.
        self._namings: dict[UserKey, Namings] = {}

    async def assign(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Set `account_id` on every row, in order; reads ClickHouse for unseen users. Returns
        the new change points, as `user_account_history` rows, for the caller to write."""
        await self._load_missing(rows)
        changes = []
        for row in rows:
            namings = self._namings.setdefault((row["product_id"], row["user_id"]), [])
            if not row["group_id"]:
                row["account_id"] = account_at(namings, row["timestamp"])
            elif add_naming(namings, row["timestamp"], row["group_id"]):
                changes.append(
                    {
                        "product_id": row["product_id"],
                        "user_id": row["user_id"],
                        "named_at": row["timestamp"],
                        "account_id": row["group_id"],
                    }
                )
        return changes

    async def _load_missing(self, rows: list[dict[str, Any]]) -> None:
        # Users who name a group need their history too: a later event of theirs may fall
        # before this naming, and a naming that changes nothing must not be written again.
        missing = {
            (row["product_id"], row["user_id"])
            for row in rows
            if (row["product_id"], row["user_id"]) not in self._namings
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

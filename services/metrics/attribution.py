"""Which account an event belongs to.

A call that names a group (a group call, or `context.groupId`) belongs to that account; a call
that names none belongs to the account its user named last, by event time. The consumer keeps
that user → account map in memory, in partition order (one user's events share a partition),
and fills it from the `user_accounts` table for users it has not seen since it started.
"""

from datetime import UTC
from typing import Any

from services.metrics.warehouse import Warehouse
from shared.events import utc_iso

UserKey = tuple[str, str]  # (product_id, user_id)

LOOKUP = """
SELECT product_id, user_id, argMax(account_id, named_at), max(named_at)
FROM user_accounts
WHERE (product_id, user_id) IN {keys:Array(Tuple(String, String))}
GROUP BY product_id, user_id
"""


class Attribution:
    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        # user → (account, the event time it was named at, as an ISO string in UTC)
        # TODO(#3): bound this map (LRU) for products with millions of users.
        self._last: dict[UserKey, tuple[str, str]] = {}

    async def assign(self, rows: list[dict[str, Any]]) -> None:
        """Set `account_id` on every row, in order; reads ClickHouse for unseen users."""
        await self._load_missing(rows)
        for row in rows:
            key = (row["product_id"], row["user_id"])
            if row["group_id"]:
                self._remember(key, row["group_id"], row["timestamp"])
            else:
                row["account_id"] = self._last.get(key, ("", ""))[0]

    def _remember(self, key: UserKey, account: str, named_at: str) -> None:
        known = self._last.get(key)
        if known is None or named_at >= known[1]:
            self._last[key] = (account, named_at)

    async def _load_missing(self, rows: list[dict[str, Any]]) -> None:
        missing = {
            (row["product_id"], row["user_id"])
            for row in rows
            if not row["group_id"] and (row["product_id"], row["user_id"]) not in self._last
        }
        if not missing:
            return
        found = await self._warehouse.rows(LOOKUP, {"keys": sorted(missing)})
        for product_id, user_id, account, named_at in found:
            self._last[(product_id, user_id)] = (account, utc_iso(named_at.replace(tzinfo=UTC)))
        for key in missing - {(p, u) for p, u, _, _ in found}:
            self._last[key] = ("", "")

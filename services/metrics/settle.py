"""Settled event counts: how event counts stay fast as history grows.

An exact count of a day's track calls merges that day's sets of message ids (`daily_events`),
which costs about as much as the day has messages: a product-wide series over months reads
millions of them. Most days stop changing soon after they happen, so the settler counts each day
once it is quiet, at every grain a query can ask for, into `daily_event_counts`. Queries read
those counts for days whose rows have not changed since and merge sets only for the others
(queries.tracked_events).

A day is quiet when its sum of `daily_events.rows`, which grows with every row inserted, is the
same on two passes in a row. The count and that sum come from one SELECT, so from one snapshot
of the table: a count is never trusted for data it was not made from, whatever arrives while it
is made.
"""

import asyncio
import logging
from collections.abc import Iterator
from datetime import date
from itertools import groupby

from services.metrics.warehouse import Warehouse

log = logging.getLogger(__name__)

# Days whose sum of rows matches no count of that size (grain 'day' stands for the whole day).
UNSETTLED = """
SELECT product_id, day, rows
FROM (SELECT product_id, day, sum(rows) AS rows FROM daily_events GROUP BY product_id, day)
WHERE (product_id, day, rows) NOT IN
    (SELECT product_id, day, day_rows FROM daily_event_counts WHERE grain = 'day')
ORDER BY product_id, day
"""

# grouping() has a bit set for each argument left out of the set: 3 - it is the grain's value.
SETTLE = """
INSERT INTO daily_event_counts
SELECT product_id, day, 3 - grouping(account_id, event), account_id, event,
    uniqExactMerge(messages), max(sum(rows)) OVER (PARTITION BY product_id, day)
FROM daily_events
WHERE product_id = {product:String} AND day IN {days:Array(Date32)}
GROUP BY GROUPING SETS (
    (product_id, day),
    (product_id, day, event),
    (product_id, day, account_id),
    (product_id, day, account_id, event)
)
"""

Day = tuple[str, date]


class Settler:
    """Counts quiet days, a bounded amount of rows per statement: the warehouse serves one call
    at a time, and API queries wait behind each."""

    def __init__(self, warehouse: Warehouse, interval_s: float, max_rows: int) -> None:
        self._warehouse = warehouse
        self._interval_s = interval_s
        self._max_rows = max_rows
        self._last_seen: dict[Day, int] = {}
        self.passes = 0
        self.unsettled: int | None = None  # days left to count after the last pass

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.settle_quiet_days()

    async def settle_quiet_days(self) -> int:
        """One pass: counts the days that were unsettled with the same rows on the previous
        pass, and returns how many it counted."""
        seen = {(p, d): int(n) for p, d, n in await self._warehouse.rows(UNSETTLED)}
        quiet = [(day, rows) for day, rows in seen.items() if self._last_seen.get(day) == rows]
        self._last_seen = seen
        for product, days in self._statements(quiet):
            await self._warehouse.command(SETTLE, {"product": product, "days": days})
        self.unsettled = len(seen) - len(quiet)
        self.passes += 1
        if quiet:
            log.info("days_settled", extra={"days": len(quiet), "unsettled": self.unsettled})
        return len(quiet)

    def _statements(self, quiet: list[tuple[Day, int]]) -> Iterator[tuple[str, list[date]]]:
        """(product, days) per statement: days of one product, up to max_rows rows in all
        (one day alone may hold more)."""
        for product, group in groupby(quiet, key=lambda item: item[0][0]):
            days: list[date] = []
            rows = 0
            for (_, day), day_rows in group:
                if days and rows + day_rows > self._max_rows:
                    yield product, days
                    days, rows = [], 0
                days.append(day)
                rows += day_rows
            if days:
                yield product, days

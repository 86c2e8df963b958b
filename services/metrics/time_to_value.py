"""Time-to-value: from a user's signup to their first value event, per signup cohort.

Signup is the earlier of the user's first call and their `created_at` trait. The value event is
a track event name the product chose (a quick-win guide's goal, say). Cohorts are the weeks
(from Monday) or months of signup, in the product's timezone; a cohort lists its users, how
many reached value, the median days it took them (fractional), and how the time was spread.
"""

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.metrics.accounts import latest, moment_of
from services.metrics.periods import Interval, period_start
from services.metrics.queries import Scope
from services.metrics.warehouse import Warehouse

# Upper bounds in days of the spread's buckets; a last bucket holds the rest.
BUCKETS = ((1, "within 1 day"), (7, "1-7 days"), (30, "7-30 days"))
LATER = "over 30 days"

PER_USER = """
SELECT user_id, min(timestamp),
    minIf(timestamp, type = 'track' AND event = {{value:String}}),
    countIf(type = 'track' AND event = {{value:String}}) > 0
FROM events FINAL
WHERE product_id = {{product:String}} AND user_id != ''{account}
GROUP BY user_id
"""


@dataclass
class Cohort:
    start: date
    users: int = 0
    reached: int = 0
    days: list[float] = field(default_factory=list)

    @property
    def median_days(self) -> float | None:
        return round(statistics.median(self.days), 3) if self.days else None

    @property
    def spread(self) -> dict[str, int]:
        counts = {label: 0 for _, label in BUCKETS} | {LATER: 0}
        for days in self.days:
            label = next((name for bound, name in BUCKETS if days <= bound), LATER)
            counts[label] += 1
        return counts


async def cohorts(
    warehouse: Warehouse,
    scope: Scope,
    value_event: str,
    start: date,
    end: date,
    interval: Interval,
) -> list[Cohort]:
    account = "" if scope.account is None else " AND account_id = {account:String}"
    params = {"product": scope.product_id, "value": value_event, "account": scope.account or ""}
    rows = await warehouse.rows(PER_USER.format(account=account), params)
    created = await latest(
        warehouse, "user_traits", "user_id", scope.product_id, [row[0] for row in rows] or None
    )
    zone = ZoneInfo(scope.timezone)
    found: dict[date, Cohort] = {}
    for user, first_call, first_value, reached in rows:
        first_seen, valued = _utc(first_call), _utc(first_value)
        signup = min(first_seen, moment_of(created.get(user, {}).get("created_at")) or first_seen)
        day = signup.astimezone(zone).date()
        if not start <= day <= end:
            continue
        cohort = found.setdefault(period_start(day, interval), Cohort(period_start(day, interval)))
        cohort.users += 1
        if reached:
            cohort.reached += 1
            cohort.days.append(max(valued - signup, timedelta(0)).total_seconds() / 86_400)
    return [found[key] for key in sorted(found)]


def _utc(moment: datetime) -> datetime:
    """The driver hands back UTC columns without their zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""The SQL behind the metrics API.

Active users and stickiness merge the per-day user sets of `daily_active_users` (per account)
or `daily_active_users_product` (whole product); event counts add up the settled counts of
`daily_event_counts` and merge the per-day message sets of `daily_events` for the other days.
Days are calendar days in the product's timezone, stored with each row (see schema.py).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from services.metrics.periods import Interval, period_start, period_starts
from services.metrics.warehouse import Warehouse

# Date32 arithmetic: toMonday and toStartOfMonth would return Date, which stops at 1970.
BUCKETS: dict[Interval, str] = {
    "day": "day",
    "week": "day - (toDayOfWeek(day) - 1)",
    "month": "day - (toDayOfMonth(day) - 1)",
}


@dataclass(frozen=True)
class Scope:
    product_id: str
    timezone: str
    account: str | None = None

    def users_table(self) -> str:
        return "daily_active_users_product" if self.account is None else "daily_active_users"

    def where(self) -> str:
        """Rows of this product (and account) from {start} to {end}, both included."""
        account = "" if self.account is None else " AND account_id = {account:String}"
        return (
            "product_id = {product:String}"
            + account
            + " AND day >= {start:Date32} AND day <= {end:Date32}"
        )

    def parameters(self, start: date, end: date) -> dict[str, str]:
        params = {"product": self.product_id, "start": start.isoformat(), "end": end.isoformat()}
        if self.account is not None:
            params["account"] = self.account
        return params


async def active_users(
    warehouse: Warehouse, scope: Scope, interval: Interval, start: date, end: date
) -> list[tuple[date, int]]:
    """Distinct active users per period over [start, end], zero periods included. The first and
    last periods count only the days inside [start, end]."""
    sql = (
        f"SELECT {BUCKETS[interval]} AS period, uniqExactMerge(users)"
        f" FROM {scope.users_table()} WHERE {scope.where()} GROUP BY period"
    )
    counts = dict(await warehouse.rows(sql, scope.parameters(start, end)))
    return _series(counts, start, end, interval)


async def tracked_events(
    warehouse: Warehouse,
    scope: Scope,
    interval: Interval,
    start: date,
    end: date,
    event: str | None,
) -> list[tuple[date, int]]:
    """Track calls per period (of one event name, when given), each message counted once on
    each day it landed on: a period's count is the sum of its days'. Days the settler has
    counted and that have not changed since are read from `daily_event_counts`, the others
    from their sets (see settle.py)."""
    params = {
        **scope.parameters(start, end),
        "grain": GRAINS[scope.account is not None, event is not None],
        "account": scope.account or "",
        "event": event or "",
    }
    settled_days: set[date] = set()
    per_day: dict[date, int] = {}
    for day, grain, messages in await warehouse.rows(SETTLED_COUNTS, params):
        if grain == "day":
            settled_days.add(day)
        if grain == params["grain"]:
            per_day[day] = int(messages)
    name = " AND event = {event:String}" if event else ""
    sql = (
        "SELECT day, uniqExactMerge(messages) FROM daily_events"
        f" WHERE {scope.where()}{name} AND day NOT IN {{settled:Array(Date32)}} GROUP BY day"
    )
    per_day.update(await warehouse.rows(sql, {**params, "settled": sorted(settled_days)}))
    counts: dict[date, int] = {}
    for day, messages in per_day.items():
        period = period_start(day, interval)
        counts[period] = counts.get(period, 0) + int(messages)
    return _series(counts, start, end, interval)


# (by account, by event name) → the grain of daily_event_counts that answers it.
GRAINS = {
    (False, False): "day",
    (False, True): "event",
    (True, False): "account",
    (True, True): "account_event",
}

# The settled counts of the days in range that still hold: each day's 'day' row (the day is
# settled) and the rows of the grain asked for. A day's counts hold while its sum of rows is
# the one they were made from.
SETTLED_COUNTS = """
SELECT day, grain, messages FROM daily_event_counts FINAL
WHERE product_id = {product:String} AND day >= {start:Date32} AND day <= {end:Date32}
    AND (grain = 'day' OR grain = {grain:String} AND account_id = {account:String}
        AND event = {event:String})
    AND (day, day_rows) IN (
        SELECT day, sum(rows) FROM daily_events
        WHERE product_id = {product:String} AND day >= {start:Date32} AND day <= {end:Date32}
        GROUP BY day)
"""


def _series(
    counts: dict[date, int], start: date, end: date, interval: Interval
) -> list[tuple[date, int]]:
    return [(period, int(counts.get(period, 0))) for period in period_starts(start, end, interval)]


@dataclass(frozen=True)
class Stickiness:
    dau: int
    wau: int
    mau: int


async def stickiness(warehouse: Warehouse, scope: Scope, day: date) -> Stickiness:
    """Distinct users active on `day`, in the 7 days and in the 30 days ending on it."""
    sql = (
        "SELECT uniqExactMergeIf(users, day = {end:Date32}),"
        " uniqExactMergeIf(users, day >= {week:Date32}), uniqExactMerge(users)"
        f" FROM {scope.users_table()} WHERE {scope.where()}"
    )
    params = {
        **scope.parameters(day - timedelta(days=29), day),
        "week": (day - timedelta(days=6)).isoformat(),
    }
    [(dau, wau, mau)] = await warehouse.rows(sql, params)
    return Stickiness(int(dau), int(wau), int(mau))


@dataclass(frozen=True)
class Nps:
    responses: int
    promoters: int
    passives: int
    detractors: int

    @property
    def score(self) -> int | None:
        """% promoters - % detractors, from -100 to 100, rounded once (halves away from zero);
        None without responses."""
        if not self.responses:
            return None
        exact = Decimal(100 * (self.promoters - self.detractors)) / self.responses
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def nps(
    warehouse: Warehouse, scope: Scope, start: date, end: date, survey: str | None
) -> Nps:
    """Net Promoter Score from the snippet's `survey_answered` events of NPS surveys between
    start and end: each user's last answer in the range counts once."""
    [(_, found)] = await _nps_by(warehouse, scope, start, end, survey, "{start:Date32}")
    return found


async def nps_series(
    warehouse: Warehouse,
    scope: Scope,
    interval: Interval,
    start: date,
    end: date,
    survey: str | None,
) -> list[tuple[date, Nps]]:
    """NPS per period over [start, end], each user's last answer in the period counting once;
    every period listed, those without answers too."""
    found = dict(await _nps_by(warehouse, scope, start, end, survey, BUCKETS[interval]))
    empty = Nps(0, 0, 0, 0)
    return [(p, found.get(p, empty)) for p in period_starts(start, end, interval)]


async def _nps_by(
    warehouse: Warehouse, scope: Scope, start: date, end: date, survey: str | None, period: str
) -> list[tuple[date, Nps]]:
    only = " AND JSONExtractString(properties, 'experience_id') = {survey:String}" if survey else ""
    sql = (
        "SELECT period, count(), countIf(score >= 9), countIf(score BETWEEN 7 AND 8),"
        " countIf(score <= 6)"
        f" FROM (SELECT {period} AS period,"
        " argMax(JSONExtractInt(properties, 'score'), timestamp) AS score"
        " FROM events FINAL"
        f" WHERE {scope.where()} AND type = 'track'"
        " AND event = 'survey_answered'"
        " AND JSONExtractString(properties, 'question_type') = 'nps'"
        " AND JSONHas(properties, 'score')"
        f"{only} GROUP BY period, user_id)"
        " GROUP BY period"
    )
    params = {**scope.parameters(start, end), **({"survey": survey} if survey else {})}
    rows = await warehouse.rows(sql, params)
    return [(p, Nps(int(n), int(pro), int(pas), int(det))) for p, n, pro, pas, det in rows] or [
        (start, Nps(0, 0, 0, 0))
    ]

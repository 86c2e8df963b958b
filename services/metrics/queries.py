"""The SQL behind the metrics API. Every figure counts distinct users of `events` read with FINAL,
so a message delivered twice is one row; days are calendar days in the product's timezone."""

from dataclasses import dataclass
from datetime import date, timedelta

from services.metrics.periods import Interval, period_starts, utc_bounds
from services.metrics.warehouse import Warehouse

# Date32, not Date: Date stops at 1970 and wraps older days around. toMonday and
# toStartOfMonth return Date, hence the arithmetic.
DAY = "toDate32(timestamp, {tz:String})"
BUCKETS: dict[Interval, str] = {
    "day": DAY,
    "week": f"{DAY} - (toDayOfWeek({DAY}) - 1)",
    "month": f"{DAY} - (toDayOfMonth({DAY}) - 1)",
}

# Rows of one product (and account) inside a UTC time range; {scope} adds the account filter.
SCOPE = """
FROM events FINAL
WHERE product_id = {product:String}
  AND timestamp >= toDateTime64({low:String}, 3, 'UTC')
  AND timestamp < toDateTime64({high:String}, 3, 'UTC')
  AND user_id != ''
"""
ACCOUNT_FILTER = "  AND account_id = {account:String}\n"


@dataclass(frozen=True)
class Scope:
    product_id: str
    timezone: str
    account: str | None = None

    def sql(self) -> str:
        return SCOPE + (ACCOUNT_FILTER if self.account is not None else "")

    def parameters(self, start: date, end: date) -> dict[str, str]:
        low, high = utc_bounds(start, end, self.timezone)
        params = {"product": self.product_id, "tz": self.timezone, "low": low, "high": high}
        if self.account is not None:
            params["account"] = self.account
        return params


async def active_users(
    warehouse: Warehouse, scope: Scope, interval: Interval, start: date, end: date
) -> list[tuple[date, int]]:
    """Distinct active users per period over [start, end], zero periods included. The first and
    last periods count only the days inside [start, end]."""
    return await _series(warehouse, "uniqExact(user_id)", "", scope, interval, start, end, {})


async def tracked_events(
    warehouse: Warehouse,
    scope: Scope,
    interval: Interval,
    start: date,
    end: date,
    event: str | None,
) -> list[tuple[date, int]]:
    """Track calls per period (of one event name, when given), each message counted once."""
    condition = " AND type = 'track'" + (" AND event = {event:String}" if event else "")
    extra = {"event": event} if event else {}
    return await _series(warehouse, "count()", condition, scope, interval, start, end, extra)


async def _series(
    warehouse: Warehouse,
    aggregate: str,
    condition: str,
    scope: Scope,
    interval: Interval,
    start: date,
    end: date,
    extra: dict[str, str],
) -> list[tuple[date, int]]:
    bucket = BUCKETS[interval]
    sql = f"SELECT {bucket} AS period, {aggregate} {scope.sql()}{condition} GROUP BY period"
    counts = dict(await warehouse.rows(sql, {**scope.parameters(start, end), **extra}))
    return [(period, int(counts.get(period, 0))) for period in period_starts(start, end, interval)]


@dataclass(frozen=True)
class Stickiness:
    dau: int
    wau: int
    mau: int


async def stickiness(warehouse: Warehouse, scope: Scope, day: date) -> Stickiness:
    """Distinct users active on `day`, in the 7 days and in the 30 days ending on it."""
    sql = (
        "SELECT uniqExactIf(user_id, d = {day:Date32}), uniqExactIf(user_id, d >= {week:Date32}),"
        f" uniqExact(user_id) FROM (SELECT user_id, {BUCKETS['day']} AS d {scope.sql()})"
    )
    params = {
        **scope.parameters(day - timedelta(days=29), day),
        "day": day.isoformat(),
        "week": (day - timedelta(days=6)).isoformat(),
    }
    [(dau, wau, mau)] = await warehouse.rows(sql, params)
    return Stickiness(int(dau), int(wau), int(mau))

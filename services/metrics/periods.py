"""Calendar arithmetic for metrics: periods in a product's timezone, and their UTC bounds. Pure."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Interval = Literal["day", "week", "month"]


def period_start(day: date, interval: Interval) -> date:
    """The first day of the period holding `day`: itself, its Monday (ISO weeks), its 1st."""
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def period_starts(start: date, end: date, interval: Interval) -> list[date]:
    """Every period that overlaps [start, end], by its first day, in order."""
    starts = []
    current = period_start(start, interval)
    while current <= end:
        starts.append(current)
        current = _next(current, interval)
    return starts


def _next(current: date, interval: Interval) -> date:
    if interval == "week":
        return current + timedelta(days=7)
    if interval == "month":
        return (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return current + timedelta(days=1)


def utc_bounds(start: date, end: date, timezone: str) -> tuple[str, str]:
    """[start 00:00, end + 1 day 00:00) in `timezone`, as UTC strings ClickHouse parses."""
    zone = ZoneInfo(timezone)
    low = datetime.combine(start, time(), zone).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
    return _ch(low), _ch(high)


def _ch(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]

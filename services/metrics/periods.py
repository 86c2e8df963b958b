"""Calendar arithmetic for metrics: the periods a series lists. Pure."""

from datetime import date, timedelta
from typing import Literal

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
        current = next_start(current, interval)
    return starts


def next_start(current: date, interval: Interval) -> date:
    """The first day of the period after the one starting on `current`."""
    if interval == "week":
        return current + timedelta(days=7)
    if interval == "month":
        return (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return current + timedelta(days=1)

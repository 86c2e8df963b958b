from datetime import date

import pytest

from services.metrics.periods import Interval, period_starts, utc_bounds


@pytest.mark.parametrize(
    ("interval", "start", "end", "expected"),
    [
        ("day", date(2024, 2, 28), date(2024, 3, 1), ["2024-02-28", "2024-02-29", "2024-03-01"]),
        ("week", date(2024, 1, 3), date(2024, 1, 15), ["2024-01-01", "2024-01-08", "2024-01-15"]),
        ("month", date(2023, 12, 31), date(2024, 2, 1), ["2023-12-01", "2024-01-01", "2024-02-01"]),
        ("month", date(2024, 5, 10), date(2024, 5, 10), ["2024-05-01"]),
    ],
)
def test_periods_cover_the_range_including_partial_ones(
    interval: Interval, start: date, end: date, expected: list[str]
) -> None:
    assert [p.isoformat() for p in period_starts(start, end, interval)] == expected


def test_tokyo_days_start_at_15_utc_the_day_before() -> None:
    assert utc_bounds(date(2024, 1, 1), date(2024, 1, 1), "Asia/Tokyo") == (
        "2023-12-31 15:00:00.000",
        "2024-01-01 15:00:00.000",
    )


def test_berlin_dst_day_is_23_hours() -> None:
    # Clocks go forward on 31 March 2024: the day runs 23:00 UTC → 22:00 UTC.
    assert utc_bounds(date(2024, 3, 31), date(2024, 3, 31), "Europe/Berlin") == (
        "2024-03-30 23:00:00.000",
        "2024-03-31 22:00:00.000",
    )

from datetime import date

import pytest

from services.metrics.periods import Interval, period_starts


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

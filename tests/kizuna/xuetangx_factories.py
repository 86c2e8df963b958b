"""Rows and files shaped like the XuetangX dataset's usage_daily.csv."""

import csv
from pathlib import Path

from kizuna import xuetangx


def make_row(
    enrollment: int = 4365, day: str = "2014-05-27", course: str = "C1038", **counts: int
) -> list[str]:
    """One usage_daily.csv row; `counts` by event type, e.g. make_row(video=3, access=1)."""
    per_type = [counts.get(event_type, 0) for event_type in xuetangx.EVENT_TYPES]
    return [course, str(enrollment), day, *map(str, per_type), str(sum(per_type))]


def write_dataset(directory: Path, rows: list[list[str]]) -> Path:
    """Write `rows` as DIR/usage_daily.csv under the real header; returns DIR."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / xuetangx.USAGE_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(xuetangx.COLUMNS)
        writer.writerows(rows)
    return directory


TINY_ROWS = [
    make_row(4365, "2014-05-27", access=10, navigate=3, page_close=2, video=2),
    make_row(4365, "2014-06-08", access=60, navigate=11, page_close=35, problem=123, video=19),
    make_row(4365, "2014-06-09", discussion=43, wiki=2),
    make_row(4481, "2014-05-25", video=1),
    make_row(9001, "2013-10-27", course="C1235", access=5, problem=4),  # Europe: DST ends
    make_row(9001, "2014-03-30", course="C1235", wiki=7),  # Europe: DST starts
]

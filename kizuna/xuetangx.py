"""The XuetangX (KDD Cup 2015) dataset as Segment-shaped messages, for `kizuna replay xuetangx`.

Pure: reads `usage_daily.csv` and yields dicts, no network. The mapping (see the dataset README):

- account (`groupId`) = `course_id`, user (`userId`) = `enrollment_id` as a string;
- one `group` call per user, at the start of the user's first active day, before any track;
- a row's `event_<type>` count becomes that many `track` calls named `<type>`, spread evenly over
  the calendar day in the chosen timezone: the k-th of the day's T events (k = 0..T-1) happens at
  day_start + (k + 0.5) * day_length / T, in whole milliseconds;
- message ids are derived from enrollment, date, type and ordinal, so a second replay dedups.
  They do not depend on the timezone, so a replay in another zone adds no second copy either.

The CSV is sorted by course, enrollment and date, and all rows of one enrollment are adjacent;
`read_user_days` checks that, so one user's messages come out in time order.
"""

import csv
import itertools
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from shared.events import utc_iso

USAGE_FILE = "usage_daily.csv"
MESSAGE_ID_PREFIX = "xtx"
DATASET_NAME = "xuetangx-kddcup2015"

# The CSV's column order; also the order in which simultaneous events are interleaved.
EVENT_TYPES = ("access", "discussion", "navigate", "page_close", "problem", "video", "wiki")
COLUMNS = ("course_id", "enrollment_id", "date", *(f"event_{t}" for t in EVENT_TYPES), "total")

Message = dict[str, Any]


class DatasetError(Exception):
    """The dataset is missing, unreadable or not shaped as documented. The message says where."""


@dataclass(frozen=True)
class UserDay:
    course_id: str
    enrollment_id: str
    day: date
    counts: tuple[int, ...]  # one per EVENT_TYPES

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class CourseSummary:
    users: int
    events: int


def read_user_days(csv_path: Path) -> Iterator[UserDay]:
    """Yield the rows of `usage_daily.csv` in file order. Raises DatasetError on a bad file."""
    try:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            yield from _parse_rows(csv_path, csv.reader(handle))
    except OSError as exc:
        raise DatasetError(f"cannot read {csv_path}: {exc.strerror}") from exc


def _parse_rows(csv_path: Path, rows: Iterator[list[str]]) -> Iterator[UserDay]:
    header = next(rows, None)
    if header is None or tuple(header) != COLUMNS:
        raise DatasetError(f"{csv_path}: expected the header {','.join(COLUMNS)}")

    seen: set[str] = set()
    previous: UserDay | None = None
    for line, row in enumerate(rows, start=2):
        current = _parse_row(row, f"{csv_path}:{line}")
        _check_order(previous, current, seen, f"{csv_path}:{line}")
        previous = current
        yield current


def _parse_row(row: list[str], where: str) -> UserDay:
    if len(row) != len(COLUMNS):
        raise DatasetError(f"{where}: expected {len(COLUMNS)} columns, got {len(row)}")
    try:
        day = date.fromisoformat(row[2])
        counts = tuple(int(value) for value in row[3:-1])
        total = int(row[-1])
    except ValueError as exc:
        raise DatasetError(f"{where}: {exc}") from exc

    if min(counts) < 0 or sum(counts) != total or total == 0:
        raise DatasetError(f"{where}: counts {counts} do not add up to a positive total {total}")
    return UserDay(course_id=row[0], enrollment_id=row[1], day=day, counts=counts)


def _check_order(previous: UserDay | None, current: UserDay, seen: set[str], where: str) -> None:
    if previous is not None and previous.enrollment_id == current.enrollment_id:
        if current.course_id != previous.course_id or current.day <= previous.day:
            raise DatasetError(f"{where}: rows of one enrollment must be in date order")
        return
    if current.enrollment_id in seen:
        raise DatasetError(f"{where}: rows of enrollment {current.enrollment_id} are not adjacent")
    seen.add(current.enrollment_id)


def summarize(csv_path: Path) -> dict[str, CourseSummary]:
    """Read the whole file once (validating it) and count users and events per course."""
    users: dict[str, int] = {}
    events: dict[str, int] = {}
    previous_user = ""
    for row in read_user_days(csv_path):
        if row.enrollment_id != previous_user:
            users[row.course_id] = users.get(row.course_id, 0) + 1
            previous_user = row.enrollment_id
        events[row.course_id] = events.get(row.course_id, 0) + row.total
    return {course: CourseSummary(users[course], events[course]) for course in users}


def iter_user_messages(
    csv_path: Path, courses: Collection[str] | None, tz: tzinfo
) -> Iterator[list[Message]]:
    """Yield one list per user: the group call, then every track call in time order.

    `courses=None` means every course. Only one user's messages are in memory at a time.
    """
    rows = read_user_days(csv_path)
    if courses is not None:
        wanted = frozenset(courses)
        rows = (row for row in rows if row.course_id in wanted)
    for _, days in itertools.groupby(rows, key=lambda row: row.enrollment_id):
        yield user_messages(list(days), tz)


def user_messages(days: list[UserDay], tz: tzinfo) -> list[Message]:
    """The messages of one user, given all their rows in date order."""
    first = days[0]
    messages = [group_message(first, day_bounds(first.day, tz)[0])]
    for day in days:
        messages.extend(track_messages(day, tz))
    return messages


def group_message(first_day: UserDay, at: datetime) -> Message:
    return {
        "type": "group",
        "messageId": f"{MESSAGE_ID_PREFIX}-{first_day.enrollment_id}-group",
        "userId": first_day.enrollment_id,
        "groupId": first_day.course_id,
        "timestamp": utc_iso(at),
        "traits": {"name": first_day.course_id},
    }


def track_messages(day: UserDay, tz: tzinfo) -> Iterator[Message]:
    """The row's events, spread evenly over the day in `tz`, in time order."""
    start, end = day_bounds(day.day, tz)
    length_ms = (end - start) // timedelta(milliseconds=1)
    total = day.total
    id_prefix = f"{MESSAGE_ID_PREFIX}-{day.enrollment_id}-{day.day.isoformat()}"
    context = {"groupId": day.course_id}
    properties = {"dataset": DATASET_NAME}

    for k, (type_index, ordinal) in enumerate(interleave(day.counts)):
        event = EVENT_TYPES[type_index]
        offset_ms = (2 * k + 1) * length_ms // (2 * total)
        yield {
            "type": "track",
            "event": event,
            "messageId": f"{id_prefix}-{event}-{ordinal}",
            "userId": day.enrollment_id,
            "timestamp": utc_iso(start + timedelta(milliseconds=offset_ms)),
            "context": dict(context),
            "properties": dict(properties),
        }


def interleave(counts: Iterable[int]) -> list[tuple[int, int]]:
    """Order a day's events as (type index, ordinal within the type), types mixed evenly.

    The i-th of a type's c events sits at the ideal fraction (i + 0.5) / c of the day; events are
    sorted by that fraction, ties broken by EVENT_TYPES order. So every type is spread over the
    whole day instead of all its events bunching together, and the order is the same on every run.
    """
    slots = [
        ((2 * ordinal + 1) / (2 * count), type_index, ordinal)
        for type_index, count in enumerate(counts)
        for ordinal in range(count)
    ]
    slots.sort()
    return [(type_index, ordinal) for _, type_index, ordinal in slots]


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Start and end of the calendar day in `tz`, in UTC. A day with a DST change is 23 or 25 h."""
    start = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return start, end

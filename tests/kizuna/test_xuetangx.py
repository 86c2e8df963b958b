"""The XuetangX dataset → Segment messages mapping (pure, no network)."""

import itertools
from collections import Counter
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kizuna import xuetangx

from .xuetangx_factories import TINY_ROWS, make_row, write_dataset

ZONES = [UTC, ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")]


def _messages(csv_path: Path, tz: tzinfo, courses: list[str] | None = None) -> list[Any]:
    return [m for user in xuetangx.iter_user_messages(csv_path, courses, tz) for m in user]


def _parse(timestamp: str) -> datetime:
    assert timestamp.endswith("Z") and len(timestamp) == len("2014-05-27T03:12:00.000Z")
    return datetime.fromisoformat(timestamp)


def _day_of(message: dict[str, Any]) -> str:
    return str(message["messageId"]).split("-", 2)[2][:10]


@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_track_calls_per_user_day_and_type_match_the_row(tiny_csv: Path, tz: tzinfo) -> None:
    tracks = [m for m in _messages(tiny_csv, tz) if m["type"] == "track"]

    counted = Counter((m["userId"], _day_of(m), m["event"]) for m in tracks)
    expected: Counter[tuple[str, str, str]] = Counter()
    for row in TINY_ROWS:
        for event_type, count in zip(xuetangx.EVENT_TYPES, row[3:-1], strict=True):
            if int(count):
                expected[(row[1], row[2], event_type)] = int(count)
    assert counted == expected


@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_every_track_falls_within_its_day_in_the_timezone(tiny_csv: Path, tz: tzinfo) -> None:
    for message in _messages(tiny_csv, tz):
        if message["type"] != "track":
            continue
        local = _parse(message["timestamp"]).astimezone(tz)
        assert local.date().isoformat() == _day_of(message), message


def test_events_are_spread_evenly_over_a_25_hour_dst_day(tmp_path: Path) -> None:
    csv_path = write_dataset(tmp_path, [make_row(1, "2013-10-27", access=25)]) / "usage_daily.csv"

    tracks = _messages(csv_path, ZoneInfo("Europe/Berlin"))[1:]

    moments = [_parse(m["timestamp"]) for m in tracks]
    assert moments[0] == datetime(2013, 10, 26, 22, 30, tzinfo=UTC)  # local midnight is 22:00Z
    assert {b - a for a, b in itertools.pairwise(moments)} == {moments[1] - moments[0]}
    assert (moments[1] - moments[0]).total_seconds() == 3600


def test_kth_event_is_at_day_start_plus_k_and_a_half_slots(tmp_path: Path) -> None:
    csv_path = write_dataset(tmp_path, [make_row(1, "2014-05-27", video=3)]) / "usage_daily.csv"

    tracks = _messages(csv_path, ZoneInfo("Asia/Shanghai"))[1:]

    # 86400 s / 3 = 8 h per slot; Shanghai midnight is 16:00Z the day before.
    stamps = [m["timestamp"] for m in tracks]
    assert stamps == [
        "2014-05-26T20:00:00.000Z",
        "2014-05-27T04:00:00.000Z",
        "2014-05-27T12:00:00.000Z",
    ]


def test_message_ids_are_unique_and_identical_across_runs(tiny_csv: Path) -> None:
    first = _messages(tiny_csv, UTC)
    second = _messages(tiny_csv, UTC)

    assert first == second
    ids = [m["messageId"] for m in first]
    assert len(set(ids)) == len(ids)


def test_message_ids_do_not_depend_on_the_timezone(tiny_csv: Path) -> None:
    utc_ids = [m["messageId"] for m in _messages(tiny_csv, UTC)]
    shanghai_ids = [m["messageId"] for m in _messages(tiny_csv, ZoneInfo("Asia/Shanghai"))]

    assert utc_ids == shanghai_ids


@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_group_call_comes_first_then_tracks_in_time_order(tiny_csv: Path, tz: tzinfo) -> None:
    for user in xuetangx.iter_user_messages(tiny_csv, None, tz):
        group, *tracks = user
        assert group["type"] == "group" and all(m["type"] == "track" for m in tracks)
        assert group["messageId"] == f"xtx-{group['userId']}-group"
        assert {m["userId"] for m in tracks} == {group["userId"]}

        moments = [_parse(m["timestamp"]) for m in user]
        assert moments == sorted(moments) and moments[0] < moments[1]
        first_day = date.fromisoformat(_day_of(tracks[0]))
        assert moments[0] == xuetangx.day_bounds(first_day, tz)[0]


def test_messages_have_the_segment_shape(tiny_csv: Path) -> None:
    group, track = next(xuetangx.iter_user_messages(tiny_csv, None, UTC))[:2]

    assert group == {
        "type": "group",
        "messageId": "xtx-4365-group",
        "userId": "4365",
        "groupId": "C1038",
        "timestamp": "2014-05-27T00:00:00.000Z",
        "traits": {"name": "C1038"},
    }
    assert track["type"] == "track" and track["userId"] == "4365"
    assert track["context"] == {"groupId": "C1038"}
    assert track["messageId"] == f"xtx-4365-2014-05-27-{track['event']}-0"


def test_interleave_spreads_each_type_over_the_day() -> None:
    order = xuetangx.interleave([2, 0, 0, 0, 0, 0, 2])

    assert order == [(0, 0), (6, 0), (0, 1), (6, 1)]


def test_courses_filter_keeps_only_those_users(tiny_csv: Path) -> None:
    messages = _messages(tiny_csv, UTC, courses=["C1235"])

    assert {m["userId"] for m in messages} == {"9001"}


def test_summarize_counts_users_and_events_per_course(tiny_csv: Path) -> None:
    summary = xuetangx.summarize(tiny_csv)

    assert summary == {
        "C1038": xuetangx.CourseSummary(users=2, events=17 + 248 + 45 + 1),
        "C1235": xuetangx.CourseSummary(users=1, events=16),
    }


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        (
            [
                make_row(1, "2014-05-27", video=1),
                make_row(2, video=1),
                make_row(1, "2014-05-28", video=1),
            ],
            "not adjacent",
        ),
        ([make_row(1, "2014-05-28", video=1), make_row(1, "2014-05-27", video=1)], "date order"),
        ([make_row(1)], "positive total"),
        ([[*make_row(1, video=2)[:-1], "3"]], "add up"),
        ([[*make_row(1, video=2)[:3], "x", *make_row(1, video=2)[4:]]], "invalid literal"),
        ([make_row(1, video=2)[:5]], "columns"),
    ],
)
def test_malformed_csv_raises_dataset_error_naming_the_line(
    tmp_path: Path, rows: list[list[str]], error: str
) -> None:
    csv_path = write_dataset(tmp_path, rows) / xuetangx.USAGE_FILE

    with pytest.raises(xuetangx.DatasetError, match=error) as raised:
        list(xuetangx.read_user_days(csv_path))
    assert "usage_daily.csv:" in str(raised.value)


def test_wrong_header_raises_dataset_error(tmp_path: Path) -> None:
    csv_path = tmp_path / xuetangx.USAGE_FILE
    csv_path.write_text("enrollment_id,date,count\n1,2014-05-27,3\n")

    with pytest.raises(xuetangx.DatasetError, match="header"):
        list(xuetangx.read_user_days(csv_path))


def test_real_dataset_has_the_documented_totals(real_csv: Path) -> None:
    summary = xuetangx.summarize(real_csv)

    assert len(summary) == 25
    assert sum(course.users for course in summary.values()) == 44_992
    assert sum(course.events for course in summary.values()) == 3_156_891


@pytest.mark.parametrize("tz", [UTC, ZoneInfo("Asia/Shanghai")], ids=str)
def test_real_course_maps_every_row_to_its_events_within_the_day(
    real_csv: Path, tz: tzinfo
) -> None:
    course = "C1038"
    rows = [row for row in xuetangx.read_user_days(real_csv) if row.course_id == course]
    totals = {(row.enrollment_id, row.day.isoformat()): row.total for row in rows}

    messages = _messages(real_csv, tz, courses=[course])

    tracks = [m for m in messages if m["type"] == "track"]
    assert Counter((m["userId"], _day_of(m)) for m in tracks) == totals
    assert all(
        _parse(m["timestamp"]).astimezone(tz).date().isoformat() == _day_of(m) for m in tracks
    )
    ids = [m["messageId"] for m in messages]
    assert len(set(ids)) == len(ids) == len(tracks) + len({user for user, _ in totals})

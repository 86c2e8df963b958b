"""The metrics SQL on a real chDB warehouse, against counts worked out by hand."""

import json
from collections.abc import Iterator
from datetime import date

import pytest

from services.metrics import queries
from services.metrics.warehouse import Warehouse
from tests.metrics.factories import insert, make_row

pytestmark = pytest.mark.integration


@pytest.fixture
async def merges_stopped(warehouse: Warehouse) -> Iterator[None]:
    # Without background merges, duplicate rows and unmerged states stay on disk: only the
    # queries can hide them.
    await warehouse.command("SYSTEM STOP MERGES")
    yield
    await warehouse.command("SYSTEM START MERGES")


async def test_a_message_stored_twice_counts_once(
    warehouse: Warehouse, merges_stopped: None
) -> None:
    rows = [make_row("prd_q1", f"u{i}", "2024-01-01T10:00:00.000Z", group="a") for i in range(3)]
    await insert(warehouse, rows)
    await insert(warehouse, rows)
    scope = queries.Scope("prd_q1", "UTC")
    day = date(2024, 1, 1)

    events = await queries.tracked_events(warehouse, scope, "day", day, day, None)
    users = await queries.active_users(warehouse, scope, "day", day, day)
    assert (events, users) == ([(day, 3)], [(day, 3)])


async def test_events_count_each_message_once_per_account_and_product_across_parts(
    warehouse: Warehouse, merges_stopped: None
) -> None:
    a = [make_row("prd_q5", f"u{i}", "2024-01-01T10:00:00.000Z", group="a") for i in range(3)]
    b = [make_row("prd_q5", f"v{i}", "2024-01-01T11:00:00.000Z", group="b") for i in range(2)]
    for rows in (a, b, a[:1], b):  # four inserts: four parts, with duplicates across them
        await insert(warehouse, rows)
    day = date(2024, 1, 1)

    def counted(account: str | None) -> object:
        scope = queries.Scope("prd_q5", "UTC", account)
        return queries.tracked_events(warehouse, scope, "day", day, day, None)

    assert [await counted(None), await counted("a"), await counted("b")] == [
        [(day, 5)],
        [(day, 3)],
        [(day, 2)],
    ]


async def test_berlin_days_follow_the_dst_change(warehouse: Warehouse) -> None:
    # 31 March 2024 in Berlin runs from 23:00 UTC on the 30th to 22:00 UTC on the 31st.
    stamps = {
        "a": "2024-03-30T22:59:59.999Z",  # 30th, 23:59:59 CET
        "b": "2024-03-30T23:00:00.000Z",  # 31st, 00:00 CET
        "c": "2024-03-31T21:59:59.999Z",  # 31st, 23:59:59 CEST
        "d": "2024-03-31T22:00:00.000Z",  # 1 April, 00:00 CEST
    }
    rows = [make_row("prd_q2", user, ts, tz="Europe/Berlin") for user, ts in stamps.items()]
    await insert(warehouse, rows)
    scope = queries.Scope("prd_q2", "Europe/Berlin")

    series = await queries.active_users(
        warehouse, scope, "day", date(2024, 3, 30), date(2024, 4, 1)
    )
    assert [n for _, n in series] == [1, 2, 1]


async def test_weeks_and_months_count_distinct_users_inside_the_range(
    warehouse: Warehouse,
) -> None:
    days = ["2024-01-31", "2024-02-01", "2024-02-05", "2024-02-29", "2024-03-01"]
    rows = [make_row("prd_q3", "same", f"{d}T12:00:00.000Z") for d in days]
    rows.append(make_row("prd_q3", "other", "2024-02-06T12:00:00.000Z"))
    await insert(warehouse, rows)
    scope = queries.Scope("prd_q3", "UTC")

    months = await queries.active_users(
        warehouse, scope, "month", date(2024, 2, 1), date(2024, 3, 31)
    )
    weeks = await queries.active_users(
        warehouse, scope, "week", date(2024, 2, 1), date(2024, 2, 11)
    )
    assert [(p.isoformat(), n) for p, n in months] == [("2024-02-01", 2), ("2024-03-01", 1)]
    # The week of 29 January is clipped to 1-4 February: 31 January does not count.
    assert [(p.isoformat(), n) for p, n in weeks] == [("2024-01-29", 1), ("2024-02-05", 2)]


async def test_stickiness_windows_are_7_and_30_days_ending_on_the_date(
    warehouse: Warehouse,
) -> None:
    active = {
        "today": "2024-06-30",
        "day-6": "2024-06-24",
        "day-7": "2024-06-23",
        "day-29": "2024-06-01",
        "day-30": "2024-05-31",
        "tomorrow": "2024-07-01",
    }
    rows = [
        make_row("prd_q4", user, f"{d}T00:00:00.000Z", group="acme") for user, d in active.items()
    ]
    rows.append(make_row("prd_q4", "elsewhere", "2024-06-30T00:00:00.000Z", group="globex"))
    await insert(warehouse, rows)

    product = await queries.stickiness(warehouse, queries.Scope("prd_q4", "UTC"), date(2024, 6, 30))
    account = await queries.stickiness(
        warehouse, queries.Scope("prd_q4", "UTC", "acme"), date(2024, 6, 30)
    )
    assert (product.dau, product.wau, product.mau) == (2, 3, 5)
    assert (account.dau, account.wau, account.mau) == (1, 2, 4)


async def test_days_before_1970_are_counted_on_their_own_date(warehouse: Warehouse) -> None:
    await insert(warehouse, [make_row("prd_q5", "old", "1965-03-03T12:00:00.000Z")])
    scope = queries.Scope("prd_q5", "UTC")
    day = date(1965, 3, 3)

    days = await queries.active_users(warehouse, scope, "day", day, day)
    weeks = await queries.active_users(warehouse, scope, "week", day, day)
    months = await queries.active_users(warehouse, scope, "month", day, day)
    assert (days, weeks, months) == ([(day, 1)], [(date(1965, 3, 1), 1)], [(date(1965, 3, 1), 1)])


async def test_nps_counts_each_users_last_answer_of_nps_surveys(warehouse: Warehouse) -> None:
    def answer(user: str, ts: str, score: int, kind: str = "nps", survey: str = "exp_a") -> dict:
        properties = {"experience_id": survey, "question_type": kind, "score": score}
        return make_row(
            "prd_q6",
            user,
            ts,
            group="acme",
            event="survey_answered",
            properties=json.dumps(properties),
        )

    await insert(
        warehouse,
        [
            answer("u1", "2024-05-01T10:00:00.000Z", 3),
            answer("u1", "2024-05-02T10:00:00.000Z", 10),  # u1 changed their mind: a promoter
            answer("u2", "2024-05-02T11:00:00.000Z", 9),
            answer("u3", "2024-05-03T11:00:00.000Z", 7),
            answer("u4", "2024-05-03T12:00:00.000Z", 0),
            answer("u5", "2024-05-03T12:00:00.000Z", 10, kind="single"),  # not an NPS survey
            answer("u6", "2024-05-03T12:00:00.000Z", 2, survey="exp_b"),
            answer("u7", "2024-06-01T12:00:00.000Z", 2),  # outside the range
        ],
    )
    scope = queries.Scope("prd_q6", "UTC")
    start, end = date(2024, 5, 1), date(2024, 5, 31)

    every = await queries.nps(warehouse, scope, start, end, None)
    one = await queries.nps(warehouse, scope, start, end, "exp_a")
    assert (every.responses, every.promoters, every.passives, every.detractors) == (5, 2, 1, 2)
    assert (one.responses, one.promoters, one.passives, one.detractors, one.score) == (
        4,
        2,
        1,
        1,
        25.0,
    )


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([10, 7, 7, 8, 3, 5], -17), ([9, 9, 0, 7], 25), ([10, 0], 0), ([], None)],
)
def test_nps_is_rounded_once_and_null_without_answers(
    scores: list[int], expected: int | None
) -> None:
    nps = queries.Nps(
        responses=len(scores),
        promoters=sum(s >= 9 for s in scores),
        passives=sum(7 <= s <= 8 for s in scores),
        detractors=sum(s <= 6 for s in scores),
    )
    assert nps.score == expected


async def test_nps_per_month_counts_each_users_last_answer_in_that_month(
    warehouse: Warehouse,
) -> None:
    def answer(user: str, ts: str, score: int) -> dict:
        properties = {"experience_id": "exp_m", "question_type": "nps", "score": score}
        row = make_row(
            "prd_q7", user, ts, event="survey_answered", properties=json.dumps(properties)
        )
        return row

    await insert(
        warehouse,
        [
            answer("u1", "2024-05-03T10:00:00.000Z", 3),
            answer("u1", "2024-06-03T10:00:00.000Z", 10),  # June's answer, not May's
            answer("u2", "2024-05-20T10:00:00.000Z", 9),
        ],
    )
    scope = queries.Scope("prd_q7", "UTC")

    series = await queries.nps_series(
        warehouse, scope, "month", date(2024, 4, 1), date(2024, 6, 30), None
    )
    assert [(p.isoformat(), n.responses, n.score) for p, n in series] == [
        ("2024-04-01", 0, None),
        ("2024-05-01", 2, 0),
        ("2024-06-01", 1, 100),
    ]
    whole = await queries.nps(warehouse, scope, date(2024, 4, 1), date(2024, 6, 30), None)
    assert (whole.responses, whole.score) == (2, 100)

"""Settled event counts on a real chDB warehouse: they answer what the sets answer, and never
for a day that changed after they were made."""

from collections.abc import Iterator
from datetime import date

import pytest

from services.metrics import queries
from services.metrics.settle import Settler
from services.metrics.warehouse import Warehouse
from tests.metrics.factories import insert, make_row

pytestmark = pytest.mark.integration

JAN_1, JAN_2 = date(2024, 1, 1), date(2024, 1, 2)


@pytest.fixture
async def merges_stopped(warehouse: Warehouse) -> Iterator[None]:
    await warehouse.command("SYSTEM STOP MERGES")
    yield
    await warehouse.command("SYSTEM START MERGES")


def rows_of(product: str) -> list[dict[str, object]]:
    """Two days, two accounts, two event names; on 1 January a has 3 calls (2 'opened'),
    b has 2; on 2 January a has 1."""
    return [
        make_row(product, "u1", "2024-01-01T10:00:00.000Z", group="a"),
        make_row(product, "u2", "2024-01-01T10:00:00.000Z", group="a"),
        make_row(product, "u3", "2024-01-01T10:00:00.000Z", group="a", event="paid"),
        make_row(product, "u4", "2024-01-01T11:00:00.000Z", group="b"),
        make_row(product, "u5", "2024-01-01T11:00:00.000Z", group="b", event="paid"),
        make_row(product, "u1", "2024-01-02T09:00:00.000Z", group="a"),
    ]


async def every_answer(warehouse: Warehouse, product: str) -> dict[str, object]:
    answers: dict[str, object] = {}
    for account in (None, "a", "b"):
        for event in (None, "opened", "paid"):
            scope = queries.Scope(product, "UTC", account)
            for interval in ("day", "week"):
                answers[f"{account}/{event}/{interval}"] = await queries.tracked_events(
                    warehouse, scope, interval, JAN_1, JAN_2, event
                )
    return answers


async def settled_days(warehouse: Warehouse, product: str) -> dict[date, tuple[int, int]]:
    rows = await warehouse.rows(
        "SELECT day, messages, day_rows FROM daily_event_counts FINAL"
        " WHERE product_id = {p:String} AND grain = 'day' ORDER BY day",
        {"p": product},
    )
    return {day: (int(n), int(r)) for day, n, r in rows}


async def settle(warehouse: Warehouse, max_rows: int = 1_000_000) -> Settler:
    """A settler after two passes: every day quiet since the first is counted."""
    settler = Settler(warehouse, interval_s=1, max_rows=max_rows)
    await settler.settle_quiet_days()
    await settler.settle_quiet_days()
    return settler


async def test_settled_counts_answer_what_the_sets_answer_at_every_grain(
    warehouse: Warehouse, merges_stopped: None
) -> None:
    rows = rows_of("prd_s1")
    for part in (rows, rows[:2], rows[3:]):  # three parts, duplicates across them
        await insert(warehouse, part)
    from_sets = await every_answer(warehouse, "prd_s1")

    settler = await settle(warehouse, max_rows=1)  # one day per statement

    assert await settled_days(warehouse, "prd_s1") == {JAN_1: (5, 9), JAN_2: (1, 2)}
    assert settler.unsettled == 0
    assert await every_answer(warehouse, "prd_s1") == from_sets
    assert from_sets["None/None/day"] == [(JAN_1, 5), (JAN_2, 1)]
    assert from_sets["a/opened/week"] == [(JAN_1, 3)]  # the week of 1 January, clipped
    assert from_sets["b/paid/day"] == [(JAN_1, 1), (JAN_2, 0)]


async def test_a_day_that_changed_after_it_was_settled_is_counted_from_its_sets(
    warehouse: Warehouse,
) -> None:
    await insert(warehouse, rows_of("prd_s2"))
    await settle(warehouse)
    scope = queries.Scope("prd_s2", "UTC", "a")

    late = make_row("prd_s2", "u9", "2024-01-02T20:00:00.000Z", group="a")
    await insert(warehouse, [late, rows_of("prd_s2")[-1]])  # one new call, one resent

    assert await queries.tracked_events(warehouse, scope, "day", JAN_1, JAN_2, None) == [
        (JAN_1, 3),
        (JAN_2, 2),
    ]
    assert (await settled_days(warehouse, "prd_s2"))[JAN_2] == (1, 1)  # still the old count
    await settle(warehouse)
    assert (await settled_days(warehouse, "prd_s2"))[JAN_2] == (2, 3)


async def test_a_day_still_receiving_rows_waits_for_a_quiet_pass(warehouse: Warehouse) -> None:
    settler = Settler(warehouse, interval_s=1, max_rows=1_000_000)
    await insert(warehouse, rows_of("prd_s3")[:1])
    await settler.settle_quiet_days()
    await insert(warehouse, rows_of("prd_s3")[1:2])
    await settler.settle_quiet_days()  # 1 January changed since the first pass

    assert await settled_days(warehouse, "prd_s3") == {}
    await settler.settle_quiet_days()
    assert await settled_days(warehouse, "prd_s3") == {JAN_1: (2, 2)}


async def test_a_message_resent_across_midnight_counts_on_both_days_and_twice_in_their_week(
    warehouse: Warehouse,
) -> None:
    first = make_row("prd_s4", "u1", "2024-01-01T23:59:00.000Z")
    resent = {**first, "day": JAN_2.isoformat()}  # its timestamp was set on arrival
    await insert(warehouse, [first, resent])
    scope = queries.Scope("prd_s4", "UTC")

    before = await queries.tracked_events(warehouse, scope, "week", JAN_1, JAN_2, None)
    await settle(warehouse)
    after = await queries.tracked_events(warehouse, scope, "week", JAN_1, JAN_2, None)
    assert before == after == [(JAN_1, 2)]

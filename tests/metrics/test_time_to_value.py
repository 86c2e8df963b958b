"""Time-to-value per signup cohort against an independent pandas computation."""

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from services.metrics import accounts, queries, time_to_value
from services.metrics.accounts import UserRecord
from services.metrics.warehouse import Warehouse
from tests.metrics.factories import insert, make_row

pytestmark = pytest.mark.integration

# (user, timestamp, event); the value event is "Report created".
CALLS = [
    ("u1", "2024-01-29T23:30:00.000Z", "opened"),  # 30 Jan in Tokyo: the week of 29 Jan
    ("u1", "2024-01-30T05:30:00.000Z", "Report created"),
    ("u2", "2024-02-05T10:00:00.000Z", "opened"),
    ("u2", "2024-02-15T10:00:00.000Z", "Report created"),
    ("u3", "2024-02-06T10:00:00.000Z", "opened"),  # never reaches value
    ("u4", "2024-02-07T10:00:00.000Z", "Report created"),  # but created_at says 1 February
]
CREATED = {"u4": datetime(2024, 2, 1, 10, tzinfo=UTC)}


def by_pandas() -> list[tuple[str, int, int, float]]:
    frame = pd.DataFrame(CALLS, columns=["user", "ts", "event"])
    frame["ts"] = pd.to_datetime(frame.ts)
    first = frame.groupby("user").ts.min()
    for user, created in CREATED.items():
        first[user] = min(first[user], pd.Timestamp(created))
    valued = frame[frame.event == "Report created"].groupby("user").ts.min()
    local = first.dt.tz_convert("Asia/Tokyo")
    monday = local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")
    week = monday.dt.date.astype(str)
    days = (valued - first[valued.index]).dt.total_seconds() / 86_400
    result = []
    for cohort, users in week.groupby(week):
        reached = days[days.index.isin(users.index)]
        result.append((cohort, len(users), len(reached), round(float(reached.median()), 3)))
    return result


async def test_cohorts_medians_and_spread_match_pandas_across_a_tokyo_day_boundary(
    warehouse: Warehouse,
) -> None:
    rows = [
        make_row("prd_t1", user, ts, group="acme", event=event, tz="Asia/Tokyo")
        for user, ts, event in CALLS
    ]
    await insert(warehouse, rows)
    await accounts.store(
        warehouse,
        "user_traits",
        "user_id",
        "prd_t1",
        [UserRecord(id=u, created_at=at) for u, at in CREATED.items()],
    )
    scope = queries.Scope("prd_t1", "Asia/Tokyo")

    found = await time_to_value.cohorts(
        warehouse, scope, "Report created", date(2024, 1, 1), date(2024, 3, 31), "week"
    )
    assert [(c.start.isoformat(), c.users, c.reached, c.median_days) for c in found] == by_pandas()
    assert [c.spread for c in found] == [
        {"within 1 day": 1, "1-7 days": 1, "7-30 days": 0, "over 30 days": 0},
        {"within 1 day": 0, "1-7 days": 0, "7-30 days": 1, "over 30 days": 0},
    ]

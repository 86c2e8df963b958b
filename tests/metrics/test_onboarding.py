"""Onboarding completion against an independent pandas computation on the same events."""

import json
from datetime import date

import pandas as pd
import pytest

from services.metrics import onboarding, queries
from services.metrics.warehouse import Warehouse
from tests.metrics.factories import insert, make_row

pytestmark = pytest.mark.integration

# (user, account, timestamp, event, item)
CALLS = [
    ("u1", "acme", "2024-04-01T09:00:00.000Z", "experience_shown", None),
    ("u1", "acme", "2024-04-01T10:00:00.000Z", "checklist_item_completed", "invite"),
    ("u1", "acme", "2024-04-03T09:00:00.000Z", "checklist_item_completed", "report"),
    ("u1", "acme", "2024-04-03T09:00:00.000Z", "experience_completed", None),
    ("u2", "acme", "2024-04-02T09:00:00.000Z", "experience_shown", None),
    ("u2", "acme", "2024-04-02T12:00:00.000Z", "checklist_item_completed", "invite"),
    ("u3", "globex", "2024-04-05T00:00:00.000Z", "experience_shown", None),
    ("u3", "globex", "2024-04-06T00:00:00.000Z", "checklist_item_completed", "invite"),
    ("u3", "globex", "2024-04-06T00:00:00.000Z", "checklist_item_completed", "report"),
    ("u3", "globex", "2024-04-06T00:00:00.000Z", "experience_completed", None),
    ("u4", "initech", "2024-04-07T00:00:00.000Z", "experience_shown", None),
    (
        "u5",
        "initech",
        "2024-04-07T00:00:00.000Z",
        "checklist_item_completed",
        "invite",
    ),  # never shown
]


def rows(checklist: str) -> list[dict[str, object]]:
    made = []
    for number, (user, account, ts, event, item) in enumerate(CALLS):
        properties = {"experience_id": checklist, "experience_kind": "checklist"}
        if item:
            properties["item_id"] = item
        row = make_row(
            "prd_o1", user, ts, group=account, event=event, properties=json.dumps(properties)
        )
        made.append({**row, "message_id": f"{checklist}-{number}"})
    return made


def by_pandas() -> dict[str, object]:
    frame = pd.DataFrame(CALLS, columns=["user", "account", "ts", "event", "item"])
    frame["ts"] = pd.to_datetime(frame.ts)
    shown = frame[frame.event == "experience_shown"].groupby("user").ts.min()
    done = frame[frame.event == "experience_completed"].groupby("user").ts.min()
    started = frame[frame.user.isin(shown.index)]
    accounts = started.groupby("account").user.apply(
        lambda users: bool(set(users) & set(done.index))
    )
    days = ((done - shown[done.index]).dt.total_seconds() / 86_400).median()
    items = started[started.event == "checklist_item_completed"].groupby("item").user.nunique()
    return {
        "users": len(shown),
        "users_completed": len(done),
        "accounts": len(accounts),
        "accounts_completed": int(accounts.sum()),
        "median_days": round(float(days), 3),
        "items": {k: int(v) for k, v in items.items()},
    }


async def test_completion_rates_days_and_funnel_match_pandas(warehouse: Warehouse) -> None:
    await insert(warehouse, rows("exp_list"))
    await insert(warehouse, rows("exp_other"))  # another checklist's events change nothing

    found = await onboarding.completion(
        warehouse, queries.Scope("prd_o1", "UTC"), "exp_list", date(2024, 4, 1), date(2024, 4, 30)
    )
    expected = by_pandas()
    assert {
        "users": found.users,
        "users_completed": found.users_completed,
        "accounts": found.accounts,
        "accounts_completed": found.accounts_completed,
        "median_days": found.median_days,
        "items": found.items,
    } == expected
    assert (found.user_rate, found.account_rate, found.median_days) == (0.5, 2 / 3, 1.5)

"""The issue's other example rules through the running stack: usage sent through ingest, scored
by metrics, acted on by the rules service, each firing for exactly its accounts, once.

- seat utilisation above 90 % (upsell);
- active users fell 50 % week over week;
- health dropped by 20 points or more within 14 days;
- checklist not done 14 days after signup (a schedule rule).
"""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared.health import HealthUpdate
from shared.topics import HEALTH_UPDATES
from tests.integration.conftest import RunningStack, eventually

pytestmark = pytest.mark.integration

D = date(2023, 9, 20)  # no other test sends events near this day
DEMO = {"product": "demo"}


def track(user: str, account: str, day: date, event: str = "opened", **properties: Any) -> dict:
    return {
        "type": "track",
        "userId": user,
        "event": event,
        "properties": properties,
        "timestamp": f"{day.isoformat()}T12:00:00Z",
        "context": {"groupId": account},
    }


def rule(name: str, accounts: list[str], conditions: list[dict], **more: Any) -> dict:
    return {
        "name": name,
        "definition": {
            "trigger": {"type": "health"},
            "conditions": [
                *conditions,
                {"field": "account.id", "op": "in", "value": accounts},
            ],
            "task": {"title": f"{name}: {{account.id}}"},
            **more,
        },
    }


def test_each_example_rule_fires_for_exactly_its_accounts_once(running: RunningStack) -> None:
    tag = uuid.uuid4().hex[:6]
    a = {
        name: f"{name}-{tag}"
        for name in (
            "full",
            "roomy",
            "fell",
            "steady",
            "dropped",
            "flat",
            "stalled",
            "onboarded",
            "fresh",
        )
    }
    days = lambda first, last: [D - timedelta(days=n) for n in range(first, last - 1, -1)]  # noqa: E731
    events = [
        # 2 users of 2 seats, 2 of 10.
        *[track(f"{a['full']}-{u}", a["full"], D - timedelta(days=1)) for u in (1, 2)],
        *[track(f"{a['roomy']}-{u}", a["roomy"], D - timedelta(days=1)) for u in (1, 2)],
        # 4 users the week before, 2 this week; 2 and 2.
        *[track(f"{a['fell']}-{u}", a["fell"], D - timedelta(days=10)) for u in (1, 2, 3, 4)],
        *[track(f"{a['fell']}-{u}", a["fell"], D - timedelta(days=2)) for u in (1, 2)],
        *[track(f"{a['steady']}-{u}", a["steady"], D - timedelta(days=10)) for u in (1, 2)],
        *[track(f"{a['steady']}-{u}", a["steady"], D - timedelta(days=2)) for u in (1, 2)],
        # Daily until 8 days before D, then nothing; daily throughout.
        *[track(f"{a['dropped']}-1", a["dropped"], day) for day in days(30, 8)],
        *[track(f"{a['flat']}-1", a["flat"], day) for day in days(30, 0)],
        # Started 20 days before D; one finished the onboarding checklist.
        track(f"{a['stalled']}-1", a["stalled"], D - timedelta(days=20)),
        track(f"{a['onboarded']}-1", a["onboarded"], D - timedelta(days=20)),
        track(
            f"{a['onboarded']}-1",
            a["onboarded"],
            D - timedelta(days=3),
            "experience_completed",
            experience_id=f"exp_onb{tag}",
        ),
        track(f"{a['fresh']}-1", a["fresh"], D - timedelta(days=1)),
    ]
    fresh_start = (datetime.now(UTC).date() - timedelta(days=5)).isoformat()
    with running.ingest() as ingest:
        for start in range(0, len(events), 50):
            batch = {"batch": events[start : start + 50]}
            assert ingest.post("/v1/batch", json=batch).status_code == 200

    health_rules = [
        rule(
            "upsell",
            [a["full"], a["roomy"]],
            [{"field": "health.seat_utilisation", "op": "gt", "value": 0.9}],
        ),
        rule(
            "fell",
            [a["fell"], a["steady"]],
            [{"field": "activity.active_users_change_pct", "op": "lte", "value": -50}],
        ),
        rule(
            "dropped",
            [a["dropped"], a["flat"]],
            [{"field": "health.score_drop_14d", "op": "gte", "value": 20}],
        ),
    ]
    checklist = rule(
        "stalled",
        [a["stalled"], a["onboarded"], a["fresh"]],
        [
            {"field": "account.days_since_signup", "op": "gte", "value": 14},
            {"field": "onboarding.completed", "op": "excludes", "value": f"exp_onb{tag}"},
        ],
    )
    checklist["definition"]["trigger"] = {"type": "schedule", "every_hours": 24}

    with running.api("metrics") as metrics, running.api("rules") as rules:
        for body in health_rules:
            assert rules.post("/v1/rules", params=DEMO, json=body).status_code == 201
        seats = [{"id": a["full"], "seats": 2}, {"id": a["roomy"], "seats": 10}]
        seats.append({"id": a["fresh"], "contract_start": fresh_start})
        assert metrics.post("/v1/accounts/bulk", params=DEMO, json={"accounts": seats})

        def counted() -> bool:  # the last event sent
            day = str(D - timedelta(days=1))
            params = {**DEMO, "account": a["fresh"], "start": day, "end": day}
            found = metrics.get("/v1/metrics/events", params=params).json()["series"]
            assert found[0]["events"] == 1, found
            return True

        eventually(counted)
        for day in (D - timedelta(days=8), D):
            run = metrics.post("/v1/health/snapshots", params={**DEMO, "date": str(day)})
            assert run.status_code == 200, run.text

        def tasks_by_account() -> dict[str, list[dict[str, Any]]]:
            found: dict[str, list[dict[str, Any]]] = {}
            for account in a.values():
                found[account] = rules.get("/v1/tasks", params={**DEMO, "account": account}).json()
            return found

        def health_rules_acted() -> dict[str, list[dict[str, Any]]]:
            found = tasks_by_account()
            assert all(found[a[name]] for name in ("full", "fell", "dropped")), found
            return found

        eventually(health_rules_acted)
        # The schedule rule goes in now: its first look is at once, on the latest health.
        assert rules.post("/v1/rules", params=DEMO, json=checklist).status_code == 201

        def stalled_acted() -> dict[str, list[dict[str, Any]]]:
            found = tasks_by_account()
            assert found[a["stalled"]], found
            return found

        found = eventually(stalled_acted)

    fired = {
        name: [(t["title"], t["fired"]) for t in found[account]] for name, account in a.items()
    }
    assert fired == {
        "full": [(f"upsell: {a['full']}", 1)],
        "roomy": [],
        "fell": [(f"fell: {a['fell']}", 1)],
        "steady": [],
        "dropped": [(f"dropped: {a['dropped']}", 1)],
        "flat": [],
        "stalled": [(f"stalled: {a['stalled']}", 1)],
        "onboarded": [],
        "fresh": [],
    }


async def test_a_health_update_delivered_twice_raises_one_task(running: RunningStack) -> None:
    account = f"twice-{uuid.uuid4().hex[:6]}"
    with running.api("rules") as rules:
        body = rule("twice", [account], [{"field": "health.band", "op": "eq", "value": "red"}])
        assert rules.post("/v1/rules", params=DEMO, json=body).status_code == 201
    with running.api("content") as content:
        product_id = content.get("/v1/products/demo").json()["id"]
    update = HealthUpdate(
        product_id=product_id,
        account_id=account,
        day=D,
        scored_at=datetime.now(UTC),
        score=10.0,
        band="red",
    )
    producer = AIOKafkaProducer(bootstrap_servers=running.stack.bootstrap)
    await producer.start()
    try:
        topic = HEALTH_UPDATES.name(running.stack.settings.kafka_namespace)
        for _ in range(2):  # as a producer retry or a consumer's lost commit would
            await producer.send_and_wait(topic, update.model_dump_json().encode(), update.key())
    finally:
        await producer.stop()

    with running.api("rules") as rules:

        def handled_both() -> bool:
            found = rules.get("/v1/tasks", params={**DEMO, "account": account}).json()
            assert len(found) == 1, found
            return True

        eventually(handled_both)
        await asyncio.sleep(2)  # give a second task, if any, time to appear
        [task] = rules.get("/v1/tasks", params={**DEMO, "account": account}).json()
        assert task["fired"] == 1

"""Rules on health updates and events, on SQLite and PostgreSQL: who gets a task, once, from
whom; streaks, durations, re-fire limits, snoozes, auto-close and redelivery."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.rules import engine
from services.rules.db import downgrade, upgrade
from services.rules.models import Rule, Task, TaskHistory
from services.rules.schemas import RuleDefinition
from shared.health import HealthUpdate

Sessions = async_sessionmaker[AsyncSession]
PRODUCT = "prd_r"
DAY = date(2024, 6, 1)
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def update(account: str, day: date = DAY, **fields: Any) -> HealthUpdate:
    values: dict[str, Any] = {
        "product_id": PRODUCT,
        "account_id": account,
        "day": day,
        "scored_at": datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1),
        "score": 50.0,
        "band": "yellow",
        **fields,
    }
    return HealthUpdate(**values)


async def add_rule(sessions: Sessions, name: str, **definition: Any) -> str:
    checked = RuleDefinition.model_validate(definition)
    async with sessions() as session:
        rule = Rule(product_id=PRODUCT, name=name, definition=checked.model_dump(mode="json"))
        session.add(rule)
        await session.commit()
        return rule.id


async def feed(sessions: Sessions, *updates: HealthUpdate, now: datetime = NOW) -> list[str]:
    """Act on each update in its own transaction; the actions taken, as "<account>:<action>"."""
    taken = []
    for one in updates:
        async with sessions() as session:
            taken += [
                f"{o.account_id}:{o.action}" for o in await engine.on_health(session, one, now)
            ]
            await session.commit()
    return taken


async def tasks(sessions: Sessions) -> list[Task]:
    async with sessions() as session:
        return list(await session.scalars(select(Task).order_by(Task.account_id)))


RED_NEAR_RENEWAL = {
    "trigger": {"type": "health"},
    "conditions": [
        {"field": "health.band", "op": "eq", "value": "red"},
        {"field": "account.renewal_in_days", "op": "lte", "value": 60},
    ],
    "task": {
        "title": "{account.name} is red, renewal in {account.renewal_in_days} days",
        "type": "renewal",
        "priority": "high",
        "due_in_days": 3,
        "assign": {"to": "owner", "fallback": "lead@vendor.example"},
    },
}


async def test_red_near_renewal_raises_one_task_for_the_owner(sessions: Sessions) -> None:
    await add_rule(sessions, "red near renewal", **RED_NEAR_RENEWAL)
    near = {"renewal_date": "2024-07-01", "name": "Acme", "owner": "kim@vendor.example"}

    taken = await feed(
        sessions,
        update("acme", band="red", traits=near),
        update("globex", band="red", traits={"renewal_date": "2024-12-01"}),  # 183 days
        update("initech", band="yellow", traits={"renewal_date": "2024-06-10"}),
        update("hooli", band="red", traits={"renewal_date": "2024-06-20"}),  # no owner
    )

    assert taken == ["acme:created", "hooli:created"]
    acme, hooli = await tasks(sessions)
    assert (acme.title, acme.assignee, acme.type, acme.priority) == (
        "Acme is red, renewal in 30 days",
        "kim@vendor.example",
        "renewal",
        "high",
    )
    assert acme.due_at == NOW + timedelta(days=3)
    assert hooli.assignee == "lead@vendor.example"
    assert hooli.title == "hooli is red, renewal in 19 days"


async def test_a_redelivered_update_and_a_lasting_red_raise_nothing_more(
    sessions: Sessions,
) -> None:
    await add_rule(sessions, "red near renewal", **RED_NEAR_RENEWAL)
    traits = {"renewal_date": "2024-07-01"}
    first = update("acme", band="red", traits=traits)
    later = update("acme", DAY + timedelta(days=1), band="red", traits=traits)

    assert await feed(sessions, first, first, later) == ["acme:created"]
    [task] = await tasks(sessions)
    assert task.fired == 1


async def test_red_again_after_recovering_refires_the_open_task(sessions: Sessions) -> None:
    await add_rule(sessions, "red near renewal", **RED_NEAR_RENEWAL)
    traits = {"renewal_date": "2024-07-01"}
    days = [DAY + timedelta(days=n) for n in range(3)]

    taken = await feed(
        sessions,
        update("acme", days[0], band="red", traits=traits),
        update("acme", days[1], band="yellow", traits=traits),
        update("acme", days[2], band="red", traits=traits),
    )

    assert taken == ["acme:created", "acme:refired"]
    [task] = await tasks(sessions)
    assert (task.fired, task.status) == (2, "open")
    async with sessions() as session:
        kinds = await session.scalars(
            select(TaskHistory.kind).where(TaskHistory.task_id == task.id).order_by(TaskHistory.id)
        )
        assert list(kinds) == ["created", "refired"]


async def test_auto_close_closes_the_task_when_the_condition_stops(sessions: Sessions) -> None:
    await add_rule(sessions, "red", **{**RED_NEAR_RENEWAL, "auto_close": True})
    traits = {"renewal_date": "2024-07-01"}

    taken = await feed(
        sessions,
        update("acme", band="red", traits=traits),
        update("acme", DAY + timedelta(days=1), band="green", traits=traits),
        update("acme", DAY + timedelta(days=2), band="red", traits=traits),
    )

    assert taken == ["acme:created", "acme:closed", "acme:created"]
    first, second = sorted(await tasks(sessions), key=lambda t: t.created_at)
    assert (first.status, first.open_key) == ("done", None)
    assert second.status == "open"


async def test_seat_utilisation_above_90_percent_for_7_days(sessions: Sessions) -> None:
    await add_rule(
        sessions,
        "upsell",
        trigger={"type": "health"},
        conditions=[{"field": "health.seat_utilisation", "op": "gt", "value": 0.9}],
        for_days=7,
        task={"title": "Upsell {account.id}", "type": "expansion"},
    )
    days = [DAY + timedelta(days=n) for n in range(9)]
    full = {"seat_utilisation": 0.95}

    taken = await feed(
        sessions,
        *[update("acme", d, measures=full) for d in days[:7]],  # days 0-6: not yet 7 days
        update("globex", days[0], measures=full),
        update("globex", days[4], measures={"seat_utilisation": 0.5}),  # the streak breaks
        update("globex", days[7], measures=full),
        update("acme", days[7], measures=full),  # 7 days since day 0
        update("acme", days[8], measures=full),
    )

    assert taken == ["acme:created"]


async def test_a_drop_of_20_points_and_active_users_halving(sessions: Sessions) -> None:
    await add_rule(
        sessions,
        "falling",
        trigger={"type": "health"},
        match="any",
        conditions=[
            {"field": "health.score_drop_14d", "op": "gte", "value": 20},
            {"field": "activity.active_users_change_pct", "op": "lte", "value": -50},
        ],
        task={"title": "{account.id} is falling", "type": "risk"},
    )

    taken = await feed(
        sessions,
        update("dropped", score=55.0, score_max_14d=80.0),  # 25 points
        update("steady", score=70.0, score_max_14d=85.0, active_users_7d=6, active_users_prev_7d=8),
        update("halved", active_users_7d=5, active_users_prev_7d=10),  # -50 %
        update("new", active_users_7d=3, active_users_prev_7d=0),  # no change to speak of
    )

    assert sorted(taken) == ["dropped:created", "halved:created"]


async def nps_answer(
    sessions: Sessions, message: str, account: str, score: int, now: datetime = NOW
) -> list[str]:
    async with sessions() as session:
        outcomes = await engine.on_event(
            session,
            PRODUCT,
            message,
            account,
            "survey_answered",
            "u1",
            {"question_type": "nps", "score": score},
            now,
        )
        await session.commit()
    return [f"{o.account_id}:{o.action}" for o in outcomes]


async def test_an_nps_answer_of_6_or_less_with_a_fire_limit(sessions: Sessions) -> None:
    await add_rule(
        sessions,
        "detractor",
        trigger={"type": "event", "event": "survey_answered"},
        conditions=[{"field": "event.nps_score", "op": "lte", "value": 6}],
        task={"title": "Detractor at {account.id}: {event.nps_score}", "type": "risk"},
        max_fires=2,
        per_days=30,
    )

    assert await nps_answer(sessions, "m1", "acme", 4) == ["acme:created"]
    assert await nps_answer(sessions, "m1", "acme", 4) == []  # redelivered
    assert await nps_answer(sessions, "m2", "globex", 9) == []
    assert await nps_answer(sessions, "m3", "acme", 6) == ["acme:refired"]
    assert await nps_answer(sessions, "m4", "acme", 0) == ["acme:limited"]
    later = NOW + timedelta(days=31)
    assert await nps_answer(sessions, "m5", "acme", 2, later) == ["acme:refired"]
    [task] = await tasks(sessions)
    assert (task.title, task.fired) == ("Detractor at acme: 4", 3)


async def test_a_snoozed_task_refires_quietly(sessions: Sessions) -> None:
    await add_rule(
        sessions,
        "detractor",
        trigger={"type": "event"},
        conditions=[{"field": "event.nps_score", "op": "lte", "value": 6}],
        task={"title": "Detractor"},
    )
    await nps_answer(sessions, "m1", "acme", 3)
    async with sessions() as session:
        task = await session.scalar(select(Task))
        assert task is not None
        task.status, task.snoozed_until = "snoozed", NOW + timedelta(days=2)
        await session.commit()

    assert await nps_answer(sessions, "m2", "acme", 3) == ["acme:snoozed"]
    assert await nps_answer(sessions, "m3", "acme", 3, NOW + timedelta(days=3)) == ["acme:refired"]


@pytest.mark.parametrize(
    ("assign", "expected"),
    [
        ({"to": "round_robin", "people": ["a@x.example", "b@x.example"]}, ["a", "b", "a"]),
        ({"to": "fixed", "people": ["c@x.example"]}, ["c", "c", "c"]),
    ],
)
async def test_round_robin_and_fixed_assignment(
    sessions: Sessions, assign: dict[str, Any], expected: list[str]
) -> None:
    await add_rule(
        sessions,
        "red",
        trigger={"type": "health"},
        conditions=[{"field": "health.band", "op": "eq", "value": "red"}],
        task={"title": "red", "assign": assign},
    )

    await feed(sessions, *[update(f"acct-{n}", band="red") for n in range(3)])

    assert [t.assignee.split("@")[0] for t in await tasks(sessions) if t.assignee] == expected


async def test_fewest_open_tasks_gets_the_next_one(sessions: Sessions) -> None:
    people = ["a@x.example", "b@x.example"]
    busy = await add_rule(
        sessions,
        "fixed to a",
        trigger={"type": "health"},
        conditions=[{"field": "health.band", "op": "eq", "value": "yellow"}],
        task={"title": "yellow", "assign": {"to": "fixed", "people": people[:1]}},
    )
    await add_rule(
        sessions,
        "red",
        trigger={"type": "health"},
        conditions=[{"field": "health.band", "op": "eq", "value": "red"}],
        task={"title": "red", "assign": {"to": "fewest_open", "people": people}},
    )
    await feed(sessions, update("y1"), update("y2"))  # a has two open tasks

    await feed(sessions, *[update(f"r{n}", band="red") for n in range(3)])

    async with sessions() as session:
        rows = await session.execute(
            select(Task.account_id, Task.assignee).where(Task.rule_id != busy)
        )
        # b, b (now 2 each), then a: ties go to the first listed.
        assert sorted(tuple(row) for row in rows) == [
            ("r0", "b@x.example"),
            ("r1", "b@x.example"),
            ("r2", "a@x.example"),
        ]


async def test_preview_lists_accounts_whose_latest_health_matches(sessions: Sessions) -> None:
    rule_id = await add_rule(sessions, "red near renewal", **RED_NEAR_RENEWAL)
    near = {"renewal_date": "2024-07-01"}
    await feed(
        sessions,
        update("acme", band="red", traits=near),
        update("acme", DAY + timedelta(days=1), band="green", traits=near),
        update("globex", band="red", traits=near),
    )

    async with sessions() as session:
        rule = await session.get(Rule, rule_id)
        assert rule is not None
        assert await engine.preview(session, rule) == ["globex"]
        created = await session.scalar(select(func.count()).select_from(Task))
    assert created == 2  # preview made none


def test_templates_fill_fields_and_nothing_else() -> None:
    context = {"account.name": "Acme {x}", "health.score": 35.0, "account.mrr": 12.5}

    rendered = engine.render(
        "{account.name}: {health.score} ({account.mrr}) {unknown.field} {__class__} {0}", context
    )

    assert rendered == "Acme {x}: 35 (12.5)  {__class__} {0}"


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ({"field": "health.nope", "op": "eq", "value": 1}, "unknown field"),
        ({"field": "health.band", "op": "gt", "value": "red"}, "takes the operators"),
        ({"field": "health.band", "op": "eq", "value": "purple"}, "one of red, yellow, green"),
        ({"field": "health.score", "op": "lt", "value": "40"}, "compares with a number"),
        ({"field": "event.nps_score", "op": "lt", "value": 7}, "not known on health"),
        ({"field": "health.band", "op": "in", "value": []}, "non-empty list"),
        ({"field": "health.score", "op": "lt", "value": float("nan")}, "finite"),
        ({"field": "health.score", "op": "lt", "value": float("inf")}, "finite"),
    ],
)
def test_conditions_outside_the_catalog_are_refused(
    condition: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        RuleDefinition.model_validate(
            {"trigger": {"type": "health"}, "conditions": [condition], "task": {"title": "t"}}
        )


async def test_checklist_not_done_14_days_after_signup_on_a_schedule(sessions: Sessions) -> None:
    await add_rule(
        sessions,
        "onboarding stalled",
        trigger={"type": "schedule", "every_hours": 24},
        conditions=[
            {"field": "account.days_since_signup", "op": "gte", "value": 14},
            {"field": "onboarding.completed", "op": "excludes", "value": "exp_onb"},
        ],
        task={"title": "{account.id}: onboarding not done", "type": "onboarding"},
    )
    # Latest health of each account, as scored on DAY.
    await feed(
        sessions,
        update("stalled", first_active_day=DAY - timedelta(days=20)),
        update(
            "done", first_active_day=DAY - timedelta(days=20), completed_experiences=["exp_onb"]
        ),
        update("fresh", first_active_day=DAY - timedelta(days=5)),
        update("signed", traits={"contract_start": "2024-05-01"}, completed_experiences=["x"]),
    )

    async def run(at: datetime) -> list[str]:
        async with sessions() as session:
            outcomes = await engine.on_schedule(session, at)
            await session.commit()
        return sorted(f"{o.account_id}:{o.action}" for o in outcomes)

    assert await run(NOW) == ["signed:created", "stalled:created"]
    assert await run(NOW + timedelta(hours=1)) == []  # not due again yet
    assert await run(NOW + timedelta(days=1, hours=1)) == []  # due; those fired already
    # Nine days on, fresh is 14 days in, though it was not scored again.
    assert await run(NOW + timedelta(days=9, hours=2)) == ["fresh:created"]


async def test_an_event_rule_ignores_events_received_before_it_existed(
    sessions: Sessions,
) -> None:
    await add_rule(
        sessions,
        "detractor",
        trigger={"type": "event"},
        conditions=[{"field": "event.nps_score", "op": "lte", "value": 6}],
        task={"title": "Detractor"},
    )
    async with sessions() as session:
        [rule] = await session.scalars(select(Rule))
        created = rule.created_at
        properties = {"question_type": "nps", "score": 2}
        before = await engine.on_event(
            session,
            PRODUCT,
            "old",
            "acme",
            "a",
            "u",
            properties,
            NOW,
            None,
            created - timedelta(seconds=1),
        )
        after = await engine.on_event(
            session,
            PRODUCT,
            "new",
            "acme",
            "a",
            "u",
            properties,
            NOW,
            None,
            created + timedelta(seconds=1),
        )
        await session.commit()
    assert (before, [o.action for o in after]) == ([], ["created"])


async def test_migrations_go_down_and_up_again(sessions: Sessions) -> None:
    async with sessions() as session:
        engine_ = session.bind
    assert isinstance(engine_, AsyncEngine)
    await downgrade(engine_, "base")
    await upgrade(engine_)

    await add_rule(
        sessions,
        "after a round trip",
        trigger={"type": "schedule"},
        conditions=[{"field": "health.band", "op": "eq", "value": "red"}],
        task={"title": "red"},
    )
    async with sessions() as session:
        assert [r.evaluated_at for r in await session.scalars(select(Rule))] == [None]


@pytest.mark.parametrize(
    ("trigger", "title", "problem"),
    [
        ("health", "{account.nmae} is red", "account.nmae"),
        ("health", "NPS {event.nps_score}", "event.nps_score"),
        ("event", "{health.score}", "health.score"),
    ],
)
def test_templates_naming_unknown_fields_are_refused(
    trigger: str, title: str, problem: str
) -> None:
    definition = {
        "trigger": {"type": trigger},
        "conditions": [{"field": "account.id", "op": "eq", "value": "a"}],
        "task": {"title": title},
    }
    with pytest.raises(ValueError, match=problem):
        RuleDefinition.model_validate(definition)
    ok = {**definition, "task": {"title": "{account.name} / {account.id}"}}
    assert RuleDefinition.model_validate(ok).task.title.startswith("{account.name}")


async def test_an_update_of_an_earlier_day_neither_fires_nor_replaces_the_latest(
    sessions: Sessions,
) -> None:
    await add_rule(sessions, "red near renewal", **{**RED_NEAR_RENEWAL, "auto_close": True})
    traits = {"renewal_date": "2024-07-01"}

    taken = await feed(
        sessions,
        update("acme", band="green", traits=traits),
        # Scored later, for a day before: red then, but old news.
        update(
            "acme",
            DAY - timedelta(days=5),
            band="red",
            traits=traits,
            scored_at=datetime(2024, 6, 2, tzinfo=UTC),
        ),
    )

    assert taken == []
    async with sessions() as session:
        [rule] = await session.scalars(select(Rule))
        assert await engine.preview(session, rule) == []

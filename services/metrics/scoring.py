"""Health over time: products' scorecards, daily snapshots of every account's score, and the
band changes the rules service acts on.

A run scores every account of a product at the end of a day (health.assess: the measures come
from ClickHouse in one query for all accounts), sends each band change to the
`health.bands` topic and every account's state to `health.updates` (what the rules service acts
on), then writes one snapshot row per account. A band change is judged
against the account's latest snapshot on or before that day. The changes are sent before the
snapshots are written, so a run that fails between the two sends them again when it is
repeated: at least once, never lost.

The scheduler scores, for every product that has sent events, the current day in the
product's timezone every `health_interval_s`, and the day before once more after it ended,
so that each day's snapshot describes the whole day.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaProducer

from services.metrics import health
from services.metrics.health import DEFAULT_SCORECARD, ProductScorecard
from services.metrics.warehouse import Warehouse
from shared.health import BandChange, HealthUpdate
from shared.kafka import send_all

log = logging.getLogger(__name__)

RETRY_S = 60.0
# Sends a run's band changes and its updates of every account; returns once all are acknowledged.
Publish = Callable[[list[BandChange], list[HealthUpdate]], Awaitable[None]]


@dataclass(frozen=True)
class Configured:
    scorecard: ProductScorecard
    updated_at: datetime | None  # None: the default, never set


async def scorecard_of(warehouse: Warehouse, product_id: str) -> Configured:
    rows = await warehouse.rows(
        "SELECT argMax(config, updated_at), max(updated_at) FROM health_scorecards"
        " WHERE product_id = {product:String} HAVING count() > 0",
        {"product": product_id},
    )
    if not rows or not rows[0][0]:
        return Configured(DEFAULT_SCORECARD, _utc(rows[0][1]) if rows else None)
    config, updated_at = rows[0]
    return Configured(ProductScorecard.model_validate_json(config), _utc(updated_at))


def _utc(moment: datetime) -> datetime:
    """DateTime64(3, 'UTC') values come back naive."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def set_scorecard(
    warehouse: Warehouse, product_id: str, scorecard: ProductScorecard | None
) -> datetime:
    """Store the product's scorecard (None: back to the default); returns when it was set."""
    now = datetime.now(UTC)
    row = {
        "product_id": product_id,
        "config": scorecard.model_dump_json() if scorecard else "",
        "updated_at": now.isoformat(timespec="milliseconds"),
    }
    await warehouse.insert_json_rows("health_scorecards", None, json.dumps(row).encode())
    return now


@dataclass(frozen=True)
class Run:
    product_id: str
    day: date
    accounts: int
    changes: list[BandChange]


RECENT = """
SELECT account_id, maxIf(score, day < {on:Date32}), 0, 0
FROM health_snapshots FINAL
WHERE product_id = {product:String} AND day BETWEEN {fortnight:Date32} AND {on:Date32}
GROUP BY account_id
UNION ALL
SELECT account_id, NULL, uniqExactMergeIf(users, day >= {week:Date32}),
    uniqExactMergeIf(users, day < {week:Date32})
FROM daily_active_users
WHERE product_id = {product:String} AND day BETWEEN {fortnight:Date32} AND {on:Date32}
GROUP BY account_id
"""

# Experiences (checklists, tours, ...) some user of each account completed, up to the day.
COMPLETED = """
SELECT account_id, groupUniqArray(JSONExtractString(properties, 'experience_id'))
FROM events FINAL
WHERE product_id = {product:String} AND type = 'track' AND event = 'experience_completed'
    AND day <= {on:Date32} AND account_id != ''
GROUP BY account_id
"""

PREVIOUS = """
SELECT account_id, argMax(band, (day, scored_at)), argMax(score, (day, scored_at))
FROM health_snapshots
WHERE product_id = {product:String} AND day <= {on:Date32}
GROUP BY account_id
"""


async def score_day(
    warehouse: Warehouse, publish: Publish, product_id: str, timezone: str, on: date
) -> Run:
    """Score every account of the product at the end of `on`, send the band changes, and keep
    a snapshot of each account."""
    card = (await scorecard_of(warehouse, product_id)).scorecard
    assessed = await health.assess(warehouse, product_id, timezone, "account", on, card)
    before = {
        account: (band or None, score)
        for account, band, score in await warehouse.rows(
            PREVIOUS, {"product": product_id, "on": on}
        )
    }
    scored_at = datetime.now(UTC)
    updates = await _updates(warehouse, product_id, on, assessed, before, scored_at)
    fields = set(BandChange.model_fields)
    changes = [
        BandChange.model_validate(u.model_dump(include=fields))
        for u in updates
        if u.band != u.previous_band  # none before and none now is no change either
    ]
    await publish(changes, updates)
    if assessed:
        stamp = scored_at.isoformat(timespec="milliseconds")
        block = b"\n".join(
            json.dumps(
                {
                    "product_id": product_id,
                    "account_id": account,
                    "day": on.isoformat(),
                    "score": found.scored.score,
                    "band": found.scored.band or "",
                    "scorecard": found.scorecard,
                    "measures": found.values,
                    "contributions": found.scored.contributions,
                    "scored_at": stamp,
                }
            ).encode()
            for account, found in assessed.items()
        )
        await warehouse.insert_json_rows("health_snapshots", None, block)
    log.info(
        "health_scored",
        extra={"product": product_id, "day": on.isoformat(), "accounts": len(assessed)},
    )
    return Run(product_id, on, len(assessed), changes)


async def _updates(
    warehouse: Warehouse,
    product_id: str,
    on: date,
    assessed: dict[str, health.Assessment],
    before: dict[str, tuple[str | None, float | None]],
    scored_at: datetime,
) -> list[HealthUpdate]:
    recent: dict[str, list[Any]] = {}
    params = {
        "product": product_id,
        "on": on,
        "week": on - timedelta(days=6),
        "fortnight": on - timedelta(days=13),
    }
    for account, top, this_week, last_week in await warehouse.rows(RECENT, params):
        found = recent.setdefault(account, [None, 0, 0])
        if top is not None:
            found[0] = top
        found[1] += this_week
        found[2] += last_week
    first_days = await health.first_active_days(warehouse, product_id, on)
    completed = dict(await warehouse.rows(COMPLETED, {"product": product_id, "on": on}))
    updates = []
    for account, a in assessed.items():
        previous_band, previous_score = before.get(account, (None, None))
        top, this_week, last_week = recent.get(account, [None, 0, 0])
        updates.append(
            HealthUpdate(
                product_id=product_id,
                account_id=account,
                day=on,
                scored_at=scored_at,
                score=a.scored.score,
                band=a.scored.band,
                previous_score=previous_score,
                previous_band=previous_band,
                score_max_14d=top,
                scorecard=a.scorecard,
                measures=a.values,
                contributions=a.scored.contributions,
                active_users_7d=this_week,
                active_users_prev_7d=last_week,
                first_active_day=first_days.get(account),
                completed_experiences=sorted(completed.get(account, [])),
                traits=a.traits,
            )
        )
    return updates


@dataclass(frozen=True)
class Snapshot:
    account_id: str
    day: date
    score: float | None
    band: str | None
    scorecard: str
    measures: dict[str, float | None]
    contributions: dict[str, float]
    scored_at: datetime


async def snapshots(
    warehouse: Warehouse, product_id: str, start: date, end: date, account: str | None
) -> list[Snapshot]:
    """Each account's snapshot per day from start to end (the last one scored that day)."""
    rows = await warehouse.rows(
        "SELECT account_id, day, score, band, scorecard, measures, contributions, scored_at"
        " FROM health_snapshots FINAL WHERE product_id = {product:String}"
        " AND day BETWEEN {start:Date32} AND {end:Date32}"
        + (" AND account_id = {account:String}" if account else "")
        + " ORDER BY account_id, day",
        {"product": product_id, "start": start, "end": end, "account": account or ""},
    )
    return [
        Snapshot(a, d, s, b or None, card, dict(m), dict(c), _utc(at))
        for a, d, s, b, card, m, c, at in rows
    ]


class Scorer:
    """Scores every product that has sent events, on a schedule (see the module's doc)."""

    def __init__(self, warehouse: Warehouse, publish: Publish, interval_s: float) -> None:
        self._warehouse = warehouse
        self._publish = publish
        self._interval_s = interval_s
        self._finished: dict[str, date] = {}  # product → the last day scored after it ended
        # One run at a time: two runs of one day would both see the same band change.
        self._lock = asyncio.Lock()
        self.passes = 0
        self.failures = 0  # products whose scoring failed, since start

    async def run(self) -> None:
        """Score on schedule until cancelled; a failed pass is logged and tried again within a
        minute."""
        while True:
            try:
                await self.score_all()
                wait = self._interval_s
            except Exception:  # the warehouse or the broker: both recover on their own
                self.failures += 1
                log.exception("health_scoring_failed")
                wait = min(self._interval_s, RETRY_S)
            await asyncio.sleep(wait)

    async def score_all(self) -> list[Run]:
        runs = []
        zones = await self._warehouse.rows(
            "SELECT product_id, argMax(timezone, seen_at) FROM product_zones GROUP BY product_id"
        )
        for product_id, timezone in zones:
            try:
                runs += await self._score_product(product_id, timezone)
            except Exception:  # one product's data must not stop the others' scoring
                self.failures += 1
                log.exception("health_scoring_failed", extra={"product": product_id})
        self.passes += 1
        return runs

    async def _score_product(self, product_id: str, timezone: str) -> list[Run]:
        runs = []
        today = datetime.now(ZoneInfo(timezone)).date()
        yesterday = date.fromordinal(today.toordinal() - 1)
        if self._finished.get(product_id) != yesterday:
            runs.append(await self.score(product_id, timezone, yesterday))
            self._finished[product_id] = yesterday
        runs.append(await self.score(product_id, timezone, today))
        return runs

    async def score(self, product_id: str, timezone: str, on: date) -> Run:
        async with self._lock:
            return await score_day(self._warehouse, self._publish, product_id, timezone, on)


def kafka_publisher(producer: AIOKafkaProducer, bands_topic: str, updates_topic: str) -> Publish:
    """Send band changes and updates to their topics; return once the broker has them all."""

    async def publish(changes: list[BandChange], updates: list[HealthUpdate]) -> None:
        await send_all(producer, bands_topic, changes)
        await send_all(producer, updates_topic, updates)

    return publish

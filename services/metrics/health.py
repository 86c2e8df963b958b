"""Health scores: measures of each account (or user) at a date, mapped to 0-100 by a scorecard.

A scorecard lists measures; each has points (value → score, joined by straight lines, flat
beyond the ends) and a weight. The score is the weighted mean of the measures that have a
value: a missing one re-weights the others. Bands cut the score: red below `red_below`, green
from `green_from`, yellow between. The measures come from ClickHouse in one query for all
entities at once (`measure`); scoring them is plain arithmetic (`Scorecard.score`).

Measures, over the `window_days` ending on the date (both included):
- active_day_rate: days with any track call ÷ window_days;
- days_since_active: days from the last track call (within the window) to the date;
- usage_trend: track calls in the last `trend_days` ÷ those in the `trend_days` before
  (missing when both are 0; capped at 3);
- feature_breadth: distinct key features used ÷ key features (event names; when none are
  configured, every event name the product had in the window);
- seat_utilisation (accounts only): users with a track call in the window ÷ the account's
  `seats` trait (missing when it has none, or 0).

A product's scorecard may hold a second one for accounts in their first days (`new_accounts`):
an account's age counts from its `contract_start` trait, else from its first active day.
Accounts with traits and no track call in the span are scored too, as silent (`SILENT`);
accounts whose `churned_at` is on or before the date are not scored.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.metrics.accounts import latest, moment_of
from services.metrics.warehouse import Warehouse
from shared.health import Band
from shared.traits import day_of, number_of

MeasureName = Literal[
    "active_day_rate", "days_since_active", "usage_trend", "feature_breadth", "seat_utilisation"
]
TREND_CAP = 3.0
# A measure's values: ratios and days. The bound keeps a line's slope finite.
X = Annotated[float, Field(ge=-1e9, le=1e9, allow_inf_nan=False)]
Y = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class Measure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: MeasureName
    weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    # (value, score) pairs in increasing value order; scores from 0 to 100.
    points: Annotated[list[tuple[X, Y]], Field(min_length=2, max_length=100)]

    @model_validator(mode="after")
    def _points_increase(self) -> "Measure":
        values = [value for value, _ in self.points]
        if values != sorted(values) or len(set(values)) != len(values):
            raise ValueError("points must be in strictly increasing value order")
        return self

    def score(self, value: float) -> float:
        (first, low), (last, high) = self.points[0], self.points[-1]
        if value <= first:
            return low
        if value >= last:
            return high
        for (x0, y0), (x1, y1) in zip(self.points, self.points[1:], strict=False):
            if value <= x1:
                return y0 + (value - x0) * (y1 - y0) / (x1 - x0)
        raise AssertionError("unreachable: value is inside the points")


@dataclass(frozen=True)
class Scored:
    score: float | None  # None when no measure has a value
    band: Band | None
    contributions: dict[str, float]  # measure → points it added to the score


class Scorecard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measures: Annotated[list[Measure], Field(min_length=1)]
    red_below: Annotated[float, Field(ge=0, le=100)] = 40
    green_from: Annotated[float, Field(ge=0, le=100)] = 70
    window_days: Annotated[int, Field(ge=1, le=365)] = 30
    trend_days: Annotated[int, Field(ge=1, le=182)] = 14
    key_features: Annotated[list[str], Field(max_length=1000)] = []

    @field_validator("key_features")
    @classmethod
    def _once_each(cls, features: list[str]) -> list[str]:
        return list(dict.fromkeys(features))

    @model_validator(mode="after")
    def _bands_in_order(self) -> "Scorecard":
        if self.green_from < self.red_below:
            raise ValueError("green_from must not be below red_below")
        if len({m.name for m in self.measures}) != len(self.measures):
            raise ValueError("a measure may appear once")
        return self

    def score(self, values: dict[str, float | None]) -> Scored:
        present = [m for m in self.measures if values.get(m.name) is not None]
        total = sum(m.weight for m in present)
        if not present:
            return Scored(None, None, {})
        contributions = {
            m.name: m.weight * m.score(values[m.name]) / total  # type: ignore[arg-type]
            for m in present
        }
        score = round(sum(contributions.values()), 1)
        return Scored(score, self.band(score), {k: round(v, 1) for k, v in contributions.items()})

    def band(self, score: float) -> Band:
        if score < self.red_below:
            return "red"
        return "green" if score >= self.green_from else "yellow"


class NewAccounts(BaseModel):
    """The scorecard for accounts in their first `days` days (day 0 is the day they start)."""

    model_config = ConfigDict(extra="forbid")

    days: Annotated[int, Field(ge=1, le=365)]
    scorecard: Scorecard


class ProductScorecard(Scorecard):
    """A product's scorecard, and optionally the one its new accounts are scored with."""

    new_accounts: NewAccounts | None = None

    def card_for(self, age_days: int | None) -> tuple["CardName", Scorecard]:
        """Which card ("default" or "new_accounts") scores an entity this many days old."""
        if self.new_accounts and age_days is not None and age_days < self.new_accounts.days:
            return "new_accounts", self.new_accounts.scorecard
        return "default", self


DEFAULT_SCORECARD = ProductScorecard(
    measures=[
        Measure(
            name="active_day_rate", weight=4, points=[(0, 0), (0.1, 40), (0.3, 70), (0.6, 100)]
        ),
        Measure(name="days_since_active", weight=3, points=[(0, 100), (3, 80), (7, 40), (14, 0)]),
        Measure(name="usage_trend", weight=1.5, points=[(0, 0), (0.5, 40), (1, 70), (1.5, 100)]),
        Measure(name="feature_breadth", weight=1.5, points=[(0, 0), (0.3, 50), (0.7, 100)]),
        Measure(name="seat_utilisation", weight=1, points=[(0, 0), (0.5, 60), (0.9, 100)]),
    ]
)

# What an entity with no track call in the window measures: no activity, nothing to compare.
SILENT: dict[str, float | None] = {
    "active_day_rate": 0.0,
    "days_since_active": None,
    "usage_trend": None,
    "feature_breadth": 0.0,
    "seat_utilisation": None,
}

Level = Literal["account", "user"]
CardName = Literal["default", "new_accounts"]
Values = dict[str, float | None]


@dataclass(frozen=True)
class Assessment:
    values: Values
    scorecard: CardName
    scored: Scored
    traits: dict[str, Any] = field(default_factory=dict)  # accounts' traits, latest values


async def assess(
    warehouse: Warehouse,
    product_id: str,
    timezone: str,
    level: Level,
    on: date,
    config: ProductScorecard,
    account: str | None = None,
) -> dict[str, Assessment]:
    """Entity id → its measures and score at the end of `on`: every account (or user) with a
    track call in the card's span and, at account level, every account with traits, except
    those that had churned by then."""
    if level == "user":
        users = await measure(warehouse, product_id, "user", on, config, account)
        return {u: Assessment(v, "default", config.score(v)) for u, v in users.items()}
    traits = await latest(
        warehouse, "account_traits", "account_id", product_id, [account] if account else None
    )
    seats = {a: n for a, t in traits.items() if (n := number_of(t.get("seats"))) and n > 0}
    cards: dict[CardName, Scorecard] = {"default": config}
    first_days: dict[str, date] = {}
    if config.new_accounts:
        cards["new_accounts"] = config.new_accounts.scorecard
        first_days = await first_active_days(warehouse, product_id, on, account)
    measured = {
        name: await measure(warehouse, product_id, "account", on, card, account, seats)
        for name, card in cards.items()
    }
    zone = ZoneInfo(timezone)
    answer = {}
    for entity in sorted(set(traits).union(*measured.values())):
        own = traits.get(entity, {})
        if _churned_by(own.get("churned_at"), on, zone):
            continue
        start = day_of(own.get("contract_start")) or first_days.get(entity)
        name, card = config.card_for((on - start).days if start else None)
        values = measured[name].get(entity) or {
            **SILENT,
            "seat_utilisation": 0.0 if seats.get(entity) else None,
        }
        answer[entity] = Assessment(values, name, card.score(values), own)
    return answer


async def measure(
    warehouse: Warehouse,
    product_id: str,
    level: Level,
    on: date,
    card: Scorecard,
    account: str | None = None,
    seats: dict[str, float] | None = None,
) -> dict[str, Values]:
    """Entity id → measure values at the end of `on`, for every account (or user) with a track
    call in the window or the trend's span. `seats`: accounts' seats, for seat_utilisation."""
    key = "account_id" if level == "account" else "user_id"
    span = max(card.window_days, 2 * card.trend_days)
    window_start = on - timedelta(days=card.window_days - 1)
    recent_start = on - timedelta(days=card.trend_days - 1)
    before_start = on - timedelta(days=2 * card.trend_days - 1)
    features = (
        "{features:Array(String)}"
        if card.key_features
        else "(SELECT groupUniqArray(event) FROM events WHERE product_id = {product:String}"
        " AND type = 'track' AND day >= {window_start:Date32} AND day <= {on:Date32})"
    )
    sql = f"""
        WITH {features} AS key_features
        SELECT {key},
            uniqExactIf(day, day >= {{window_start:Date32}}) AS active_days,
            dateDiff('day', maxIf(day, day >= {{window_start:Date32}}), {{on:Date32}}),
            countIf(day >= {{recent_start:Date32}}) AS recent,
            countIf(day >= {{before_start:Date32}} AND day < {{recent_start:Date32}}) AS before,
            length(arrayIntersect(
                groupUniqArrayIf(event, day >= {{window_start:Date32}}), key_features)),
            length(key_features),
            uniqExactIf(user_id, day >= {{window_start:Date32}})
        FROM events FINAL
        WHERE product_id = {{product:String}} AND type = 'track' AND {key} != ''
            AND day >= {{first:Date32}} AND day <= {{on:Date32}}
            {"AND account_id = {account:String}" if account else ""}
        GROUP BY {key}
    """
    params: dict[str, Any] = {
        "product": product_id,
        "on": on,
        "first": on - timedelta(days=span - 1),
        "window_start": window_start,
        "recent_start": recent_start,
        "before_start": before_start,
        "features": card.key_features,
        "account": account or "",
    }
    seats = seats or {}
    found = {}
    for entity, active, since, recent, before, used, known, users in await warehouse.rows(
        sql, params
    ):
        found[entity] = {
            "active_day_rate": active / card.window_days,
            "days_since_active": float(since) if active else None,
            "usage_trend": _trend(recent, before),
            "feature_breadth": used / known if known else None,
            "seat_utilisation": users / seats[entity] if seats.get(entity) else None,
        }
    return found


async def first_active_days(
    warehouse: Warehouse, product_id: str, on: date, account: str | None = None
) -> dict[str, date]:
    """Account → the first day any of its users was active, up to `on`."""
    rows = await warehouse.rows(
        "SELECT account_id, min(day) FROM daily_active_users"
        " WHERE product_id = {product:String} AND day <= {on:Date32}"
        + (" AND account_id = {account:String}" if account else "")
        + " GROUP BY account_id",
        {"product": product_id, "on": on, "account": account or ""},
    )
    return {account_id: day for account_id, day in rows}


def _trend(recent: int, before: int) -> float | None:
    if before == 0:
        return None if recent == 0 else TREND_CAP
    return min(recent / before, TREND_CAP)


def _churned_by(value: object, on: date, zone: ZoneInfo) -> bool:
    moment: datetime | None = moment_of(value)  # within 1900-2261: safe to convert
    return moment is not None and moment.astimezone(zone).date() <= on

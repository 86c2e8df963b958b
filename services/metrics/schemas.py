from datetime import date, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, Field

from services.metrics.health import ProductScorecard
from services.metrics.periods import Interval
from services.metrics.queries import Nps
from shared.health import Band, BandChange


class ActiveUsersPoint(BaseModel):
    period_start: date
    active_users: int


class ActiveUsersRead(BaseModel):
    product: str
    account: str | None
    interval: Interval
    timezone: str
    series: list[ActiveUsersPoint]


class EventsPoint(BaseModel):
    period_start: date
    events: int


class EventsRead(BaseModel):
    product: str
    account: str | None
    event: str | None
    interval: Interval
    timezone: str
    series: list[EventsPoint]


class StickinessRead(BaseModel):
    product: str
    account: str | None
    timezone: str
    date: date
    dau: int
    wau: int
    mau: int
    dau_mau: float | None  # null when nobody was active in the 30 days


class NpsFigures(BaseModel):
    responses: int = Field(description="users who answered; each user's last answer counts")
    promoters: int = Field(description="scores 9-10")
    passives: int = Field(description="scores 7-8")
    detractors: int = Field(description="scores 0-6")
    nps: int | None = Field(
        description="% promoters - % detractors, rounded once; none without answers"
    )

    @classmethod
    def of(cls, found: Nps, **fields: Any) -> Self:
        counts = {
            k: getattr(found, k) for k in ("responses", "promoters", "passives", "detractors")
        }
        return cls(**counts, nps=found.score, **fields)


class NpsRead(NpsFigures):
    product: str
    account: str | None
    survey: str | None = Field(description="an NPS survey's experience id; none: every one")
    start: date
    end: date


class UploadRead(BaseModel):
    records: int
    traits: int = Field(description="trait values written")


class AccountRead(BaseModel):
    id: str
    traits: dict[str, Any]


class HealthScoreRead(BaseModel):
    id: str = Field(description="the account's (or user's) id")
    score: float | None = Field(description="0-100; none when no measure has a value")
    band: str | None = Field(description="red, yellow or green")
    measures: dict[str, float | None]
    contributions: dict[str, float] = Field(description="points each measure added")
    scorecard: Literal["default", "new_accounts"] = Field(
        description="which of the product's scorecards scored it"
    )


class ScorecardRead(BaseModel):
    product: str
    configured: bool = Field(description="false: the default scorecard, never set or reset")
    updated_at: datetime | None
    scorecard: ProductScorecard


class HealthSnapshotRead(BaseModel):
    account: str
    day: date
    score: float | None
    band: Band | None
    scorecard: Literal["default", "new_accounts"]
    measures: dict[str, float | None]
    contributions: dict[str, float]
    scored_at: datetime


class ScoringRunRead(BaseModel):
    product: str
    day: date
    accounts: int = Field(description="accounts scored")
    changes: list[BandChange] = Field(description="band changes sent to the health.bands topic")


class RevenueMonthRead(BaseModel):
    month: date
    accounts: int = Field(description="accounts at the start of the month")
    churned: int = Field(description="of them, churned during the month")
    mrr: float = Field(description="their MRR")
    churned_mrr: float
    logo_churn_rate: float | None
    revenue_churn_rate: float | None
    arpu: float | None
    ltv: float | None = Field(description="ARPU ÷ logo churn rate; null with ltv_note saying why")
    ltv_note: str | None


class OnboardingRead(BaseModel):
    product: str
    account: str | None
    checklist: str
    users_started: int = Field(description="users shown the checklist")
    users_completed: int
    user_completion_rate: float | None
    accounts_started: int
    accounts_completed: int = Field(description="accounts where one user completed it")
    account_completion_rate: float | None
    median_days_to_complete: float | None = Field(description="first shown → completed")
    items_completed: dict[str, int] = Field(description="item id → users who completed it")


class TimeToValueCohortRead(BaseModel):
    cohort_start: date
    users: int = Field(description="users who signed up in the cohort")
    reached_value: int
    median_days: float | None = Field(description="signup → first value event, of those reached")
    spread: dict[str, int] = Field(description="users reaching value, by how long it took")


class NpsPoint(NpsFigures):
    period_start: date


class NpsSeriesRead(BaseModel):
    product: str
    account: str | None
    survey: str | None
    interval: Interval
    series: list[NpsPoint]

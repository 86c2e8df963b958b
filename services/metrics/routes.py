"""Metrics REST API (`Authorization: Bearer <api key>`)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Request

from services.metrics import (
    accounts,
    health,
    onboarding,
    queries,
    revenue,
    scoring,
    time_to_value,
)
from services.metrics.periods import Interval
from services.metrics.schemas import (
    AccountRead,
    ActiveUsersPoint,
    ActiveUsersRead,
    EventsPoint,
    EventsRead,
    HealthScoreRead,
    HealthSnapshotRead,
    NpsPoint,
    NpsRead,
    NpsSeriesRead,
    OnboardingRead,
    RevenueMonthRead,
    ScorecardRead,
    ScoringRunRead,
    StickinessRead,
    TimeToValueCohortRead,
    UploadRead,
)
from services.metrics.warehouse import Warehouse
from shared.auth import ProductDirectory
from shared.errors import ApiError, Unavailable
from shared.events import EARLIEST, LATEST

router = APIRouter(prefix="/v1/metrics")
customers = APIRouter(prefix="/v1", tags=["customer data"])

# A series longer than this is almost surely a mistake, and costs a scan of every row.
MAX_RANGE_DAYS = 3660

Account = Annotated[
    str | None, Query(min_length=1, max_length=255, description="an account (group) id")
]
ProductSlug = Annotated[
    str, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="a product slug")
]
# Days the warehouse holds events for (see shared.events.EARLIEST and LATEST).
FIRST_DAY, LAST_DAY = EARLIEST.date() + timedelta(days=1), LATEST.date() - timedelta(days=1)


def check_day(day: date, attr: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ApiError(
            f"must be between {FIRST_DAY} and {LAST_DAY}", code="invalid_date", attr=attr
        )
    return day


@dataclass(frozen=True)
class Target:
    """The product (and account) a request is about, checked against the caller's API key."""

    product: str
    account: str | None
    timezone: str
    scope: queries.Scope


async def target(
    request: Request,
    product: ProductSlug,
    account: Account = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Target:
    directory: ProductDirectory = request.app.state.products
    found = await directory.product_for(authorization, product)
    return Target(
        product, account, found.timezone, queries.Scope(found.id, found.timezone, account)
    )


@dataclass(frozen=True)
class Range:
    start: date
    end: date
    interval: Interval = "day"

    def __post_init__(self) -> None:
        check_day(self.start, "start")
        check_day(self.end, "end")
        if self.end < self.start:
            raise ApiError("`end` is before `start`", code="invalid_range", attr="end")
        if (self.end - self.start).days > MAX_RANGE_DAYS:
            raise ApiError(
                f"ask for at most {MAX_RANGE_DAYS} days", code="range_too_long", attr="end"
            )


@router.get("/active-users", response_model=ActiveUsersRead)
async def active_users(
    request: Request,
    on: Annotated[Target, Depends(target)],
    span: Annotated[Range, Depends()],
) -> ActiveUsersRead:
    series = await queries.active_users(
        _warehouse(request), on.scope, span.interval, span.start, span.end
    )
    return ActiveUsersRead(
        product=on.product,
        account=on.account,
        interval=span.interval,
        timezone=on.timezone,
        series=[ActiveUsersPoint(period_start=p, active_users=n) for p, n in series],
    )


@router.get("/events", response_model=EventsRead)
async def tracked_events(
    request: Request,
    on: Annotated[Target, Depends(target)],
    span: Annotated[Range, Depends()],
    event: Annotated[str | None, Query(min_length=1)] = None,
) -> EventsRead:
    series = await queries.tracked_events(
        _warehouse(request), on.scope, span.interval, span.start, span.end, event
    )
    return EventsRead(
        product=on.product,
        account=on.account,
        event=event,
        interval=span.interval,
        timezone=on.timezone,
        series=[EventsPoint(period_start=p, events=n) for p, n in series],
    )


@router.get("/stickiness", response_model=StickinessRead)
async def stickiness(
    request: Request,
    on: Annotated[Target, Depends(target)],
    date: date,
) -> StickinessRead:
    check_day(check_day(date, "date") - timedelta(days=29), "date")  # the 30-day window too
    figures = await queries.stickiness(_warehouse(request), on.scope, date)
    return StickinessRead(
        product=on.product,
        account=on.account,
        timezone=on.timezone,
        date=date,
        dau=figures.dau,
        wau=figures.wau,
        mau=figures.mau,
        dau_mau=round(figures.dau / figures.mau, 4) if figures.mau else None,
    )


def _warehouse(request: Request) -> Warehouse:
    warehouse: Warehouse = request.app.state.warehouse
    return warehouse


@router.get("/nps", response_model=NpsRead)
async def nps(
    request: Request,
    on: Annotated[Target, Depends(target)],
    start: date,
    end: date,
    survey: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> NpsRead:
    span = Range(start, end)
    found = await queries.nps(_warehouse(request), on.scope, span.start, span.end, survey)
    return NpsRead.of(
        found, product=on.product, account=on.account, survey=survey, start=start, end=end
    )


@customers.post("/accounts/bulk", response_model=UploadRead)
async def upsert_accounts(
    request: Request, on: Annotated[Target, Depends(target)], body: accounts.AccountsUpload
) -> UploadRead:
    """Set accounts' traits; each trait given replaces the one stored, the others stay."""
    stored = await accounts.store(
        _warehouse(request), "account_traits", "account_id", on.scope.product_id, [*body.accounts]
    )
    return UploadRead(records=len(body.accounts), traits=stored)


@customers.post("/users/bulk", response_model=UploadRead)
async def upsert_users(
    request: Request, on: Annotated[Target, Depends(target)], body: accounts.UsersUpload
) -> UploadRead:
    """Set users' traits; each trait given replaces the one stored, the others stay."""
    stored = await accounts.store(
        _warehouse(request), "user_traits", "user_id", on.scope.product_id, [*body.users]
    )
    return UploadRead(records=len(body.users), traits=stored)


@customers.get("/accounts", response_model=list[AccountRead])
async def list_accounts(
    request: Request, on: Annotated[Target, Depends(target)]
) -> list[AccountRead]:
    """Every account of the product with traits (or the one named by `account`), each trait
    at its latest value."""
    ids = [on.account] if on.account else None
    found = await accounts.latest(
        _warehouse(request), "account_traits", "account_id", on.scope.product_id, ids
    )
    return [AccountRead(id=account_id, traits=traits) for account_id, traits in found.items()]


@customers.get("/health/scores", response_model=list[HealthScoreRead])
async def health_scores(
    request: Request,
    on: Annotated[Target, Depends(target)],
    date: date,
    level: health.Level = "account",
) -> list[HealthScoreRead]:
    """Every account (or user) at the end of `date` (in the product's timezone), scored with
    the product's scorecard: its measures, score, band and what each measure added. Accounts
    with traits and no activity are scored as silent; churned ones are left out. With
    `account`, that account (or its users) only."""
    check_day(date, "date")
    card = (await scoring.scorecard_of(_warehouse(request), on.scope.product_id)).scorecard
    found = await health.assess(
        _warehouse(request), on.scope.product_id, on.timezone, level, date, card, on.account
    )
    return [
        HealthScoreRead(
            id=entity,
            score=a.scored.score,
            band=a.scored.band,
            measures=a.values,
            contributions=a.scored.contributions,
            scorecard=a.scorecard,
        )
        for entity, a in found.items()
    ]


@customers.get("/health/scorecard", response_model=ScorecardRead)
async def get_scorecard(request: Request, on: Annotated[Target, Depends(target)]) -> ScorecardRead:
    """The product's health scorecard: the one set with PUT, else the default."""
    found = await scoring.scorecard_of(_warehouse(request), on.scope.product_id)
    return ScorecardRead(
        product=on.product,
        configured=found.scorecard is not health.DEFAULT_SCORECARD,
        updated_at=found.updated_at,
        scorecard=found.scorecard,
    )


@customers.put("/health/scorecard", response_model=ScorecardRead)
async def put_scorecard(
    request: Request, on: Annotated[Target, Depends(target)], body: health.ProductScorecard
) -> ScorecardRead:
    """Replace the product's scorecard; scores and snapshots from now on use it."""
    updated_at = await scoring.set_scorecard(_warehouse(request), on.scope.product_id, body)
    return ScorecardRead(product=on.product, configured=True, updated_at=updated_at, scorecard=body)


@customers.delete("/health/scorecard", response_model=ScorecardRead)
async def reset_scorecard(
    request: Request, on: Annotated[Target, Depends(target)]
) -> ScorecardRead:
    """Go back to the default scorecard."""
    updated_at = await scoring.set_scorecard(_warehouse(request), on.scope.product_id, None)
    return ScorecardRead(
        product=on.product,
        configured=False,
        updated_at=updated_at,
        scorecard=health.DEFAULT_SCORECARD,
    )


@customers.post("/health/snapshots", response_model=ScoringRunRead)
async def score_now(
    request: Request, on: Annotated[Target, Depends(target)], date: date
) -> ScoringRunRead:
    """Score every account at the end of `date` now, keep the snapshots and send the band
    changes, as the schedule does."""
    check_day(date, "date")
    today = datetime.now(ZoneInfo(on.timezone)).date()
    if date > today:
        # A snapshot of a day to come would be every account's latest health, and act on it.
        raise ApiError(
            f"{date} has not come yet in {on.timezone} (today is {today})",
            code="date_in_future",
            attr="date",
        )
    scorer: scoring.Scorer | None = request.app.state.scorer
    if scorer is None:
        raise Unavailable("this replica does not score: ask one that runs the consumer")
    run = await scorer.score(on.scope.product_id, on.timezone, date)
    return ScoringRunRead(
        product=on.product, day=run.day, accounts=run.accounts, changes=run.changes
    )


@customers.get("/health/snapshots", response_model=list[HealthSnapshotRead])
async def health_snapshots(
    request: Request,
    on: Annotated[Target, Depends(target)],
    start: date,
    end: date,
) -> list[HealthSnapshotRead]:
    """Each account's (or `account`'s) daily snapshot from start to end: the trend of its
    score, and why it is in its band (each measure's contribution)."""
    span = Range(start, end)
    found = await scoring.snapshots(
        _warehouse(request), on.scope.product_id, span.start, span.end, on.account
    )
    return [
        HealthSnapshotRead(
            account=s.account_id,
            day=s.day,
            score=s.score,
            band=s.band,
            scorecard=s.scorecard,
            measures=s.measures,
            contributions=s.contributions,
            scored_at=s.scored_at,
        )
        for s in found
    ]


@router.get("/revenue", response_model=list[RevenueMonthRead])
async def monthly_revenue(
    request: Request, on: Annotated[Target, Depends(target)], start: date, end: date
) -> list[RevenueMonthRead]:
    """Logo and revenue churn, ARPU and LTV per calendar month from `start` to `end`, from
    the accounts' traits (mrr, contract_start, churned_at); see services/metrics/revenue.py."""
    span = Range(start, end, "month")
    found = await revenue.revenue(_warehouse(request), on.scope.product_id, span.start, span.end)
    return [RevenueMonthRead.model_validate(month, from_attributes=True) for month in found]


@router.get("/onboarding", response_model=OnboardingRead)
async def onboarding_completion(
    request: Request,
    on: Annotated[Target, Depends(target)],
    checklist: Annotated[str, Query(min_length=1, max_length=64, description="its experience id")],
    start: date,
    end: date,
) -> OnboardingRead:
    """Who started and completed a checklist between start and end, how fast, item by item;
    see services/metrics/onboarding.py."""
    span = Range(start, end)
    found = await onboarding.completion(
        _warehouse(request), on.scope, checklist, span.start, span.end
    )
    return OnboardingRead(
        product=on.product,
        account=on.account,
        checklist=checklist,
        users_started=found.users,
        users_completed=found.users_completed,
        user_completion_rate=found.user_rate,
        accounts_started=found.accounts,
        accounts_completed=found.accounts_completed,
        account_completion_rate=found.account_rate,
        median_days_to_complete=found.median_days,
        items_completed=found.items,
    )


@router.get("/time-to-value", response_model=list[TimeToValueCohortRead])
async def time_to_value_cohorts(
    request: Request,
    on: Annotated[Target, Depends(target)],
    value_event: Annotated[str, Query(min_length=1, max_length=200)],
    start: date,
    end: date,
    cohort: Literal["week", "month"] = "month",
) -> list[TimeToValueCohortRead]:
    """Per signup cohort from start to end: users, how many reached `value_event`, the median
    days it took and their spread; see services/metrics/time_to_value.py."""
    span = Range(start, end)
    found = await time_to_value.cohorts(
        _warehouse(request), on.scope, value_event, span.start, span.end, cohort
    )
    return [
        TimeToValueCohortRead(
            cohort_start=c.start,
            users=c.users,
            reached_value=c.reached,
            median_days=c.median_days,
            spread=c.spread,
        )
        for c in found
    ]


@router.get("/nps-series", response_model=NpsSeriesRead)
async def nps_series(
    request: Request,
    on: Annotated[Target, Depends(target)],
    span: Annotated[Range, Depends()],
    survey: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> NpsSeriesRead:
    """NPS per day, week or month: each user's last answer in the period counts."""
    series = await queries.nps_series(
        _warehouse(request), on.scope, span.interval, span.start, span.end, survey
    )
    return NpsSeriesRead(
        product=on.product,
        account=on.account,
        survey=survey,
        interval=span.interval,
        series=[NpsPoint.of(found, period_start=period) for period, found in series],
    )

"""Metrics REST API (`Authorization: Bearer <api key>`)."""

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from services.metrics import queries
from services.metrics.auth import ProductDirectory
from services.metrics.periods import Interval
from services.metrics.schemas import (
    ActiveUsersPoint,
    ActiveUsersRead,
    EventsPoint,
    EventsRead,
    StickinessRead,
)
from services.metrics.warehouse import Warehouse
from shared.errors import ApiError

router = APIRouter(prefix="/v1/metrics")

# A series longer than this is almost surely a mistake, and costs a scan of every row.
MAX_RANGE_DAYS = 3660

Account = Annotated[str | None, Query(min_length=1, description="an account (group) id")]


@dataclass(frozen=True)
class Target:
    """The product (and account) a request is about, checked against the caller's API key."""

    product: str
    account: str | None
    timezone: str
    scope: queries.Scope


async def target(
    request: Request,
    product: str,
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

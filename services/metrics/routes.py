"""Metrics REST API (`Authorization: Bearer <api key>`)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from services.metrics import queries
from services.metrics.auth import Product, ProductDirectory
from services.metrics.periods import Interval
from services.metrics.schemas import ActiveUsersPoint, ActiveUsersRead, StickinessRead
from services.metrics.warehouse import Warehouse
from shared.errors import ApiError

router = APIRouter(prefix="/v1/metrics")

# A series longer than this is almost surely a mistake, and costs a scan of every row.
MAX_RANGE_DAYS = 3660


@router.get("/active-users", response_model=ActiveUsersRead)
async def active_users(
    request: Request,
    product: str,
    start: date,
    end: date,
    interval: Interval = "day",
    account: Annotated[str | None, Query(min_length=1)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> ActiveUsersRead:
    if end < start:
        raise ApiError("`end` is before `start`", code="invalid_range", attr="end")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ApiError(f"ask for at most {MAX_RANGE_DAYS} days", code="range_too_long", attr="end")
    found = await _product(request, authorization, product)

    scope = queries.Scope(found.id, found.timezone, account)
    series = await queries.active_users(_warehouse(request), scope, interval, start, end)
    return ActiveUsersRead(
        product=product,
        account=account,
        interval=interval,
        timezone=found.timezone,
        series=[ActiveUsersPoint(period_start=p, active_users=n) for p, n in series],
    )


@router.get("/stickiness", response_model=StickinessRead)
async def stickiness(
    request: Request,
    product: str,
    date: date,
    account: Annotated[str | None, Query(min_length=1)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> StickinessRead:
    found = await _product(request, authorization, product)

    scope = queries.Scope(found.id, found.timezone, account)
    figures = await queries.stickiness(_warehouse(request), scope, date)
    ratio = round(figures.dau / figures.mau, 4) if figures.mau else None
    return StickinessRead(
        product=product,
        account=account,
        timezone=found.timezone,
        date=date,
        dau=figures.dau,
        wau=figures.wau,
        mau=figures.mau,
        dau_mau=ratio,
    )


async def _product(request: Request, authorization: str | None, slug: str) -> Product:
    directory: ProductDirectory = request.app.state.products
    return await directory.product_for(authorization, slug)


def _warehouse(request: Request) -> Warehouse:
    warehouse: Warehouse = request.app.state.warehouse
    return warehouse

from datetime import date

from pydantic import BaseModel

from services.metrics.periods import Interval


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

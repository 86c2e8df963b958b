"""What the metrics service tells the rules service about accounts' health."""

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel

Band = Literal["red", "yellow", "green"]


class BandChange(BaseModel):
    """An account's band at the end of `day` differs from its band in the latest snapshot
    before (`previous_band` is None when the account had none: it was scored for the first
    time, or had no measure with a value)."""

    product_id: str
    account_id: str
    day: date
    band: Band | None
    previous_band: Band | None
    score: float | None
    previous_score: float | None
    scorecard: Literal["default", "new_accounts"]
    contributions: dict[str, float]
    scored_at: datetime

    def key(self) -> bytes:
        return f"{self.product_id}:{self.account_id}".encode()


class HealthUpdate(BaseModel):
    """An account as one scoring run saw it at the end of `day`: what the rules service
    evaluates health rules on. Sent for every account scored, changed or not."""

    product_id: str
    account_id: str
    day: date
    scored_at: datetime
    score: float | None
    band: Band | None
    previous_score: float | None = None  # from the latest snapshot before this run
    previous_band: Band | None = None
    score_max_14d: float | None = None  # the highest daily score of the 14 days before `day`
    scorecard: Literal["default", "new_accounts"] = "default"
    measures: dict[str, float | None] = {}
    contributions: dict[str, float] = {}
    active_users_7d: int = 0  # distinct active users in the 7 days ending on `day`
    active_users_prev_7d: int = 0  # and in the 7 days before those
    first_active_day: date | None = None  # the first day any of its users was active
    completed_experiences: list[str] = []  # experience ids some user of it completed
    traits: dict[str, Any] = {}  # the account's traits, each at its latest value

    def key(self) -> bytes:
        return f"{self.product_id}:{self.account_id}".encode()

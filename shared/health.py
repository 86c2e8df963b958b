"""What the metrics service tells the rules service about accounts' health."""

from datetime import date, datetime
from typing import Literal

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

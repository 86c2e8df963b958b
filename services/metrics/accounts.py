"""Customer data: accounts' and users' traits, whichever way they arrive.

Group calls (account traits) and identify calls (user traits) reach `account_traits` and
`user_traits` through materialized views; the bulk API and `kizuna import accounts` write the
same tables directly. Each trait is a row, and the latest value of each trait wins, whatever
its source. The traits CS leads rely on are checked here; any other trait is kept as sent.
"""

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from services.metrics.warehouse import Warehouse
from shared.events import EARLIEST, LATEST

Id = Annotated[str, Field(min_length=1, max_length=255)]
Scalar = str | int | float | bool | None


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    # Traits beyond the named ones, kept as sent.
    traits: dict[Annotated[str, Field(min_length=1, max_length=200)], Scalar] = {}

    def trait_values(self) -> dict[str, Any]:
        """Every trait given, named ones first, as JSON-ready values."""
        named = self.model_dump(mode="json", exclude={"id", "traits"}, exclude_unset=True)
        return {**self.traits, **named}


class AccountRecord(Record):
    name: Annotated[str, Field(max_length=500)] | None = None
    plan: Annotated[str, Field(max_length=200)] | None = None
    mrr: Annotated[float, Field(ge=0, description="monthly recurring revenue")] | None = None
    seats: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    contract_start: date | None = None
    renewal_date: date | None = None
    owner: EmailStr | None = Field(default=None, description="the CSM's e-mail")
    churned_at: AwareDatetime | None = Field(
        default=None, description="when the account left; null: it has not (or came back)"
    )


class UserRecord(Record):
    email: EmailStr | None = None
    role: Annotated[str, Field(max_length=200)] | None = None
    created_at: AwareDatetime | None = None


MAX_RECORDS = 10_000


class AccountsUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accounts: Annotated[list[AccountRecord], Field(min_length=1, max_length=MAX_RECORDS)]


class UsersUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: Annotated[list[UserRecord], Field(min_length=1, max_length=MAX_RECORDS)]


def trait_rows(
    product_id: str, key: str, records: Iterable[Record], now: datetime
) -> list[dict[str, Any]]:
    """One row per trait given, stamped `now`."""
    stamp = now.astimezone(UTC).isoformat(timespec="milliseconds")
    return [
        {
            "product_id": product_id,
            key: record.id,
            "trait": trait,
            "value": json.dumps(value, ensure_ascii=False),
            "updated_at": stamp,
            "source": "api",
        }
        for record in records
        for trait, value in record.trait_values().items()
    ]


async def store(
    warehouse: Warehouse, table: str, key: str, product_id: str, records: list[Record]
) -> int:
    """Write the records' traits in one insert (all or nothing); returns how many."""
    rows = trait_rows(product_id, key, records, datetime.now(UTC))
    if rows:
        block = b"\n".join(json.dumps(row).encode() for row in rows)
        await warehouse.insert_json_rows(table, None, block)
    return len(rows)


async def latest(
    warehouse: Warehouse, table: str, key: str, product_id: str, ids: list[str] | None
) -> dict[str, dict[str, Any]]:
    """id → {trait: latest value} for the product's records (or only `ids`)."""
    only = f" AND {key} IN {{ids:Array(String)}}" if ids else ""
    sql = (
        f"SELECT {key}, trait, argMax(value, updated_at) FROM {table}"
        f" WHERE product_id = {{product:String}}{only} GROUP BY {key}, trait ORDER BY {key}, trait"
    )
    found: dict[str, dict[str, Any]] = {}
    for record_id, trait, value in await warehouse.rows(sql, {"product": product_id, "ids": ids}):
        found.setdefault(record_id, {})[trait] = json.loads(value)
    return found


def moment_of(value: object) -> datetime | None:
    """A stored date-time trait (ISO 8601 text) as an aware datetime in UTC; None when it is not
    one, or lies outside the days the warehouse holds (shared.events.EARLIEST to LATEST), where
    converting it between zones could overflow. A value without an offset is taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment if EARLIEST <= moment <= LATEST else None

"""Revenue per month from account traits: logo and revenue churn, ARPU and LTV.

For each calendar month M of the range (in UTC: contract dates carry no time zone):
- the accounts at its start: contract_start (when known) before M, and not churned before M;
- logo churn rate: those of them whose churned_at falls in M ÷ their number;
- revenue churn rate: the MRR of those ÷ the MRR of all of them;
- ARPU: their MRR ÷ their number (accounts without an MRR count as 0);
- LTV = ARPU ÷ logo churn rate; null when nobody churned (an average customer would never
  leave), or when there was no account.
MRR is each account's latest value: Kizuna keeps no history of it yet.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from services.metrics.accounts import latest, moment_of
from services.metrics.periods import next_start, period_starts
from services.metrics.warehouse import Warehouse


@dataclass(frozen=True)
class Account:
    mrr: float
    contract_start: date | None
    churned_at: datetime | None


@dataclass(frozen=True)
class Month:
    month: date
    accounts: int
    churned: int
    mrr: float
    churned_mrr: float

    @property
    def logo_churn_rate(self) -> float | None:
        return self.churned / self.accounts if self.accounts else None

    @property
    def revenue_churn_rate(self) -> float | None:
        return self.churned_mrr / self.mrr if self.mrr else None

    @property
    def arpu(self) -> float | None:
        return self.mrr / self.accounts if self.accounts else None

    @property
    def ltv(self) -> float | None:
        rate = self.logo_churn_rate
        return None if not rate or self.arpu is None else self.arpu / rate

    @property
    def ltv_note(self) -> str | None:
        if not self.accounts:
            return "no account at the start of the month"
        if not self.churned:
            return "no account churned: LTV is unbounded at a churn rate of 0"
        return None


def months(accounts: list[Account], start: date, end: date) -> list[Month]:
    found = []
    for first in period_starts(start, end, "month"):
        following = next_start(first, "month")
        begin = datetime(first.year, first.month, 1, tzinfo=UTC)
        stop = datetime(following.year, following.month, 1, tzinfo=UTC)
        present = [
            a
            for a in accounts
            if (a.contract_start is None or a.contract_start < first)
            and (a.churned_at is None or a.churned_at >= begin)
        ]
        churned = [a for a in present if a.churned_at is not None and a.churned_at < stop]
        found.append(
            Month(
                month=first,
                accounts=len(present),
                churned=len(churned),
                mrr=sum(a.mrr for a in present),
                churned_mrr=sum(a.mrr for a in churned),
            )
        )
    return found


async def revenue(warehouse: Warehouse, product_id: str, start: date, end: date) -> list[Month]:
    traits = await latest(warehouse, "account_traits", "account_id", product_id, None)
    return months([_account(values) for values in traits.values()], start, end)


def _account(values: dict[str, Any]) -> Account:
    mrr = values.get("mrr")
    start, churned = values.get("contract_start"), values.get("churned_at")
    return Account(
        mrr=float(mrr) if isinstance(mrr, int | float) and not isinstance(mrr, bool) else 0.0,
        contract_start=_date(start),
        churned_at=moment_of(churned),
    )


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if isinstance(value, str) else None
    except ValueError:
        return None

"""Monthly revenue metrics against an independent pandas computation on the same accounts."""

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from services.metrics import accounts, revenue
from services.metrics.accounts import AccountRecord
from services.metrics.warehouse import Warehouse

ACCOUNTS = [
    AccountRecord(id="a", mrr=100, contract_start=date(2023, 11, 1)),
    AccountRecord(
        id="b",
        mrr=300,
        contract_start=date(2023, 12, 15),
        churned_at=datetime(2024, 2, 10, tzinfo=UTC),
    ),
    AccountRecord(id="c", mrr=200, churned_at=datetime(2024, 1, 31, 23, 59, tzinfo=UTC)),
    AccountRecord(
        id="d", mrr=50, contract_start=date(2024, 2, 1)
    ),  # starts on 1 Feb: not at its start
    AccountRecord(id="e", contract_start=date(2023, 1, 1)),  # no MRR known: counts as 0
]


def by_pandas(start: str, periods: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "mrr": a.mrr or 0.0,
                "start": pd.Timestamp(a.contract_start) if a.contract_start else pd.Timestamp.min,
                "churned": pd.Timestamp(a.churned_at).tz_convert(None) if a.churned_at else pd.NaT,
            }
            for a in ACCOUNTS
        ]
    )
    rows = []
    for month in pd.date_range(start, periods=periods, freq="MS"):
        following = month + pd.offsets.MonthBegin(1)
        present = frame[(frame.start < month) & (frame.churned.isna() | (frame.churned >= month))]
        gone = present[present.churned < following]
        rows.append(
            {
                "month": month.date(),
                "accounts": len(present),
                "churned": len(gone),
                "mrr": present.mrr.sum(),
                "churned_mrr": gone.mrr.sum(),
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.integration
async def test_churn_arpu_and_ltv_match_pandas_and_zero_churn_gives_no_ltv(
    warehouse: Warehouse,
) -> None:
    await accounts.store(warehouse, "account_traits", "account_id", "prd_r1", [*ACCOUNTS])

    found = await revenue.revenue(warehouse, "prd_r1", date(2024, 1, 1), date(2024, 3, 31))
    expected = by_pandas("2024-01-01", 3)
    assert [(m.month, m.accounts, m.churned, m.mrr, m.churned_mrr) for m in found] == [
        (r.month, r.accounts, r.churned, r.mrr, r.churned_mrr) for r in expected.itertuples()
    ]
    january, february, march = found
    assert (january.accounts, january.churned, january.logo_churn_rate) == (4, 1, 0.25)
    assert january.arpu == 150.0  # (100 + 300 + 200 + 0) / 4
    assert january.ltv == 600.0  # 150 / 0.25
    assert february.revenue_churn_rate == 300 / 400
    assert (march.churned, march.ltv, march.ltv_note) == (
        0,
        None,
        "no account churned: LTV is unbounded at a churn rate of 0",
    )

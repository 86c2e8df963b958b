"""Health of every account on a real chDB warehouse: measures against pandas, accounts with no
events, new accounts, churned ones; scorecards stored per product; snapshots and band changes."""

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from services.metrics import accounts, health, scoring
from services.metrics.health import DEFAULT_SCORECARD, Measure, NewAccounts, ProductScorecard
from services.metrics.warehouse import Warehouse
from shared.health import BandChange, HealthUpdate
from tests.metrics.factories import insert, make_row

pytestmark = pytest.mark.integration

BERLIN = "Europe/Berlin"
ON = date(2024, 3, 31)  # Berlin moves to summer time at 02:00 that night


def berlin_calls(product: str) -> list[tuple[str, str, str, str]]:
    """(account, user, UTC time, event) around the change to summer time."""
    return [
        ("acme", "ann", "2024-03-30T23:30:00Z", "opened"),  # 31 Mar 00:30 in Berlin (+1)
        ("acme", "ann", "2024-03-31T21:30:00Z", "exported"),  # 31 Mar 23:30 (+2)
        ("acme", "bob", "2024-03-31T22:30:00Z", "opened"),  # 1 Apr 00:30 (+2): after ON
        ("acme", "bob", "2024-03-10T12:00:00Z", "opened"),  # the trend's earlier half
        ("acme", "cat", "2024-03-02T12:00:00Z", "shared"),  # 30th day back: in the window
        ("acme", "cat", "2024-03-01T22:59:00Z", "shared"),  # 1 Mar 23:59 (+1): outside it
        ("initech", "dan", "2024-03-20T08:00:00Z", "opened"),
        ("initech", "dan", "2024-03-21T08:00:00Z", "opened"),
    ]


def expected_measures(
    calls: list[tuple[str, str, str, str]], seats: dict[str, int], zone: str, on: date
) -> dict[str, dict[str, float | None]]:
    """The default scorecard's measures (30-day window, 14-day trend), worked out with pandas."""
    frame = pd.DataFrame(calls, columns=["account", "user", "ts", "event"])
    frame["day"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(zone).dt.date
    frame = frame[frame["day"] <= on]
    window = frame[frame["day"] > on - timedelta(days=30)]
    key_features = set(window["event"])
    found: dict[str, dict[str, float | None]] = {}
    for account, rows in frame.groupby("account"):
        inside = rows[rows["day"] > on - timedelta(days=30)]
        recent = int((rows["day"] > on - timedelta(days=14)).sum())
        before = int(
            (
                (rows["day"] > on - timedelta(days=28)) & (rows["day"] <= on - timedelta(days=14))
            ).sum()
        )
        trend = None if recent == before == 0 else (3.0 if before == 0 else min(recent / before, 3))
        found[str(account)] = {
            "active_day_rate": inside["day"].nunique() / 30,
            "days_since_active": float((on - inside["day"].max()).days) if len(inside) else None,
            "usage_trend": trend,
            "feature_breadth": len(set(inside["event"]) & key_features) / len(key_features),
            "seat_utilisation": inside["user"].nunique() / seats[str(account)]
            if seats.get(str(account))
            else None,
        }
    return found


async def load(warehouse: Warehouse, product: str, calls: list[tuple[str, str, str, str]]) -> None:
    await insert(
        warehouse,
        [
            make_row(product, user, ts.replace("Z", "+00:00"), group=account, tz=BERLIN, event=ev)
            for account, user, ts, ev in calls
        ],
    )


async def upload(warehouse: Warehouse, product: str, **traits: dict[str, object]) -> None:
    records = [accounts.AccountRecord(id=a, **values) for a, values in traits.items()]
    await accounts.store(warehouse, "account_traits", "account_id", product, [*records])


async def test_measures_match_pandas_across_a_berlin_dst_change(warehouse: Warehouse) -> None:
    calls = berlin_calls("prd_hs1")
    await load(warehouse, "prd_hs1", calls)
    await upload(warehouse, "prd_hs1", acme={"seats": 4})

    found = await health.assess(warehouse, "prd_hs1", BERLIN, "account", ON, DEFAULT_SCORECARD)

    expected = expected_measures(calls, {"acme": 4}, BERLIN, ON)
    assert sorted(found) == sorted(expected) == ["acme", "initech"]
    for account, values in expected.items():
        assert found[account].values == pytest.approx(values)
    # Worked by hand too: acme was active on 2, 10 and 31 March (Berlin days), 3 users of 4.
    assert found["acme"].values["active_day_rate"] == pytest.approx(3 / 30)
    assert found["acme"].values["seat_utilisation"] == 0.75
    for account, assessed in found.items():
        assert assessed.scored == DEFAULT_SCORECARD.score(expected[account])


async def test_an_account_with_no_events_is_scored_silent_and_churned_ones_are_left_out(
    warehouse: Warehouse,
) -> None:
    await load(warehouse, "prd_hs2", [("busy", "u1", "2024-03-30T10:00:00Z", "opened")])
    await upload(
        warehouse,
        "prd_hs2",
        quiet={"seats": 10},
        noseats={"name": "No seats"},
        gone={"seats": 5, "churned_at": "2024-03-31T21:00:00Z"},  # 23:00 in Berlin, on ON
        later={"seats": 5, "churned_at": "2024-03-31T23:00:00Z"},  # 1 April in Berlin
    )

    found = await health.assess(warehouse, "prd_hs2", BERLIN, "account", ON, DEFAULT_SCORECARD)

    assert sorted(found) == ["busy", "later", "noseats", "quiet"]
    assert found["quiet"].values == {**health.SILENT, "seat_utilisation": 0.0}
    assert found["noseats"].values == health.SILENT
    # Silent: 0 active days and 0 breadth, the rest missing and re-weighted away.
    assert found["quiet"].scored.score == 0.0
    assert found["quiet"].scored.band == "red"
    assert found["quiet"].scored.contributions == {
        "active_day_rate": 0.0,
        "feature_breadth": 0.0,
        "seat_utilisation": 0.0,
    }


async def test_new_accounts_get_their_own_scorecard_for_their_first_days(
    warehouse: Warehouse,
) -> None:
    await load(
        warehouse,
        "prd_hs3",
        [
            ("fresh", "u1", "2024-03-25T10:00:00Z", "opened"),
            ("old", "u2", "2024-01-05T10:00:00Z", "opened"),
            ("old", "u2", "2024-03-25T10:00:00Z", "opened"),
        ],
    )
    await upload(warehouse, "prd_hs3", signed={"contract_start": "2024-03-20"})
    lenient = health.Scorecard(
        measures=[Measure(name="active_day_rate", points=[(0, 50), (0.1, 100)])]
    )
    card = ProductScorecard(
        measures=DEFAULT_SCORECARD.measures, new_accounts=NewAccounts(days=14, scorecard=lenient)
    )

    found = await health.assess(warehouse, "prd_hs3", BERLIN, "account", ON, card)

    # fresh: first active 25 March, 6 days before; signed: contract from 20 March, 11 days.
    assert {a: f.scorecard for a, f in found.items()} == {
        "fresh": "new_accounts",
        "old": "default",
        "signed": "new_accounts",
    }
    assert found["signed"].scored.score == 50.0  # silent, scored by the lenient card
    assert found["old"].scored == DEFAULT_SCORECARD.score(found["old"].values)


async def test_a_scorecard_is_kept_per_product_and_can_be_reset(warehouse: Warehouse) -> None:
    assert (await scoring.scorecard_of(warehouse, "prd_hs4")).updated_at is None
    card = ProductScorecard(
        measures=[Measure(name="seat_utilisation", points=[(0, 0), (1, 100)])], red_below=30
    )

    await scoring.set_scorecard(warehouse, "prd_hs4", card)
    stored = await scoring.scorecard_of(warehouse, "prd_hs4")
    other = await scoring.scorecard_of(warehouse, "prd_hs5")
    await scoring.set_scorecard(warehouse, "prd_hs4", None)
    reset = await scoring.scorecard_of(warehouse, "prd_hs4")

    assert stored.scorecard == card
    assert other.scorecard is DEFAULT_SCORECARD
    assert reset.scorecard is DEFAULT_SCORECARD
    assert reset.updated_at is not None and reset.updated_at > stored.updated_at  # type: ignore[operator]


async def test_snapshots_keep_each_day_and_only_band_changes_are_sent(
    warehouse: Warehouse,
) -> None:
    sent: list[BandChange] = []
    updated: list[HealthUpdate] = []

    async def publish(changes: list[BandChange], updates: list[HealthUpdate]) -> None:
        sent.extend(changes)
        updated.extend(updates)

    await upload(warehouse, "prd_hs6", acme={"seats": 2}, globex={"seats": 2})
    await load(warehouse, "prd_hs6", [("acme", "u1", "2024-03-29T10:00:00Z", "opened")])
    day1, day2 = ON, ON + timedelta(days=1)

    first = await scoring.score_day(warehouse, publish, "prd_hs6", BERLIN, day1)
    again = await scoring.score_day(warehouse, publish, "prd_hs6", BERLIN, day1)
    # Globex's users arrive: every day of the window active for both seats.
    await load(
        warehouse,
        "prd_hs6",
        [
            ("globex", user, f"{(day2 - timedelta(days=n)).isoformat()}T10:00:00Z", "opened")
            for n in range(30)
            for user in ("g1", "g2")
        ],
    )
    second = await scoring.score_day(warehouse, publish, "prd_hs6", BERLIN, day2)

    assert (first.accounts, again.accounts, second.accounts) == (2, 2, 2)
    assert {(c.account_id, c.previous_band, c.band) for c in first.changes} == {
        ("acme", None, "yellow"),
        ("globex", None, "red"),
    }
    assert again.changes == []
    [change] = second.changes
    assert (change.account_id, change.previous_band, change.band) == ("globex", "red", "green")
    assert (change.previous_score, change.score) == (0.0, 95.9)
    assert sent == first.changes + second.changes
    # Every account, each run; globex's second: its day-1 score as the best of the fortnight,
    # two users in each of the last two weeks.
    assert [(u.account_id, u.day) for u in updated] == [
        (account, day) for day in (day1, day1, day2) for account in ("acme", "globex")
    ]
    last = updated[-1]
    assert (last.previous_band, last.band, last.score_max_14d) == ("red", "green", 0.0)
    assert (last.active_users_7d, last.active_users_prev_7d) == (2, 2)
    assert last.traits == {"seats": 2}
    assert updated[0].score_max_14d is None and updated[0].active_users_7d == 1

    kept = await scoring.snapshots(warehouse, "prd_hs6", day1, day2, "globex")
    assert [(s.day, s.band, s.score) for s in kept] == [(day1, "red", 0.0), (day2, "green", 95.9)]
    # Weights 4, 3, 1.5, 1.5 and 1 (of 11); every measure full but the trend (1.0: 70 points).
    assert kept[1].contributions == {
        "active_day_rate": 36.4,
        "days_since_active": 27.3,
        "usage_trend": 9.5,
        "feature_breadth": 13.6,
        "seat_utilisation": 9.1,
    }
    assert kept[1].measures["usage_trend"] == 1.0


@pytest.mark.parametrize(
    "points",
    [
        [[0, 0], [float("nan"), 50], [1, 100]],
        [[float("-inf"), 0], [1, 100]],
        [[-1e308, 0], [1e308, 100]],
        [[0, 0], [1, float("nan")]],
    ],
)
def test_points_must_be_finite_and_bounded(points: list[list[float]]) -> None:
    with pytest.raises(ValueError, match="points"):
        Measure(name="active_day_rate", points=points)  # type: ignore[arg-type]


def test_key_features_count_once_each() -> None:
    card = ProductScorecard(measures=DEFAULT_SCORECARD.measures, key_features=["a", "a", "b"])
    assert card.key_features == ["a", "b"]


async def test_traits_out_of_range_read_as_missing(warehouse: Warehouse) -> None:
    # Group calls store traits as sent: a date no zone can hold, a number beyond any float.
    rows = [
        ("evil", "churned_at", '"9999-12-31T23:00:00-05:00"'),
        ("evil", "seats", "1" + "0" * 400),
        ("old", "churned_at", '"0001-01-01T00:00:00+05:00"'),
        ("old", "seats", "-3"),
    ]
    block = b"\n".join(
        json.dumps(
            {
                "product_id": "prd_hs7",
                "account_id": account,
                "trait": trait,
                "value": value,
                "updated_at": "2024-03-01 00:00:00.000",
                "source": "group",
            }
        ).encode()
        for account, trait, value in rows
    )
    await warehouse.insert_json_rows("account_traits", None, block)

    found = await health.assess(warehouse, "prd_hs7", BERLIN, "account", ON, DEFAULT_SCORECARD)

    assert sorted(found) == ["evil", "old"]  # neither counts as churned
    assert found["evil"].values["seat_utilisation"] is None
    assert found["old"].values["seat_utilisation"] is None  # negative seats: none


async def test_one_failing_product_does_not_stop_the_others(warehouse: Warehouse) -> None:
    for product in ("prd_hs8", "prd_hs9"):
        await load(warehouse, product, [("acme", "u1", "2024-03-30T10:00:00Z", "opened")])
    broken = b'{"product_id": "prd_hs8", "config": "{\\"measures\\": []}",'
    broken += b' "updated_at": "2024-03-01 00:00:00.000"}'
    await warehouse.insert_json_rows("health_scorecards", None, broken)

    async def publish(changes: list[BandChange], updates: list[HealthUpdate]) -> None:
        pass

    scorer = scoring.Scorer(warehouse, publish, interval_s=3600)
    runs = await scorer.score_all()

    scored = {run.product_id for run in runs}
    assert "prd_hs9" in scored and "prd_hs8" not in scored
    assert scorer.failures == 1


async def test_updates_carry_first_active_day_and_completed_experiences(
    warehouse: Warehouse,
) -> None:
    updated: list[HealthUpdate] = []

    async def publish(changes: list[BandChange], updates: list[HealthUpdate]) -> None:
        updated.extend(updates)

    def completed(user: str, ts: str, experience: str) -> dict[str, object]:
        return make_row(
            "prd_hs10",
            user,
            ts,
            group="acme",
            event="experience_completed",
            properties=json.dumps({"experience_id": experience}),
        )

    await load(warehouse, "prd_hs10", [("acme", "u1", "2024-03-10T10:00:00Z", "opened")])
    await insert(
        warehouse,
        [
            completed("u1", "2024-03-12T10:00:00+00:00", "exp_tour"),
            completed("u2", "2024-03-20T10:00:00+00:00", "exp_list"),
            completed("u2", "2024-04-02T10:00:00+00:00", "exp_later"),  # after the day
        ],
    )
    await upload(warehouse, "prd_hs10", quiet={"seats": 1})

    await scoring.score_day(warehouse, publish, "prd_hs10", BERLIN, ON)

    found = {u.account_id: u for u in updated}
    assert (found["acme"].first_active_day, found["acme"].completed_experiences) == (
        date(2024, 3, 10),
        ["exp_list", "exp_tour"],
    )
    assert (found["quiet"].first_active_day, found["quiet"].completed_experiences) == (None, [])

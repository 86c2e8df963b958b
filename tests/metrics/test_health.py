"""Health measures on a real chDB warehouse, and scorecards' arithmetic."""

from datetime import date

import pytest

from services.metrics import health
from services.metrics.health import Measure, Scorecard
from services.metrics.warehouse import Warehouse
from tests.metrics.factories import insert, make_row

ON = date(2024, 3, 31)


def test_points_join_by_straight_lines_and_stay_flat_beyond_the_ends() -> None:
    measure = Measure(name="active_day_rate", points=[(0, 0), (0.5, 50), (1, 100)])

    assert [measure.score(v) for v in (-1, 0, 0.25, 0.5, 0.75, 1, 2)] == [
        0,
        0,
        25,
        50,
        75,
        100,
        100,
    ]


def test_a_missing_measure_reweights_the_others_and_bands_cut_the_score() -> None:
    card = Scorecard(
        measures=[
            Measure(name="active_day_rate", weight=3, points=[(0, 0), (1, 100)]),
            Measure(name="usage_trend", weight=1, points=[(0, 0), (1, 100)]),
        ]
    )

    both = card.score({"active_day_rate": 0.5, "usage_trend": 1.0})
    alone = card.score({"active_day_rate": 0.5, "usage_trend": None})
    assert (both.score, both.band, both.contributions) == (
        62.5,
        "yellow",
        {"active_day_rate": 37.5, "usage_trend": 25.0},
    )
    assert (alone.score, alone.band) == (50.0, "yellow")
    assert card.score({}).score is None
    assert [card.band(s) for s in (39.9, 40, 69.9, 70)] == ["red", "yellow", "yellow", "green"]


def test_points_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        Measure(name="usage_trend", points=[(1, 0), (0, 100)])


@pytest.mark.integration
async def test_measures_count_days_trend_and_features_in_the_window(warehouse: Warehouse) -> None:
    def call(user: str, day: str, event: str, hour: int = 10) -> dict[str, object]:
        return make_row("prd_h1", user, f"{day}T{hour:02d}:00:00.000Z", group="acme", event=event)

    rows = [
        call("busy", "2024-03-31", "opened"),
        call("busy", "2024-03-31", "exported", 11),
        call("busy", "2024-03-25", "opened"),
        call("busy", "2024-03-10", "opened"),  # 14-27 days ago: the trend's earlier half
        call("busy", "2024-03-01", "opened"),  # 30 days before: outside the window
        call("faded", "2024-03-05", "opened"),
        call("faded", "2024-03-06", "opened"),
        call("other", "2024-03-20", "shared"),
    ]
    await insert(warehouse, rows)
    card = Scorecard(measures=health.DEFAULT_SCORECARD.measures, window_days=30, trend_days=14)

    users = await health.measure(warehouse, "prd_h1", "user", ON, card)
    accounts = await health.measure(warehouse, "prd_h1", "account", ON, card)
    assert users["busy"] == {
        "active_day_rate": 3 / 30,
        "days_since_active": 0.0,
        "usage_trend": 3.0,  # 3 calls against 1: capped at 3
        "feature_breadth": 2 / 3,
        "seat_utilisation": None,  # users have no seats
    }
    assert users["faded"] == {
        "active_day_rate": 2 / 30,
        "days_since_active": 25.0,
        "usage_trend": 0.0,
        "feature_breadth": 1 / 3,
        "seat_utilisation": None,
    }
    assert accounts["acme"]["active_day_rate"] == 6 / 30
    assert accounts["acme"]["usage_trend"] == 4 / 3

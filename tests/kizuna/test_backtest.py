"""`kizuna health backtest`'s arithmetic, against counts worked out by hand."""

import itertools
from pathlib import Path

import pytest

from kizuna.backtest import WEIGHT_GRID, Case, _report, evaluate, read_labels, tune
from kizuna.replay import UsageError
from services.metrics.health import SILENT, Measure, Scorecard

CARD = Scorecard(
    measures=[
        Measure(name="active_day_rate", points=[(0, 0), (1, 100)]),
        Measure(name="usage_trend", points=[(0, 0), (1, 100)]),
    ]
)


def case(number: int, rate: float, trend: float, churned: bool) -> Case:
    return Case(str(number), {"active_day_rate": rate, "usage_trend": trend}, churned, "g")


def pair_auc(cases: list[Case], card: Scorecard) -> float:
    """The share of (churned, retained) pairs where the churned one scored lower; ties half."""
    score = {c.id: card.score(c.values).score or 0 for c in cases}
    pairs = list(
        itertools.product([c for c in cases if c.churned], [c for c in cases if not c.churned])
    )
    wins = sum(
        1.0 if score[a.id] < score[b.id] else 0.5 if score[a.id] == score[b.id] else 0.0
        for a, b in pairs
    )
    return wins / len(pairs)


CASES = [
    case(1, 0.1, 0.9, True),
    case(2, 0.2, 0.1, True),
    case(3, 0.3, 0.8, True),
    case(4, 0.9, 0.2, False),
    case(5, 0.5, 0.5, False),
    case(6, 0.2, 0.1, False),
]


def test_auc_bands_and_catch_match_a_count_by_hand() -> None:
    result = evaluate(CARD, CASES)

    assert result.auc == pytest.approx(pair_auc(CASES, CARD))
    # Scores: 50, 15, 55, 55, 50, 15 -> red: cases 2 and 6 (one churned of three).
    assert (result.red_share, result.red_catch) == (2 / 6, 1 / 3)
    assert result.by_band[0] == ("red", 2, 0.5)
    assert result.silent == (0, 0.0)
    # Per 10 points: 15 (two, one churned), 50 (two, one), 55 (two, one).
    assert result.calibration == [
        (0, 0, None),
        (10, 2, 0.5),
        *[(low, 0, None) for low in (20, 30, 40)],
        (50, 4, 0.5),
        *[(low, 0, None) for low in (60, 70, 80, 90)],
    ]


def test_a_score_of_100_is_in_the_top_row_of_the_calibration_table() -> None:
    cases = [case(1, 1.0, 1.0, False), case(2, 0.0, 0.0, True)]

    assert evaluate(CARD, cases).calibration[-1] == (90, 1, 0.0)
    assert evaluate(CARD, cases).calibration[0] == (0, 1, 1.0)


def test_tuning_picks_the_weights_with_the_best_auc() -> None:
    tuned = tune(CARD, CASES)

    def weighted(weights: tuple[float, ...]) -> Scorecard:
        pairs = zip(CARD.measures, weights, strict=True)
        return CARD.model_copy(
            update={"measures": [m.model_copy(update={"weight": w}) for m, w in pairs]}
        )

    every = [weighted(ws) for ws in itertools.product(WEIGHT_GRID, repeat=2)]
    best = max(pair_auc(CASES, card) for card in every)
    assert evaluate(tuned, CASES).auc == pytest.approx(best)
    assert best > pair_auc(CASES, CARD)  # equal weights are not the best here


def test_a_labels_file_needs_both_outcomes_and_0_or_1(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("id,churned\na,1\nb,yes\n")
    with pytest.raises(UsageError, match="line 3"):
        read_labels(path)
    path.write_text("id,churned\na,1\nb,1\n")
    with pytest.raises(UsageError, match="both"):
        read_labels(path)


def test_tuning_leaves_a_measure_no_case_has_at_its_weight() -> None:
    seats = Measure(name="seat_utilisation", weight=1.5, points=[(0, 0), (1, 100)])
    card = CARD.model_copy(update={"measures": [*CARD.measures, seats]})

    tuned = tune(card, CASES)

    assert tuned.measures[2].weight == 1.5
    assert evaluate(tuned, CASES).auc == pytest.approx(evaluate(tune(CARD, CASES), CASES).auc)


def test_a_report_where_most_cases_are_silent_warns(capsys: pytest.CaptureFixture[str]) -> None:
    cases = [Case(str(n), SILENT, n % 2 == 0, "g") for n in range(3)]
    cases.append(case(9, 0.5, 0.5, False))

    _report({"card": evaluate(CARD, cases)})
    quiet = capsys.readouterr().out
    _report({"card": evaluate(CARD, CASES)})

    assert "no activity by the cut-off: 3 cases" in quiet and "warning: most cases" in quiet
    assert "warning" not in capsys.readouterr().out

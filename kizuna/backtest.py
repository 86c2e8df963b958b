"""`kizuna health backtest`: how well health scores at a cut-off predicted the churn that came.

    kizuna health backtest labels FILE.csv --date 2014-06-08 [--account A] [--level user]
    kizuna health backtest xuetangx DIR [--tune-on C1038,C1187A,...]

Measures come from the metrics service (`GET /v1/health/scores`), scored with the product's
scorecard or --scorecard FILE; labels from a CSV file (`id,churned` with churned 0 or 1), or,
for XuetangX, from `dropout`: each user scored on the 15th day of their course's window. An id
that has no score at the cut-off (no activity yet) is scored as silent. Reported: ROC AUC
(higher scores should mean less churn), how much of the churn the red band caught, churn by band
and by score decile, and a calibration table: churn per 10 points of score.

With --tune-on, the measures' weights are fitted on those courses (a grid, best AUC) and both
scorecards are measured on the other courses.
"""

import argparse
import csv
import itertools
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from kizuna import scorecards
from kizuna.replay import UsageError
from services.metrics.health import SILENT, ProductScorecard, Scorecard

XUETANGX_SCORED_DAY = 14  # days after the window's start: its 15th day
WEIGHT_GRID = (1.0, 2.0, 4.0)
CALIBRATION_STEP = 10  # points per row of the calibration table

Values = dict[str, float | None]


@dataclass(frozen=True)
class Case:
    """One user (or account): its measures at the cut-off, whether it churned, its group."""

    id: str
    values: Values
    churned: bool
    group: str


def add_parser(actions: Any) -> None:
    backtest = actions.add_parser("backtest", help="score at a cut-off, compare with later churn")
    sources = backtest.add_subparsers(dest="source", required=True, metavar="SOURCE")

    labels = sources.add_parser("labels", help="churn labels from a CSV file (id,churned)")
    labels.add_argument("file", type=Path)
    labels.add_argument("--date", type=date.fromisoformat, required=True, help="the cut-off")
    labels.add_argument("--account", help="score this account's users (with --level user)")
    labels.add_argument("--level", choices=("account", "user"), default="account")
    _common(labels)
    labels.set_defaults(handler=run_labels)

    xtx = sources.add_parser("xuetangx", help="the XuetangX dataset: users against dropout")
    xtx.add_argument("dir", type=Path, help="the dataset directory (holds enrollments.csv)")
    xtx.add_argument("--tune-on", help="comma-separated course ids to fit weights on")
    _common(xtx)
    xtx.set_defaults(handler=run_xuetangx)


def _common(parser: argparse.ArgumentParser) -> None:
    scorecards.common(parser)
    parser.add_argument(
        "--scorecard",
        type=Path,
        help="score with this YAML or JSON scorecard (default: the product's)",
    )


def run_labels(args: argparse.Namespace) -> int:
    try:
        labels = read_labels(args.file)
        client = scorecards.client(args)
        with client:
            title, card = scorecard_for(args, client)
            measured = fetch(client, args.product, args.date, args.level, args.account)
    except UsageError as exc:
        print(f"kizuna health: {exc}", file=sys.stderr)
        return 2
    cases = [Case(i, measured.get(i, SILENT), churned, "all") for i, churned in labels.items()]
    return _report({title: evaluate(card, cases)})


def run_xuetangx(args: argparse.Namespace) -> int:
    try:
        enrollments = read_enrollments(args.dir / "enrollments.csv")
        client = scorecards.client(args)
        courses = sorted({e.group for e in enrollments.values()})
        train = set(args.tune_on.split(",")) if args.tune_on else set()
        if train - set(courses):
            raise UsageError(
                f"unknown --tune-on course(s): {', '.join(sorted(train - set(courses)))}"
            )
    except UsageError as exc:
        print(f"kizuna health: {exc}", file=sys.stderr)
        return 2

    starts = read_window_starts(args.dir / "courses.csv")
    cases = []
    with client:
        try:
            title, card = scorecard_for(args, client)
        except UsageError as exc:
            print(f"kizuna health: {exc}", file=sys.stderr)
            return 2
        for course in courses:
            cutoff = starts[course] + timedelta(days=XUETANGX_SCORED_DAY)
            measured = fetch(client, args.product, cutoff, "user", course)
            cases += [
                Case(e.id, measured.get(e.id, SILENT), e.churned, course)
                for e in enrollments.values()
                if e.group == course
            ]
    if not train:
        return _report({f"{title}, every course": evaluate(card, cases)})
    fitted, held_out = (
        [c for c in cases if c.group in train],
        [c for c in cases if c.group not in train],
    )
    tuned = tune(card, fitted)
    weights = ", ".join(f"{m.name} {m.weight:g}" for m in tuned.measures)
    return _report(
        {
            f"{title}, {len(courses) - len(train)} held-out courses": evaluate(card, held_out),
            f"tuned on {len(train)} courses ({weights}), held-out courses": evaluate(
                tuned, held_out
            ),
        }
    )


def scorecard_for(args: argparse.Namespace, client: httpx.Client) -> tuple[str, Scorecard]:
    """The scorecard to measure, and what to call it: --scorecard's file, else the product's
    (the default one unless it was set)."""
    if args.scorecard:
        try:
            card = ProductScorecard.model_validate(scorecards.read_file(args.scorecard))
        except ValidationError as exc:
            raise UsageError(f"{args.scorecard} is not a scorecard: {exc}") from exc
        return f"scorecard {args.scorecard.name}", card
    response = client.get("/v1/health/scorecard", params={"product": args.product})
    if response.status_code != 200:
        raise SystemExit(
            f"kizuna health: the metrics service answered {response.status_code}: {response.text}"
        )
    found = response.json()
    title = "the product's scorecard" if found["configured"] else "default scorecard"
    return title, ProductScorecard.model_validate(found["scorecard"])


def fetch(
    client: httpx.Client, product: str, on: date, level: str, account: str | None
) -> dict[str, Values]:
    params = {"product": product, "date": on.isoformat(), "level": level}
    if account:
        params["account"] = account
    response = client.get("/v1/health/scores", params=params)
    if response.status_code != 200:
        raise SystemExit(
            f"kizuna health: the metrics service answered {response.status_code}: {response.text}"
        )
    return {row["id"]: row["measures"] for row in response.json()}


def read_labels(path: Path) -> dict[str, bool]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    labels = {}
    for line, row in enumerate(rows, start=2):
        if row.get("churned") not in ("0", "1") or not row.get("id"):
            raise UsageError(f"{path} line {line}: needs an id and churned 0 or 1")
        labels[row["id"]] = row["churned"] == "1"
    if not labels or len(set(labels.values())) < 2:
        raise UsageError(f"{path}: the labels need both churned and retained ids")
    return labels


def read_enrollments(path: Path) -> dict[str, Case]:
    try:
        with path.open(newline="") as handle:
            return {
                row["enrollment_id"]: Case(
                    row["enrollment_id"], {}, row["dropout"] == "1", row["course_id"]
                )
                for row in csv.DictReader(handle)
            }
    except (OSError, KeyError) as exc:
        raise UsageError(f"cannot read {path}: {exc!r}") from exc


def read_window_starts(path: Path) -> dict[str, date]:
    with path.open(newline="") as handle:
        return {
            row["course_id"]: date.fromisoformat(row["window_start"])
            for row in csv.DictReader(handle)
        }


@dataclass(frozen=True)
class Evaluation:
    cases: int
    churn_rate: float
    auc: float
    red_share: float  # of every case, in the red band
    red_catch: float  # of the churned, in the red band
    by_band: list[tuple[str, int, float]]  # band, cases, churn rate
    by_decile: list[tuple[str, int, float]]  # score range, cases, churn rate
    calibration: list[tuple[int, int, float | None]]  # score from, cases, churn rate
    silent: tuple[int, float]  # cases with no activity by the cut-off, their churn rate


def evaluate(card: Scorecard, cases: list[Case]) -> Evaluation:
    scored = [(card.score(c.values).score or 0.0, c.churned) for c in cases]
    scores, churned = [s for s, _ in scored], [c for _, c in scored]
    auc = roc_auc_score(churned, [-s for s in scores])  # a low score should mean churn
    bands = [(card.band(s), c) for s, c in scored]
    churners = sum(churned)
    by_band = []
    for band in ("red", "yellow", "green"):
        members = [c for b, c in bands if b == band]
        by_band.append((band, len(members), sum(members) / len(members) if members else 0.0))
    ordered = sorted(scored, key=lambda pair: pair[0])  # ties keep their order, not by outcome
    by_decile = []
    for number in range(10):
        part = ordered[number * len(ordered) // 10 : (number + 1) * len(ordered) // 10]
        if part:
            span = f"{part[0][0]:.0f}-{part[-1][0]:.0f}"
            by_decile.append((span, len(part), sum(c for _, c in part) / len(part)))
    rows = 100 // CALIBRATION_STEP
    binned: list[list[bool]] = [[] for _ in range(rows)]
    for score, outcome in scored:  # 100 joins the top row
        binned[min(int(score // CALIBRATION_STEP), rows - 1)].append(outcome)
    calibration = [
        (n * CALIBRATION_STEP, len(m), sum(m) / len(m) if m else None) for n, m in enumerate(binned)
    ]
    red = [c for b, c in bands if b == "red"]
    quiet = [c.churned for c in cases if c.values is SILENT]
    return Evaluation(
        cases=len(cases),
        churn_rate=churners / len(cases),
        auc=float(auc),
        red_share=len(red) / len(cases),
        red_catch=sum(red) / churners if churners else 0.0,
        by_band=by_band,
        by_decile=by_decile,
        calibration=calibration,
        silent=(len(quiet), sum(quiet) / len(quiet) if quiet else 0.0),
    )


def tune(card: Scorecard, cases: list[Case]) -> Scorecard:
    """The card with the measures' weights from WEIGHT_GRID that give the best AUC on `cases`
    (a measure no case has a value for keeps its weight)."""
    valued = {name for c in cases for name, value in c.values.items() if value is not None}
    tuned = [i for i, m in enumerate(card.measures) if m.name in valued]
    best, best_auc = card, -1.0
    for weights in itertools.product(WEIGHT_GRID, repeat=len(tuned)):
        measures = list(card.measures)
        for index, weight in zip(tuned, weights, strict=True):
            measures[index] = measures[index].model_copy(update={"weight": weight})
        candidate = card.model_copy(update={"measures": measures})
        auc = evaluate(candidate, cases).auc
        if auc > best_auc:
            best, best_auc = candidate, auc
    return best


def _report(results: dict[str, Evaluation]) -> int:
    for title, result in results.items():
        print(f"\n{title}: {result.cases:,} cases, churn {result.churn_rate:.1%}")
        print(f"  ROC AUC {result.auc:.3f}")
        print(
            f"  red band: {result.red_share:.1%} of cases, catching {result.red_catch:.1%} of churn"
        )
        count, rate = result.silent
        print(f"  no activity by the cut-off: {count:,} cases, churn {rate:.1%}")
        if count > result.cases / 2:
            print(
                "  warning: most cases had no activity by their cut-off; does the stack hold"
                " their events (for XuetangX, `make demo` replays them all)?"
            )
        print("  band     cases   churn")
        for band, count, rate in result.by_band:
            print(f"  {band:<7} {count:>6,}  {rate:6.1%}")
        print("  score decile   cases   churn")
        for span, count, rate in result.by_decile:
            print(f"  {span:<12} {count:>6,}  {rate:6.1%}")
        print("  calibration: churn by score")
        print("  score     cases   churn")
        for low, members, share in result.calibration:
            churn = f"{share:6.1%}" if share is not None else "     -"
            print(f"  {low:>3}-{low + CALIBRATION_STEP:<4} {members:>6,}  {churn}")
    return 0

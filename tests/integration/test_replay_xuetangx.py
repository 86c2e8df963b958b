"""Three whole XuetangX courses replayed through HTTP give the figures pandas counts on the CSV."""

import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.integration.conftest import RunningStack, eventually

pytestmark = pytest.mark.integration

# The three smallest courses (87,002 events, 2,312 users); two of them overlap in time.
COURSES = ["C769", "C645", "C898"]


@pytest.fixture(scope="module")
def usage(xuetangx_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(xuetangx_dir / "usage_daily.csv", dtype={"enrollment_id": str})
    return frame[frame.course_id.isin(COURSES)]


@pytest.fixture(scope="module")
def product(running: RunningStack, xuetangx_dir: Path, usage: pd.DataFrame) -> str:
    """A fresh product holding the three courses, replayed once and fully queryable."""
    slug = f"xtx-{uuid.uuid4().hex[:8]}"
    with running.api("content") as api:
        created = api.post("/v1/products", json={"slug": slug, "name": "XuetangX"})
    assert created.status_code == 201, created.text
    write_key = created.json()["write_key"]["key"]

    replay(running, xuetangx_dir, write_key, COURSES)
    for course, expected in usage.groupby("course_id")["total"].sum().items():
        eventually(lambda c=course, n=expected: tracked(running, slug, c, usage) == n, 120)
    return slug


def replay(running: RunningStack, data: Path, write_key: str, courses: list[str]) -> str:
    command = [sys.executable, "-m", "kizuna.cli", "replay", "xuetangx", str(data)]
    command += ["--courses", ",".join(courses), "--host", running.url("ingest")]
    command += ["--write-key", write_key]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def metrics(running: RunningStack, path: str, **params: Any) -> dict[str, Any]:
    with running.api("metrics") as api:
        response = api.get(f"/v1/metrics/{path}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def window(usage: pd.DataFrame, course: str) -> tuple[str, str]:
    dates = usage[usage.course_id == course].date
    return dates.min(), dates.max()


def tracked(running: RunningStack, slug: str, course: str, usage: pd.DataFrame) -> int:
    start, end = window(usage, course)
    body = metrics(
        running, "events", product=slug, account=course, start=start, end=end, interval="month"
    )
    return sum(point["events"] for point in body["series"])


@pytest.mark.parametrize("course", COURSES)
def test_dau_per_day_equals_pandas(
    running: RunningStack, product: str, usage: pd.DataFrame, course: str
) -> None:
    start, end = window(usage, course)
    body = metrics(running, "active-users", product=product, account=course, start=start, end=end)
    served = {point["period_start"]: point["active_users"] for point in body["series"]}

    rows = usage[usage.course_id == course]
    expected = rows.groupby("date").enrollment_id.nunique().to_dict()
    days = pd.date_range(start, end).strftime("%Y-%m-%d")
    assert served == {day: int(expected.get(day, 0)) for day in days}


@pytest.mark.parametrize("course", COURSES)
def test_30_day_mau_and_stickiness_equal_pandas(
    running: RunningStack, product: str, usage: pd.DataFrame, course: str
) -> None:
    _, end = window(usage, course)
    body = metrics(running, "stickiness", product=product, account=course, date=end)

    rows = usage[usage.course_id == course]
    last = date.fromisoformat(end)

    def users_since(days: int) -> int:
        first = (last - timedelta(days=days - 1)).isoformat()
        return int(rows[(rows.date >= first) & (rows.date <= end)].enrollment_id.nunique())

    assert (body["dau"], body["wau"], body["mau"]) == (
        users_since(1),
        users_since(7),
        users_since(30),
    )
    assert body["dau_mau"] == round(users_since(1) / users_since(30), 4)


def test_all_courses_together_equal_pandas(
    running: RunningStack, product: str, usage: pd.DataFrame
) -> None:
    start, end = usage.date.min(), usage.date.max()
    body = metrics(running, "active-users", product=product, start=start, end=end, interval="week")
    weeks = pd.to_datetime(usage.date).dt.to_period("W-SUN").dt.start_time.dt.strftime("%Y-%m-%d")
    expected = usage.assign(week=weeks).groupby("week").enrollment_id.nunique().to_dict()
    assert {p["period_start"]: p["active_users"] for p in body["series"]} == expected


def test_a_replay_done_twice_counts_once(
    running: RunningStack, product: str, usage: pd.DataFrame, xuetangx_dir: Path
) -> None:
    course = COURSES[0]
    start, end = window(usage, course)
    before = metrics(running, "active-users", product=product, account=course, start=start, end=end)
    written_before = rows_written(running)

    with running.api("content") as api:
        write_key = api.get(f"/v1/products/{product}/write-keys").json()[0]["key"]
    replay(running, xuetangx_dir, write_key, [course])

    # Wait until the consumer has written every message of the second replay again.
    rows = usage[usage.course_id == course]
    resent = int(rows.total.sum()) + rows.enrollment_id.nunique()
    eventually(lambda: rows_written(running) >= written_before + resent, 120)
    after = metrics(running, "active-users", product=product, account=course, start=start, end=end)
    assert after == before
    assert tracked(running, product, course, usage) == int(rows.total.sum())


def rows_written(running: RunningStack) -> int:
    with running.api("metrics") as api:
        written: int = api.get("/healthz").json()["rows_written"]
    return written

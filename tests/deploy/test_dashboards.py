"""The Grafana dashboards: well formed, and every panel's query, with the ClickHouse plugin's
macros and the dashboard's variables expanded, runs against a warehouse the real pipeline
filled and returns the columns the panel shows.

The stack here writes to ClickHouse over HTTP (the metrics service's async client) through the
test-only front over chDB (chdb_http.py): the panels are read the way Grafana reads them.
"""

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import clickhouse_connect
import pytest
import yaml

from tests.conftest import REPO, free_port
from tests.integration.conftest import RunningStack, eventually, start_stack

DASHBOARDS = sorted((REPO / "deploy/grafana/dashboards").glob("*.json"))
DATASOURCES = REPO / "deploy/grafana/provisioning/datasources/clickhouse.yaml"
VARIABLE = re.compile(r"\$\{(\w+)\}")
DAY = date(2023, 3, 15)  # the dashboards are read for March 2023
FROM, TO = datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 3, 31, 23, 59, 59, tzinfo=UTC)


def panels() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        found += [(f"{path.stem}: {p['title']}", p) for p in board["panels"]]
    return found


def test_dashboards_are_well_formed() -> None:
    [source] = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    uids = set()
    assert len(DASHBOARDS) == 4
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        variables = {v["name"] for v in board["templating"]["list"]}
        ids = [p["id"] for p in board["panels"]]
        assert len(set(ids)) == len(ids), path
        for panel in board["panels"]:
            [target] = panel["targets"]
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
            assert panel["datasource"]["uid"] == target["datasource"]["uid"] == source["uid"]
            assert set(VARIABLE.findall(target["rawSql"])) <= variables, panel["title"]
            [organize] = panel["transformations"]
            assert organize["options"]["renameByName"], panel["title"]
        for variable in board["templating"]["list"]:
            assert set(VARIABLE.findall(variable["query"])) <= variables - {variable["name"]}
    assert len(uids) == len(DASHBOARDS)


def expand(sql: str, variables: dict[str, str], start: datetime, end: datetime) -> str:
    """The SQL Grafana's ClickHouse plugin sends: its macros, then the variables."""
    first, last = int(start.timestamp()), int(end.timestamp())
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: f"{m[1]} >= toDateTime({first}) AND {m[1]} <= toDateTime({last})",
        sql,
    )
    sql = sql.replace("$__fromTime", f"toDateTime({first})")
    sql = sql.replace("$__toTime", f"toDateTime({last})")
    sql = sql.replace("$__interval_s", "86400")
    return VARIABLE.sub(lambda m: variables[m[1]], sql)


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The HTTP front over a chDB directory of its own, in a process of its own."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.deploy.chdb_http",
            str(tmp_path_factory.mktemp("ch")),
            str(port),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None and b"listening" in process.stdout.readline()
    yield f"http://default:@127.0.0.1:{port}/default?compress=false"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def filled(front: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A stack on the front, fed through ingest, scored, with a rule's tasks; the variables."""
    running = start_stack(tmp_path_factory.mktemp("stack"), clickhouse_url=front)
    try:
        yield feed(running)
    finally:
        running.stack.stop()


def track(user: str, account: str, day: date, event: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": event,
        "properties": properties,
        "timestamp": f"{day}T10:00:00Z",
        "context": {"groupId": account},
    }


def feed(running: RunningStack) -> dict[str, str]:
    checklist = {"experience_id": "exp_onb", "experience_kind": "checklist"}
    calls = [
        *[
            track(f"a{u}", "acme", DAY - timedelta(days=n), "opened")
            for u in (1, 2)
            for n in range(10)
        ],
        track("g1", "globex", DAY - timedelta(days=12), "opened"),
        track("g1", "globex", DAY - timedelta(days=12), "experience_shown", **checklist),
        track("a1", "acme", DAY, "experience_shown", **checklist),
        track("a1", "acme", DAY, "checklist_item_completed", item_id="invite", **checklist),
        track("a1", "acme", DAY, "experience_completed", **checklist),
        track("a2", "acme", DAY, "experience_shown", **checklist),
        *[
            track(
                user,
                account,
                day,
                "survey_answered",
                question_type="nps",
                score=score,
                experience_id="exp_nps",
                experience_kind="survey",
            )
            for user, account, score, day in (
                ("a1", "acme", 10, DAY),
                ("a2", "acme", 7, DAY),
                ("a3", "acme", 3, DAY),
                ("g1", "globex", 9, DAY - timedelta(days=12)),
            )
        ],
    ]
    demo = {"product": "demo"}
    with running.ingest() as ingest:
        assert ingest.post("/v1/batch", json={"batch": calls}).status_code == 200
    with running.api("metrics") as metrics, running.api("rules") as rules:
        accounts = [
            {"id": "acme", "name": "Acme", "mrr": 1000, "seats": 4, "owner": "kim@v.example"},
            {"id": "globex", "name": "Globex", "mrr": 500, "owner": "lee@v.example"},
        ]
        assert metrics.post("/v1/accounts/bulk", params=demo, json={"accounts": accounts})
        rule = {
            "name": "red",
            "definition": {
                "trigger": {"type": "health"},
                "conditions": [{"field": "health.band", "op": "eq", "value": "red"}],
                "task": {"title": "{account.name} is red", "assign": {"to": "owner"}},
            },
        }
        assert rules.post("/v1/rules", params=demo, json=rule).status_code == 201

        def counted() -> bool:
            params = {**demo, "start": str(DAY), "end": str(DAY), "event": "survey_answered"}
            series = metrics.get("/v1/metrics/events", params=params).json()["series"]
            assert series[0]["events"] == 3, series  # the three of that day
            return True

        eventually(counted)
        for day in (DAY - timedelta(days=1), DAY):
            assert metrics.post("/v1/health/snapshots", params={**demo, "date": str(day)})
        scores = metrics.get("/v1/health/scores", params={**demo, "date": str(DAY)}).json()
        assert {s["id"]: s["band"] for s in scores} == {"acme": "green", "globex": "red"}

        def tasks_kept() -> bool:
            assert metrics.get("/healthz").json()["task_events_written"] >= 1
            return True

        eventually(tasks_kept)
    with running.api("content") as content:
        product = content.get("/v1/products/demo").json()["id"]
    return {"product": product, "account": "globex", "checklist": "exp_onb"}


@pytest.mark.integration
@pytest.mark.parametrize(("title", "panel"), panels(), ids=[t for t, _ in panels()])
def test_each_panel_returns_its_columns_from_pipeline_data(
    front: str, filled: dict[str, str], title: str, panel: dict[str, Any]
) -> None:
    client = clickhouse_connect.get_client(dsn=front, autogenerate_session_id=False)
    sql = expand(panel["targets"][0]["rawSql"], filled, FROM, TO)

    result = client.query(sql)

    shown = set(panel["transformations"][0]["options"]["renameByName"])
    assert set(result.column_names) == shown
    assert result.result_rows, f"{title}: no rows"
    if panel["targets"][0]["queryType"] == "timeseries":
        assert all(isinstance(row[0], datetime) for row in result.result_rows)


@pytest.mark.integration
def test_panels_agree_with_what_was_sent(front: str, filled: dict[str, str]) -> None:
    client = clickhouse_connect.get_client(dsn=front, autogenerate_session_id=False)
    by_title = {title: panel for title, panel in panels()}

    def read(title: str) -> list[tuple[Any, ...]]:
        sql = expand(by_title[title]["targets"][0]["rawSql"], filled, FROM, TO)
        return [tuple(row) for row in client.query(sql).result_rows]

    # Answers 10, 7, 3 and 9: two promoters, one detractor of four.
    assert read("cs-overview: NPS") == [(25.0, 4)]
    assert read("cs-overview: Onboarding completion by checklist") == [
        ("exp_onb", 3, 1, pytest.approx(1 / 3))
    ]
    assert read("onboarding-funnel: Users who completed each item") == [("invite", 1)]
    # globex went quiet 12 days before: red, and its task is Lee's.
    assert read("account: Tasks")[0][:5] == (
        "Globex is red",
        "other",
        "medium",
        "open",
        "lee@v.example",
    )
    [(account, name, _, mrr, owner)] = read("cs-overview: At-risk accounts")
    assert (account, name, mrr, owner) == ("globex", "Globex", 500.0, "lee@v.example")
    assert read("cs-overview: Open tasks by CSM") == [("lee@v.example", 1)]

"""Rules through the running stack: accounts uploaded to metrics, scored, their health updates
on Kafka, tasks raised by the rules service once, and a webhook called; an NPS answer sent
through ingest raises a detractor task."""

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integration.conftest import RunningStack, eventually

pytestmark = pytest.mark.integration

DAY = "2024-06-01"
SECRET = "integration-secret-123"


@pytest.fixture
def hook() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    calls: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/kizuna", calls
    server.shutdown()


def test_health_and_nps_rules_raise_one_task_each_for_the_right_accounts(
    running: RunningStack, hook: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, calls = hook
    tag = uuid.uuid4().hex[:6]
    near, far, unhappy, happy = (f"{name}-{tag}" for name in ("near", "far", "unhappy", "happy"))
    demo = {"product": "demo"}
    red_near_renewal = {
        "name": f"red near renewal {tag}",
        "definition": {
            "trigger": {"type": "health"},
            "conditions": [
                {"field": "health.band", "op": "eq", "value": "red"},
                {"field": "account.renewal_in_days", "op": "lte", "value": 60},
                {"field": "account.id", "op": "in", "value": [near, far]},
            ],
            "task": {
                "title": "{account.name} is red before renewal",
                "type": "renewal",
                "assign": {"to": "owner"},
            },
            "webhook": {"url": url, "secret": SECRET},
        },
    }
    detractor = {
        "name": f"detractor {tag}",
        "definition": {
            "trigger": {"type": "event", "event": "survey_answered"},
            "conditions": [
                {"field": "event.nps_score", "op": "lte", "value": 6},
                {"field": "account.id", "op": "in", "value": [unhappy, happy]},
            ],
            "task": {"title": "NPS {event.nps_score} at {account.id}", "type": "risk"},
        },
    }
    with running.api("rules") as rules, running.api("metrics") as metrics:
        refused = rules.post(
            "/v1/rules",
            params=demo,
            json={**detractor, "definition": {**detractor["definition"], "for_days": 3}},
        )
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid_input")
        health_rule = rules.post("/v1/rules", params=demo, json=red_near_renewal)
        assert health_rule.status_code == 201, health_rule.text
        assert rules.post("/v1/rules", params=demo, json=detractor).status_code == 201
        accounts = [
            {"id": near, "name": "Near Co", "renewal_date": "2024-07-01", "owner": "kim@v.example"},
            {"id": far, "name": "Far Co", "renewal_date": "2025-03-01", "owner": "lee@v.example"},
        ]
        assert metrics.post("/v1/accounts/bulk", params=demo, json={"accounts": accounts})
        # Silent accounts: score 0, red. Scored twice: the second run raises nothing more.
        for _ in range(2):
            run = metrics.post("/v1/health/snapshots", params={**demo, "date": DAY})
            assert run.status_code == 200, run.text

        def near_task() -> dict[str, Any]:
            found = rules.get("/v1/tasks", params={**demo, "account": near}).json()
            assert len(found) == 1, found
            return dict(found[0])

        task = eventually(near_task)
        assert (task["title"], task["assignee"], task["type"]) == (
            "Near Co is red before renewal",
            "kim@v.example",
            "renewal",
        )
        preview = rules.post(f"/v1/rules/{health_rule.json()['id']}/preview", params=demo)
        assert preview.json()["accounts"] == [near]

    with running.ingest() as ingest:
        for account, score in ((unhappy, 3), (happy, 9)):
            call = {
                "userId": f"u-{account}",
                "event": "survey_answered",
                "properties": {"question_type": "nps", "score": score},
                "context": {"groupId": account},
            }
            assert ingest.post("/v1/track", json=call).status_code == 200

    with running.api("rules") as rules:

        def nps_task() -> dict[str, Any]:
            found = rules.get("/v1/tasks", params={**demo, "account": unhappy}).json()
            assert len(found) == 1, found
            return dict(found[0])

        assert eventually(nps_task)["title"] == f"NPS 3 at {unhappy}"
        # Both scorings' updates were handled by now (they came first), and the NPS answers.
        assert rules.get("/v1/tasks", params={**demo, "account": far}).json() == []
        assert rules.get("/v1/tasks", params={**demo, "account": happy}).json() == []
        assert rules.get("/v1/tasks", params={**demo, "account": near}).json()[0]["fired"] == 1

        done = rules.patch(
            f"/v1/tasks/{task['id']}", params=demo, json={"status": "done", "notes": "called"}
        )
        assert (done.json()["status"], done.json()["notes"]) == ("done", "called")
        history = rules.get(f"/v1/tasks/{task['id']}/history", params=demo).json()
        assert [h["kind"] for h in history] == ["created", "closed", "updated"]

    def kept_in_clickhouse() -> bool:
        with running.api("metrics") as metrics:
            # created (near), created (unhappy), closed and updated (near), at least.
            return bool(metrics.get("/healthz").json()["task_events_written"] >= 4)

    assert eventually(kept_in_clickhouse)

    def called() -> bool:
        return any(json.loads(body)["task"]["account_id"] == near for _, body in calls)

    assert eventually(called)
    headers, body = next(c for c in calls if json.loads(c[1])["task"]["account_id"] == near)
    signed = headers["X-Kizuna-Timestamp"].encode() + b"." + body
    digest = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-Kizuna-Signature"] == f"sha256={digest}"
    assert json.loads(body)["event"] == "task.created"


def test_tasks_are_snoozed_woken_filtered_and_closed_over_rest(running: RunningStack) -> None:
    account = f"snooze-{uuid.uuid4().hex[:6]}"
    demo = {"product": "demo"}
    body = {
        "name": f"any answer {account}",
        "definition": {
            "trigger": {"type": "event", "event": "survey_answered"},
            "conditions": [{"field": "account.id", "op": "eq", "value": account}],
            "task": {"title": "Answer at {account.id}", "priority": "low", "type": "other"},
        },
    }
    with running.api("rules") as rules:
        assert rules.post("/v1/rules", params=demo, json=body).status_code == 201
        with running.ingest() as ingest:
            call = {"userId": "u", "event": "survey_answered", "context": {"groupId": account}}
            assert ingest.post("/v1/track", json=call).status_code == 200

        def raised() -> dict[str, Any]:
            found = rules.get("/v1/tasks", params={**demo, "account": account}).json()
            assert len(found) == 1, found
            return dict(found[0])

        task = eventually(raised)
        path = f"/v1/tasks/{task['id']}"
        no_end = rules.patch(path, params=demo, json={"status": "snoozed"})
        soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        snoozed = rules.patch(path, params=demo, json={"status": "snoozed", "snoozed_until": soon})
        listed = rules.get("/v1/tasks", params={**demo, "status": "snoozed", "priority": "low"})
        time.sleep(1.5)
        woken = rules.get(path, params=demo).json()
        closed = rules.patch(path, params=demo, json={"status": "dismissed"})
        reopened = rules.patch(path, params=demo, json={"status": "open"})
        history = rules.get(f"{path}/history", params=demo).json()
        other = rules.get("/v1/tasks/tsk_nope", params=demo)

    assert (no_end.status_code, no_end.json()["type"]) == (400, "validation_error")
    assert snoozed.json()["status"] == "snoozed"
    assert task["id"] in [t["id"] for t in listed.json()]
    assert (woken["status"], woken["snoozed_until"]) == ("open", None)
    assert (closed.json()["status"], closed.json()["closed_at"] is not None) == ("dismissed", True)
    assert (reopened.status_code, reopened.json()["code"]) == (400, "task_closed")
    assert [h["kind"] for h in history] == ["created", "updated", "woke", "closed", "updated"]
    assert (other.status_code, other.json()["code"]) == (404, "not_found")

"""The official Segment Python library, pointed at Kizuna, delivers unchanged."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from segment.analytics.client import Client

from tests.integration.conftest import RunningStack, eventually

pytestmark = pytest.mark.integration


def series(running: RunningStack, path: str, **params: Any) -> list[dict[str, Any]]:
    with running.api("metrics") as api:
        response = api.get(f"/v1/metrics/{path}", params={"product": "demo", **params})
    assert response.status_code == 200, response.text
    points: list[dict[str, Any]] = response.json()["series"]
    return points


@pytest.mark.parametrize("gzip", [False, True])
def test_identify_group_and_track_from_segment_python_show_in_metrics(
    running: RunningStack, gzip: bool
) -> None:
    errors: list[Exception] = []
    client = Client(
        running.demo.write_key,
        host=running.url("ingest"),
        gzip=gzip,
        sync_mode=True,
        on_error=lambda error, _batch: errors.append(error),
    )
    user, account = f"seg-{uuid.uuid4().hex[:8]}", f"acct-{uuid.uuid4().hex[:8]}"
    client.identify(user, {"email": f"{user}@example.com"})
    client.group(user, account, {"name": "Acme", "plan": "pro"})
    client.track(user, "Report Exported", {"format": "csv"})
    client.track(user, "Report Exported", {"format": "pdf"})
    client.flush()
    assert errors == []

    today = datetime.now(UTC).date().isoformat()
    span = {"start": today, "end": today, "account": account}
    # sync_mode sends each call on its own: the consumer may write them in separate batches.
    users = lambda: series(running, "active-users", **span)[0]["active_users"] == 1  # noqa: E731
    assert eventually(users)
    exports = lambda: series(running, "events", event="Report Exported", **span)  # noqa: E731
    assert eventually(lambda: exports() == [{"period_start": today, "events": 2}])

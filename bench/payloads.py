"""Request bodies for the ingest benchmark: Segment track calls as a browser library sends them.

Each body is a template: every `messageId` holds `REQUEST_ID`, which the load generators replace
with a value unique to the request, so no two requests carry the same messageIds. The rest of
the body is fixed, and byte for byte the same for Kizuna and for the reference endpoint.
"""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

REQUEST_ID = "@@RID@@"

# (event name, properties for it): what a B2B SaaS front end tracks.
EVENTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Report Exported", {"report": "churn-risk", "format": "csv", "rows": 1284}),
    ("Dashboard Viewed", {"dashboard": "renewals", "widgets": 7, "shared": False}),
    ("Invite Sent", {"role": "editor", "seats_left": 3, "via": "settings"}),
    ("Filter Applied", {"field": "plan", "operator": "in", "values": 2, "view": "accounts"}),
    ("Integration Connected", {"provider": "hubspot", "objects": 4, "first": True}),
)


def track_call(rng: random.Random, index: int, now: datetime) -> dict[str, Any]:
    """One track call of about 300 bytes; its messageId is `<REQUEST_ID>-<index>`."""
    name, properties = EVENTS[rng.randrange(len(EVENTS))]
    account = rng.randrange(200)
    happened = now - timedelta(milliseconds=rng.randrange(60_000))
    return {
        "type": "track",
        "event": name,
        "userId": f"user-{account:03d}-{rng.randrange(40):02d}",
        "messageId": f"{REQUEST_ID}-{index:03d}",
        "timestamp": happened.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "properties": properties,
        "context": {
            "library": {"name": "analytics.js", "version": "5.2.1"},
            "page": {"path": "/app/accounts", "title": "Accounts"},
            "groupId": f"acct-{account:03d}",
        },
    }


def body(size: int, seed: int = 7) -> bytes:
    """A /v1/track body (one call) when size is 1, else a /v1/batch body of `size` calls."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    sent_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    calls = [track_call(rng, index, now) for index in range(size)]
    if size == 1:
        return orjson.dumps({**calls[0], "sentAt": sent_at})
    return orjson.dumps({"batch": calls, "sentAt": sent_at})


def path(size: int) -> str:
    return "/v1/track" if size == 1 else "/v1/batch"

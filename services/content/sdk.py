"""What the browser snippet talks to, without an API key (its write key is public):

- `GET /sdk/kizuna.js`: the snippet itself (static/kizuna.js);
- `GET /sdk/v1/experiences?writeKey=…&context=…`: what to show this user on this page now
  (selection.py decides; docs/snippet.md has the shapes), with an ETag.
"""

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import ValidationError

from services.content.experience_store import ExperienceStore
from services.content.routes import Repo
from services.content.selection import Visit, select
from shared.errors import ApiError, AuthenticationError

router = APIRouter(prefix="/sdk", tags=["sdk"])
SNIPPET = Path(__file__).parent / "static" / "kizuna.js"
# How often a snippet asks again while its page stays open: a published change shows within
# twice this.
POLL_AFTER_S = 30


@router.get("/kizuna.js", include_in_schema=False)
async def snippet() -> FileResponse:
    # Short caching: a new release reaches pages within five minutes.
    headers = {"Cache-Control": "public, max-age=300"}
    return FileResponse(SNIPPET, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/v1/experiences")
async def experiences(
    request: Request,
    repo: Repo,
    write_key: Annotated[str, Query(alias="writeKey", min_length=1, max_length=200)],
    context: Annotated[str, Query(max_length=16_000, description="JSON: see docs/snippet.md")],
) -> Response:
    target = await repo.find_write_key(write_key)
    if target is None:
        raise AuthenticationError("unknown or revoked write key", code="invalid_write_key")
    visit = _visit(context)
    published = await ExperienceStore(repo.session).published(target.product_id)
    chosen = select(published, visit, datetime.now(UTC))
    body = orjson.dumps({"experiences": chosen, "pollAfterSeconds": POLL_AFTER_S})
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _visit(context: str) -> Visit:
    try:
        return Visit.model_validate_json(context)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        attr = "context" + (f".{where}" if where else "")
        raise ApiError(f"context: {first['msg']}", code="invalid_context", attr=attr) from exc


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names this ETag (or is *); weak tags compare by their value."""
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags

"""What the browser snippet talks to, without an API key (its write key is public):

- `GET /sdk/kizuna.js`: the snippet itself (static/kizuna.js);
- `GET /sdk/v1/experiences?writeKey=…&context=…`, or `POST` with both in a JSON body: what to
  show this user on this page now (selection.py decides; docs/snippet.md has the shapes), with
  an ETag.
"""

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.content.experience_store import ExperienceStore
from services.content.routes import Repo
from services.content.selection import Visit, select
from shared.errors import ApiError, AuthenticationError, PayloadTooLarge

router = APIRouter(prefix="/sdk", tags=["sdk"])
SNIPPET = Path(__file__).parent / "static" / "kizuna.js"
# How often a snippet asks again while its page stays open: a published change shows within
# twice this.
POLL_AFTER_S = 30
MAX_BODY = 256_000


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
    return await _answer(request, repo, write_key, _visit(context))


class Asked(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    write_key: str = Field(alias="writeKey", min_length=1, max_length=200)
    context: Visit


@router.post("/v1/experiences")
async def experiences_posted(request: Request, repo: Repo) -> Response:
    """The same as GET, for contexts too long for a URL: `{"writeKey", "context"}` as the body,
    read as JSON whatever its content type (the snippet sends text/plain)."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"send at most {MAX_BODY:,} bytes")
    try:
        asked = Asked.model_validate_json(body)
    except ValidationError as exc:
        raise _invalid(exc, "") from exc
    return await _answer(request, repo, asked.write_key, asked.context)


async def _answer(request: Request, repo: Repo, write_key: str, visit: Visit) -> Response:
    target = await repo.find_write_key(write_key)
    if target is None:
        raise AuthenticationError("unknown or revoked write key", code="invalid_write_key")
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
        raise _invalid(exc, "context") from exc


def _invalid(exc: ValidationError, prefix: str) -> ApiError:
    """The first error, with `attr` naming the field under `prefix` (none: the body)."""
    first = exc.errors()[0]
    attr = ".".join(part for part in (prefix, *map(str, first["loc"])) if part) or None
    return ApiError(f"{attr or 'body'}: {first['msg']}", code="invalid_context", attr=attr)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names this ETag (or is *); weak tags compare by their value."""
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags

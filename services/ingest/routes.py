"""Segment-compatible tracking endpoints.

A request is read, its write key resolved, every call validated, and the valid ones produced to
Kafka as one record. The answer is 200 only after the broker acknowledged it. When some calls of
a batch are invalid, the valid ones are still accepted (acknowledged by the broker first) and
the 400 names each invalid one by index; resending the whole batch is safe because the
warehouse counts each messageId once.

The endpoints are plain Starlette routes, not FastAPI path operations: they take the request
whole and validate it with msgspec, so FastAPI's per-request dependency and response handling
would only cost time (about 30 % of a single-event request, measured with bench.ingest). They
are not in the OpenAPI schema; docs/ingest.md describes them.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.ingest.body import MAX_DEPTH, basic_user, read_body, too_deep, write_key_of
from services.ingest.errors import InvalidBody, InvalidEvents
from services.ingest.keys import WriteKeyCache
from services.ingest.normalize import OutOfRange, ProductRef, to_event
from services.ingest.publisher import Publisher
from services.ingest.schemas import Batch, Message
from services.ingest.settings import IngestSettings
from shared.errors import PayloadTooLarge
from shared.events import CallType, Event

SINGLE_CALLS: tuple[CallType, ...] = ("track", "identify", "group", "page", "screen", "alias")

_decode_batch = msgspec.json.Decoder(Batch).decode
_decode_message = msgspec.json.Decoder(Message).decode
_write_key_only = msgspec.json.Decoder(dict[str, Any]).decode
# msgspec says where: "Expected `str | null`, got `int` - at `$.event`"; our own checks
# start with the field: "timestamp: must be between ...".
_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_FIELD = re.compile(r"^([A-Za-z][\w.]*): ")


async def batch(request: Request) -> Response:
    raw = await _read(request)
    try:
        body = _decode_batch(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
        _refuse_if_not_json(exc)
        detail, attr = _explain(exc)
        raise InvalidBody(detail, attr=attr) from None
    if body.context and too_deep(body.context, MAX_DEPTH - 1):
        raise InvalidBody(f"the body nests deeper than {MAX_DEPTH} levels", attr="context")

    product = await _product(request, write_key_of(request, body.write_key))
    settings = _settings(request)
    events, errors = _validate(body, product, settings)
    if events:
        await _publisher(request).publish(events)
    if errors:
        detail = f"{len(errors)} invalid event(s); {len(events)} valid event(s) were accepted"
        raise InvalidEvents(detail, extra={"accepted": len(events), "errors": errors})
    return _success()


def _single_call_route(call: CallType) -> Route:
    async def endpoint(request: Request) -> Response:
        raw = await _read(request)
        key = write_key_of(request, _body_write_key(request, raw))
        product = await _product(request, key)
        event = _single(raw, call, product, _settings(request))
        await _publisher(request).publish([event])
        return _success()

    return Route(f"/v1/{call}", endpoint, methods=["POST"], name=call)


ROUTES = [
    Route("/v1/batch", batch, methods=["POST"], name="batch"),
    *(_single_call_route(call) for call in SINGLE_CALLS),
]


def _single(raw: bytes, call: CallType, product: ProductRef, settings: IngestSettings) -> Event:
    if len(raw) > settings.max_event_bytes:
        raise PayloadTooLarge(f"an event may be at most {settings.max_event_bytes} bytes")
    try:
        message = _message(raw, call)
        return to_event(message, None, product, datetime.now(UTC), _max_future(settings))
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, ValueError) as exc:
        _refuse_if_not_json(exc)
        detail, attr = _explain(exc)
        raise InvalidEvents(detail, code="invalid_event", attr=attr) from None


def _refuse_if_not_json(exc: BaseException) -> None:
    """Raise InvalidBody (invalid_json) when `exc` says the bytes are not JSON at all; a
    ValidationError, about JSON of the wrong shape, is a DecodeError too and passes."""
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        raise InvalidBody(f"the body is not valid JSON: {exc}", code="invalid_json") from None


def _validate(
    body: Batch, product: ProductRef, settings: IngestSettings
) -> tuple[list[Event], list[dict[str, Any]]]:
    """Each call on its own; the batch's context counts towards every call's size, since every
    event carries it."""
    received_at = datetime.now(UTC)
    max_future = _max_future(settings)
    budget = settings.max_event_bytes - (
        len(msgspec.json.encode(body.context)) if body.context else 0
    )
    events: list[Event] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(body.batch):
        where = f"batch.{index}"
        if len(raw) > budget:
            limit = settings.max_event_bytes
            detail = f"an event, with the batch's context, may be at most {limit} bytes"
            errors.append(
                {"index": index, "code": "payload_too_large", "detail": detail, "attr": where}
            )
            continue
        try:
            message = _message(raw, None)
            events.append(to_event(message, body, product, received_at, max_future))
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, ValueError) as exc:
            detail, attr = _explain(exc)
            attr = f"{where}.{attr}" if attr else where
            errors.append({"index": index, "code": "invalid_event", "detail": detail, "attr": attr})
    return events, errors


def _message(raw: bytes | msgspec.Raw, call: CallType | None) -> Message:
    """Decode and check one call; raises msgspec errors or ValueError (OutOfRange too)."""
    message = _decode_message(raw)
    if call is not None:
        message.type = call
    message.check_required()
    # A call cannot nest deeper than it has brackets: most are far below the cap, and
    # counting is cheap; only a call with many brackets is walked.
    data = raw if isinstance(raw, bytes) else bytes(raw)
    if data.count(b"{") + data.count(b"[") > MAX_DEPTH:
        for part, name in (
            (message.properties, "properties"),
            (message.traits, "traits"),
            (message.context, "context"),
        ):
            if part and too_deep(msgspec.json.decode(part), MAX_DEPTH - 1):
                raise ValueError(f"{name}: nests deeper than {MAX_DEPTH} levels")
    return message


def _explain(exc: BaseException) -> tuple[str, str | None]:
    """A client-facing detail and the field it is about, from a decoding or checking error."""
    if isinstance(exc, RecursionError):
        return f"the body nests deeper than {MAX_DEPTH} levels", None
    if isinstance(exc, OutOfRange):
        return str(exc), "timestamp"
    text = str(exc)
    if match := _PATH.search(text):
        path = match.group(1).replace("[", ".").replace("]", "")
        return text[: match.start()], path or None
    if match := _FIELD.match(text):
        return text[match.end() :], match.group(1)
    return text, None


# The answer to every accepted request, encoded once.
SUCCESS = msgspec.json.encode({"success": True})


def _success() -> Response:
    return Response(SUCCESS, media_type="application/json")


def _body_write_key(request: Request, raw: bytes) -> str | None:
    """A single call's `writeKey`, only read when Basic auth gives no key."""
    if basic_user(request):
        return None
    try:
        key = _write_key_only(raw).get("writeKey")
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None
    return key if isinstance(key, str) else None


async def _read(request: Request) -> bytes:
    settings = _settings(request)
    return await read_body(request, settings.max_request_bytes, settings.body_timeout_s)


async def _product(request: Request, write_key: str) -> ProductRef:
    keys: WriteKeyCache = request.app.state.write_keys
    return await keys.resolve(write_key)


def _publisher(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher


def _max_future(settings: IngestSettings) -> timedelta:
    return timedelta(seconds=settings.max_future_skew_s)


def _settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings

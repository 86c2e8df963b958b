"""Segment-compatible tracking endpoints.

A request is read, its write key resolved, every message validated, and the valid ones produced
to Kafka. The answer is 200 only after the broker acknowledged all of them. When some messages
of a batch are invalid, the valid ones are still accepted (acknowledged by the broker first)
and the 400 names each invalid one with its index; resending the whole batch is safe because
the warehouse counts each messageId once.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import ValidationError

from services.ingest.body import read_json, write_key_of
from services.ingest.errors import InvalidBody, InvalidEvents
from services.ingest.keys import WriteKeyCache
from services.ingest.normalize import OutOfRange, ProductRef, to_event
from services.ingest.publisher import Publisher
from services.ingest.schemas import Envelope, Message, Success
from services.ingest.settings import IngestSettings
from shared.errors import PayloadTooLarge
from shared.events import CallType, Event

router = APIRouter()

SINGLE_CALLS: tuple[CallType, ...] = ("track", "identify", "group", "page", "screen", "alias")


@router.post("/v1/batch", response_model=Success)
async def batch(request: Request) -> Success:
    body = await _read(request)
    items = body.get("batch")
    if not isinstance(items, list) or not items:
        raise InvalidBody("`batch` must be a non-empty list of messages", attr="batch")
    await _accept(request, body, items, attr_prefix="batch.")
    return Success()


def _single_call_route(call: CallType) -> None:
    async def endpoint(request: Request) -> Success:
        body = await _read(request)
        await _accept(request, body, [body], attr_prefix="", call=call)
        return Success()

    endpoint.__name__ = call
    router.add_api_route(f"/v1/{call}", endpoint, methods=["POST"], response_model=Success)


for _call in SINGLE_CALLS:
    _single_call_route(_call)


async def _read(request: Request) -> dict[str, Any]:
    settings = _settings(request)
    return await read_json(request, settings.max_request_bytes, settings.body_timeout_s)


async def _accept(
    request: Request,
    body: dict[str, Any],
    items: list[Any],
    attr_prefix: str,
    call: CallType | None = None,
) -> None:
    settings = _settings(request)
    keys: WriteKeyCache = request.app.state.write_keys
    publisher: Publisher = request.app.state.publisher

    product = await keys.resolve(write_key_of(request, body))
    envelope = _envelope(body)
    events, errors = _validate(items, envelope, product, settings, attr_prefix, call)

    if events:
        await publisher.publish(events)
    if errors:
        raise _invalid(errors, accepted=len(events), attr_prefix=attr_prefix)


def _validate(
    items: list[Any],
    envelope: Envelope,
    product: ProductRef,
    settings: IngestSettings,
    attr_prefix: str,
    call: CallType | None,
) -> tuple[list[Event], list[dict[str, Any]]]:
    """Validate each item (a `call` of a single-call endpoint fixes its type); the batch's
    context counts towards every event's size, since every event carries it."""
    received_at = datetime.now(UTC)
    max_future = timedelta(seconds=settings.max_future_skew_s)
    budget = settings.max_event_bytes - (
        len(orjson.dumps(envelope.context)) if envelope.context else 0
    )
    events: list[Event] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"{attr_prefix}{index}" if attr_prefix else None
        try:
            message = _message(item, budget, settings.max_event_bytes, call)
            events.append(to_event(message, envelope, product, received_at, max_future))
        except PayloadTooLarge as exc:
            if not attr_prefix:
                raise
            errors.append({"index": index, "code": exc.code, "detail": exc.detail, "attr": where})
        except ValidationError as exc:
            errors.append(_first_error(exc, index, where))
        except OutOfRange as exc:
            attr = f"{where}.timestamp" if where else "timestamp"
            errors.append(
                {"index": index, "code": "invalid_event", "detail": str(exc), "attr": attr}
            )
    return events, errors


def _envelope(body: dict[str, Any]) -> Envelope:
    """The batch's own sentAt and context; raises InvalidBody when they are malformed."""
    if "batch" not in body:
        return Envelope()
    try:
        return Envelope.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        attr = ".".join(str(part) for part in first["loc"])
        raise InvalidBody(first["msg"].removeprefix("Value error, "), attr=attr) from None


def _message(item: Any, budget: int, max_bytes: int, call: CallType | None) -> Message:
    if isinstance(item, dict) and len(orjson.dumps(item)) > budget:
        raise PayloadTooLarge(
            f"an event, with the batch's context, may be at most {max_bytes} bytes"
        )
    if call is not None and isinstance(item, dict):
        item = {**item, "type": call}
    return Message.model_validate(item)


def _first_error(exc: ValidationError, index: int, where: str | None) -> dict[str, Any]:
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    attr = ".".join(part for part in (where, field) if part) or None
    detail = first["msg"].removeprefix("Value error, ")
    return {"index": index, "code": "invalid_event", "detail": detail, "attr": attr}


def _invalid(errors: list[dict[str, Any]], accepted: int, attr_prefix: str) -> InvalidEvents:
    if not attr_prefix:
        only = errors[0]
        return InvalidEvents(only["detail"], code="invalid_event", attr=only["attr"])
    detail = f"{len(errors)} invalid event(s); {accepted} valid event(s) were accepted"
    return InvalidEvents(detail, extra={"accepted": accepted, "errors": errors})


def _settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings

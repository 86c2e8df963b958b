"""Reading a tracking request body: size caps, gzip, JSON, and the write key.

The body is read as JSON whatever its content type: browsers' sendBeacon posts `text/plain`,
and curl posts form-encoded unless told otherwise. Sizes are capped before and after
decompression; nesting is capped so that whatever ingest accepts, every later stage can parse.
"""

import asyncio
import base64
import re
import zlib
from typing import Any

from starlette.requests import Request

from services.ingest.errors import (
    InvalidBody,
    InvalidWriteKey,
    MissingWriteKey,
    RequestTimeout,
    UnsupportedMediaType,
)
from shared.errors import PayloadTooLarge

# Deeper JSON than this is refused: no analytics payload needs it, and parsers downstream
# (msgspec's, orjson's, ClickHouse's) stop at a few hundred levels.
MAX_DEPTH = 32
WRITE_KEY = re.compile(r"[A-Za-z0-9_\-]{1,200}")


async def read_body(request: Request, max_bytes: int, timeout_s: float) -> bytes:
    """Return the body, decompressed; raise PayloadTooLarge, InvalidBody (bad gzip),
    RequestTimeout (the body did not arrive within `timeout_s`) or UnsupportedMediaType (an
    encoding but gzip). Decoding the JSON is the caller's: it knows the shape to expect."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    try:
        # asyncio.timeout, unlike wait_for, makes no task per request.
        async with asyncio.timeout(timeout_s):
            raw = await _read_capped(request, max_bytes)
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {timeout_s:g} s") from None

    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding == "gzip":
        return _gunzip_capped(raw, max_bytes)
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType(f"content-encoding {encoding} is not supported; use gzip")
    return raw


def too_deep(value: Any, limit: int) -> bool:
    """True when objects and arrays nest more than `limit` levels. Iterative: no recursion."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                pending.append((child, depth + 1))
    return False


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(chunks)


def _gunzip_capped(raw: bytes, max_bytes: int) -> bytes:
    """Inflate every gzip member (concatenated members are one stream, as RFC 1952 says)."""
    out = bytearray()
    while raw:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(raw, max_bytes + 1 - len(out))
        except zlib.error as exc:
            raise InvalidBody(f"the body is not valid gzip: {exc}") from None
        if len(out) > max_bytes:
            raise _too_large(max_bytes)
        if not inflater.eof:
            raise InvalidBody("the gzip body is truncated")
        raw = inflater.unused_data
    return bytes(out)


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"a request may carry at most {max_bytes} bytes, decompressed")


def write_key_of(request: Request, body_key: str | None) -> str:
    """The write key: HTTP Basic user name (empty password), else the body's `writeKey`.

    Raises MissingWriteKey, or InvalidWriteKey when it cannot be a key (checked before any
    lookup, so odd input never reaches the content service)."""
    key = basic_user(request) or body_key
    if not isinstance(key, str) or not key:
        raise MissingWriteKey("send the write key as the Basic auth user name or as `writeKey`")
    if not WRITE_KEY.fullmatch(key):
        raise InvalidWriteKey("unknown or revoked write key")
    return key


def basic_user(request: Request) -> str | None:
    """The user name of a Basic Authorization header; None when absent or malformed."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode().partition(":")[0] or None
    except ValueError:  # binascii.Error, UnicodeDecodeError, or a header that is not ASCII
        return None  # a malformed header: fall back to the body's writeKey

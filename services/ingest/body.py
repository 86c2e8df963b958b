"""Reading a tracking request body: size caps, gzip, JSON, and the write key.

The body is read as JSON whatever its content type: browsers' sendBeacon posts `text/plain`,
and curl posts form-encoded unless told otherwise. Sizes are capped before and after
decompression.
"""

import base64
import binascii
import zlib
from typing import Any

import orjson
from starlette.requests import Request

from services.ingest.errors import InvalidBody, MissingWriteKey, UnsupportedMediaType
from shared.errors import PayloadTooLarge


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    """Return the decoded JSON object; raise PayloadTooLarge, InvalidBody or
    UnsupportedMediaType (an encoding other than gzip)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    raw = await _read_capped(request, max_bytes)

    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding == "gzip":
        raw = _gunzip_capped(raw, max_bytes)
    elif encoding not in ("", "identity"):
        raise UnsupportedMediaType(f"content-encoding {encoding} is not supported; use gzip")

    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidBody(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidBody("the body must be a JSON object")
    return body


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(chunks)


def _gunzip_capped(raw: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise InvalidBody(f"the body is not valid gzip: {exc}") from None
    if len(out) > max_bytes:
        raise _too_large(max_bytes)
    return out


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"a request may carry at most {max_bytes} bytes, decompressed")


def write_key_of(request: Request, body: dict[str, Any]) -> str:
    """The write key: HTTP Basic user name (empty password), else the body's `writeKey`."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            user = base64.b64decode(value, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise MissingWriteKey("the Authorization header is not valid Basic auth") from None
        if user:
            return user
    key = body.get("writeKey")
    if isinstance(key, str) and key:
        return key
    raise MissingWriteKey("send the write key as the Basic auth user name or as `writeKey`")

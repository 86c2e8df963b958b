"""The one JSON error shape every Kizuna API answers with, and its FastAPI wiring.

    {"type": "validation_error", "code": "invalid_event", "detail": "...", "attr": "batch.3.event"}

`type` is the family (`authentication_error`, `validation_error`, `not_found`,
`unavailable`, `server_error`); `code` is a stable snake_case machine code; `attr` names the
offending field when there is one. Services raise `ApiError` (or a subclass from their own
`errors.py`); one handler per app turns it into the response.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    type = "validation_error"
    code = "invalid_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        attr: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.code
        self.attr = attr
        self.status = status or self.status
        self.headers = headers
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "code": self.code,
            "detail": self.detail,
            "attr": self.attr,
            **self.extra,
        }


class AuthenticationError(ApiError):
    status = 401
    type = "authentication_error"
    code = "not_authenticated"


class NotFound(ApiError):
    status = 404
    type = "not_found"
    code = "not_found"


class Conflict(ApiError):
    status = 409
    type = "validation_error"
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class Unavailable(ApiError):
    """A dependency (broker, warehouse, another service) did not answer in time."""

    status = 503
    type = "unavailable"
    code = "dependency_unavailable"


def error_response(
    status: int, type_: str, code: str, detail: str, attr: str | None = None
) -> JSONResponse:
    body = {"type": type_, "code": code, "detail": detail, "attr": attr}
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            # Its loc holds the offset where parsing stopped, not a field.
            reason = first.get("ctx", {}).get("error", first["msg"])
            detail = f"the body is not valid JSON: {reason}"
            return error_response(400, "validation_error", "invalid_json", detail, None)
        if tuple(first["loc"]) == ("body",) and first["type"] == "model_attributes_type":
            # A form-encoded or plain-text body where a JSON object was expected.
            detail = "send the body as a JSON object, with Content-Type: application/json"
            return error_response(400, "validation_error", "invalid_json", detail, None)
        attr = ".".join(str(part) for part in first["loc"] if part not in ("body", "query"))
        return error_response(400, "validation_error", "invalid_input", first["msg"], attr or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only the answer is shaped here; the exception still reaches the server's log.
        log.error("request_failed", extra={"path": request.url.path}, exc_info=exc)
        return error_response(500, "server_error", "internal_error", "an unexpected error")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        type_ = "not_found" if exc.status_code == 404 else "invalid_request"
        return error_response(exc.status_code, type_, code, str(exc.detail))

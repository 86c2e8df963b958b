from shared.errors import ApiError, AuthenticationError


class MissingWriteKey(AuthenticationError):
    code = "missing_write_key"


class InvalidWriteKey(AuthenticationError):
    code = "invalid_write_key"


class InvalidBody(ApiError):
    code = "invalid_body"


class InvalidEvents(ApiError):
    """Some events of the request failed validation; `errors` names each one."""

    code = "invalid_events"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class RequestTimeout(ApiError):
    status = 408
    code = "request_timeout"

"""Errors of the content service. All but the bootstrap one render as the shared JSON shape.

ApiError (shared.errors)
├── InvalidTimezone      400 invalid_timezone, attr "timezone"
├── InvalidExperience    400 invalid_experience, attr the field at fault
├── PlanLimitReached     402 plan_limit_reached
├── AuthenticationError
│   └── InvalidApiKey    401 invalid_api_key (missing, unknown or revoked)
├── NotFound
│   ├── ProductNotFound  404 product_not_found
│   ├── ExperienceNotFound 404 experience_not_found
│   ├── KeyNotFound      404 write_key_not_found / api_key_not_found
│   └── UnknownWriteKey  404 unknown_write_key (internal lookup: unknown or revoked)
└── Conflict
    └── SlugTaken        409 slug_taken, attr "slug"

DemoKeyConflict (RuntimeError): a configured demo key already belongs to another
product or tenant; bootstrap stops rather than hand out a key that points elsewhere.
"""

from shared.errors import ApiError, AuthenticationError, Conflict, NotFound


class InvalidTimezone(ApiError):
    code = "invalid_timezone"

    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is not an IANA time zone name", attr="timezone")


class InvalidExperience(ApiError):
    code = "invalid_experience"


class PlanLimitReached(ApiError):
    status = 402
    type = "plan_error"
    code = "plan_limit_reached"


class InvalidApiKey(AuthenticationError):
    code = "invalid_api_key"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class ProductNotFound(NotFound):
    code = "product_not_found"

    def __init__(self, slug: str) -> None:
        super().__init__(f"no product with slug {slug!r}", attr="slug")


class ExperienceNotFound(NotFound):
    code = "experience_not_found"

    def __init__(self, experience_id: str) -> None:
        super().__init__(f"no experience with id {experience_id!r}", attr="experience_id")


class KeyNotFound(NotFound):
    def __init__(self, kind: str, key_id: str) -> None:
        super().__init__(
            f"no {kind.replace('_', ' ')} with id {key_id!r}", code=f"{kind}_not_found"
        )


class UnknownWriteKey(NotFound):
    code = "unknown_write_key"

    def __init__(self) -> None:
        super().__init__("unknown or revoked write key")


class SlugTaken(Conflict):
    code = "slug_taken"

    def __init__(self, slug: str) -> None:
        super().__init__(f"a product with slug {slug!r} already exists", attr="slug")


class DemoKeyConflict(RuntimeError):
    pass

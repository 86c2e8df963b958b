"""Request and response bodies of the content API, in Create / Update / Read families."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.content.experiences import Days, Frequency, Kind, Settings, Strict, Targeting
from services.content.models import Experience

# Slugs appear in URLs and in event rows: lower-case letters, digits and inner dashes.
Slug = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
# Checked against the zone database by the repository, which answers `invalid_timezone`.
Timezone = Annotated[str, Field(max_length=64, examples=["Europe/Paris"])]


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProductCreate(BaseModel):
    slug: Slug
    name: Name
    timezone: Timezone = "UTC"


class ProductUpdate(BaseModel):
    name: Name | None = None
    timezone: Timezone | None = None


class ProductRead(ReadModel):
    id: str
    slug: str
    name: str
    timezone: str
    tenant_id: str


class WriteKeyCreated(ReadModel):
    id: str
    key: str
    created_at: datetime


class WriteKeyRead(WriteKeyCreated):
    # Write keys are public, so listing them in full gives nothing away.
    revoked_at: datetime | None


class ProductCreated(ProductRead):
    write_key: WriteKeyCreated


class ApiKeyCreated(BaseModel):
    id: str
    key: str = Field(description="The secret. Shown in this response only; store it now.")
    prefix: str


class ApiKeyRead(ReadModel):
    id: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class WriteKeyTargetRead(ReadModel):
    tenant_id: str
    product_id: str
    product: str = Field(description="The product's slug.")
    timezone: str


class HealthRead(BaseModel):
    status: str


class ExperienceCreate(Settings):
    kind: Kind
    name: Name
    content: dict[str, Any] = Field(description="by kind: see docs/snippet.md")


class ExperienceUpdate(Strict):
    """Fields to change in the draft; the others keep their values."""

    name: Name | None = None
    content: dict[str, Any] | None = None
    targeting: Targeting | None = None
    frequency: Frequency | None = None
    priority: Annotated[int, Field(ge=-1000, le=1000)] | None = None
    reask_after_days: Days | None = None
    survey_cooldown_days: Days | None = None

    @model_validator(mode="after")
    def _only_optional_settings_are_cleared(self) -> "ExperienceUpdate":
        cleared = [name for name in self.model_fields_set if getattr(self, name) is None]
        for name in sorted(set(cleared) - {"reask_after_days", "survey_cooldown_days"}):
            raise ValueError(f"{name} cannot be null")
        return self


class ExperienceRead(ReadModel):
    id: str
    product_id: str
    kind: str
    name: str
    status: Literal["draft", "published"]
    published_version: int | None = Field(description="the version snippets see; none: hidden")
    latest_version: int
    unpublished_changes: bool
    draft: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Experience) -> "ExperienceRead":
        status = "draft" if row.published_version is None else "published"
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "status"}
        return cls.model_validate({**fields, "status": status})


class ExperienceVersionRead(ReadModel):
    version: int
    name: str
    definition: dict[str, Any]
    published_at: datetime


class TenantRead(ReadModel):
    id: str
    slug: str
    name: str
    plan: str

"""Request and response bodies of the content API, in Create / Update / Read families."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

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

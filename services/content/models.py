"""Tables of the content service. They work unchanged on SQLite and PostgreSQL.

Ids are prefixed strings: `ten_…` tenants, `prd_…` products, `wki_…` write keys, `aki_…` API keys,
`exp_…` experiences.
A write key is public (it ships in the browser snippet), so it is stored in clear and looked up by
value. An API key is a secret: only its SHA-256 and a short display prefix are stored.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.sql import UtcDateTime, new_id, utcnow


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ten"))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # "free" or "light" (see plans.py).
    plan: Mapped[str] = mapped_column(String(16), default="free")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("tenant_id", "slug", name="uq_products_tenant_slug"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("prd"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # IANA name; daily metrics of the product are cut at midnight in this zone.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WriteKey(Base):
    __tablename__ = "write_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("wki"))
    product_id: Mapped[str] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("aki"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    # Hex SHA-256 of the whole key; the key itself is never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the key, so that a user can tell their keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class Experience(Base):
    """Something shown in the vendor's app: a tutorial of one of six kinds, a checklist or a
    survey. `draft` is what its authors edit; publishing copies it into a new version, and
    snippets see the version named by `published_version` (None: not shown)."""

    __tablename__ = "experiences"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("exp"))
    product_id: Mapped[str] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    # The definition (experiences.Definition as JSON), author text already sanitized.
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_version: Mapped[int | None] = mapped_column(Integer, default=None)
    # The last version made, published now or not: versions are numbered 1, 2, ...
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    # Whether the draft differs from the last version made.
    unpublished_changes: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ExperienceVersion(Base):
    """A published definition, kept unchanged: what users saw, and what to roll back to."""

    __tablename__ = "experience_versions"

    experience_id: Mapped[str] = mapped_column(
        ForeignKey("experiences.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

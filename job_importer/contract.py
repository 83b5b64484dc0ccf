"""The message contract between the fetcher and the importer.

The two services share nothing but this module and a Redis broker: the fetcher sends
``import_chunk`` messages whose single argument is a :class:`Chunk` dumped to JSON, and the
importer validates it back.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

#: Dramatiq actor names: the fetcher enqueues ``import_chunk`` messages by name only.
FETCH_ACTOR = "fetch_feed"
IMPORT_ACTOR = "import_chunk"

#: Room left in a chunk message for the chunk's envelope and Dramatiq's own fields.
ENVELOPE_BYTES = 2048

# Field caps: an item over them fails with a reason instead of bloating a message.
MAX_ID_CHARS = 2_000
MAX_SHORT_CHARS = 2_000
MAX_TEXT_CHARS = 100_000
MAX_EXTRA_KEYS = 64
MAX_EXTRA_KEY_CHARS = 100
MAX_EXTRA_VALUE_CHARS = 10_000
#: The characters a key of ``extra`` may have: keys become MongoDB field names, so no "$" operators,
#: no "." paths, no NUL. The normaliser maps feed field names onto these; the importer enforces them.
EXTRA_KEY_CHARS = r"A-Za-z0-9_:\-"

ShortText = Annotated[str, StringConstraints(max_length=MAX_SHORT_CHARS)]
LongText = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
Identity = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]
ExtraKey = Annotated[
    str, StringConstraints(max_length=MAX_EXTRA_KEY_CHARS, pattern=f"^[{EXTRA_KEY_CHARS}]+$")
]
ExtraValue = Annotated[str, StringConstraints(max_length=MAX_EXTRA_VALUE_CHARS)]
URLText = Annotated[str, StringConstraints(max_length=MAX_ID_CHARS)]
Workplace = Literal["remote", "hybrid", "onsite"]
SalaryPeriod = Literal["hour", "day", "week", "month", "year"]


class JobItem(BaseModel):
    """One normalised job listing, as sent to the importer and stored (plus bookkeeping fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identity
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    guid: Identity
    title: ShortText
    link: Annotated[str, StringConstraints(max_length=MAX_ID_CHARS)] | None = None
    company: ShortText | None = None
    location: ShortText | None = None
    job_type: ShortText | None = None
    category: ShortText | None = None
    description: LongText | None = None
    content: LongText | None = None
    image_url: Annotated[str, StringConstraints(max_length=MAX_ID_CHARS)] | None = None
    published_at: datetime | None = None
    # Structured fields of job-board and ATS formats (docs/formats.md); None when the source
    # doesn't say. ``job_type`` above is the employment type.
    country: ShortText | None = None  # as given: an ISO 3166 code or a name
    region: ShortText | None = None  # state, province, county
    city: ShortText | None = None
    postal_code: ShortText | None = None
    remote: Workplace | None = None
    salary: ShortText | None = None  # the text, as the source writes it
    salary_min: float | None = Field(None, ge=0)
    salary_max: float | None = Field(None, ge=0)
    salary_currency: Annotated[str, StringConstraints(min_length=3, max_length=3)] | None = None
    salary_period: SalaryPeriod | None = None
    apply_url: URLText | None = None
    expires_at: datetime | None = None
    extra: dict[ExtraKey, ExtraValue] = Field(default_factory=dict, max_length=MAX_EXTRA_KEYS)
    content_hash: Annotated[str, StringConstraints(min_length=8, max_length=64)]


class Chunk(BaseModel):
    """A batch of items of one feed run: one importer message, one bulk write."""

    run_id: str
    # The fetch attempt that sent it: only the run's current attempt counts (None: sent before
    # attempts were numbered, counts for any).
    attempt: int | None = Field(None, ge=1)
    seq: int = Field(ge=0)  # position of the chunk in its attempt; the idempotency key with run_id
    feed_url: str
    fetched_at: datetime
    items: list[dict[str, Any]]  # validated item by item by the importer, so one bad item fails alone


JOB_ITEM = TypeAdapter(JobItem)
JOB_ITEMS = TypeAdapter(list[JobItem])

#: The fields that make up an item's content: a change in any of them is an update.
HASHED_FIELDS = (
    "title",
    "link",
    "company",
    "location",
    "job_type",
    "category",
    "description",
    "content",
    "image_url",
    "published_at",
)


#: Fields added later: hashed only when set, so a listing stored before they existed (and still
#: without them) keeps its hash and is not counted as updated after an upgrade.
HASHED_IF_SET = (
    "country",
    "region",
    "city",
    "postal_code",
    "remote",
    "salary",
    "salary_min",
    "salary_max",
    "salary_currency",
    "salary_period",
    "apply_url",
    "expires_at",
)


def job_id(source: str, guid: str) -> str:
    """The deterministic document id of an item: the same listing always lands on one document."""
    return f"{source}#{guid}"


def content_hash(fields: dict[str, Any]) -> str:
    """A cheap, stable fingerprint of an item's content (blake2b, 128 bits, over one string)."""
    parts = []
    for name in HASHED_FIELDS:
        value = fields.get(name)
        if isinstance(value, datetime):
            value = value.isoformat()
        parts.append(f"{name}\x00{'' if value is None else value}\x01")
    for name in HASHED_IF_SET:
        value = fields.get(name)
        if value is not None:
            parts.append(f"{name}\x00{value.isoformat() if isinstance(value, datetime) else value}\x01")
    extra = fields.get("extra") or {}
    parts.extend(f"extra.{key}\x00{extra[key]}\x01" for key in sorted(extra))
    return hashlib.blake2b("".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

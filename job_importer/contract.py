"""The message contract between the processes, and the job listing as it is sent and stored.

The services share nothing but this module and a Redis broker: whoever starts a run sends a
``fetch_feed`` message (:func:`fetch_message`), the fetcher sends ``import_chunk`` messages whose
single argument is a :class:`Chunk` (:func:`chunk_message`), and the importer validates it back.
The listing's fields are declared once: :class:`JobHeadline` (what a list shows) <
:class:`JobItem` (what is sent) < :class:`StoredJob` (what the importer stores); the API's
response models derive from them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal, Self

import dramatiq
import msgspec
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from job_importer.settings import FeedConfig, Settings

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
ListingStatus = Literal["active", "expired"]


class JobHeadline(BaseModel):
    """The fields that identify and summarise a listing: what a list of jobs shows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identity
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    title: ShortText
    company: ShortText | None = None
    location: ShortText | None = None
    job_type: ShortText | None = None
    category: ShortText | None = None
    link: Annotated[str, StringConstraints(max_length=MAX_ID_CHARS)] | None = None
    published_at: datetime | None = None


class JobItem(JobHeadline):
    """One normalised job listing, as the fetcher sends it to the importer."""

    guid: Identity
    description: LongText | None = Field(
        None, description="As found in the feed (often HTML): render as text."
    )
    content: LongText | None = None
    image_url: Annotated[str, StringConstraints(max_length=MAX_ID_CHARS)] | None = None
    # Structured fields of job-board and ATS formats (docs/formats.md); None when the source
    # doesn't say. ``job_type`` above is the employment type.
    country: ShortText | None = None  # as given: an ISO 3166 code or a name
    region: ShortText | None = None  # state, province, county
    city: ShortText | None = None
    postal_code: ShortText | None = None
    remote: Workplace | None = Field(None, description="remote, hybrid or onsite, when the source says.")
    salary: ShortText | None = Field(None, description="The salary as the source writes it.")
    salary_min: float | None = Field(None, ge=0)
    salary_max: float | None = Field(None, ge=0)
    salary_currency: Annotated[str, StringConstraints(min_length=3, max_length=3)] | None = None
    salary_period: SalaryPeriod | None = Field(None, description="hour, day, week, month or year.")
    apply_url: URLText | None = None
    expires_at: datetime | None = None
    extra: dict[ExtraKey, ExtraValue] = Field(default_factory=dict, max_length=MAX_EXTRA_KEYS)
    content_hash: Annotated[str, StringConstraints(min_length=8, max_length=64)]


class StoredJob(JobItem):
    """A document of ``jobs``: the item (its ``id`` is the ``_id``) and the importer's bookkeeping."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    feed_url: str | None = None  # redacted: no credentials
    fetched_at: datetime | None = None  # when the fetch that wrote this content started
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_run: str | None = None
    updated_run: str | None = None
    # Its lifecycle (job_importer/lifecycle.py); a document stored before it had none: active.
    status: ListingStatus = "active"
    last_seen_at: datetime | None = None  # when the newest fetch that saw it started
    last_seen_run: str | None = None
    expired_at: datetime | None = None
    expired_reason: str | None = None  # missing from feed / expiry date passed / not seen for N days

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Self:
        return cls.model_validate({**doc, "id": doc["_id"]})


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
    # The feed has its own ``feed`` metric label in the fetcher (configured, or of the registry):
    # the importer then labels its items and run end the same way, not as ``other``.
    labelled: bool = False


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


def describe(exc: ValidationError) -> str:
    """One line per problem, naming the field: what a person reading the run needs."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'item'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )


def fetch_message(
    settings: Settings, run_id: str, feed: FeedConfig, *, guarded: bool = False, registered: bool = False
) -> dramatiq.Message[Any]:
    """``guarded``: the URL came from a caller of the API, so the fetcher checks every address it
    reaches. ``registered``: a feed of the registry, so its metrics carry its own ``feed`` label
    (the fetcher knows only its config's feeds by itself; ad-hoc URLs share ``other``)."""
    kwargs = {name: True for name, on in (("guarded", guarded), ("registered", registered)) if on}
    return dramatiq.Message(
        queue_name=settings.fetch_queue,
        actor_name=FETCH_ACTOR,
        args=(run_id, feed.model_dump()),
        kwargs=kwargs,
        # No max_retries: the fetcher's actor declares FETCH_MAX_RETRIES, from its own settings,
        # whoever enqueues (scheduler, API, CLI).
        options={},
    )


def chunk_message(
    settings: Settings,
    *,
    run_id: str,
    seq: int,
    feed_url: str,
    fetched_at: datetime,
    items: list[bytes],
    attempt: int | None = None,
    labelled: bool = False,
) -> dramatiq.Message[Any]:
    """The importer message for one chunk (a :class:`Chunk` once decoded), addressed by actor
    name: the fetcher never imports the importer. ``items`` are JSON already (embedded as they
    are by :class:`job_importer.broker.JSONEncoder`). ``labelled``: see :attr:`Chunk.labelled`
    (left out when false, so other chunks are as they were)."""
    chunk = {
        "run_id": run_id,
        "attempt": attempt,
        "seq": seq,
        "feed_url": feed_url,
        "fetched_at": fetched_at,
        "items": [msgspec.Raw(item) for item in items],
    }
    if labelled:
        chunk["labelled"] = True
    return dramatiq.Message(
        queue_name=settings.import_queue,
        actor_name=IMPORT_ACTOR,
        args=(chunk,),
        kwargs={},
        options={},  # retries: the importer's actor declares IMPORT_MAX_RETRIES
    )

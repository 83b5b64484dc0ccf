"""The API's request and response bodies (they make up the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from job_importer.contract import JobHeadline, ListingStatus, StoredJob
from job_importer.feed_registry import FeedHealth as RegistryHealth
from job_importer.feed_registry import ManagedBy
from job_importer.netguard import check_syntax
from job_importer.settings import FeedSpec, HeaderName, MappedField, SecretRef, SourceFormat
from job_importer.views import public_run

RunStatus = Literal["queued", "fetching", "importing", "completed", "failed"]
FeedURL = Annotated[str, AfterValidator(check_syntax)]
MAX_PAGE_SIZE = 200
MAX_FEEDS_PER_REQUEST = 100
EXCERPT_CHARS = 500


class Error(BaseModel):
    """The body of every 4xx answer except validation errors (422, FastAPI's own shape)."""

    detail: str


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error codes."""
    text = {
        401: "Missing or invalid token",
        403: "API_TOKEN is not set on the server",
        404: "Not found",
        409: "Conflict with the current state",
    }
    return {code: {"model": Error, "description": text[code]} for code in codes}


class Page[T](BaseModel):
    items: list[T]
    page: int
    page_size: int
    total: int


class FeedHealth(RegistryHealth):
    """How the feed's runs went (kept by each run's end) and when it is fetched next."""

    next_fetch: datetime | None = Field(
        None, description="The next slot of its schedule; null while disabled"
    )


class Feed(FeedSpec):
    """A feed of the registry; ``url`` with any ``user:password`` shown as ``***``. ``headers``
    name where each value is (an environment variable or a FEED_SECRETS_DIR file), never a value."""

    id: str
    managed_by: ManagedBy = Field(description="config: FEEDS/FEEDS_FILE/Helm values; api: added at run time")
    created_at: datetime
    updated_at: datetime
    health: FeedHealth


class FeedCreate(FeedSpec):
    """A feed to add; ``schedule`` null (or left out) means SCHEDULE_CRON."""

    model_config = ConfigDict(extra="forbid")
    url: FeedURL = Field(examples=["https://boards.example/jobs.xml"])


class FeedUpdate(BaseModel):
    """The fields to change; the ones left out keep their values (``enabled``: use enable/disable)."""

    model_config = ConfigDict(extra="forbid")
    url: FeedURL | None = None
    source: str | None = None
    category: str | None = None
    format: SourceFormat | None = None
    items: str | None = None
    fields: dict[MappedField, str] | None = None
    expire_missing: bool | None = None
    expire_after_days: int | None = Field(None, ge=1)
    expire_max_fraction: float | None = Field(None, gt=0, le=1)
    headers: dict[HeaderName, SecretRef] | None = None
    schedule: str | None = None


class StartImport(BaseModel):
    """Which feeds to import; all configured feeds when ``feeds`` is left out."""

    feeds: list[FeedURL] | None = Field(
        None, min_length=1, max_length=MAX_FEEDS_PER_REQUEST, examples=[["https://jobicy.com/?feed=job_feed"]]
    )


class Started(BaseModel):
    batch_id: str
    run_ids: list[str]


class Failure(BaseModel):
    guid: str | None = None
    reason: str


class Run(BaseModel):
    run_id: str
    batch_id: str
    feed_url: str
    source: str
    trigger: str
    status: RunStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    http_status: int | None = None
    not_modified: bool = False
    partial: bool = False  # the download broke off: the items before the break were imported
    error: str | None = None
    warning: str | None = None
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: int = 0
    expired: int = Field(0, description="Listings of the feed this run expired (beside the counts above).")
    reactivated: int = Field(0, description="Expired listings this run saw again (also counted above).")
    active_listings: int | None = Field(
        None, description="The feed's active listings when the run completed."
    )
    chunks_total: int | None = None
    chunks_accounted: int = 0

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Run:
        return cls.model_validate(public_run(doc))


class RunDetail(Run):
    failures: list[Failure] = Field(
        default_factory=list, description="The first failures with their reasons (RUN_FAILURES_CAP)."
    )


class JobSummary(JobHeadline):
    """A listing in a list of jobs: its headline, and when it last changed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    updated_at: datetime | None = None
    status: ListingStatus = "active"
    expired_at: datetime | None = None
    expired_reason: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> JobSummary:
        return cls.model_validate({**doc, "id": doc["_id"]})


class Job(StoredJob):
    """One stored listing, without the importer's internal bookkeeping."""

    content_hash: str = Field("", exclude=True)
    created_run: str | None = Field(None, exclude=True)
    updated_run: str | None = Field(None, exclude=True)


class Queue(BaseModel):
    queue: str
    ready: int = Field(description="Waiting to be picked up.")
    delayed: int = Field(description="Waiting for their time: retries with backoff, Retry-After.")
    in_progress: int = Field(description="Claimed by a worker.")
    dead: int = Field(description="In the dead-letter queue.")
    paused: bool
    workers: int = Field(description="Worker processes seen consuming the queue in the last few seconds.")
    workers_paused: int = Field(
        description="Those of them that have paused (a pause takes effect within a second)."
    )


class FailedItem(BaseModel):
    id: str
    run_id: str
    feed_url: str
    guid: str | None = None
    reason: str
    stage: Literal["fetch", "import"]
    raw: str = Field("", description="An excerpt of the item as found.")
    created_at: datetime | None = None
    resendable: bool = Field(description="Import-stage failures keep the item, which can be sent again.")
    payload_excerpt: str | None = None


class Resent(BaseModel):
    batch_id: str
    run_ids: list[str] = Field(description="One new run per feed whose items were sent again.")
    items: int
    skipped: int = Field(description="Fetch-stage failures: nothing stored to send again.")


class Count(BaseModel):
    count: int


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)

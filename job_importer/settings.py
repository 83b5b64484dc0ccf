"""All configuration, read once from the environment (and `.env`), passed down from there.

Every field maps to an upper-case environment variable of the same name (``redis_url`` ->
``REDIS_URL``). The README lists them with their defaults.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_MONGODB_URL = "mongodb://127.0.0.1:27017/?directConnection=true"


#: How a feed's documents are read (docs/formats.md). "auto" decides from the host, the
#: Content-Type and the document's first bytes; "xml"/"json" read anything with ``items`` + ``fields``.
SourceFormat = Literal[
    "auto", "rss", "jobxml", "jsonfeed", "greenhouse", "lever", "ashby", "smartrecruiters",
    "recruitee", "workable", "xml", "json",
]  # fmt: skip
#: The job fields a per-feed mapping may fill (docs/formats.md#mapping).
MappedField = Literal[
    "guid", "link", "title", "description", "content", "published", "company", "location", "job_type",
    "category", "image_url", "country", "region", "city", "postal_code", "remote", "salary",
    "salary_min", "salary_max", "salary_currency", "salary_period", "apply_url", "expires",
]  # fmt: skip


class FeedConfig(BaseModel):
    """One configured feed."""

    url: str
    source: str = ""
    category: str | None = None
    format: SourceFormat = "auto"
    # The item list (an element path such as "jobs/job", or a JSON pointer such as "/data/jobs")
    # and job field -> element path / JSON pointer within an item; over the format's defaults.
    items: str | None = None
    fields: dict[MappedField, str] = Field(default_factory=dict)

    def model_post_init(self, _context: object) -> None:
        if not self.source:
            self.source = source_for_url(self.url)


def source_for_url(url: str) -> str:
    """The default provider name of a feed: its host without a leading ``www.``."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.") or "unknown"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    # Connections. When these are not set and nothing answers at the defaults, `job-importer up`,
    # `demo` and the scripts start a private redis-server and the embedded MongoDB stand-in there.
    redis_url: str = DEFAULT_REDIS_URL
    mongodb_url: str = DEFAULT_MONGODB_URL
    mongodb_db: str = "job_importer"
    mongodb_timeout_ms: int = Field(5000, ge=100)  # server selection / connect timeout

    # Feeds: FEEDS (comma-separated URLs) wins over FEEDS_FILE; neither means the bundled list.
    feeds: Annotated[list[str], NoDecode] = Field(default_factory=list)
    feeds_file: Path | None = None
    schedule_cron: str = "0 * * * *"

    # Queues (Dramatiq keeps them in Redis as "<namespace>:<queue>").
    queue_namespace: str = "dramatiq"
    fetch_queue: str = "fetch"
    import_queue: str = "import"

    # Worker knobs, with the meanings of the Node design they replace.
    worker_concurrency: int = Field(10, ge=1, le=256)  # threads per worker process
    worker_processes: int = Field(1, ge=1, le=64)
    worker_batch_size: int = Field(100, ge=1, le=5000)  # items per chunk = per bulk write
    worker_flush_ms: int = Field(1000, ge=0)  # longest a partial chunk waits before it is sent
    worker_rate_limit_max: int = Field(100, ge=0)  # chunk writes per window, all importers; 0 = off
    worker_rate_limit_duration_ms: int = Field(1000, ge=1)
    chunk_max_bytes: int = Field(512 * 1024, ge=16 * 1024, le=900 * 1024)  # room for 100 items of ~4 KB

    # Retries of a failed message: attempts after the first, backoff base (1 s, 2 s, 4 s, ...).
    import_max_retries: int = Field(3, ge=0)
    fetch_max_retries: int = Field(3, ge=0)
    retry_base_ms: int = Field(1000, ge=1)
    retry_max_ms: int = Field(5 * 60 * 1000, ge=1)
    retry_after_max_s: int = Field(3600, ge=0)  # the longest Retry-After we honour

    # Redis broker internals: how soon a dead worker's messages are redelivered.
    heartbeat_timeout_ms: int = Field(60_000, ge=1000)
    maintenance_chance: int = Field(1000, ge=1, le=1_000_000)
    dead_message_ttl_ms: int = Field(7 * 86_400_000, ge=60_000)
    # A message whose worker died (kill -9, out of memory) this many times while processing it is
    # dead-lettered at its next delivery instead of taking down one worker after another.
    worker_crash_limit: int = Field(3, ge=1)

    # Fetching.
    fetch_connect_timeout_s: float = 10.0
    fetch_read_timeout_s: float = 30.0
    fetch_total_timeout_s: float = 120.0
    # Spooled to disk and streamed (RSS/Atom, job-board XML): memory does not grow with it.
    fetch_max_bytes: int = Field(256 * 1024 * 1024, ge=1024)
    # Documents read whole (the feedparser fallback, JSON, API pages) cost ~6x their size in memory.
    fetch_max_whole_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    fetch_max_redirects: int = Field(5, ge=0)
    fast_parse: bool = True  # lxml for well-formed RSS 2.0/Atom (same items); off: feedparser only
    user_agent: str = "job-importer/0.1 (+https://github.com/job-importer)"

    # An item id stays "waiting in the queue" for at most this long (guards against lost cleanups).
    dedupe_ttl_s: int = Field(6 * 3600, ge=1)

    # History.
    run_failures_cap: int = Field(100, ge=0)
    history_retention_days: int = Field(30, ge=1)

    # Metrics: each worker process group serves /metrics on its own port.
    worker_shutdown_timeout_ms: int = Field(60_000, ge=1000)  # in-flight chunks finish within it
    metrics_enabled: bool = True
    fetcher_metrics_port: int = 9191
    importer_metrics_port: int = 9192

    # HTTP API and admin UI (`job-importer api`, started by `job-importer up`).
    api_host: str = "127.0.0.1"  # 0.0.0.0 in a container
    api_port: int = Field(8000, ge=1, le=65535)
    api_token: SecretStr | None = None  # Bearer token for mutating endpoints; unset: they are refused
    api_read_auth: bool = False  # also require the token for read endpoints (and the stream)
    api_allow_private_feeds: bool = False  # let API-supplied feed URLs reach loopback/private hosts

    @field_validator("feeds", mode="before")
    @classmethod
    def _split_feeds(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def as_env(self) -> dict[str, str]:
        """These settings as environment variables, for child processes."""
        env = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            secret = getattr(self, name)
            if isinstance(secret, SecretStr):
                value = secret.get_secret_value()  # dumped as "**********" otherwise
            env[name.upper()] = ",".join(value) if isinstance(value, list) else str(value)
        return env

    def feed_configs(self) -> list[FeedConfig]:
        """The configured feeds: FEEDS, else FEEDS_FILE, else the bundled list."""
        if self.feeds:
            return [FeedConfig(url=url) for url in self.feeds]
        if self.feeds_file is not None:
            text = self.feeds_file.read_text(encoding="utf-8")
        else:
            text = resources.files("job_importer").joinpath("feeds.toml").read_text(encoding="utf-8")
        return [FeedConfig.model_validate(entry) for entry in tomllib.loads(text).get("feeds", [])]


@cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()

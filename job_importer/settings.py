"""All configuration, read once from the environment (and `.env`), passed down from there.

Every field maps to an upper-case environment variable of the same name (``redis_url`` ->
``REDIS_URL``). The README lists them with their defaults.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from annotated_types import Ge, Le
from croniter import croniter
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from job_importer.redact import redact

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


#: A request header's name (no MongoDB operators or paths: it is stored as a key).
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")]
#: Where a header's value is: an environment variable's name, or a file's name in FEED_SECRETS_DIR.
SecretRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$")]


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
    # Listing lifecycle (docs/api.md#listing-lifecycle). ``expire_missing``: listings absent from a
    # complete fetch expire; None decides by the format read (on for catalogs: job-board XML and
    # the ATS APIs; off for windows of the latest items: RSS/Atom, JSON Feed, mapped JSON).
    expire_missing: bool | None = None
    expire_after_days: int | None = Field(None, ge=1)  # listings not seen for this long expire
    expire_max_fraction: float = Field(0.5, gt=0, le=1)  # the mass-expiry guard: more is skipped
    # Request headers: header name -> the NAME of an environment variable or of a file in
    # FEED_SECRETS_DIR (a mounted Secret) holding its value. Never the value: this travels in
    # messages and is stored; the fetcher resolves it when it fetches (job_importer/feed_secrets.py).
    headers: dict[HeaderName, SecretRef] = Field(default_factory=dict)

    def model_post_init(self, _context: object) -> None:
        if not self.source:
            self.source = source_for_url(self.url)


class FeedSpec(FeedConfig):
    """A configured feed (FEEDS_FILE, the chart's ``feeds:``): what a fetch needs, and how the
    feed registry (job_importer/feed_registry.py) schedules it."""

    schedule: str | None = None  # a cron expression; None: SCHEDULE_CRON
    enabled: bool = True

    @field_validator("schedule")
    @classmethod
    def _schedule_cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression")
        return value

    def feed(self) -> FeedConfig:
        """What a fetch message carries."""
        return FeedConfig.model_validate(self.model_dump(include=set(FeedConfig.model_fields)))


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
    schedule_cron: str = "0 * * * *"  # the schedule of every feed without its own
    # Between slots the scheduler reads the feed registry this often, to see feeds added or changed.
    schedule_refresh_s: int = Field(30, ge=1, le=3600)
    # A mounted Secret: feed request headers may name a file here for their value (FeedConfig.headers).
    feed_secrets_dir: Path | None = None

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
    # Each worker process requeues dead workers' claimed messages this often (durability.py).
    maintenance_interval_ms: int = Field(5000, ge=100)
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
    # Politeness per host, across all fetchers (services/fetcher/politeness.py): fetches to one
    # host at once (0 = unlimited) and the least time between two requests to it (0 = none).
    fetch_per_host_concurrency: int = Field(2, ge=0, le=1000)
    fetch_per_host_interval_ms: int = Field(250, ge=0, le=60_000)

    # An item id stays "waiting in the queue" for at most this long (guards against lost cleanups).
    dedupe_ttl_s: int = Field(6 * 3600, ge=1)

    # A run that has not moved for this long and has no message left in Redis is failed (and its
    # feed's validators dropped) by the scheduler's housekeeping: see job_importer/stranded.py.
    stranded_run_after_s: int = Field(900, ge=1)

    # History.
    run_failures_cap: int = Field(100, ge=0)
    history_retention_days: int = Field(30, ge=1)

    # Metrics: each worker process group serves /metrics on its own port.
    worker_shutdown_timeout_ms: int = Field(60_000, ge=1000)  # in-flight chunks finish within it
    metrics_enabled: bool = True
    fetcher_metrics_port: int = 9191
    importer_metrics_port: int = 9192

    # The UI's backlog chart (job_importer/backlog.py): the API samples queue counts this often.
    backlog_sample_s: int = Field(60, ge=1, le=3600)
    backlog_keep_hours: int = Field(24, ge=1, le=24 * 14)

    # Logging (job_importer/logs.py): every process, one line per record.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    # HTTP API and admin UI (`job-importer api`, started by `job-importer up`).
    api_host: str = "127.0.0.1"  # 0.0.0.0 in a container
    api_port: int = Field(8000, ge=1, le=65535)
    api_token: SecretStr | None = None  # Bearer token for mutating endpoints; unset: they are refused
    api_read_auth: bool = False  # also require the token for read endpoints (and the stream)
    api_allow_private_feeds: bool = False  # let API-supplied feed URLs reach loopback/private hosts
    api_max_body_bytes: int = Field(1024 * 1024, ge=1024)  # larger request bodies get 413 unread
    # Host names the API answers (comma-separated). Empty: loopback names when API_HOST is loopback,
    # any name otherwise. Against DNS rebinding; see services/api/hardening.py.
    api_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Where the worker services serve /metrics. Unset: API_HOST's address (127.0.0.1 by default).
    worker_metrics_host: str | None = None

    @field_validator("feeds", "api_allowed_hosts", mode="before")
    @classmethod
    def _split_feeds(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("feeds")
    @classmethod
    def _http_feeds(cls, value: list[str]) -> list[str]:
        for url in value:
            if urlsplit(url).scheme.lower() not in ("http", "https"):
                raise ValueError(f"{redact(url)!r} is not an http(s) URL")
        return value

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if urlsplit(value).scheme.lower() not in REDIS_SCHEMES:
            raise ValueError("not a Redis URL")
        return value

    @field_validator("mongodb_url")
    @classmethod
    def _mongodb_scheme(cls, value: str) -> str:
        if urlsplit(value).scheme.lower() not in MONGODB_SCHEMES:
            raise ValueError("not a MongoDB URL")
        return value

    @field_validator("schedule_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError("not a cron expression")
        return value

    @field_validator("feeds_file")
    @classmethod
    def _feeds_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("no such file")
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

    def metrics_host(self) -> str:
        """The address the worker services' metrics listen on: WORKER_METRICS_HOST, else API_HOST's."""
        return self.worker_metrics_host or self.api_host

    def feed_configs(self) -> list[FeedConfig]:
        """The configured feeds: FEEDS, else FEEDS_FILE, else the bundled list."""
        return [spec.feed() for spec in self.feed_specs()]

    def feed_specs(self) -> list[FeedSpec]:
        """The configured feeds with their schedules: FEEDS, else FEEDS_FILE, else the bundled list."""
        if self.feeds:
            return [FeedSpec(url=url) for url in self.feeds]
        if self.feeds_file is None:
            text = resources.files("job_importer").joinpath("feeds.toml").read_text(encoding="utf-8")
            return [FeedSpec.model_validate(entry) for entry in tomllib.loads(text).get("feeds", [])]
        try:
            text = self.feeds_file.read_text(encoding="utf-8")
            entries = tomllib.loads(text).get("feeds", [])
            return [FeedSpec.model_validate(entry) for entry in entries]
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError, TypeError) as exc:
            reason = str(exc).splitlines()[0]
            raise ConfigError(
                f"FEEDS_FILE={str(self.feeds_file)!r}: {reason}; expected {FORMS['feeds_file']}"
            ) from None


REDIS_SCHEMES = ("redis", "rediss", "unix")
MONGODB_SCHEMES = ("mongodb", "mongodb+srv")

#: The accepted form of the settings whose type alone does not say it.
FORMS: dict[str, str] = {
    "redis_url": "redis://[[user]:password@]host[:port][/db], rediss://... (TLS) or unix:///path/to/redis.sock",
    "mongodb_url": "mongodb://[user:password@]host[:port][/?options] or mongodb+srv://host/...",
    "schedule_cron": "a cron expression of 5 fields (minute hour day month weekday), or 6 with seconds first, e.g. '0 * * * *'",
    "feeds_file": 'the path of a readable TOML file of [[feeds]] tables with url = "https://..."',
    "feeds": "comma-separated http(s) URLs",
}


class ConfigError(ValueError):
    """A configuration mistake, said in one line per mistake: the variable, its value, what it takes."""


def accepted_form(name: str) -> str:
    """What a setting accepts, in words: from FORMS, else from its type and bounds."""
    if name in FORMS:
        return FORMS[name]
    field = Settings.model_fields[name]
    kind = field.annotation
    if get_origin(kind) is not None and type(None) in get_args(kind):
        kind = next(arg for arg in get_args(kind) if arg is not type(None))
    low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, Le)), None)
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(str(arg) for arg in get_args(kind))
    words = {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "text")  # type: ignore[arg-type]
    if low is not None and high is not None:
        return f"{words} from {low} to {high}"
    if low is not None:
        return f"{words} of at least {low}"
    return words


def describe_errors(error: ValidationError) -> str:
    """Pydantic's validation errors as ConfigError lines naming the environment variables."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else ""
        if name not in Settings.model_fields:
            lines.append(problem["msg"])
            continue
        value = _shown(name, problem.get("input"))
        reason = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{name.upper()}={value}: {reason}; expected {accepted_form(name)}")
    return "\n".join(lines)


def _shown(name: str, value: Any) -> str:
    """The offending value as the message shows it: secrets hidden, URLs without credentials."""
    if SecretStr in get_args(Settings.model_fields[name].annotation):
        return "(hidden)"
    return repr(redact(str(value)))


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and these overrides); ConfigError names what is wrong."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None


@cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return load_settings()

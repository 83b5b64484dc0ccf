"""One feed run on the fetcher side: download, parse, normalise, drop duplicates, send chunks."""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from dramatiq.brokers.redis import RedisBroker

from job_importer import failed_items, history, lifecycle, metrics
from job_importer.contract import chunk_message
from job_importer.db import Store
from job_importer.failed_items import ItemFailure
from job_importer.feed_secrets import MissingSecret, resolve_headers
from job_importer.pending import PendingItems
from job_importer.redact import redact
from job_importer.settings import FeedConfig, Settings
from services.fetcher.chunks import Chunker, Encoded, Item, ItemTooLarge
from services.fetcher.download import Downloaded, FetchError, Validators, download, download_spooled
from services.fetcher.entries import FeedParseError
from services.fetcher.feed_state import load_validators, save_validators
from services.fetcher.formats import Document, FetchPage, paginated, read_document
from services.fetcher.legacy_ids import LegacyIds
from services.fetcher.normalize import Normalizer, normalize
from services.fetcher.parse import is_atom
from services.fetcher.politeness import HostBusy, HostLimiter, Lease, delay_ms, host_key
from services.fetcher.spool import ItemSpool
from services.fetcher.streaming import NotStreamed, Streamed, open_stream


class RetryLater(Exception):
    """A transient failure: try the whole fetch again after ``delay_ms`` (None: the usual backoff)."""

    def __init__(self, reason: str, delay_ms: int | None) -> None:
        super().__init__(reason)
        self.delay_ms = delay_ms


@dataclass
class FetcherContext:
    """What a fetch needs, built once per worker process."""

    settings: Settings
    store: Store
    broker: RedisBroker
    pending: PendingItems
    http: httpx.Client
    guarded_http: httpx.Client  # for runs started through the API: checks every address (SSRF)
    hosts: HostLimiter | None = None  # politeness per host; None: no limits (some tests)


@dataclass
class FetchOutcome:
    """What one fetch attempt came to, recorded on its run once (:func:`record`).

    ``result`` is the metric label of the attempt. With ``retry`` set the attempt is tried again
    and nothing is recorded on the run; with ``error`` set the run fails with that reason;
    otherwise the fetch is finished and the importer takes the run from there.
    """

    result: str
    http_status: int | None = None
    error: str | None = None
    retry: RetryLater | None = None
    fetched: int = 0
    duplicates: int = 0
    failures: list[ItemFailure] = field(default_factory=list)
    chunks: int = 0
    warning: str | None = None
    validators: Validators | None = None  # saved once the fetch is recorded; None for a 304
    partial: bool = False  # the download broke off: the items before the break were sent
    lifecycle: dict[str, Any] | None = None  # what the end of the run may expire (job_importer.lifecycle)

    @property
    def not_modified(self) -> bool:
        return self.result == "not_modified"


def run_fetch(
    ctx: FetcherContext, run_id: str, feed: FeedConfig, *, last_attempt: bool, from_dead_letter: bool = False
) -> None:
    """Carry one run from queued to importing (or failed). Safe to repeat for the same run.

    Raises :class:`HostBusy` before anything is recorded when the feed's host has no free slot:
    the run stays queued, and the fetch is sent again later (no attempt is started or spent)."""
    lease = _host_slot(ctx, feed)
    with lease or nullcontext():
        attempt_doc = history.start_fetch(ctx.store, run_id, reopen_failed=from_dead_letter)
        if attempt_doc is None:
            # A redelivered message for a run that got past fetching already; the earlier delivery
            # may have died between finishing the fetch and completing the run.
            history.complete_if_done(ctx.store, run_id)
            return
        attempt = int(attempt_doc["fetch_attempts"])
        started = time.monotonic()
        outcome = fetch(ctx, run_id, attempt, feed, last_attempt=last_attempt, lease=lease)
    record(ctx, run_id, attempt, feed, outcome, started)
    if outcome.retry is not None:
        raise outcome.retry


def _host_slot(ctx: FetcherContext, feed: FeedConfig) -> Lease | None:
    """A slot on the feed's host (waiting a little for one), or HostBusy."""
    if ctx.hosts is None:
        return None
    lease = ctx.hosts.acquire(feed.url)
    if lease is None:
        raise HostBusy(host_key(feed.url) or "", delay_ms())
    return lease


def fetch(
    ctx: FetcherContext,
    run_id: str,
    attempt: int,
    feed: FeedConfig,
    *,
    last_attempt: bool,
    lease: Lease | None = None,
) -> FetchOutcome:
    """Download, parse, normalise and send the feed's items; what happened, as an outcome.

    ``lease``, the fetch's slot on the feed's host, is given back once the document (every page
    of it) has been read: sending the items makes no requests to the host."""
    # The items are as new as the moment we asked for them: a slow download of an older version
    # must carry an older stamp than a later, faster one, so the importer keeps the newer content.
    fetched_at = history.now()
    try:
        headers = resolve_headers(feed.headers, ctx.settings.feed_secrets_dir)
    except MissingSecret as exc:  # a configuration mistake: trying again would not help
        return FetchOutcome(result="other", error=f"request headers: {exc}")
    try:
        downloaded = download_spooled(
            ctx.http,
            feed.url,
            validators=Validators() if paginated(feed) else load_validators(ctx.store, feed.url),
            max_bytes=ctx.settings.fetch_max_bytes,
            total_timeout_s=ctx.settings.fetch_total_timeout_s,
            headers=headers,
        )
    except FetchError as exc:
        return _fetch_failed(ctx.settings, exc, last_attempt=last_attempt)
    if downloaded.not_modified or downloaded.spool is None:
        return FetchOutcome(
            result="not_modified",
            http_status=304,
            lifecycle={**lifecycle.policy(feed, None), "fetched_at": fetched_at},
        )
    with closing(downloaded.spool):
        try:
            read = _read(ctx, feed, downloaded, headers)
        except FeedParseError as exc:
            return FetchOutcome(
                result="parse_error", http_status=downloaded.status, error=f"unreadable feed: {exc}"
            )
        except FetchError as exc:  # a further page of a paginated API
            return _fetch_failed(ctx.settings, exc, last_attempt=last_attempt)
        finally:
            if lease is not None:
                lease.release()
    if read is None:  # broke off in a document only read whole: nothing was sent, try again
        broke = FetchError(downloaded.broken_off or "", kind="connect", transient=True)
        return _fetch_failed(ctx.settings, broke, last_attempt=last_attempt)
    with closing(read):
        if read.legacy is not None:  # ids earlier versions gave RSS/Atom entries: moved first
            read.legacy.adopt(ctx.store, read.ids)
        failures = list(read.failures)
        sent = _send_chunks(ctx, run_id, attempt, feed, fetched_at, read.items, failures)
    warning = read.warning
    if read.partial:
        broke_off = f"partial: {downloaded.broken_off}; {read.fetched} entries read before it"
        warning = f"{broke_off}; {warning}" if warning else broke_off
    return FetchOutcome(
        result="partial" if read.partial else "ok",
        http_status=downloaded.status,
        fetched=read.fetched,
        duplicates=read.duplicates + sent.duplicates,
        failures=failures,
        chunks=sent.chunks,
        warning=warning,
        validators=None if read.partial else downloaded.validators,  # the next run fetches it whole
        partial=read.partial,
        # Items left to another run's chunk still in the queue are not marked seen by this run; a
        # document read with a warning (recovered, or an API that stopped early) may lack some.
        lifecycle={
            **lifecycle.policy(feed, read.reader),
            "fetched_at": fetched_at,
            "waiting": sent.duplicates,
            "read_warning": read.warning is not None,
        },
    )


@dataclass
class _Read:
    """A document's items, normalised, before any is sent: in memory (read whole) or on disk
    (streamed); ``ids`` are all of theirs. ``partial``: the download broke off, these are the
    complete items before the break."""

    reader: str
    format: str
    items: Iterable[Item]
    ids: set[str]
    failures: list[ItemFailure]
    duplicates: int
    fetched: int
    warning: str | None = None
    partial: bool = False
    legacy: LegacyIds | None = None  # RSS/Atom: the items' legacy ids (legacy_ids.py)
    spool: ItemSpool | None = None

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


def _read(
    ctx: FetcherContext, feed: FeedConfig, downloaded: Downloaded, headers: dict[str, str] | None = None
) -> _Read | None:
    """The document's items: streamed when its format allows (:mod:`.streaming`), else read
    whole under ``FETCH_MAX_WHOLE_BYTES``. None when a download that broke off can't be used."""
    spool = downloaded.spool
    assert spool is not None
    settings = ctx.settings
    stream = open_stream(spool, downloaded.content_type, downloaded.final_url, feed, fast=settings.fast_parse)
    why = "only well-formed RSS 2.0/Atom, job-board XML and single-document JSON are read as they download"
    error = None
    if stream is not None:
        try:
            return _read_stream(
                stream, feed, partial=downloaded.broken_off is not None, base_url=downloaded.final_url
            )
        except NotStreamed as exc:
            why, error = str(exc), exc.error
    if downloaded.broken_off:
        return None
    if spool.size > settings.fetch_max_whole_bytes:
        if error is not None:  # reading it whole would not help
            raise FeedParseError(error)
        raise FeedParseError(
            f"the document is {spool.size:,} bytes, more than the {settings.fetch_max_whole_bytes:,} "
            f"FETCH_MAX_WHOLE_BYTES allows for one read whole ({why})"
        )
    document = Document(spool.read_all(), downloaded.content_type, downloaded.final_url)
    parsed = read_document(document, feed, fast=settings.fast_parse, fetch_page=_page_fetcher(ctx, headers))
    normalized = normalize(parsed.entries, feed)
    legacy = None
    if parsed.reader == "rss":
        legacy = LegacyIds(atom=is_atom(parsed.format), base_url=downloaded.final_url)
        for item in normalized.items:
            legacy.add(item)
    return _Read(
        reader=parsed.reader,
        format=parsed.format,
        items=normalized.items,
        ids={item.id for item in normalized.items},
        failures=normalized.failures,
        duplicates=normalized.duplicates,
        fetched=len(parsed.entries),
        warning=parsed.warning,
        legacy=legacy,
    )


def _read_stream(stream: Streamed, feed: FeedConfig, *, partial: bool, base_url: str) -> _Read:
    """Normalise a stream's entries into an :class:`ItemSpool` (as the JSON they are sent as);
    nothing is sent until the document has been read to its end, so a stream that steps aside
    has lost nothing. With ``partial`` (the download broke off), malformed XML or JSON at the
    break ends the items instead."""
    normalizer = Normalizer(feed)
    spool = ItemSpool()
    legacy: LegacyIds | None = None
    cut = False
    try:
        try:
            for entry in stream:
                item = normalizer.add(entry)
                if item is None:
                    continue
                if stream.reader == "rss":
                    if legacy is None:  # the version is known once the first entry is out
                        legacy = LegacyIds(atom=is_atom(stream.format), base_url=base_url)
                    legacy.add(item)
                encoded = Encoded.of(item)
                spool.add((encoded.id, encoded.content_hash, encoded.guid, encoded.title, encoded.data))
        except NotStreamed as exc:
            if not (partial and exc.malformed):
                raise
            cut = True
    except BaseException:
        spool.close()
        raise
    return _Read(
        reader=stream.reader,
        format=stream.format,
        items=(Encoded(*row) for row in spool),
        ids=normalizer.seen,
        failures=normalizer.failures,
        duplicates=normalizer.duplicates,
        fetched=normalizer.entries,
        partial=cut,
        legacy=legacy,
        spool=spool,
    )


def record(
    ctx: FetcherContext, run_id: str, attempt: int, feed: FeedConfig, outcome: FetchOutcome, started: float
) -> None:
    """Write the outcome to the run, the failed items, the feed state and the metrics, once."""
    metrics.feed_fetched(feed.url, feed.source, outcome.result, started)
    if outcome.retry is not None:
        return
    if outcome.error is not None:
        history.fail_run(ctx.store, run_id, outcome.error, outcome.http_status)
        return
    # The fetch-stage failures of an attempt that died before finishing go first, so the run's
    # `failed` and its failed items agree; this attempt's own are recorded before the fetch is
    # finished (a death in between is healed by the retry, a later attempt).
    failed_items.drop_earlier_attempts(ctx.store, run_id, attempt)
    failed_items.record(ctx.store, run_id, feed.url, outcome.failures, attempt=attempt)
    finished = history.finish_fetch(
        ctx.store,
        run_id,
        http_status=outcome.http_status,
        fetched=outcome.fetched,
        duplicates=outcome.duplicates,
        failures=[failure.summary() for failure in outcome.failures],
        chunks_total=outcome.chunks,
        failures_cap=ctx.settings.run_failures_cap,
        attempt=attempt,
        not_modified=outcome.not_modified,
        warning=outcome.warning,
        partial=outcome.partial,
        lifecycle=outcome.lifecycle,
    )
    if not finished:  # a stale attempt: a later one owns the run
        failed_items.drop_attempt(ctx.store, run_id, attempt)
        return
    # Validators last: saved before the fetch was recorded, a death in between would make the
    # retry a 304 that counts none of the items this attempt sent.
    if outcome.validators is not None:
        save_validators(ctx.store, feed.url, outcome.validators)
    metrics.count_items(feed.url, {"duplicate": outcome.duplicates, "failed": len(outcome.failures)})


@dataclass
class _Sent:
    chunks: int = 0
    duplicates: int = 0


def _send_chunks(
    ctx: FetcherContext,
    run_id: str,
    attempt: int,
    feed: FeedConfig,
    fetched_at: datetime,
    items: Iterable[Item],
    failures: list[ItemFailure],
) -> _Sent:
    settings = ctx.settings
    chunker = Chunker(settings.worker_batch_size, settings.chunk_max_bytes, settings.worker_flush_ms)
    sent = _Sent()
    labelled = metrics.feed_label(feed.url) != metrics.OTHER_FEED

    def send(batch: list[tuple[Item, bytes]]) -> None:
        waiting = ctx.pending.claim([item for item, _ in batch], run_id)
        fresh = [data for (_, data), duplicate in zip(batch, waiting, strict=True) if not duplicate]
        sent.duplicates += len(batch) - len(fresh)
        if fresh:
            message = chunk_message(
                settings,
                run_id=run_id,
                attempt=attempt,
                seq=sent.chunks,
                feed_url=redact(feed.url),  # stored on each listing
                fetched_at=fetched_at,
                items=fresh,
                labelled=labelled,
            )
            ctx.broker.enqueue(message)
            sent.chunks += 1

    for position, item in enumerate(items):
        try:
            for batch in chunker.add(item):
                send(batch)
        except ItemTooLarge as exc:
            failures.append(
                ItemFailure(key=f"item-{position}", reason=str(exc), guid=item.guid, raw=item.title)
            )
    for batch in chunker.flush():
        send(batch)
    return sent


def _document(downloaded: Downloaded) -> Document:
    return Document(downloaded.body, downloaded.content_type, downloaded.final_url)


def _page_fetcher(ctx: FetcherContext, headers: dict[str, str] | None) -> FetchPage:
    """Further pages of a paginated API source, under the same caps and with the same request
    headers (no conditional GET)."""

    def fetch_page(url: str) -> Document:
        page = download(
            ctx.http,
            url,
            validators=Validators(),
            max_bytes=ctx.settings.fetch_max_whole_bytes,  # pages are read whole
            total_timeout_s=ctx.settings.fetch_total_timeout_s,
            headers=headers,
        )
        return _document(page)

    return fetch_page


def _fetch_failed(settings: Settings, exc: FetchError, *, last_attempt: bool) -> FetchOutcome:
    """A transient failure is tried again (unless this was the last attempt, or the server asks
    for a wait longer than we allow); any other fails the run."""
    failed = FetchOutcome(result=metrics.fetch_result(exc.kind, exc.http_status), http_status=exc.http_status)
    limit = settings.retry_after_max_s
    if exc.transient and exc.retry_after_s is not None and exc.retry_after_s > limit:
        failed.error = (
            f"{exc.reason}; the server asks to retry after {exc.retry_after_s:.0f} s (limit {limit} s)"
        )
    elif exc.transient and not last_attempt:
        delay = None if exc.retry_after_s is None else int(exc.retry_after_s * 1000)
        failed.retry = RetryLater(exc.reason, delay)
    else:
        failed.error = exc.reason
    return failed

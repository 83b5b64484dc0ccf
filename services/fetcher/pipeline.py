"""One feed run on the fetcher side: download, parse, normalise, drop duplicates, send chunks."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from dramatiq.brokers.redis import RedisBroker

from job_importer import failed_items, history, metrics
from job_importer.broker import chunk_message
from job_importer.contract import JobItem
from job_importer.db import Store
from job_importer.failed_items import ItemFailure
from job_importer.pending import PendingItems
from job_importer.redact import redact
from job_importer.settings import FeedConfig, Settings
from services.fetcher.chunks import Chunker, ItemTooLarge
from services.fetcher.download import FetchError, Validators, download
from services.fetcher.entries import FeedParseError
from services.fetcher.normalize import normalize
from services.fetcher.parse import parse_feed


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


def run_fetch(
    ctx: FetcherContext, run_id: str, feed: FeedConfig, *, last_attempt: bool, from_dead_letter: bool = False
) -> None:
    """Carry one run from queued to importing (or failed). Safe to repeat for the same run."""
    attempt_doc = history.start_fetch(ctx.store, run_id, reopen_failed=from_dead_letter)
    if attempt_doc is None:
        # A redelivered message for a run that got past fetching already; the earlier delivery may
        # have died between finishing the fetch and completing the run.
        history.complete_if_done(ctx.store, run_id)
        return
    attempt = int(attempt_doc["fetch_attempts"])
    started = time.monotonic()
    try:
        downloaded = download(
            ctx.http,
            feed.url,
            validators=_load_validators(ctx.store, feed.url),
            max_bytes=ctx.settings.fetch_max_bytes,
            total_timeout_s=ctx.settings.fetch_total_timeout_s,
        )
    except FetchError as exc:
        metrics.feed_fetched(feed.url, metrics.fetch_result(exc.kind, exc.http_status), started)
        _handle_fetch_error(ctx, run_id, exc, last_attempt=last_attempt)
        return
    if downloaded.not_modified:
        metrics.feed_fetched(feed.url, "not_modified", started)
        history.finish_fetch(
            ctx.store, run_id, http_status=304, fetched=0, duplicates=0, failures=[], chunks_total=0,
            failures_cap=ctx.settings.run_failures_cap, attempt=attempt, not_modified=True,
        )  # fmt: skip
        return
    try:
        parsed = parse_feed(downloaded.body, fast=ctx.settings.fast_parse)
    except FeedParseError as exc:
        metrics.feed_fetched(feed.url, "parse_error", started)
        history.fail_run(ctx.store, run_id, f"unreadable feed: {exc}", downloaded.status)
        return
    metrics.feed_fetched(feed.url, "ok", started)
    normalized = normalize(parsed.entries, feed)
    failures = list(normalized.failures)
    sent = _send_chunks(ctx, run_id, attempt, feed, normalized.items, failures)
    failed_items.record(ctx.store, run_id, feed.url, failures)
    _save_validators(ctx.store, feed.url, downloaded.validators)
    history.finish_fetch(
        ctx.store,
        run_id,
        http_status=downloaded.status,
        fetched=len(parsed.entries),
        duplicates=normalized.duplicates + sent.duplicates,
        failures=[failure.summary() for failure in failures],
        chunks_total=sent.chunks,
        failures_cap=ctx.settings.run_failures_cap,
        attempt=attempt,
        warning=parsed.warning,
    )
    metrics.count_items(
        feed.url, {"duplicate": normalized.duplicates + sent.duplicates, "failed": len(failures)}
    )


@dataclass
class _Sent:
    chunks: int = 0
    duplicates: int = 0


def _send_chunks(
    ctx: FetcherContext,
    run_id: str,
    attempt: int,
    feed: FeedConfig,
    items: list[JobItem],
    failures: list[ItemFailure],
) -> _Sent:
    settings = ctx.settings
    chunker = Chunker(settings.worker_batch_size, settings.chunk_max_bytes, settings.worker_flush_ms)
    fetched_at = history.now()
    sent = _Sent()

    def send(batch: list[tuple[JobItem, bytes]]) -> None:
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


def _handle_fetch_error(ctx: FetcherContext, run_id: str, exc: FetchError, *, last_attempt: bool) -> None:
    limit = ctx.settings.retry_after_max_s
    if exc.transient and exc.retry_after_s is not None and exc.retry_after_s > limit:
        reason = f"{exc.reason}; the server asks to retry after {exc.retry_after_s:.0f} s (limit {limit} s)"
        history.fail_run(ctx.store, run_id, reason, exc.http_status)
    elif exc.transient and not last_attempt:
        delay = None if exc.retry_after_s is None else int(exc.retry_after_s * 1000)
        raise RetryLater(exc.reason, delay)
    else:
        history.fail_run(ctx.store, run_id, exc.reason, exc.http_status)


def _load_validators(store: Store, url: str) -> Validators:
    doc = store.feed_state.find_one({"_id": redact(url)}) or {}
    return Validators(etag=doc.get("etag"), last_modified=doc.get("last_modified"))


def _save_validators(store: Store, url: str, validators: Validators) -> None:
    store.feed_state.update_one(
        {"_id": redact(url)},
        {
            "$set": {
                "etag": validators.etag,
                "last_modified": validators.last_modified,
                "updated_at": history.now(),
            }
        },
        upsert=True,
    )

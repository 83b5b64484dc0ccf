"""Downloading a feed: timeouts, a size cap, limited redirects, conditional GET, Retry-After.

The size cap counts decompressed bytes as they are decoded (:mod:`.decoding`), and the total
deadline bounds the whole request, headers included (:mod:`.deadline`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from job_importer.netguard import BlockedURL
from job_importer.settings import Settings
from services.fetcher import deadline, politeness
from services.fetcher.decoding import ACCEPT_ENCODING, Undecodable, decoded
from services.fetcher.spool import Spool

#: Status codes worth another try later.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Validators:
    """What the server told us last time, sent back for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Downloaded:
    status: int
    body: bytes  # empty when not modified
    validators: Validators
    final_url: str
    content_type: str = ""  # the response's Content-Type header: its charset wins (RFC 7303)
    spool: Spool | None = None  # the body, from download_spooled (then ``body`` is empty)
    broken_off: str | None = None  # why the body ended early (download_spooled): what came is kept

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class FetchError(Exception):
    """A feed-level failure, with what a person needs to know to act on it."""

    def __init__(
        self,
        reason: str,
        *,
        kind: str,
        transient: bool,
        http_status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # bounded set, used as a metric label: timeout, connect, http, too_large, ...
        self.transient = transient
        self.http_status = http_status
        self.retry_after_s = retry_after_s


def make_client(
    settings: Settings,
    url_guard: Callable[[httpx.Request], None] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An HTTP client for feeds. ``url_guard`` sees every request, redirects included (SSRF checks);
    ``transport`` replaces httpx's own (``netguard.guarded_transport`` for the same checks at connect).
    Its connections keep to the total deadline of :func:`download`, and its requests to the host
    of a fetch holding a slot there wait their turn (:func:`politeness.pace_request`)."""
    timeout = httpx.Timeout(
        connect=settings.fetch_connect_timeout_s,
        read=settings.fetch_read_timeout_s,
        write=settings.fetch_read_timeout_s,
        pool=settings.fetch_connect_timeout_s,
    )
    client = httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        max_redirects=settings.fetch_max_redirects,
        headers={
            "User-Agent": settings.user_agent,
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5",
            "Accept-Encoding": ACCEPT_ENCODING,  # what decoding.decoded undoes
        },
        # The guard first: a blocked request fails before it takes a turn on its host.
        event_hooks={"request": [*([url_guard] if url_guard else []), politeness.pace_request]},
        transport=transport,
    )
    return deadline.bound(client)


def download(
    client: httpx.Client,
    url: str,
    *,
    validators: Validators,
    max_bytes: int,
    total_timeout_s: float,
    headers: Mapping[str, str] | None = None,
) -> Downloaded:
    """GET a feed, reading at most ``max_bytes`` and for at most ``total_timeout_s`` seconds;
    ``headers``: the feed's own request headers (job_importer/feed_secrets.py)."""
    return _get(
        client,
        url,
        validators,
        total_timeout_s,
        lambda response, at: _Body(_read_capped(response, max_bytes, at)),
        headers,
    )


def download_spooled(
    client: httpx.Client,
    url: str,
    *,
    validators: Validators,
    max_bytes: int,
    total_timeout_s: float,
    headers: Mapping[str, str] | None = None,
) -> Downloaded:
    """:func:`download`, with the body written to a :class:`Spool` instead of memory.

    A connection that breaks off after part of the body arrived is not an error here: the
    result keeps what came, and ``broken_off`` says why it ended (the caller reads the complete
    items and marks the run partial)."""

    def read(response: httpx.Response, at: float) -> _Body:
        spool = Spool()
        try:
            broken_off = _spool_capped(response, max_bytes, at, spool)
        except BaseException:
            spool.close()
            raise
        return _Body(b"", spool, broken_off)

    return _get(client, url, validators, total_timeout_s, read, headers)


@dataclass
class _Body:
    body: bytes
    spool: Spool | None = None
    broken_off: str | None = None


def _get(
    client: httpx.Client,
    url: str,
    validators: Validators,
    total_timeout_s: float,
    read: Callable[[httpx.Response, float], _Body],
    extra_headers: Mapping[str, str] | None = None,
) -> Downloaded:
    headers: dict[bytes, bytes] = {
        name.encode("ascii"): value.encode("utf-8") for name, value in (extra_headers or {}).items()
    }
    if etag := header_bytes(validators.etag):
        headers[b"If-None-Match"] = etag
    if last_modified := header_bytes(validators.last_modified):
        headers[b"If-Modified-Since"] = last_modified
    at = time.monotonic() + total_timeout_s
    try:
        with deadline.within(total_timeout_s), client.stream("GET", url, headers=headers) as response:
            _raise_for_status(response)
            body = _Body(b"") if response.status_code == 304 else read(response, at)
            return Downloaded(
                status=response.status_code,
                body=body.body,
                spool=body.spool,
                broken_off=body.broken_off,
                validators=Validators(
                    _header_text(response, b"etag"), _header_text(response, b"last-modified")
                ),
                final_url=str(response.url),
                content_type=response.headers.get("Content-Type", ""),
            )
    except BlockedURL as exc:  # from the request hook of runs started through the API
        raise FetchError(f"blocked: {exc}", kind="blocked", transient=False) from None
    except httpx.TooManyRedirects:
        raise FetchError(
            f"more than {client.max_redirects} redirects", kind="redirects", transient=False
        ) from None
    except httpx.TimeoutException as exc:
        if time.monotonic() >= at:
            raise FetchError(
                f"no complete response within the total deadline of {total_timeout_s:g} s",
                kind="timeout",
                transient=True,
            ) from None
        raise FetchError(f"timed out ({type(exc).__name__})", kind="timeout", transient=True) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:  # also a redirect to such a URL
        raise FetchError(f"unsupported URL: {exc}", kind="invalid_url", transient=False) from None
    except (httpx.DecodingError, Undecodable) as exc:  # a Content-Encoding the body does not match
        raise FetchError(f"undecodable response: {exc}", kind="other", transient=False) from None
    except httpx.TransportError as exc:
        raise FetchError(
            f"connection failed: {exc or type(exc).__name__}", kind="connect", transient=True
        ) from None


def header_bytes(value: str | None) -> bytes | None:
    """A stored validator as the bytes to send back, or None when it cannot be sent.

    Validators are kept as the Latin-1 reading of the bytes the server sent (RFC 9110 obs-text),
    so encoding them as Latin-1 gives back exactly those bytes, whatever their charset; a value
    stored otherwise (characters beyond U+00FF, or control characters) is not sent, and the
    fetch is a full one instead of failing.
    """
    if not value:
        return None
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return None
    if any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in raw):
        return None
    return raw


def _header_text(response: httpx.Response, name: bytes) -> str | None:
    """The first ``name`` header as the Latin-1 text of its bytes (lossless, see :func:`header_bytes`)."""
    for key, value in response.headers.raw:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status == 304 or 200 <= status < 300:
        return
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    raise FetchError(
        f"HTTP {status} {response.reason_phrase}".strip(),
        kind="http",
        transient=status in TRANSIENT_STATUSES,
        http_status=status,
        retry_after_s=retry_after,
    )


def _read_capped(response: httpx.Response, max_bytes: int, until: float) -> bytes:
    """The decoded body, counted against ``max_bytes`` as it is decoded, a bounded piece at a time."""
    return b"".join(_capped_pieces(response, max_bytes, until))


def _spool_capped(response: httpx.Response, max_bytes: int, until: float, spool: Spool) -> str | None:
    """Write the decoded body to ``spool`` under the caps; why it broke off, if it did."""
    try:
        for piece in _capped_pieces(response, max_bytes, until):
            spool.write(piece)
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        if not spool.size:
            raise  # nothing came: an ordinary connection failure, tried again
        return f"the download broke off after {spool.size:,} bytes ({exc or type(exc).__name__})"
    return None


def _capped_pieces(response: httpx.Response, max_bytes: int, until: float) -> Iterator[bytes]:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(
            f"response is {int(declared):,} bytes; the limit is {max_bytes:,}",
            kind="too_large",
            transient=False,
            http_status=response.status_code,
        )
    size = 0
    for part in decoded(response.iter_raw(), response.headers.get("Content-Encoding")):
        size += len(part)
        if size > max_bytes:
            raise FetchError(
                f"response exceeds the limit of {max_bytes:,} bytes",
                kind="too_large",
                transient=False,
                http_status=response.status_code,
            )
        if time.monotonic() > until:
            raise FetchError("download took longer than the total deadline", kind="timeout", transient=True)
        yield part


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())

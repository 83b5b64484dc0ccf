"""Which feed URLs a caller of the API may make us fetch (the SSRF guard).

A URL must be http(s) with a host, and unless private feeds are allowed, every address the host
resolves to must be a public one: no loopback, private, link-local (cloud metadata), shared,
reserved, multicast or unspecified address, also not when wrapped in an IPv4-mapped IPv6
address. The API checks a URL when it is submitted; the fetcher checks every request of such
a run again, redirects included, through an httpx request hook, and once more where it connects:
:func:`guarded_transport` connects only to addresses it has just checked, so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot lead it to a private address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

MAX_URL_CHARS = 2_000
SCHEMES = ("http", "https")


class BlockedURL(ValueError):
    """A URL we refuse to fetch on a caller's behalf, with the reason."""


def check_syntax(url: str) -> str:
    """The URL if it is a well-formed http(s) URL with a host; raises BlockedURL otherwise."""
    if len(url) > MAX_URL_CHARS:
        raise BlockedURL(f"URL is longer than {MAX_URL_CHARS} characters")
    if any(char.isspace() or ord(char) < 32 for char in url):
        raise BlockedURL("URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as exc:
        raise BlockedURL(f"malformed URL: {exc}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise BlockedURL(
            f"only http and https URLs can be imported, not {parts.scheme or 'a relative URL'!r}"
        )
    if not parts.hostname:
        raise BlockedURL("URL has no host")
    return url


def blocked_reason(address: str) -> str | None:
    """Why this IP address must not be fetched from, or None for a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"{kind.replace('_', '-')} address {ip}"
    if not ip.is_global:
        return f"non-public address {ip}"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BlockedURL(f"cannot resolve host {host!r}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def public_addresses(host: str, port: int) -> list[str]:
    """The addresses of ``host``; raises BlockedURL if any of them is not public."""
    addresses = resolve(host, port)
    for address in addresses:
        reason = blocked_reason(address)
        if reason:
            raise BlockedURL(
                f"host {host!r} resolves to a {reason}; set API_ALLOW_PRIVATE_FEEDS=true to allow such feeds"
            )
    return addresses


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise BlockedURL unless ``url`` may be fetched for a caller of the API."""
    check_syntax(url)
    if allow_private:
        return
    parts = urlsplit(url)
    public_addresses(parts.hostname or "", parts.port or (443 if parts.scheme.lower() == "https" else 80))


def request_guard(*, allow_private: bool) -> Callable[[httpx.Request], None]:
    """An httpx request hook that applies :func:`check_url` to every request, redirects included."""

    def guard(request: httpx.Request) -> None:
        check_url(str(request.url), allow_private=allow_private)

    return guard


class PublicOnlyBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to the public addresses it resolved itself.

    The name is resolved once, every address checked, and the socket opened to one of those very
    addresses; TLS still verifies the certificate against the host name (httpcore passes it as SNI).
    """

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in public_addresses(host, port):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # try the next address, as socket.create_connection does
        assert failure is not None  # resolve() returns at least one address or raises
        raise failure


def guarded_transport() -> httpx.HTTPTransport:
    """An httpx transport whose direct connections go to public addresses only.

    (Requests through a proxy from the environment are resolved by the proxy; the request hook
    still checks them.)
    """
    transport = httpx.HTTPTransport()
    # httpx has no public way to pass httpcore a network backend; the pool keeps it here.
    transport._pool._network_backend = PublicOnlyBackend()
    return transport

"""Which feed URLs a caller of the API may make us fetch (the SSRF guard).

A URL must be http(s) with a host, and unless private feeds are allowed, every address the host
resolves to must be a public one: no loopback, private, link-local (cloud metadata), shared,
reserved, multicast or unspecified address, also not when wrapped in an IPv4-mapped IPv6
address. The API checks a URL when it is submitted; the fetcher checks every request of such
a run again, redirects included, through an httpx request hook. (The hook resolves the name
itself, so a DNS answer that changes between the check and the connection is not caught.)
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

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
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BlockedURL(f"cannot resolve host {host!r}: {exc}") from None
    return sorted({str(info[4][0]) for info in infos})


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise BlockedURL unless ``url`` may be fetched for a caller of the API."""
    check_syntax(url)
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    for address in resolve(host, port):
        reason = blocked_reason(address)
        if reason:
            raise BlockedURL(
                f"host {host!r} resolves to a {reason}; set API_ALLOW_PRIVATE_FEEDS=true to allow such feeds"
            )


def request_guard(*, allow_private: bool) -> Callable[[httpx.Request], None]:
    """An httpx request hook that applies :func:`check_url` to every request, redirects included."""

    def guard(request: httpx.Request) -> None:
        check_url(str(request.url), allow_private=allow_private)

    return guard

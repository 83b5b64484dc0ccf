"""The address rules of the SSRF guard (pure functions; no network)."""

from __future__ import annotations

import pytest

from job_importer.netguard import BlockedURL, blocked_reason, check_syntax, check_url


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "10.0.0.1", "172.31.255.255",
     "192.168.0.1", "169.254.169.254", "fe80::1%eth0", "fd00::1", "0.0.0.0", "::", "100.64.0.1",
     "224.0.0.1", "ff02::1", "240.0.0.1", "192.0.2.1"],
)  # fmt: skip
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert blocked_reason(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(address) is None


def test_ip_literals_are_checked_without_any_lookup() -> None:
    check_url("https://93.184.216.34/feed.xml", allow_private=False)  # no DNS needed for a literal
    with pytest.raises(BlockedURL, match=r"link-local address 169\.254\.169\.254"):
        check_url("http://169.254.169.254/latest/meta-data/", allow_private=False)


def test_allowing_private_feeds_keeps_the_syntax_rules() -> None:
    check_url("http://127.0.0.1:8080/feed.xml", allow_private=True)
    with pytest.raises(BlockedURL, match="only http and https"):
        check_url("gopher://127.0.0.1/", allow_private=True)


@pytest.mark.parametrize(
    ("url", "message"),
    [("", "only http and https"), ("//example.com/x", "only http and https"), ("https:///x", "no host"),
     ("http://exa mple.com/", "whitespace"), ("http://example.com\n/", "whitespace"), ("http://[::1/", "malformed")],
)  # fmt: skip
def test_syntax(url: str, message: str) -> None:
    with pytest.raises(BlockedURL, match=message):
        check_syntax(url)

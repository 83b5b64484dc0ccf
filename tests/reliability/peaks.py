"""Peak memory of the fetcher's download and parse code under the issue-15 attacks, outside CI.

    .venv/bin/python -m tests.reliability.peaks gzip       # Content-Encoding: gzip, gzip (1 GB inside)
    .venv/bin/python -m tests.reliability.peaks entities   # padded internal entity expansion

Each runs the attack once, in this process, with the shipped defaults (``FETCH_MAX_BYTES``) and
prints the outcome and the process's peak RSS beside its RSS before the attack. Memory is
measured here, never asserted by a timed test; the tests check the behaviour
(tests/fetcher/test_hostile_download.py, tests/fetcher/test_hostile_input.py).
"""

from __future__ import annotations

import argparse
import resource

import psutil

from devstack.feedserver import FeedServer, Reply
from job_importer.settings import Settings
from services.fetcher.download import FetchError, Validators, download, make_client
from services.fetcher.entries import FeedParseError
from services.fetcher.parse import parse_feed
from tests.fetcher.hostile import nested_gzip_bomb, rss


def nested_gzip(settings: Settings) -> str:
    bomb = nested_gzip_bomb(1024)
    route = lambda request: Reply(body=iter([bomb]), headers={"Content-Encoding": "gzip, gzip"})  # noqa: E731
    with FeedServer({"/bomb.xml": route}) as server, make_client(settings) as http:
        try:
            got = download(
                http,
                server.url("/bomb.xml"),
                validators=Validators(),
                max_bytes=settings.fetch_max_bytes,
                total_timeout_s=settings.fetch_total_timeout_s,
            )
        except FetchError as exc:
            return f"{len(bomb):,} bytes on the wire: FetchError({exc.kind}): {exc.reason}"
    return f"{len(bomb):,} bytes on the wire: downloaded {len(got.body):,} bytes"


def padded_entities(settings: Settings) -> str:
    """The issue's sample: 4 MB of comment padding, 4,000 references to a 100 KB entity."""
    value, references, padding = 100_000, 4_000, 4_000_000
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{"A" * value}">]><!--{"p" * padding}-->'
        + rss(
            f"<item><title>t</title><guid>p</guid><description>{'&a;' * references}</description></item>", ""
        )
    ).encode()
    try:
        parsed = parse_feed(body, fast=settings.fast_parse)
    except FeedParseError as exc:
        return f"{len(body):,}-byte feed: FeedParseError: {exc}"
    size = sum(len(entry.description or "") for entry in parsed.entries)
    return f"{len(body):,}-byte feed: parsed, descriptions of {size:,} characters, warning={parsed.warning!r}"


ATTACKS = {"gzip": nested_gzip, "entities": padded_entities}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.peaks", description=__doc__)
    parser.add_argument("attack", choices=sorted(ATTACKS))
    attack = ATTACKS[parser.parse_args().attack]
    settings = Settings()
    before = psutil.Process().memory_info().rss / 1e6
    outcome = attack(settings)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KiB on Linux
    print(outcome)
    print(f"RSS before {before:.0f} MB, peak {peak:.0f} MB (FETCH_MAX_BYTES {settings.fetch_max_bytes:,})")


if __name__ == "__main__":
    main()

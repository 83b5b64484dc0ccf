"""Hostile and broken feeds through the running system, all in one import with a good feed: each
gets a clear recorded error or a correct import, and the good feed is unaffected.

(tests/e2e/test_feeds_and_failures.py already covers an HTML page, XXE, billion laughs, a truncated
feed, 5xx/429/404 and an endless body this way; these are the other cases of the issue.)
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from devstack.feedserver import FeedServer, Reply, Request
from devstack.samplefeeds import jobicy_feed, plain_rss_feed, sample_jobs
from job_importer.contract import MAX_SHORT_CHARS
from job_importer.settings import FeedConfig
from job_importer.trigger import start_import
from tests.conftest import Workers, wait_for_runs
from tests.fetcher.hostile import gzip_of_a_gigabyte, rss
from tests.reliability.harness import (
    Catalog,
    Figures,
    Outcome,
    RunCheck,
    assert_clean,
    check_final_state,
    record,
)

GIB = 1024**3


def items(count: int, prefix: str, **fields: str) -> str:
    body = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
    return "".join(
        f"<item><title>{prefix} {n}</title><guid>{prefix}-{n}</guid>{body}</item>" for n in range(count)
    )


def gigabyte(request: Request) -> Reply:
    """1 GB of XML, streamed without a Content-Length: the reader must stop at the cap."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    return Reply(
        body=itertools.chain([head], itertools.repeat(b"<item><title>x</title></item>" * 2048, GIB // 59392))
    )


def declared_gigabyte(request: Request) -> Reply:
    return Reply(body=iter([b"<rss>"]), headers={"Content-Length": str(GIB)})


def gzip_bomb(request: Request) -> Reply:
    """About 1 MB on the wire, 1 GB once decompressed."""
    return Reply(body=gzip_of_a_gigabyte(), headers={"Content-Encoding": "gzip"})


def slow_drip(request: Request) -> Reply:
    """Each byte well within the read timeout; the whole far beyond the total deadline."""
    return Reply(body=iter([b"<rss>"] + [b" "] * 600), chunk_delay_s=0.02)


def redirect(location: str) -> Any:
    return lambda request: Reply(status=302, headers={"Location": location})


@dataclass(frozen=True)
class Expect:
    status: str
    new: int = 0
    failed: int = 0
    duplicates: int = 0
    error: str = ""  # part of the run's error
    warning: str = ""  # part of the run's warning


def test_hostile_feeds_get_a_clear_error_or_a_correct_import(
    settings, store, broker, redis_client, feed_server: FeedServer, workers: Workers
) -> None:
    settings = settings.model_copy(
        update={"fetch_max_retries": 0, "fetch_total_timeout_s": 3, "fetch_max_bytes": 20 * 1024**2}
    )
    workers.settings = settings
    catalog = Catalog(feeds=1, items=200)
    item = "<item><title>Caf\u00e9 - Z\u00fcrich</title><guid>g1</guid><description>d\u00e9j\u00e0</description></item>"
    big = sample_jobs(5_000, seed=31, description_bytes=100)
    shared = jobicy_feed(sample_jobs(40, seed=32))
    long_fields = (
        f"<item><title>{'t' * (MAX_SHORT_CHARS + 1)}</title><guid>long-title</guid></item>"
        f"<item><title>ok</title><guid>long-description</guid><description>{'d' * 200_000}</description></item>"
        "<item><title>fine</title><guid>fine</guid></item>"
    )
    quadratic = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{"A" * 50_000}">]>' + rss(  # 2.5 GB
        f"<item><title>q</title><guid>q</guid><description>{'&a;' * 50_000}</description></item>"
        "<item><title>fine</title><guid>fine</guid></item>",
        "",
    )
    hostile: dict[str, tuple[Any, Expect]] = {
        "utf16-bom": (
            rss(item, '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16"),
            Expect("completed", new=1),
        ),
        "utf8-bom": (b"\xef\xbb\xbf" + rss(item).encode(), Expect("completed", new=1)),
        "latin1-as-utf8": (rss(item).encode("latin-1"), Expect("completed", new=1, warning="parsed as")),
        "invalid-utf8": (
            rss(item).encode().replace("ü".encode(), b"\xff\xfe"),
            Expect("completed", new=1, warning="malformed"),
        ),
        "control-chars": (
            rss(item.replace("Caf", "Ca\x01\x00\x1bf")).encode(),
            Expect("completed", new=1, warning="malformed"),
        ),
        "long-fields": (rss(long_fields).encode(), Expect("completed", new=1, failed=2)),
        "duplicate-guids": (
            rss(items(1, "dup") * 4 + items(2, "other")).encode(),
            Expect("completed", new=3, duplicates=3),
        ),
        "shared-a": (shared, Expect("completed", new=40)),
        "shared-b": (shared, Expect("completed", new=40)),  # the same guids, another source: no collision
        "dotted-keys": (
            rss("<item><title>T</title><guid>k</guid><weird.el>1</weird.el><x.y.z>2</x.y.z></item>").encode(),
            Expect("completed", new=1),
        ),
        "empty": (rss("").encode(), Expect("completed")),
        "quadratic-blowup": (
            quadratic.encode(),
            Expect("failed", error="internal XML entities would expand"),
        ),
        "large-5000": (plain_rss_feed(big), Expect("completed", new=5_000)),
        "gigabyte": (gigabyte, Expect("failed", error="exceeds the limit")),
        "declared-gigabyte": (declared_gigabyte, Expect("failed", error="1,073,741,824 bytes")),
        "gzip-bomb": (gzip_bomb, Expect("failed", error="exceeds the limit")),
        "slow-drip": (slow_drip, Expect("failed", error="total deadline")),
        "redirect-loop": (redirect("/redirect-loop.xml"), Expect("failed", error="redirects")),
        "redirect-to-invalid-url": (
            redirect("http://[::1/feed"),
            Expect("failed", error="Invalid URL in location header"),
        ),
    }
    for name, (route, _) in hostile.items():
        feed_server.routes[f"/{name}.xml"] = route
    feed_server.routes.update(catalog.routes(0))
    feeds = [
        *catalog.configs(feed_server.url("/")),
        *(FeedConfig(url=feed_server.url(f"/{name}.xml"), source=name) for name in hostile),
    ]
    workers.start_both()
    started = time.monotonic()
    run_ids = start_import(settings, store, broker, feeds, "cli").run_ids
    runs = wait_for_runs(store, run_ids, timeout=300)
    finished = time.monotonic()

    outcome = check_final_state(
        settings, store, redis_client, catalog, [RunCheck(run_ids[0], 0, 0, None)], {0: 0}
    )
    hostile_runs = dict(zip(hostile, runs[1:], strict=True))
    outcome.runs, outcome.items = len(runs), sum(run["fetched"] for run in runs)
    for name, (_, expect) in hostile.items():
        check_hostile_run(name, hostile_runs[name], expect, store, outcome)
    shared_ids = {
        source: {doc["guid"] for doc in store.jobs.find({"source": source}, {"guid": 1})}
        for source in ("shared-a", "shared-b")
    }
    if shared_ids["shared-a"] != shared_ids["shared-b"] or len(shared_ids["shared-a"]) != 40:
        outcome.problem(
            f"colliding guids across feeds: {len(shared_ids['shared-a'])} / {len(shared_ids['shared-b'])}"
        )
    dotted = store.jobs.find_one({"source": "dotted-keys"}) or {}
    if any("." in key or key.startswith("$") for key in dotted.get("extra", {})):
        outcome.problem(f"unsafe field names stored: {dotted.get('extra')}")
    figures = Figures.of(
        "hostile feeds",
        f"{len(hostile)} hostile or broken feeds (encodings, control characters, huge fields, 1 GB bodies, "
        "a gzip bomb, slow drip, redirect loops, entity blowup, 5,000 entries...) beside a good one",
        outcome,
        started=started,
        recovered_from=None,
        finished=finished,
        runs={
            name: {
                k: run.get(k)
                for k in ("status", "fetched", "new", "failed", "duplicates", "error", "warning")
            }
            for name, run in hostile_runs.items()
        },
    )
    record(figures)
    assert_clean(figures)


def check_hostile_run(name: str, run: dict[str, Any], expect: Expect, store: Any, outcome: Outcome) -> None:
    found = Expect(
        run["status"], run["new"], run["failed"], run["duplicates"],
        expect.error if expect.error and expect.error in (run.get("error") or "") else run.get("error") or "",
        expect.warning if expect.warning and expect.warning in (run.get("warning") or "") else run.get("warning") or "",
    )  # fmt: skip
    if found != expect:
        outcome.problem(f"{name}: {found} != {expect}")
    outcome_total = run["new"] + run["updated"] + run["unchanged"] + run["duplicates"] + run["failed"]
    if run["fetched"] != outcome_total:
        outcome.problem(f"{name} does not add up: {run}")
    stored = store.jobs.count_documents({"source": name})
    if stored != expect.new:
        outcome.lost += max(0, expect.new - stored)
        outcome.duplicated += max(0, stored - expect.new)
        outcome.problem(f"{name}: {stored} listings stored, expected {expect.new}")
    failures = store.failed_items.count_documents({"run_id": run["_id"]})
    if failures != expect.failed:
        outcome.problem(f"{name}: {failures} failed items recorded, expected {expect.failed}")

"""Politeness per host under load, end to end: many feeds on one loopback host, fetched by two
real fetcher processes of several threads each. The host never sees more requests at once than
FETCH_PER_HOST_CONCURRENCY, and the fetches that waited are delayed, never failed or retried."""

from __future__ import annotations

import pytest

from devstack.feedserver import FeedServer
from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer.settings import FeedConfig
from services.fetcher.politeness import WAIT_S
from tests.conftest import Workers, assert_adds_up, run_import

FEEDS = 12
JOBS = 20
# Each response takes half a fetch's wait for a slot: of the 8 fetches under way after the first
# two responses, 2 are in flight and 6 wait, and only 4 of those can start within the wait; the
# others are sent again with a delay.
SLOW_S = WAIT_S / 2


@pytest.mark.parametrize("slots", [2, 0], ids=["limit-2", "unlimited"])
def test_one_host_never_sees_more_than_its_limit(
    settings, store, broker, workers: Workers, slots: int
) -> None:
    settings = settings.model_copy(
        update={
            "fetch_per_host_concurrency": slots,
            "fetch_per_host_interval_ms": 20,
            "worker_concurrency": 4,
        }
    )
    workers.settings = settings
    routes = {f"/feed-{n}.xml": jobicy_feed(sample_jobs(JOBS, start=1000 * n)) for n in range(FEEDS)}
    with FeedServer(routes, delay_s=SLOW_S) as server:  # type: ignore[arg-type]
        feeds = [FeedConfig(url=server.url(path), source=f"board-{n}") for n, path in enumerate(routes)]
        for _ in range(2):
            workers.start("fetcher")
        workers.start("importer")
        workers.wait_ready("fetcher", count=2)
        workers.wait_ready("importer")

        runs = run_import(settings, store, broker, feeds, timeout=120)
    print(
        f"\n{FEEDS} feeds, 2 fetchers x 4 threads, limit {slots or 'none'}: max in flight {server.max_in_flight}"
    )

    for run in runs:
        assert (run["status"], run["fetched"], run["new"], run["failed"]) == ("completed", JOBS, JOBS, 0), run
        assert run["fetch_attempts"] == 1, run  # a delay is not an attempt, nor a retry
        assert_adds_up(run)
    assert server.hits == {path: 1 for path in routes}
    if slots:
        assert server.max_in_flight == slots  # reached, never passed
        delayed = "".join(
            path.read_text() for path in workers.log_dir.glob(f"{settings.queue_namespace}-fetcher-*")
        )
        assert "delayed:" in delayed  # some fetches outwaited their thread's wait and were sent again
    else:
        assert server.max_in_flight > 2  # what the limit prevents: 8 threads hit the host at once

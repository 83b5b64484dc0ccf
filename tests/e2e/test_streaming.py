"""Streamed reading through real workers: a large feed, and a download that breaks off mid-feed."""

from __future__ import annotations

from collections.abc import Iterator

from devstack.feedserver import FeedServer, Reply
from devstack.samplefeeds import greenhouse_json, jobicy_feed, jobxml_feed, lever_json, sample_jobs
from job_importer.settings import FeedConfig
from services.fetcher.fastparse import parse_fast
from tests.conftest import Workers, assert_adds_up, run_import


def test_a_large_feed_larger_than_the_whole_document_cap_is_streamed_with_exact_counts(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    body = jobicy_feed(sample_jobs(4000, seed=5))
    board = jobxml_feed(sample_jobs(3000, seed=6))
    feed_server.routes["/big.xml"] = body
    feed_server.routes["/board.xml"] = board
    cap = min(len(body), len(board)) // 4  # read whole, both would be refused
    feeds = [
        FeedConfig(url=feed_server.url("/big.xml"), source="big"),
        FeedConfig(url=feed_server.url("/board.xml"), source="board"),
    ]
    workers.start("fetcher", fetch_max_whole_bytes=cap)
    workers.start("importer")
    workers.wait_ready("fetcher")
    workers.wait_ready("importer")
    big, jobs = run_import(settings, store, broker, feeds, timeout=240)
    for run, count in ((big, 4000), (jobs, 3000)):
        assert run["status"] == "completed", run
        assert (run["fetched"], run["new"], run["failed"], run["partial"]) == (count, count, 0, False)
        assert_adds_up(run)
    assert store.jobs.count_documents({"source": "big"}) == 4000
    assert store.jobs.count_documents({"source": "board"}) == 3000


def broken_off(body: bytes, at: int) -> Reply:
    """The headers promise the whole body; the connection closes after ``at`` bytes of it."""

    def parts() -> Iterator[bytes]:
        yield body[:at]

    return Reply(body=parts(), headers={"Content-Length": str(len(body)), "ETag": '"v1"'})


def test_a_download_that_breaks_off_sends_the_complete_items_and_says_the_run_was_partial(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    body = jobicy_feed(sample_jobs(200, seed=9))
    at = body.index(b"<item>", len(body) // 2) + 100  # inside an item
    whole = parse_fast(body)
    assert whole is not None
    complete = body[:at].count(b"</item>")
    feed_server.routes["/cut.xml"] = lambda request: broken_off(body, at)
    feed = FeedConfig(url=feed_server.url("/cut.xml"), source="cut")
    workers.start_both()
    [run] = run_import(settings, store, broker, [feed])
    assert run["status"] == "completed", run
    assert run["partial"] is True and run["warning"].startswith("partial: the download broke off after")
    assert (run["fetched"], run["new"], run["failed"]) == (complete, complete, 0)
    assert_adds_up(run)
    assert 0 < complete < 200 and store.jobs.count_documents({"source": "cut"}) == complete
    assert store.feed_state.count_documents({}) == 0  # no validators: the next run fetches it whole

    feed_server.routes["/cut.xml"] = body  # whole again: the rest comes in, nothing twice
    [second] = run_import(settings, store, broker, [feed])
    assert (second["fetched"], second["new"], second["unchanged"], second["partial"]) == (
        200,
        200 - complete,
        complete,
        False,
    )
    assert store.jobs.count_documents({"source": "cut"}) == 200


def test_json_larger_than_the_whole_document_cap_streams_and_a_broken_off_one_is_partial(
    settings, store, broker, workers: Workers, feed_server: FeedServer
) -> None:
    big = greenhouse_json(sample_jobs(3000, seed=7))
    cut = lever_json(sample_jobs(200, seed=8))
    at = cut.index(b'"hostedUrl"', len(cut) // 2)  # inside a posting
    complete = cut[:at].count(b'"hostedUrl"')  # the postings before the one cut
    feed_server.routes["/board.json"] = big
    feed_server.routes["/cut.json"] = lambda request: broken_off(cut, at)
    feeds = [
        FeedConfig(url=feed_server.url("/board.json"), source="gh", format="greenhouse"),
        FeedConfig(url=feed_server.url("/cut.json"), source="lever", format="lever"),
    ]
    workers.start("fetcher", fetch_max_whole_bytes=len(big) // 4)  # read whole, it would be refused
    workers.start("importer")
    workers.wait_ready("fetcher")
    workers.wait_ready("importer")
    board, partial = run_import(settings, store, broker, feeds, timeout=240)
    assert board["status"] == "completed", board
    assert (board["fetched"], board["new"], board["failed"], board["partial"]) == (3000, 3000, 0, False)
    assert partial["status"] == "completed", partial
    assert partial["partial"] is True and partial["warning"].startswith(
        "partial: the download broke off after"
    )
    assert (partial["fetched"], partial["new"], partial["failed"]) == (
        complete,
        complete,
        0,
    ) and 0 < complete < 200
    for run in (board, partial):
        assert_adds_up(run)
    assert store.jobs.count_documents({"source": "gh"}) == 3000
    assert store.jobs.count_documents({"source": "lever"}) == complete

"""`import --wait` follows its batch through a MongoDB that is away for a while, and says what it sees."""

from __future__ import annotations

import threading

import pytest

from cli.progress import BatchTimeout, BatchWatch, Rate, describe_totals
from devstack.stack import start_embedded_mongo
from job_importer import history
from job_importer.db import open_store
from job_importer.settings import FeedConfig
from tests.conftest import free_port, make_settings, wait_for


def test_the_wait_rides_out_a_mongodb_that_goes_away_for_a_while(redis_url: str) -> None:
    port = free_port()
    settings = make_settings(
        redis_url, f"mongodb://127.0.0.1:{port}/?directConnection=true", mongodb_timeout_ms=300
    )
    first, _ = start_embedded_mongo(port)
    store = open_store(settings)  # as `import --wait` does before it starts the runs
    first.terminate()
    first.wait(timeout=10)
    watch = BatchWatch(store, "batch-x", 1, timeout_s=120, show_progress=False)
    server = []

    def mongodb_comes_back() -> None:
        wait_for(lambda: watch.last_error, 60, what="a failed poll")
        process, _ = start_embedded_mongo(port)
        server.append(process)
        writer = open_store(settings.model_copy(update={"mongodb_timeout_ms": 5000}))
        [run_id] = history.create_runs(writer, [FeedConfig(url="http://127.0.0.1:9/f")], "cli", "batch-x")
        history.fail_run(writer, run_id, "gone")

    helper = threading.Thread(target=mongodb_comes_back)
    helper.start()
    try:
        [run] = watch.wait()
        assert run["status"] == "failed" and watch.last_error == ""
    finally:
        helper.join()
        for process in server:
            process.terminate()
            process.wait(timeout=10)


def test_a_timeout_names_the_last_failed_poll(redis_url: str) -> None:
    port = free_port()
    settings = make_settings(
        redis_url, f"mongodb://127.0.0.1:{port}/?directConnection=true", mongodb_timeout_ms=200
    )
    server, _ = start_embedded_mongo(port)
    store = open_store(settings)
    server.terminate()
    server.wait(timeout=10)
    watch = BatchWatch(store, "batch-y", 2, timeout_s=1, show_progress=False)
    with pytest.raises(
        BatchTimeout, match=r"^0 of 2 run\(s\) finished after 1 s; the last poll failed: MongoDB: "
    ):
        watch.wait()


def test_a_wait_without_workers_warns_once(settings, store, capsys) -> None:
    history.create_runs(store, [FeedConfig(url="http://127.0.0.1:9/f")], "cli", "batch-z")
    watch = BatchWatch(store, "batch-z", 1, 0.5, False, workers_missing=lambda: ["fetcher", "importer"])
    with pytest.raises(BatchTimeout):
        watch.wait()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [
        "warning: no fetcher or importer worker is alive; the runs wait until one runs"
        " (`job-importer worker SERVICE`, or `job-importer up`)"
    ]


def test_rate_and_eta_count_from_the_first_item() -> None:
    rate = Rate()
    assert rate.update(0, now=0.0) is None  # nothing yet: no rate
    assert rate.update(100, now=1.0) is None  # the first items: the clock starts
    assert rate.update(300, now=3.0) == 100.0  # 200 items in 2 s
    assert Rate.eta(100.0, 500) == 5.0 and Rate.eta(None, 500) is None
    assert (
        describe_totals(1000, 300, 100.0, 7.0)
        == "fetched 1000 · written or checked 300 · 100 items/s · ETA 7 s"
    )
    assert describe_totals(0, 0, None, None) == "fetched 0 · written or checked 0"

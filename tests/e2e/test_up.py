"""`job-importer up`: the whole system in one supervised command, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import psutil

from devstack.feedserver import FeedServer
from devstack.samplefeeds import jobicy_feed, sample_jobs
from tests.conftest import free_port, wait_for


def test_up_runs_the_schedule_and_stops_cleanly_on_ctrl_c(settings, store, broker) -> None:
    with FeedServer({"/jobs.xml": jobicy_feed(sample_jobs(20, seed=12))}) as server:
        # A yearly slot: the current one (1 January) is due at start-up, and no other one comes.
        config = settings.model_copy(
            update={"feeds": [server.url("/jobs.xml")], "schedule_cron": "0 0 1 1 *", "api_port": free_port()}
        )
        up = subprocess.Popen(
            [sys.executable, "-m", "cli", "up"],
            env={**os.environ, **config.as_env()},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            run = wait_for(lambda: store.runs.find_one({"trigger": "schedule", "status": "completed"}), 90)
            children = psutil.Process(up.pid).children(recursive=True)
            assert len(children) >= 4  # scheduler, fetcher, importer and API (plus Dramatiq's forks)
            api = f"http://127.0.0.1:{config.api_port}"

            def runs_listed() -> list[dict[str, object]] | None:
                try:
                    return list(httpx.get(f"{api}/imports", timeout=5).json()["items"])
                except httpx.TransportError:
                    return None  # the API is still starting

            listed = wait_for(runs_listed, 30, what="the API")
            assert listed[0]["run_id"] == run["_id"]
        finally:
            os.killpg(up.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
            code = up.wait(timeout=90)
    assert run["new"] == 20 and store.jobs.count_documents({}) == 20
    assert code == 0, up.stderr.read().decode() if up.stderr else ""
    assert up.stdout is not None
    assert f"Admin UI: http://127.0.0.1:{config.api_port}/ui/#token=" in up.stdout.read().decode()
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]


def test_demo_serve_imports_then_serves_the_ui_until_sigterm(settings, store, broker, tmp_path) -> None:
    config = settings.model_copy(update={"api_port": free_port()})
    output = tmp_path / "stdout.txt"
    with open(output, "wb") as stdout:
        demo = subprocess.Popen(
            [sys.executable, "-m", "cli", "demo", "--serve"],
            env={**os.environ, **config.as_env(), "COLUMNS": "200"},
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "Admin UI:" in output.read_text(), 120, what="the UI address")
        text = output.read_text()
        # The demo summary came first: plain columns, as stdout is a file.
        assert ["total", "500", "496", "0", "0", "0", "4", "0", "0"] in [
            line.split() for line in text.splitlines()
        ]
        api = f"http://127.0.0.1:{config.api_port}"
        feeds = wait_for(lambda: _get(f"{api}/feeds"), 30, what="the API")
        assert sorted(feed["source"] for feed in feeds) == [
            "demo-atom",
            "demo-highered",
            "demo-jobicy",
            "demo-jobicy",
        ]
        assert httpx.get(f"{api}/imports", timeout=5).json()["total"] == 4
    finally:
        demo.send_signal(signal.SIGTERM)  # not Ctrl-C this time: `kill` must stop it cleanly too
        code = demo.wait(timeout=90)
    assert code == 0


def _get(url: str) -> object:
    try:
        return httpx.get(url, timeout=5).json()
    except httpx.TransportError:
        return None  # still starting


def test_a_second_up_says_the_port_is_taken_and_exits(settings) -> None:
    with socket.socket() as holder:  # what the first `up`'s API holds
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = settings.model_copy(update={"api_port": port})
        second = subprocess.Popen(
            [sys.executable, "-m", "cli", "up"],
            env={**os.environ, **config.as_env()},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            _, stderr = second.communicate(timeout=60)  # not running on, its API restarting every 2 s
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
            second.wait(timeout=10)
            raise AssertionError("the second `up` kept running") from None
    assert second.returncode == 1
    assert f"API_PORT {port} on 127.0.0.1 is not free" in stderr
    assert "another `job-importer up`" in stderr

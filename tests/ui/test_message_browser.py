"""The message browser and dark mode in real Chromium: every state, paging, a message in full,
select-and-act; the page colours following the operating system's setting."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import replace

import dramatiq
from playwright.sync_api import Browser, expect

from devstack.samplefeeds import jobicy_feed, sample_jobs
from job_importer import history
from job_importer.contract import IMPORT_ACTOR, fetch_message
from job_importer.keys import Keys
from job_importer.settings import FeedConfig
from job_importer.trigger import start_import
from tests.api_server import Stack
from tests.conftest import wait_for, wait_for_runs
from tests.ui.conftest import LAPTOP, PHONE, open_page, screenshot

TRACEBACK = 'Traceback (most recent call last):\n  File "/app/services/importer/pipeline.py", line 88, in write\n    raise OSError("disk full")\nOSError: disk full'


def paused_fetch(stack: Stack) -> None:
    with stack.api.client(stack.token) as client:
        assert client.post("/queues/fetch/pause").status_code == 200

        def stopped() -> bool:
            [fetch] = [q for q in client.get("/queues").json() if q["queue"] == "fetch"]
            return bool(fetch["workers_paused"] == fetch["workers"] >= 1)

        wait_for(stopped, 10, what="the fetch workers to pause")


def resume_fetch(stack: Stack) -> None:
    with stack.api.client(stack.token) as client:
        client.post("/queues/fetch/resume")


def test_browse_page_inspect_and_act_on_messages(stack: Stack, browser: Browser) -> None:
    paused_fetch(stack)
    try:
        tag = uuid.uuid4().hex[:8]
        body = jobicy_feed(sample_jobs(2, start=60_000, seed=60))
        urls = []
        for n in range(31):
            stack.feeds.routes[f"/{tag}-{n}.xml"] = body
            urls.append(stack.feeds.url(f"/{tag}-{n}.xml"))
        feeds = [FeedConfig(url=urls[0].replace("http://", "http://ops:s3cret@"))] + [
            FeedConfig(url=u) for u in urls[1:30]
        ]
        started = start_import(stack.settings, stack.store, stack.broker, feeds, "api")
        page, console = open_page(browser, LAPTOP)
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{stack.api.base_url}/ui/#token={stack.token}")
        page.click("text=Queues")
        page.locator('[data-queue="fetch"] [data-field="ready"]').click()
        expect(page.locator('[data-test="total"]')).to_have_text("30 ready message(s)")
        expect(page.locator("#messages tbody tr")).to_have_count(25)
        expect(page.locator('[data-test="page"]')).to_have_text("Page 1 of 2 · 30 total")
        first_run = page.locator("#messages tbody tr").first
        expect(first_run).to_contain_text(started.run_ids[0])  # delivery order
        page.locator(".pager button").last.click()  # older
        expect(page.locator("#messages tbody tr")).to_have_count(5)
        page.locator(".pager button").first.click()  # newer

        page.locator("#messages tbody tr").first.locator("td.id a").click()
        expect(page.locator("#message")).to_contain_text(started.run_ids[0])
        payload = page.locator("#message-payload")
        expect(payload).to_contain_text("http://***@127.0.0.1")
        assert "s3cret" not in payload.inner_text()
        screenshot(page, "message-detail")
        page.go_back()

        rows = page.locator("#messages tbody tr")
        rows.nth(1).locator("input[type=checkbox]").check()
        rows.nth(2).locator("input[type=checkbox]").check()
        page.click('button[data-action="delete"]')
        expect(page.locator("#notice")).to_contain_text("Delete: 2 done")
        expect(page.locator('[data-test="total"]')).to_have_text("28 ready message(s)")
        gone = history.get_run(stack.store, started.run_ids[1])
        assert gone is not None and gone["status"] == "failed"

        delayed_feed = FeedConfig(url=urls[30])
        [later_run] = history.create_runs(stack.store, [delayed_feed], "api", history.new_id("batch-"))
        stack.broker.enqueue(fetch_message(stack.settings, later_run, delayed_feed), delay=600_000)
        page.click('[data-state="delayed"]')
        later_row = page.locator("#messages tbody tr", has_text=later_run)
        expect(later_row).to_be_visible()
        later_row.locator("input[type=checkbox]").check()
        page.click('button[data-action="promote"]')
        expect(page.locator("#notice")).to_contain_text("Promote to ready: 1 done")
        page.click('[data-state="ready"]')
        expect(page.locator('[data-test="total"]')).to_have_text("29 ready message(s)")
        assert console.errors == []
        page.close()
    finally:
        resume_fetch(stack)
    wait_for(
        lambda: history.get_run(stack.store, later_run)["status"] == "completed", 120, what="the promoted run"
    )


#: Every fetch the page starts, recorded as it is called (a timer's work shows in it at once).
RECORD_FETCHES = """
window.__fetches = [];
const realFetch = window.fetch;
window.fetch = (input, init) => { window.__fetches.push(String(input)); return realFetch(input, init); };
"""


def test_a_page_left_behind_never_draws_over_the_one_shown(stack: Stack, browser: Browser) -> None:
    """The run list reloads itself 300 ms after the live stream names a run it does not show; that
    reload must not happen once the user has gone to another page (CI: the message browser was
    replaced by the run list a moment after it appeared)."""
    paused_fetch(stack)  # the runs stay queued, so the stream keeps naming them
    try:
        tag = uuid.uuid4().hex[:8]
        body = jobicy_feed(sample_jobs(1, start=61_000, seed=61))
        feeds = []
        for n in range(26):  # one more than a page of runs
            stack.feeds.routes[f"/{tag}-{n}.xml"] = body
            feeds.append(FeedConfig(url=stack.feeds.url(f"/{tag}-{n}.xml")))
        run_ids = start_import(stack.settings, stack.store, stack.broker, feeds, "api").run_ids
        page, console = open_page(browser, LAPTOP)
        page.add_init_script(RECORD_FETCHES)
        page.clock.install()
        page.clock.pause_at(time.time() + 1)  # the page's timers fire only when the test says
        page.goto(f"{stack.api.base_url}/ui/#token={stack.token}")
        expect(page.locator("#runs tbody tr")).to_have_count(25)
        expect(page.locator("#live")).to_have_text("live")
        shown = set(page.locator("#runs tbody tr").evaluate_all("rows => rows.map((r) => r.dataset.runId)"))
        [unseen, *_] = [run_id for run_id in run_ids if run_id not in shown]
        visible = next(run_id for run_id in run_ids if run_id in shown)

        def named_by_the_stream(fetched: int) -> None:
            """A change to a run off the page, then one to a run on it: once the second shows, the
            first has reached the page too (one stream, in order) and its reload is waiting."""
            stack.store.runs.update_one({"_id": unseen}, {"$set": {"fetched": fetched}})
            stack.store.runs.update_one({"_id": visible}, {"$set": {"fetched": fetched}})
            row = page.locator(f'#runs tbody tr[data-run-id="{visible}"] [data-field="fetched"]')
            expect(row).to_have_text(str(fetched))

        def run_list_loads() -> int:
            fetches = page.evaluate("window.__fetches")
            return sum(1 for url in fetches if url.startswith("/imports?"))

        named_by_the_stream(1)
        before = run_list_loads()
        page.locator("#runs").evaluate("table => { table.dataset.drawn = 'before'; }")
        page.clock.run_for(1000)
        assert run_list_loads() == before + 1  # on its own page, the run list does reload
        expect(page.locator("#runs:not([data-drawn])")).to_be_visible()  # and is drawn again

        named_by_the_stream(2)
        page.click("text=Queues")
        expect(page.locator("h1")).to_have_text("Queues")
        before = run_list_loads()
        page.clock.run_for(1000)
        assert run_list_loads() == before  # gone to the queues, it does not
        expect(page.locator("h1")).to_have_text("Queues")
        assert console.errors == []
        page.close()
    finally:
        resume_fetch(stack)
    wait_for_runs(stack.store, run_ids, timeout=120)


def test_a_dead_message_in_full_and_requeued_from_its_page(stack: Stack, browser: Browser) -> None:
    keys = Keys(stack.settings.queue_namespace)
    message = dramatiq.Message(
        queue_name="import", actor_name=IMPORT_ACTOR, args=({"not": "a chunk"},), kwargs={}, options={"traceback": TRACEBACK},
    )  # fmt: skip
    stack.broker.client.zadd(keys.dead("import"), {message.message_id: time.time() * 1000})
    stack.broker.client.hset(keys.dead_messages("import"), message.message_id, message.encode())
    page, console = open_page(browser, PHONE)
    page.goto(f"{stack.api.base_url}/ui/#token={stack.token}")
    expect(page.locator("#runs")).to_be_visible()  # the token is taken in and out of the address bar
    page.goto(f"{stack.api.base_url}/ui/#/queues/import/messages/{message.message_id}")
    expect(page.locator("#message-traceback")).to_have_text(TRACEBACK)
    expect(page.locator("#message-error")).to_have_text("OSError: disk full")
    screenshot(page, "dead-message-phone")
    page.click("text=Requeue")
    expect(page.locator("#notice")).to_contain_text("Requeue: done")
    expect(page).to_have_url(re.compile(r"#/queues/import/messages\?state=dead$"))
    wait_for(
        lambda: stack.broker.client.zcard(keys.dead("import")) == 1, 30, what="it to die again (not a chunk)"
    )
    page.reload()
    expect(page.locator('[data-test="total"]')).to_have_text("1 dead message(s)")
    page.locator("#messages thead input[type=checkbox]").check()  # select all on the page
    page.on("dialog", lambda dialog: dialog.accept())
    page.click('button[data-action="delete"]')
    expect(page.locator('[data-test="total"]')).to_have_text("0 dead message(s)")
    assert console.errors == []
    page.close()


def test_dark_mode_follows_the_operating_system(stack: Stack, browser: Browser) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        page = browser.new_page(viewport=LAPTOP, color_scheme=scheme)  # type: ignore[arg-type]
        page.goto(f"{stack.api.base_url}/ui/#/queues")
        expect(page.locator('[data-queue="fetch"]')).to_be_visible()
        colours[scheme] = page.evaluate(
            "() => [getComputedStyle(document.documentElement).backgroundColor,"
            " getComputedStyle(document.querySelector('.card')).backgroundColor,"
            " getComputedStyle(document.querySelector('.card')).color]"
        )
        screenshot(page, f"queues-{scheme}")
        page.close()
    assert colours["light"] == ["rgb(246, 247, 249)", "rgb(255, 255, 255)", "rgb(29, 35, 48)"]
    assert colours["dark"] == ["rgb(16, 20, 28)", "rgb(24, 30, 41)", "rgb(227, 232, 239)"]


def test_a_run_with_more_failures_than_it_keeps_pages_through_all_of_them(
    stack: Stack, browser: Browser
) -> None:
    path = f"/{uuid.uuid4().hex[:8]}.xml"
    stack.feeds.routes[path] = jobicy_feed(
        [replace(job, title="") for job in sample_jobs(140, start=70_000, seed=70)]
    )
    [run_id] = start_import(
        stack.settings, stack.store, stack.broker, [FeedConfig(url=stack.feeds.url(path))], "api"
    ).run_ids
    wait_for(lambda: history.get_run(stack.store, run_id)["status"] == "completed", 60, what="the run")
    page, console = open_page(browser, LAPTOP)
    page.goto(f"{stack.api.base_url}/ui/#/imports/{run_id}")
    expect(page.locator("#failures-capped")).to_contain_text("The run keeps its first 100")
    items = page.locator("#run-failed-items")
    expect(items.locator('[data-test="page"]')).to_have_text("Page 1 of 6 · 140 total")
    expect(items.locator("tbody tr")).to_have_count(25)
    for number in range(2, 7):
        items.locator(".pager button").last.click()
        expect(items.locator('[data-test="page"]')).to_have_text(f"Page {number} of 6 · 140 total")
    expect(items.locator("tbody tr")).to_have_count(15)
    assert console.errors == []
    page.close()

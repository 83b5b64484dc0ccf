"""The admin UI as a person uses it: start an import, watch it, find a failure, requeue a dead letter."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from devstack.samplefeeds import jobicy_feed, jobxml_feed, sample_jobs
from job_importer.settings import FeedConfig
from job_importer.trigger import start_import
from tests.api_server import Stack
from tests.conftest import wait_for, wait_for_runs
from tests.ui.conftest import LAPTOP, PHONE, open_page, screenshot


def run_row(page: Page, feed_url: str):
    return page.locator("#runs tbody tr", has_text=feed_url)


def cell(row, field: str):
    return row.locator(f'[data-field="{field}"]')


def test_start_an_import_watch_it_and_find_a_failure(stack: Stack, browser: Browser) -> None:
    page, console = open_page(browser, LAPTOP)
    page.goto(f"{stack.api.base_url}/ui/#token={stack.token}")
    expect(page.locator("#live")).to_have_text("live")  # the event stream is open
    assert "token" not in page.url  # taken out of the address bar

    page.click("#start-all")
    remote, design = stack.settings.feeds
    expect(page.locator("#notice")).to_contain_text("Started 2 run(s)")
    expect(page.locator("#runs tbody tr")).to_have_count(2)
    row = run_row(page, remote)
    # The live stream moves the counts while chunks land (40 items, chunks of 10, 10 writes a second).
    expect(cell(row, "status")).to_have_text(re.compile("fetching|importing|completed"))
    expect(cell(row, "status")).to_have_text("completed")
    for field, value in {
        "fetched": "40",
        "new": "39",
        "updated": "0",
        "unchanged": "0",
        "failed": "1",
    }.items():
        expect(cell(row, field)).to_have_text(value)
    expect(cell(run_row(page, design), "status")).to_have_text("completed")
    expect(cell(run_row(page, design), "new")).to_have_text("25")
    screenshot(page, "imports-laptop")

    row.locator("a").first.click()
    expect(page.locator("h1")).to_contain_text("Run ")
    expect(page.locator("#failures")).to_contain_text("entry has no title")
    expect(page.locator(".failed-items")).to_contain_text("fetch")
    screenshot(page, "run-laptop")

    page.click("text=Jobs")
    page.fill("#job-search input[name=q]", "hostile markup")
    page.click("#job-search button[type=submit]")
    expect(page.locator("#jobs tbody tr")).to_have_count(1)
    page.click("#jobs tbody a")
    description = page.locator("#description")
    expect(description).to_contain_text("Build boats.")
    assert description.locator("*").count() == 0  # text only: no element from the feed was created
    assert page.evaluate("window.__pwned") is None  # no handler or script of the feed ran
    page.go_back()
    page.fill("#job-search input[name=q]", "")
    page.fill("#job-search input[name=company]", "")
    page.click("#job-search button[type=submit]")
    expect(page.locator("[data-test=page]")).to_contain_text("64 total")
    screenshot(page, "jobs-laptop")
    assert console.errors == []
    page.close()


def test_requeue_a_dead_letter_from_the_queues_page(stack: Stack, browser: Browser) -> None:
    # An importer that cannot reach MongoDB: its chunks die after their retries.
    [good] = stack.workers.processes["importer"]
    stack.workers.terminate(good)
    stack.workers.start(
        "importer", mongodb_url="mongodb://127.0.0.1:9/?directConnection=true", mongodb_timeout_ms=200
    )
    stack.workers.wait_ready("importer")
    design = stack.settings.feeds[1]

    page, console = open_page(browser, LAPTOP)
    page.goto(f"{stack.api.base_url}/ui/#token={stack.token}")
    expect(page.locator("#runs")).to_be_visible()
    before = page.locator("#runs tbody tr").count()
    page.click("summary")
    page.check(f'input[value="{design}"]')
    page.click("#start-chosen")
    expect(page.locator("#notice")).to_contain_text("Started 1 run(s)")
    expect(page.locator("#runs tbody tr")).to_have_count(before + 1)
    run_id = page.locator("#runs tbody tr").first.get_attribute("data-run-id")  # newest first
    assert run_id
    wait_for(
        lambda: stack.broker.client.zcard(f"{stack.settings.queue_namespace}:import.XQ") == 3,
        60,
        what="3 dead chunks",
    )

    [bad] = stack.workers.processes["importer"][1:]
    stack.workers.terminate(bad)
    stack.workers.start("importer")  # MongoDB is back
    stack.workers.wait_ready("importer")

    page.click("text=Queues")
    dead = page.locator('[data-dead-queue="import"]')
    expect(dead).to_contain_text("import: 3 dead")
    expect(dead.locator("tbody tr").first).to_contain_text("ServerSelectionTimeoutError")
    expect(dead.locator("tbody tr").first).to_contain_text(run_id)
    expect(page.locator('[data-queue="import"] [data-field="dead"] b')).to_have_text("3")
    screenshot(page, "queues-laptop")
    dead.locator("tbody tr").first.locator("button", has_text="Requeue").click()
    expect(dead).to_contain_text("import: 2 dead")
    card = page.locator('[data-queue="import"]')
    kept = card.element_handle()
    dead.locator("button", has_text="Requeue all").click()
    expect(dead).to_contain_text("import: 0 dead")
    # The queue's card counts in place: the same node, so a click on it is never lost to a redraw.
    expect(card.locator('[data-field="dead"] b')).to_have_text("0")
    assert kept.evaluate("node => node.isConnected")

    page.click("text=Imports")
    row = page.locator(f'#runs tbody tr[data-run-id="{run_id}"]')
    expect(cell(row, "status")).to_have_text("completed")
    expect(cell(row, "failed")).to_have_text("0")
    written = int(cell(row, "new").inner_text()) + int(cell(row, "unchanged").inner_text())
    assert written == 25  # unchanged when the first test imported the feed already
    assert console.errors == []
    page.close()


def test_pause_and_resume_a_queue(stack: Stack, browser: Browser) -> None:
    page, console = open_page(browser, LAPTOP)
    page.goto(f"{stack.api.base_url}/ui/#token={stack.token}")
    page.click("text=Queues")
    card = page.locator('[data-queue="fetch"]')
    card.locator("button", has_text="Pause").click()
    expect(card).to_contain_text("paused")
    card.locator("button", has_text="Resume").click()
    expect(card).to_contain_text("running")
    assert console.errors == []
    page.close()


def test_every_page_fits_a_phone(stack: Stack, browser: Browser) -> None:
    page, console = open_page(browser, PHONE)
    page.goto(f"{stack.api.base_url}/ui/#token={stack.token}")
    for name, ready in (
        ("imports", "#runs tbody tr"),
        ("feeds", "#feeds tbody tr"),
        ("queues", "#failed-items table"),
        ("jobs", "#jobs tbody tr"),
    ):
        page.evaluate(f"location.hash = '#/{name}'")
        expect(page.locator("h1")).to_have_text(name.capitalize())
        expect(page.locator(ready).first).to_be_visible()
        assert "[object" not in page.locator("main").inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} is {width}px wide on a {PHONE['width']}px screen"
        screenshot(page, f"{name}-phone")
    assert page.locator(".top nav a").first.is_visible()
    page.evaluate("location.hash = '#/imports'")  # rendered from a page load, not from live updates
    expect(page.locator('#runs tbody tr [data-field="fetched"]').first).to_have_text(re.compile(r"^\d+$"))
    assert console.errors == []
    page.close()


def test_a_runs_parse_warning_shows_in_the_run_list(stack: Stack, browser: Browser) -> None:
    body = jobicy_feed(sample_jobs(4, start=30_000, seed=23))
    stack.feeds.routes["/cut.xml"] = body[: body.index(b"</item>", len(body) // 2) + len(b"</item>")]
    url = stack.feeds.url("/cut.xml")
    started = start_import(stack.settings, stack.store, stack.broker, [FeedConfig(url=url)], "cli")
    [run] = wait_for_runs(stack.store, started.run_ids)
    assert run["warning"]
    page, console = open_page(browser, LAPTOP)
    page.goto(f"{stack.api.base_url}/ui/#token={stack.token}")
    expect(cell(run_row(page, url), "warning")).to_contain_text("Warning: malformed feed")
    assert console.errors == []
    page.close()


def test_expired_listings_are_left_out_of_the_job_list_until_asked_for(
    stack: Stack, browser: Browser
) -> None:
    jobs = sample_jobs(3, start=40_000, seed=24)
    feed = FeedConfig(url=stack.feeds.url("/catalog-ui.xml"), source="catalog-ui")
    stack.feeds.routes["/catalog-ui.xml"] = jobxml_feed(jobs)
    wait_for_runs(stack.store, start_import(stack.settings, stack.store, stack.broker, [feed], "cli").run_ids)
    stack.feeds.routes["/catalog-ui.xml"] = jobxml_feed(jobs[:2])  # the third job closed
    started = start_import(stack.settings, stack.store, stack.broker, [feed], "cli")
    [run] = wait_for_runs(stack.store, started.run_ids)
    assert (run["expired"], run["active_listings"]) == (1, 2)

    page, console = open_page(browser, LAPTOP)
    page.goto(f"{stack.api.base_url}/ui/#token={stack.token}")
    row = page.locator(f'[data-run-id="{run["_id"]}"]')
    expect(cell(row, "expired")).to_have_text("1")
    expect(cell(row, "reactivated")).to_have_text("0")
    page.click("text=Jobs")
    page.fill("#job-search input[name=source]", "catalog-ui")
    page.click("#job-search button[type=submit]")
    expect(page.locator("#jobs tbody tr")).to_have_count(2)
    expect(page.locator('#jobs tbody tr[data-status="expired"]')).to_have_count(0)
    page.select_option("#job-search select[name=status]", "expired")
    page.click("#job-search button[type=submit]")
    expired = page.locator('#jobs tbody tr[data-status="expired"]')
    expect(expired).to_have_count(1)
    expect(page.locator("#jobs tbody tr")).to_have_count(1)
    expect(expired).to_contain_text(jobs[2].title)
    expect(expired.locator(".badge.expired")).to_have_attribute("title", "missing from feed")
    page.select_option("#job-search select[name=status]", "all")
    page.click("#job-search button[type=submit]")
    expect(page.locator("#jobs tbody tr")).to_have_count(3)
    screenshot(page, "jobs-expired-laptop")
    assert console.errors == []
    page.close()


def test_the_feeds_page_shows_each_feeds_health_and_pauses_it(stack: Stack, browser: Browser) -> None:
    remote, _ = stack.settings.feeds
    started = start_import(stack.settings, stack.store, stack.broker, [FeedConfig(url=remote)], "cli")
    [run] = wait_for_runs(stack.store, started.run_ids)
    page, console = open_page(browser, LAPTOP)
    page.goto(f"{stack.api.base_url}/ui/#token={stack.token}")
    page.click(".top nav >> text=Feeds")
    row = page.locator("#feeds tbody tr", has_text=remote)
    expect(cell(row, "health")).to_have_text("ok")
    expect(cell(row, "active")).to_have_text(str(run["active_listings"]))
    expect(cell(row, "schedule")).to_have_text("default")
    expect(cell(row, "next_fetch")).not_to_be_empty()
    expect(row.locator('[data-field="last_run"] a')).to_have_attribute("href", f"#/imports/{run['_id']}")
    screenshot(page, "feeds-laptop")

    row.locator('button[data-action="disable"]').click()
    expect(page.locator("#notice")).to_contain_text("Disabled")
    expect(cell(row, "health")).to_have_text("disabled")
    expect(row).to_have_attribute("data-enabled", "false")
    expect(cell(row, "next_fetch")).to_be_empty()
    assert stack.store.feeds.find_one({"url": remote})["enabled"] is False
    page.click(".top nav >> text=Imports")
    expect(page.locator("#start-all")).to_have_text("Import all 1 enabled feeds")
    page.click(".top nav >> text=Feeds")
    row.locator('button[data-action="enable"]').click()
    expect(row).to_have_attribute("data-enabled", "true")
    assert stack.store.feeds.find_one({"url": remote})["enabled"] is True
    assert console.errors == []
    page.close()

"""Real headless Chromium (Debian's package) driven by Playwright, against a running stack."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from devstack.feedserver import FeedServer
from devstack.samplefeeds import jobicy_feed, sample_jobs
from tests.api_server import Stack, running_stack
from tests.conftest import ARTIFACTS, make_settings

SCREENSHOTS = ARTIFACTS / "screenshots"
LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: Markup a feed could carry: it must show as text, never run or load.
HOSTILE = '<img src="/nowhere.png" onerror="window.__pwned = 1"><script>window.__pwned = 2</script><p>Build <b>boats</b>.</p>'


def feeds_for_ui() -> dict[str, bytes]:
    remote = sample_jobs(40, start=10_000, seed=21)
    remote[6] = replace(remote[6], title="")  # one failure with a reason
    remote[7] = replace(remote[7], title="Boat Builder (hostile markup)", description=HOSTILE)
    return {
        "/remote.xml": jobicy_feed(remote),
        "/design.xml": jobicy_feed(sample_jobs(25, start=20_000, seed=22)),
    }


@pytest.fixture(scope="module")
def stack(redis_url: str, mongodb_url: str) -> Iterator[Stack]:
    with FeedServer(feeds_for_ui()) as feeds:
        settings = make_settings(
            redis_url,
            mongodb_url,
            feeds=[feeds.url("/remote.xml"), feeds.url("/design.xml")],
            api_token=f"token-{uuid.uuid4().hex}",
            worker_batch_size=10,
            worker_flush_ms=0,
            worker_rate_limit_max=1,  # one chunk write per 100 ms: runs stay visible while they move
            worker_rate_limit_duration_ms=100,
            backlog_sample_s=1,  # the backlog chart has points within seconds
        )
        with running_stack(settings, feeds) as running:
            yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium package is missing (scripts/setup.sh installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Console:
    """Console errors and uncaught exceptions of a page; a test ends with none."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _message(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")


def open_page(browser: Browser, viewport: dict[str, int]) -> tuple[Page, Console]:
    page = browser.new_page(viewport=viewport)  # type: ignore[arg-type]
    page.set_default_timeout(30_000)
    return page, Console(page)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

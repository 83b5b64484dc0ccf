"""/docs and /redoc render in Chromium with every request outside the API refused: their assets
come from the fastapi-offline package, not a CDN."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Browser, Route, expect

from tests.api_server import Stack
from tests.ui.conftest import LAPTOP, open_page, screenshot


def test_the_api_docs_work_offline(stack: Stack, browser: Browser) -> None:
    page, console = open_page(browser, LAPTOP)
    api_host = urlsplit(stack.api.base_url).netloc
    refused: list[str] = []

    def offline(route: Route) -> None:
        if urlsplit(route.request.url).netloc == api_host:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(f"{stack.api.base_url}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/queues/{queue}/messages").first).to_be_visible()
    screenshot(page, "docs-offline")
    assert refused == []
    page.goto(f"{stack.api.base_url}/redoc")
    expect(page.get_by_text("Start one run per feed").first).to_be_visible()
    # ReDoc's bundle links its "built with Redocly" badge image from its CDN: only that may fail.
    assert set(refused) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
    # The refused badge may be reported once, as any refused load is; nothing else may fail.
    badge_refusals = ["error: Failed to load resource: net::ERR_FAILED"] * len(refused)
    assert console.errors in ([], badge_refusals)
    page.close()

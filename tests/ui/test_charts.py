"""The Queues page's charts in Chromium, drawn from a real import's runs and sampled backlog."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.api.helpers import wait_finished
from tests.api_server import Stack
from tests.conftest import wait_for
from tests.ui.conftest import LAPTOP, open_page, screenshot


def test_items_and_backlog_charts_show_the_imports(stack: Stack, browser: Browser) -> None:
    with stack.api.client(stack.token) as client:
        run_ids = client.post("/imports/start", json={}).json()["run_ids"]
        runs = [wait_finished(client, run_id) for run_id in run_ids]
        wait_for(lambda: len(client.get("/stats/backlog").json()) >= 3, 30, what="three backlog samples")
    page, console = open_page(browser, LAPTOP)
    page.goto(f"{stack.api.base_url}/ui/#/queues")
    chart = page.locator("#items-chart")
    expect(chart).to_be_visible()

    def drawn(series: str) -> int:
        return sum(
            int(v)
            for v in chart.locator(f'rect[data-series="{series}"]').evaluate_all(
                "els => els.map(e => e.dataset.value)"
            )
        )

    assert drawn("new") == sum(run["new"] for run in runs) > 0
    assert drawn("failed") == sum(run["failed"] for run in runs) == 1  # the entry without a title
    assert drawn("updated") == sum(run["updated"] for run in runs)
    for queue in ("fetch", "import"):
        line = page.locator(f'#backlog-chart polyline[data-series-queue="{queue}"]')
        expect(line).to_have_count(1)
        assert int(line.get_attribute("data-points") or 0) >= 3
    screenshot(page, "charts-laptop")
    assert console.errors == []
    page.close()

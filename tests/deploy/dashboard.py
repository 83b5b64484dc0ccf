"""The Grafana dashboard's PromQL, with Grafana's variables filled in the way Grafana would."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.deploy.chart import CHART

DASHBOARD_FILE = CHART / "dashboards" / "job-importer.json"

# The metric names fixed for the project (the brief); histograms are queried through _bucket.
DRAMATIQ_METRICS = frozenset(
    {
        "dramatiq_messages_total",
        "dramatiq_message_errors_total",
        "dramatiq_message_retries_total",
        "dramatiq_message_rejects_total",
        "dramatiq_messages_inprogress",
        "dramatiq_delayed_messages_inprogress",
        "dramatiq_message_duration_milliseconds",
    }
)
APP_METRICS = frozenset(
    {
        "job_importer_items_total",
        "job_importer_feed_fetch_duration_seconds",
        "job_importer_feed_fetches_total",
        "job_importer_queue_messages",
        "job_importer_queue_oldest_message_age_seconds",
        "job_importer_run_duration_seconds",
        "job_importer_last_success_timestamp_seconds",
        "job_importer_chunk_write_duration_seconds",
        "job_importer_runs_total",
        "job_importer_active_listings",
    }
)
# From kube-state-metrics in the cluster: nothing on this machine exports it.
CLUSTER_METRICS = frozenset({"kube_deployment_status_replicas"})
HISTOGRAMS = frozenset(
    {
        "dramatiq_message_duration_milliseconds",
        "job_importer_feed_fetch_duration_seconds",
        "job_importer_run_duration_seconds",
        "job_importer_chunk_write_duration_seconds",
    }
)

_METRIC = re.compile(r"\b((?:job_importer|dramatiq|kube)_[a-z0-9_]+)\b")


def load() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD_FILE.read_text(encoding="utf-8")))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels with queries (rows hold none)."""
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title and refId, expression) for every query of every panel."""
    return [
        (f"{panel['title']} {target['refId']}", target["expr"])
        for panel in panels(dashboard)
        for target in panel["targets"]
    ]


def metrics_in(expr: str) -> set[str]:
    """The metric names an expression reads, histogram suffixes folded into the histogram's name."""
    names = set()
    for name in _METRIC.findall(expr):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        names.add(base if base in HISTOGRAMS else name)
    return names


def substitute(expr: str, dashboard: dict[str, Any], window: str) -> str:
    """The expression as Grafana sends it: time variables become ``window``, the dashboard's own
    variables their "All" value (or their current value when they have no "All")."""
    text = expr.replace("$__rate_interval", window).replace("$__range", window).replace("$__interval", window)
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "datasource":
            continue
        value = variable["allValue"] if variable.get("includeAll") else variable["current"]["value"]
        text = text.replace(f"${{{variable['name']}}}", value).replace(f"${variable['name']}", value)
    assert "$" not in text, f"unresolved variable in {text}"
    return text

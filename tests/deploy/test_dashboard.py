"""The Grafana dashboard file: complete, on the agreed metric names, valid PromQL (checked by promtool)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.deploy import dashboard as board
from tests.deploy.chart import tool


def test_panels_are_well_formed() -> None:
    dashboard = board.load()
    assert dashboard["uid"] == "job-importer"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    names = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert {"datasource", "namespace", "feed"} <= names
    for panel in board.panels(dashboard):
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["description"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert 'namespace=~"$namespace"' in target["expr"], (panel["title"], target["expr"])


def test_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in board.load()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_dashboard_reads_every_agreed_metric_and_nothing_else() -> None:
    used = set().union(*(board.metrics_in(expr) for _, expr in board.queries(board.load())))
    allowed = board.DRAMATIQ_METRICS | board.APP_METRICS | board.CLUSTER_METRICS
    assert used <= allowed, f"not agreed metric names: {used - allowed}"
    assert used >= board.DRAMATIQ_METRICS | board.APP_METRICS, (
        f"unused: {(board.DRAMATIQ_METRICS | board.APP_METRICS) - used}"
    )
    assert "kube_deployment_status_replicas" in used  # the importer replica panel


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query (with Grafana's variables filled in) as a recording rule."""
    dashboard = board.load()
    records = [
        {"record": f"dashboard:query_{i}", "expr": board.substitute(expr, dashboard, "5m")}
        for i, (_, expr) in enumerate(board.queries(dashboard))
    ]
    (tmp_path / "queries.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}), encoding="utf-8"
    )
    result = subprocess.run(
        [tool("promtool"), "check", "rules", "queries.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(records)} rules found" in result.stdout

"""The PrometheusRule's alerts through the real promtool: syntax, and a unit test per alert."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.chart import FULLNAME, find, render, tool

HERE = Path(__file__).resolve().parent


def rules() -> dict[str, Any]:
    """The rule groups as the chart renders them with its default thresholds."""
    rule = find(render(sets=("prometheusRule.enabled=true",)), "PrometheusRule", FULLNAME)
    return dict(rule["spec"])


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_rules_pass_promtool_check_and_unit_tests(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules()), encoding="utf-8")
    shutil.copy(HERE / "alerts_test.yaml", tmp_path / "alerts_test.yaml")
    checked = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout  # one per alert (the next test names them)
    tested = promtool("test", "rules", "alerts_test.yaml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    alerts = {rule["alert"] for group in rules()["groups"] for rule in group["rules"]}
    assert alerts == {
        "JobImporterFeedFailing",
        "JobImporterDeadLettersGrowing",
        "JobImporterBacklogNotDraining",
        "JobImporterNoRecentImport",
        "JobImporterRedisMemoryNearLimit",
        "JobImporterMetricsAbsent",
    }
    cases = [
        case
        for test in yaml.safe_load((HERE / "alerts_test.yaml").read_text(encoding="utf-8"))["tests"]
        for case in test["alert_rule_test"]
    ]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    # The feed alert's quiet cases are the other feeds in the same test (it names only the failing one).
    assert firing == alerts
    assert quiet >= alerts - {"JobImporterFeedFailing"}


def test_thresholds_come_from_values(tmp_path: Path) -> None:
    docs = render(
        sets=(
            "prometheusRule.enabled=true",
            "prometheusRule.noSuccessHours=2",
            "prometheusRule.feedFailingFor=3h",
            "prometheusRule.backlogMaxAgeSeconds=600",
            "prometheusRule.deadLettersWindow=1h",
        )
    )
    exprs = {
        rule["alert"]: rule["expr"]
        for rule in find(docs, "PrometheusRule", FULLNAME)["spec"]["groups"][0]["rules"]
    }
    assert "> 7200" in exprs["JobImporterNoRecentImport"]
    assert exprs["JobImporterFeedFailing"].count("[3h]") == 2
    assert "> 600" in exprs["JobImporterBacklogNotDraining"]
    assert "[1h]" in exprs["JobImporterDeadLettersGrowing"]
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump(find(docs, "PrometheusRule", FULLNAME)["spec"]), encoding="utf-8"
    )
    checked = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_links_its_runbook_section() -> None:
    doc = (HERE.parents[1] / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    for group in rules()["groups"]:
        for rule in group["rules"]:
            anchor = rule["alert"].lower()
            assert rule["annotations"]["runbook_url"].endswith(f"/docs/kubernetes.md#{anchor}")
            assert f"### {rule['alert']}" in doc, (
                f"docs/kubernetes.md has no runbook section for {rule['alert']}"
            )

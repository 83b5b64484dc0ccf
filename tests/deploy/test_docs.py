"""docs/kubernetes.md keeps up with the chart: every top-level value and every alert is described."""

from __future__ import annotations

from tests.deploy.chart import FULLNAME, ROOT, default_values, find, render

DOC = ROOT / "docs" / "kubernetes.md"


def test_every_top_level_value_is_in_the_values_reference() -> None:
    text = DOC.read_text(encoding="utf-8")
    reference = text[text.index("## Values") : text.index("## Alerts")]
    missing = [key for key in default_values() if f"`{key}" not in reference]
    assert not missing, f"docs/kubernetes.md does not describe {missing}"


def test_every_alert_is_described() -> None:
    text = DOC.read_text(encoding="utf-8")
    rule = find(render(sets=("prometheusRule.enabled=true",)), "PrometheusRule", FULLNAME)
    for group in rule["spec"]["groups"]:
        for alert in group["rules"]:
            assert f"`{alert['alert']}`" in text, alert["alert"]

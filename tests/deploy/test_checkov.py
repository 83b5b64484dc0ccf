"""checkov over the rendered chart (every values case): each failure is one docs/kubernetes.md
explains ("checkov" section). checkov runs in a network namespace of its own (`unshare -n`): it
would otherwise try to fetch guidelines from its vendor's platform."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.deploy.chart import CHART, CI_VALUES, MATRIX, NAMESPACE, RELEASE, helm, tool

DOC = Path(__file__).resolve().parents[2] / "docs" / "kubernetes.md"


def explained() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## checkov") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    return {line.split("`")[1] for line in section.splitlines() if line.startswith("| `CKV")}


@pytest.mark.parametrize("case", MATRIX)
def test_every_checkov_failure_is_explained(case: str, tmp_path: Path) -> None:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for name in MATRIX[case]:
        args += ["--values", str(CI_VALUES / name)]
    rendered = helm(*args)
    assert rendered.returncode == 0, rendered.stderr
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(rendered.stdout, encoding="utf-8")
    command = ["unshare", "-n", tool("checkov"), "-f", str(manifest), "--framework", "kubernetes"]
    result = subprocess.run(
        [*command, "--quiet", "--compact", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr  # 1: some checks failed
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0 and report["summary"]["passed"] > 300
    failed = {check["check_id"] for check in report["results"]["failed_checks"]}
    assert failed <= explained(), f"explain {sorted(failed - explained())} in docs/kubernetes.md, or fix them"
    assert "CKV_K8S_21" not in failed  # every object names its namespace

"""The real deployment tools (helm, promtool, prometheus) and the chart rendered through them.

The tools live in .tools/bin (scripts/install-tools.sh, run by scripts/test.sh); a missing tool
fails the test that needs it with the command that installs it.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the dashboard is large

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "job-importer"
CI_VALUES = CHART / "ci"
TOOLS = ROOT / ".tools" / "bin"
RELEASE = "rel"
NAMESPACE = "jobs"
FULLNAME = f"{RELEASE}-job-importer"

# The values matrix: a name, and the values files (in the chart's ci/ folder) it renders with.
MATRIX: dict[str, tuple[str, ...]] = {
    "defaults": (),
    "keda-off": ("keda-off-values.yaml",),
    "external": ("external-values.yaml",),
    "existing-secret": ("existing-secret-values.yaml",),
    "full": ("full-values.yaml",),
}


def tool(name: str) -> str:
    """The path of a deployment tool: .tools/bin first, then PATH."""
    local = TOOLS / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: run scripts/install-tools.sh")
    return found


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("helm"), *args], capture_output=True, text=True, timeout=120)


def _template_args(
    values_files: tuple[str, ...], sets: tuple[str, ...], release: str, namespace: str
) -> list[str]:
    args = ["template", release, str(CHART), "--namespace", namespace]
    for name in values_files:
        args += ["--values", str(CI_VALUES / name)]
    for assignment in sets:
        args += ["--set", assignment]
    return args


@cache
def _template(values_files: tuple[str, ...], sets: tuple[str, ...], release: str, namespace: str) -> str:
    result = helm(*_template_args(values_files, sets, release, namespace))
    if result.returncode != 0:
        raise AssertionError(f"helm template failed:\n{result.stderr}")
    return result.stdout


@cache
def _parsed(
    values_files: tuple[str, ...], sets: tuple[str, ...], release: str, namespace: str
) -> list[dict[str, Any]]:
    text = _template(values_files, sets, release, namespace)
    return [doc for doc in yaml.load_all(text, Loader=SafeLoader) if doc]


def render(
    values_files: tuple[str, ...] = (),
    sets: tuple[str, ...] = (),
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
) -> list[dict[str, Any]]:
    """The chart's manifests for these values, parsed (a fresh copy on every call)."""
    return copy.deepcopy(_parsed(values_files, sets, release, namespace))


def render_error(*sets: str, values_files: tuple[str, ...] = ()) -> str:
    """helm template's error output for values that must be refused (fails the test if accepted)."""
    result = helm(*_template_args(values_files, sets, RELEASE, NAMESPACE))
    assert result.returncode != 0, f"helm accepted {sets}"
    return result.stderr


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, (
        f"{kind}/{name}: {len(matches)} found in {[(d['kind'], d['metadata']['name']) for d in docs]}"
    )
    return matches[0]


def kinds(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(doc["kind"], doc["metadata"]["name"]) for doc in docs}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment, StatefulSet or CronJob."""
    if doc["kind"] == "CronJob":
        return dict(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(doc["spec"]["template"]["spec"])


def pod_template(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return dict(doc["spec"]["jobTemplate"]["spec"]["template"])
    return dict(doc["spec"]["template"])


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] in ("Deployment", "StatefulSet", "CronJob")]


def default_values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8")))


def values_schema() -> dict[str, Any]:
    return dict(json.loads((CHART / "values.schema.json").read_text(encoding="utf-8")))


def assert_cli_accepts(argv: list[str]) -> None:
    """The `job-importer` CLI has this command (and these options)."""
    import typer

    from cli.app import app

    command: Any = typer.main.get_command(app)
    words = list(argv)
    while words and hasattr(command, "commands"):  # a group of subcommands
        name = words.pop(0)
        assert name in command.commands, f"`job-importer {' '.join(argv)}`: no command {name!r}"
        command = command.commands[name]
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for word in words:
        if word.startswith("-"):
            assert word in options, f"`job-importer {' '.join(argv)}`: no option {word}"

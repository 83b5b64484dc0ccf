"""The two Dockerfiles, checked statically (no container engine runs on this machine)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from job_importer.settings import Settings
from tests.deploy.chart import ROOT, assert_cli_accepts

DOCKERFILES = {
    "fetcher": ROOT / "services" / "fetcher" / "Dockerfile",
    "importer": ROOT / "services" / "importer" / "Dockerfile",
}
PINNED_PYTHON = re.compile(
    r"^python:3\.13\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$|^python:3\.13[^@]*@sha256:[0-9a-f]{64}$"
)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw.strip())
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages and instruction == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append((instruction, rest))
    return args, stages


def resolve(base: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda match: args[match.group(1)], base)


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` (relative to the repository) out of the build context."""
    excluded = False
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = (
            "^"
            + re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
            + "$"
        )
        parts = path.split("/")
        # A pattern matches the path or any of its parent directories.
        if any(re.match(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def test_fetcher_image_builds_on_pinned_python_313_slim_in_two_stages() -> None:
    args, stages = parse(DOCKERFILES["fetcher"])
    names = {stage.name for stage in stages if stage.name}
    external = [resolve(stage.base, args) for stage in stages if stage.base not in names]
    assert external and all(PINNED_PYTHON.match(base) for base in external), external
    assert len(stages) >= 2, "multi-stage: build, then a clean final stage"


def test_fetcher_final_stage_runs_as_a_numeric_non_root_user_without_build_tools() -> None:
    _, stages = parse(DOCKERFILES["fetcher"])
    final = stages[-1]
    [user] = [rest for instruction, rest in final.instructions if instruction == "USER"]
    uid, _, gid = user.partition(":")
    # Numeric, so that Kubernetes' runAsNonRoot can verify it without /etc/passwd.
    assert uid.isdigit() and int(uid) > 0 and (not gid or gid.isdigit()), user
    runs = " ".join(rest for instruction, rest in final.instructions if instruction == "RUN")
    for tool in ("apt-get install", "pip install", "gcc", "build-essential", "make "):
        assert tool not in runs, f"final stage runs {tool}"
    assert "pip uninstall" in runs  # the base image's pip goes too
    copies = [rest for instruction, rest in final.instructions if instruction == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"], copies
    build = " ".join(
        rest for stage in stages[:-1] for instruction, rest in stage.instructions if instruction == "RUN"
    )
    assert "--only-binary=:all:" in build  # wheels only: no compiler needed, none installed


def test_importer_image_is_the_fetcher_image_with_another_command() -> None:
    """One definition of the image: the importer changes only the default command and port."""
    args, [stage] = parse(DOCKERFILES["importer"])
    assert stage.base == "${FETCHER_IMAGE}" and args["FETCHER_IMAGE"].startswith("job-importer-fetcher")
    # No USER, RUN or COPY: it keeps the fetcher image's non-root user and contents.
    assert {instruction for instruction, _ in stage.instructions} == {"EXPOSE", "CMD"}


@pytest.mark.parametrize("service", DOCKERFILES)
def test_no_healthcheck(service: str) -> None:
    """Kubernetes probes instead."""
    _, stages = parse(DOCKERFILES[service])
    assert "HEALTHCHECK" not in [instruction for stage in stages for instruction, _ in stage.instructions]


@pytest.mark.parametrize("service", DOCKERFILES)
def test_copied_sources_exist_and_are_in_the_build_context(service: str) -> None:
    _, stages = parse(DOCKERFILES[service])
    for stage in stages:
        for instruction, rest in stage.instructions:
            if instruction not in ("COPY", "ADD") or rest.startswith("--from"):
                continue
            *sources, _ = shlex.split(rest)
            for source in sources:
                assert (ROOT / source).exists(), f"{service}: COPY {source} does not exist"
                assert not ignored(source), f"{service}: COPY {source} is excluded by .dockerignore"


def test_dockerignore_sends_the_package_and_nothing_else() -> None:
    for needed in (
        "pyproject.toml",
        "job_importer/settings.py",
        "job_importer/feeds.toml",
        "cli/app.py",
        "services/importer/actors.py",
        "services/api/static/index.html",
    ):
        assert not ignored(needed), needed
    for unwanted in (
        ".git/config",
        ".venv/bin/python",
        ".tools/bin/helm",
        "tests/conftest.py",
        "charts/job-importer/values.yaml",
        "cli/__pycache__/app.cpython-313.pyc",
        "devstack/demo/jobicy-remote.xml",
        "devstack/stack.py",
    ):
        assert ignored(unwanted), unwanted


@pytest.mark.parametrize(
    ("service", "command", "port"), [("fetcher", ["api"], 9191), ("importer", ["worker", "importer"], 9192)]
)
def test_default_command_and_metrics_port(service: str, command: list[str], port: int) -> None:
    _, stages = parse(DOCKERFILES[service])
    final = dict(stages[-1].instructions)
    _, fetcher = parse(DOCKERFILES["fetcher"])
    assert json.loads(dict(fetcher[-1].instructions)["ENTRYPOINT"]) == ["job-importer"]  # of both images
    assert json.loads(final["CMD"]) == command
    assert_cli_accepts(command)
    assert port in {int(exposed) for exposed in final["EXPOSE"].split()}
    defaults = Settings.model_construct()
    assert port == (defaults.fetcher_metrics_port if service == "fetcher" else defaults.importer_metrics_port)

"""The container images carry the core, the services and the CLI, not devstack/: the commands a
pod runs must work without it, and the ones that need it must say so in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

#: Runs the CLI in a fresh interpreter where ``import devstack`` fails, as in an image.
WITHOUT_DEVSTACK = (
    "import sys; sys.modules['devstack'] = None; sys.argv = ['job-importer', *sys.argv[1:]]; "
    "from cli.app import main; main()"
)


def run_without_devstack(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_DEVSTACK, *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_importing_the_cli_loads_no_dev_stack() -> None:
    code = (
        "import sys; import cli.app; print(sorted(m for m in sys.modules if m.split('.')[0] == 'devstack'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_commands_a_pod_runs_need_no_dev_stack() -> None:
    for command in (["--help"], ["worker", "--help"], ["api", "--help"], ["schedule", "--help"]):
        result = run_without_devstack(*command)
        assert result.returncode == 0, (command, result.stderr)
        assert "Usage" in result.stdout


def test_a_command_that_needs_the_dev_stack_says_so_in_one_line() -> None:
    result = run_without_devstack("demo")
    assert result.returncode == 1
    assert "needs the dev stack (devstack/)" in result.stderr
    assert "Traceback" not in result.stderr


def test_import_without_wait_and_the_message_browser_need_no_dev_stack(settings, store, broker) -> None:
    env = {**os.environ, **settings.as_env()}
    started = run_without_devstack("import", "--feed", "http://127.0.0.1:9/feed.xml", "--json", env=env)
    assert started.returncode == 0, started.stderr
    [run_id] = json.loads(started.stdout)["run_ids"]
    listed = run_without_devstack("messages", "list", settings.fetch_queue, "--json", env=env)
    assert [row["run_id"] for row in json.loads(listed.stdout)["items"]] == [run_id]

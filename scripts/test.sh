#!/usr/bin/env bash
# Sets up the machine and runs every check: lint, format, types, then the test suite.
# The tests start their own redis-server and MongoDB stand-in (or use MONGODB_URL when set).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
./scripts/install-tools.sh # helm, promtool, prometheus for tests/deploy
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache # the layers and no import circles (pyproject.toml [tool.importlinter])
exec .venv/bin/pytest "$@"

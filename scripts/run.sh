#!/usr/bin/env bash
# Sets up the machine and runs the main job: the demo import of the bundled feeds, then its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/job-importer demo "$@"

#!/usr/bin/env bash
# Prepares a fresh machine: a Python 3.13 virtualenv with the project and its dev tools,
# and redis-server (Debian's package) when missing; with --test also what only the tests need
# (Debian's chromium, feedparser's test corpus). Safe to run again; quick when done before.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '» %s\n' "$*" >&2; }

find_python() {
  for candidate in "${PYTHON:-}" python3.13 "$(command -v pyenv >/dev/null && echo "$(pyenv root)/versions/3.13.0/bin/python")"; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  python=$(find_python) || { say "Python 3.13 is needed (set PYTHON=/path/to/python3.13)"; exit 1; }
  say "creating .venv with $python"
  "$python" -m venv .venv
fi

stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing the project and its dev tools into .venv"
  mkdir -p .run
  if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[dev,embedded]"; } >.run/setup.log 2>&1; then
    cat .run/setup.log >&2; exit 1
  fi
  touch "$stamp"
fi

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing redis-server (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    say "redis-server is missing; install Redis 7 (the tests start their own redis-server)"; exit 1
  fi
fi

[ "${1:-}" = "--test" ] || exit 0
# What only the tests need.

# The browser tests drive Debian's chromium through Playwright (never a downloaded browser).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing chromium (Debian package) for the browser tests"
    apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null
  else
    say "chromium is missing; install Debian's chromium package for the browser tests"; exit 1
  fi
fi

# Test data: feedparser's corpus, against which the fast parse path is checked.
./scripts/feedparser-corpus.sh

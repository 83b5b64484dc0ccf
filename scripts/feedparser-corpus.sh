#!/usr/bin/env bash
# Fetches feedparser's own test corpus (~2,200 real-world and edge-case feeds shipped in its sdist
# on PyPI, for the installed feedparser version) into .tools/feedparser-corpus/tests. The fast
# parse path is proven equal to feedparser on it (tests/fetcher/test_fastparse_corpus.py).
# Safe to run again; quick when done before.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("feedparser"))')
target=.tools/feedparser-corpus
if [ -f "$target/.version" ] && [ "$(cat "$target/.version")" = "$version" ]; then
  exit 0
fi
printf '» fetching the feedparser %s test corpus (sdist from PyPI)\n' "$version" >&2
rm -rf "$target"
mkdir -p "$target/download"
.venv/bin/python -m pip download -q --no-deps --no-binary :all: "feedparser==$version" -d "$target/download"
tar -xzf "$target/download/feedparser-$version.tar.gz" -C "$target/download" "feedparser-$version/tests"
mv "$target/download/feedparser-$version/tests" "$target/tests"
rm -rf "$target/download"
echo "$version" > "$target/.version"

#!/usr/bin/env bash
# Type-check polyglue under its import name. mypy does not run setuptools' editable import hook,
# so the package-dir mapping (benchmarks/ -> polyglue, langkits/ -> polyglue.langkits, ...) is
# laid out as a tree of symlinks in .typecheck/ first.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=.typecheck/polyglue
rm -rf .typecheck && mkdir -p "$tree"
for entry in benchmarks/*; do ln -s "../../$entry" "$tree/$(basename "$entry")"; done
ln -s ../../langkits "$tree/langkits"
ln -s ../../speech "$tree/speech"
.venv/bin/mypy --config-file pyproject.toml .typecheck/polyglue "$@"

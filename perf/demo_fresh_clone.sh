#!/usr/bin/env bash
# `make demo` on a fresh clone (new .venv, empty polyglue cache), timed end to end.
# Target (issue 2): under 3 minutes on 2 CPU cores, setup included.
# Run: perf/demo_fresh_clone.sh   (uses the committed HEAD of this checkout)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/polyglue"
cd "$work/polyglue"
export POLYGLUE_CACHE="$work/cache"
cores=$(nproc)
start=$(date +%s.%N)
make demo > "$work/demo.log" 2>&1 || { tail -20 "$work/demo.log"; exit 1; }
end=$(date +%s.%N)
setup=$(grep -c "setup: installing" "$work/demo.log" || true)
printf 'make demo on a fresh clone: %.0f s wall on %s cores (fresh .venv installs: %s)\n' "$(echo "$end - $start" | bc)" "$cores" "$setup"
grep -E "^Demo finished" "$work/demo.log"

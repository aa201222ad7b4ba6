#!/usr/bin/env bash
# Run every benchmark and print its figures (sets up like the tests do).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
. scripts/setup.sh >/dev/null
JULIA="$(bash scripts/get-julia.sh)"
export DEARDIARY_TEST_JULIA="$JULIA" DEARDIARY_PYTHON="$(command -v python)"
python bench/bench_git.py
jlpm jest -c bench/jest.config.js 2>&1 | grep -v -E 'console\.(debug|warn)|Starting WebSocket|^\s+at |^\s*$|Connection lost'

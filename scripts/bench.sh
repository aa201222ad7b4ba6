#!/usr/bin/env bash
# Run every benchmark and print its figures (sets up like the tests do).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
. scripts/setup.sh >/dev/null
JULIA="$(bash scripts/get-julia.sh)"
export DEARDIARY_TEST_JULIA="$JULIA" DEARDIARY_PYTHON="$(command -v python)"
python bench/bench_git.py
jlpm jest -c bench/jest.config.js --runInBand 2>&1 | grep -v -E 'console\.(debug|warn)|Starting WebSocket|^\s+at |^\s*$|Connection lost'
# (bench/snapshot.bench.ts, click → run stored, runs in the jest line above.)

# JupyterLab load and the history sidebar with 10,000 runs (bench/lab-load.spec.ts,
# bench/sidebar.spec.ts): the production labextension in Debian Chromium (Galata, ui-tests'
# server in a throw-away root, where the sidebar benchmark writes its store), then the
# development build is restored.
if ! command -v chromium >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null
fi
(cd ui-tests && { jlpm install --immutable >/dev/null 2>&1 || jlpm install; })
jlpm build:prod >/dev/null
lab_load=0
(cd ui-tests && DEARDIARY_UI_ROOT="$(mktemp -d)" \
  jlpm playwright test -c ../bench/playwright.config.js lab-load 2>&1 | grep -v '^\[WebServer\]') || lab_load=$?
(cd ui-tests && DEARDIARY_UI_ROOT="$(mktemp -d)" \
  jlpm playwright test -c ../bench/playwright.config.js sidebar 2>&1 | grep -v '^\[WebServer\]') || lab_load=$?
jlpm build >/dev/null
exit "$lab_load"

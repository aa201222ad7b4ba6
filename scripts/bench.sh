#!/usr/bin/env bash
# Run every benchmark and print its figures (sets up like the tests do).
#   bench/bench_git.py      GET /deardiary/git against git status and W&B
#   bench/bench_store.py    S-F (4 writers x 100 runs over HTTP), S-B (store growth)
#   bench/*.bench.ts        jest: capture, restore, click → run stored (Node client)
#   bench/lab-load.spec.ts  JupyterLab load (Playwright)
#   bench/sidebar.spec.ts   S-E: the sidebar at 50,000 runs (Playwright)
#   bench/click.spec.ts     S-A, S-C, S-D: click → stored and shown at 100 / 10,000 /
#                           50,000 runs on a dirty 20,000-file repository; tab memory
# The stores are seeded by bench/seed_store.py through the server's store module (kept
# in .cache/bench-stores, so only the first run pays for them).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
. scripts/setup.sh >/dev/null
JULIA="$(bash scripts/get-julia.sh)"
export DEARDIARY_TEST_JULIA="$JULIA" DEARDIARY_PYTHON="$(command -v python)"
benchmarks() {
  local status=0
  python bench/bench_git.py || status=$?
  python bench/bench_store.py || status=$?
  python bench/bench_mlflow.py || status=$?  # MLflow push vs MLflow's log_artifact (issue 17)
  jlpm jest -c bench/jest.config.js --runInBand 2>&1 | grep -v -E 'console\.(debug|warn)|Starting WebSocket|^\s+at |^\s*$|Connection lost' || status=$?

  # The Playwright benchmarks: the production labextension in Debian Chromium (Galata's
  # setup; lab-load on ui-tests' server, sidebar and click on JupyterLabs of their own),
  # each in a throw-away root; then the development build is restored.
  if ! command -v chromium >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null
  fi
  (cd ui-tests && { jlpm install --immutable >/dev/null 2>&1 || jlpm install; })
  jlpm build:prod >/dev/null
  export JUPYTER_PATH="$REPO/ui-tests/test-kernel${JUPYTER_PATH:+:$JUPYTER_PATH}"
  for spec in lab-load sidebar click; do
    root="$(mktemp -d)"
    (cd ui-tests && DEARDIARY_UI_ROOT="$root" \
      jlpm playwright test -c ../bench/playwright.config.js "$spec" 2>&1 | grep -v -E '^\[WebServer\]|\[pid=[0-9]+\]') || status=$?
    rm -rf "$root"
  done
  jlpm build >/dev/null
  return "$status"
}

# Every figure as it comes, then every target's verdict together.
log="$(mktemp)"
set +e
benchmarks 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
echo
echo "== Targets (every benchmark above)"
grep -E '^\s*target:' "$log" | sed -E 's/^\s*/  /'
rm -f "$log"
exit "$status"

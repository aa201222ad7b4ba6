#!/usr/bin/env bash
# Run every test, as CI does: installs what it needs inside the clone, builds, lints,
# runs jest, the Julia tests, pytest, the auth check, Galata in Debian Chromium and a
# wheel install check, then prints one line per runner in its own unit and one closing
# line `N passed, N failed` (scripts/summarize.py). Exits non-zero, with a `FAILED:` line
# saying why, when a runner fails, errors, skips a test or runs fewer tests than its
# expected minimum (MINIMUM in scripts/summarize.py).
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
RESULTS="$REPO/.cache/results"
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
step() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }
fail() { echo "FAILED: $*" >&2; }
# A check that is not a test runner counts as one test in the closing line.
check() {
  local name="$1"; shift
  if "$@"; then f=0; else f=1; fail "$name"; fi
  echo "<testsuite tests=\"1\" failures=\"$f\" errors=\"0\" skipped=\"0\"/>" > "$RESULTS/$name.xml"
}
# A runner's exit status, beside its result file: summarize.py fails a runner that exited
# non-zero even when its result file shows no failure.
status() {
  echo "$2" > "$RESULTS/$1.exit"
  [ "$2" = 0 ] || fail "$1 (exit status $2)"
}

step "setup"
. scripts/setup.sh || { echo "setup failed" >&2; exit 1; }
set +e  # setup.sh (sourced) sets -e: a failing runner must not end the run before the summary
if ! command -v chromium >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null || { echo "cannot install chromium" >&2; exit 1; }
fi
# git-lfs for the tests of the trusted lfs filter. Debian's package defines filter.lfs in
# /etc/gitconfig; the tests define it in their own HOME, so the system copy is removed.
if ! command -v git-lfs >/dev/null; then
  (apt-get install -y -qq git-lfs || (apt-get update -qq && apt-get install -y -qq git-lfs)) \
    >/dev/null || { echo "cannot install git-lfs" >&2; exit 1; }
  git config --system --remove-section filter.lfs 2>/dev/null || true
fi
JULIA="$(bash scripts/get-julia.sh)" || { echo "cannot get Julia 1.5.3" >&2; exit 1; }
export DEARDIARY_TEST_JULIA="$JULIA" DEARDIARY_PYTHON="$(command -v python)"
# The test-only Julia kernel: visible to the test servers only, never installed.
export JUPYTER_PATH="$REPO/ui-tests/test-kernel"
(cd ui-tests && jlpm install --immutable >/dev/null 2>&1 || jlpm install) || fail ui-deps

step "lint"
check lint jlpm lint:check

step "jest"
jlpm jest --json --outputFile="$RESULTS/jest.json"; status jest.json $?

step "julia"
"$JULIA" --startup-file=no tests/julia/runtests.jl 2>&1 | tee "$RESULTS/julia.log"; status julia.log $?

step "pytest"
python -m pytest -q --junitxml="$RESULTS/pytest.xml"; status pytest.xml $?

step "check_auth"
check check_auth python .ci/check_auth.py

step "galata"
rm -rf ui-tests/.jupyter-root
# The Galata server's port: a free one, chosen just before it starts, never a server the
# tests did not start (a JupyterLab that scripts/start.sh left on 8888 must not receive
# the tests). ui-tests/playwright.config.js and jupyter_server_test_config.py read it.
if [ -z "${DEARDIARY_UI_PORT:-}" ]; then
  DEARDIARY_UI_PORT="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" \
    || { echo "cannot find a free port for the Galata server" >&2; exit 1; }
fi
export DEARDIARY_UI_PORT
echo "Galata's JupyterLab: port $DEARDIARY_UI_PORT"
(cd ui-tests && PLAYWRIGHT_JSON_OUTPUT_NAME="$RESULTS/playwright.json" \
  jlpm playwright test --reporter=list,json); status playwright.json $?

# Issue 19: the smoke path in the other frontends of the claimed range, each in its own
# venv (.cache/frontends): the oldest JupyterLab, Notebook 7, and RTC (scripts/frontends.sh).
step "frontends"
check frontends bash scripts/frontends.sh "$RESULTS"

step "wheel"
bash scripts/check-wheel.sh "$RESULTS/wheel.xml" || fail wheel

step "summary"
python scripts/summarize.py "$RESULTS" lint.xml jest.json julia.log pytest.xml \
  check_auth.xml playwright.json wheel.xml frontends.xml

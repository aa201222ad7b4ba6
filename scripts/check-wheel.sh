#!/usr/bin/env bash
# Build the wheel and prove it works with no Node: install it into a fresh venv and
# check that JupyterLab and jupyter_server both list the extension as enabled and OK.
# Writes a one-test junit file to $1.
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-/dev/null}"
cd "$REPO"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
result() { echo "<testsuite tests=\"1\" failures=\"$1\" errors=\"0\" skipped=\"0\"/>" > "$out"; }
if ! python -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" . ; then
  echo "wheel build failed" >&2; result 1; exit 1
fi
wheel="$(ls "$work"/dist/jupyterlab_deardiary-*.whl)"
# The listing is captured first: `unzip | grep -q` fails with SIGPIPE under pipefail.
listing="$(unzip -l "$wheel")"
grep -q 'share/jupyter/labextensions/jupyterlab-deardiary/static/remoteEntry' <<<"$listing" \
  || { echo "the wheel holds no prebuilt labextension" >&2; result 1; exit 1; }
if grep -qE 'ui-tests|test-kernel|/tests/' <<<"$listing"; then
  echo "the wheel ships test files" >&2; result 1; exit 1
fi
python3 -m venv "$work/venv"
PATH="$work/venv/bin:/usr/bin:/bin" "$work/venv/bin/python" -m pip install -q \
  --disable-pip-version-check "$wheel" 'jupyterlab>=4.6,<5' || { result 1; exit 1; }
labs="$(PATH="$work/venv/bin:/usr/bin:/bin" "$work/venv/bin/jupyter" labextension list 2>&1)"
servers="$(PATH="$work/venv/bin:/usr/bin:/bin" "$work/venv/bin/jupyter" server extension list 2>&1)"
echo "$labs" | grep -i deardiary
echo "$servers" | grep -i deardiary
if echo "$labs" | grep -qE 'jupyterlab-deardiary v[0-9.]+ .*enabled.*OK' \
  && echo "$servers" | grep -qE 'jupyterlab_deardiary .*enabled' \
  && echo "$servers" | grep -qE 'jupyterlab_deardiary [0-9.]+ .*OK'; then
  echo "wheel: installs with the extension enabled and OK"; result 0
else
  echo "wheel: the extension is not enabled and OK after installing the wheel" >&2; result 1; exit 1
fi

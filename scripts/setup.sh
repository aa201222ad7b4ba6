#!/usr/bin/env bash
# Set up a development environment inside the clone: .venv with JupyterLab and this
# extension (frontend built with jlpm, server extension enabled). Idempotent.
# Source it (`. scripts/setup.sh`) to get PATH pointing at the venv.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DEARDIARY_VENV:-$REPO/.venv}"
cd "$REPO"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
export PATH="$VENV/bin:$PATH"
pip_quiet() { python -m pip install -q --disable-pip-version-check "$@"; }
pip_quiet 'jupyterlab>=4.6,<5' 'hatchling>=1.5' 'hatch-jupyter-builder>=0.5' \
  'hatch-nodejs-version>=0.3.2' editables build
jlpm install --immutable >/dev/null 2>&1 || jlpm install
# Editable install: hatch builds the frontend (jlpm build) and enables the server
# extension; `develop` then links the labextension so rebuilds are picked up.
pip_quiet --no-build-isolation -e ".[test]"
jlpm build >/dev/null
jupyter-builder develop --overwrite . >/dev/null

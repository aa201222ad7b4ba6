#!/usr/bin/env bash
# One command for a fresh clone: set everything up, then start JupyterLab with the
# extension. Extra arguments go to `jupyter lab`.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
. "$REPO/scripts/setup.sh"
jupyter labextension list 2>&1 | grep -q 'jupyterlab-deardiary.*enabled' \
  || { echo "jupyterlab-deardiary is not enabled in JupyterLab" >&2; exit 1; }
if ! jupyter kernelspec list 2>/dev/null | grep -qi julia; then
  echo "Note: no Julia kernel is installed. In Julia: using Pkg; Pkg.add(\"IJulia\")" >&2
fi
exec jupyter lab "$@"

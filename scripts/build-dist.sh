#!/usr/bin/env bash
# Build the installable packages from a clone: dist/jupyterlab_deardiary-<v>-py3-none-any.whl
# (the prebuilt JupyterLab extension + the jupyter_server extension; installing it needs
# no Node.js) and dist/jupyterlab_deardiary-<v>.tar.gz. Uses the dev venv (.venv/, made by
# scripts/setup.sh, which start.sh and test.sh also run); building needs Node.js >= 20.
# Then: pip install dist/jupyterlab_deardiary-*.whl where JupyterLab or Notebook 7 runs.
# scripts/check-wheel.sh (run by test.sh / CI) proves such a wheel in a fresh venv.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
if [ ! -x .venv/bin/python ]; then
  bash scripts/setup.sh
fi
export PATH="$REPO/.venv/bin:$PATH"
python -m pip install -q --disable-pip-version-check build
rm -f dist/jupyterlab_deardiary-*
# --no-isolation: the venv already holds hatchling, hatch-jupyter-builder and jupyterlab.
python -m build --no-isolation --sdist --wheel --outdir dist .
ls -l dist/jupyterlab_deardiary-*

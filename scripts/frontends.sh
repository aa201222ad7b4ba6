#!/usr/bin/env bash
# The smoke path in the other frontends we claim (issue 19), each in its own venv under
# .cache/frontends (pip, cached wheels), with this clone's built extension linked in as
# `jupyter labextension develop` and an editable install would: the oldest JupyterLab of
# the range (OLDEST, the version package.json pins @jupyterlab/core-meta to), Notebook 7,
# and the newest JupyterLab with jupyter-collaboration (RTC). The newest JupyterLab
# itself is the main Galata run. Usage: scripts/frontends.sh [RESULTS_DIR] [name...]
# Needs: the extension built (jlpm build), JUPYTER_PATH with the test kernel.
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
RESULTS="${1:-$REPO/.cache/results}"; shift || true
OLDEST="$(node -p "require('$REPO/package.json').resolutions['@jupyterlab/core-meta']")"
declare -A PKGS=(
  [lab-oldest]="jupyterlab==$OLDEST"
  [notebook7]="notebook==7.6.5"
  [rtc]="jupyterlab==4.6.6 jupyter-collaboration==5.0.4"
)
# The server extension's own dependencies (pyproject.toml: zstandard, fastcdc, ...): the
# clone is linked in by a .pth file, which installs none of them.
read -ra DEPS <<<"$(python3 -c 'import sys, tomllib; print(" ".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' "$REPO/pyproject.toml")"
names=("$@"); [ ${#names[@]} -gt 0 ] || names=(lab-oldest notebook7 rtc)
rc=0
for name in "${names[@]}"; do
  venv="$REPO/.cache/frontends/$name"
  stamp="$venv/.installed"
  want="${PKGS[$name]} ${DEPS[*]}"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$venv"; python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check ${PKGS[$name]} "${DEPS[@]}" pyzmq jupyter_client \
      2> >(grep -v '^WARNING: Location' >&2) || { echo "FAILED: venv $name" >&2; rc=1; continue; }
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$REPO" > "$site/jupyterlab_deardiary-dev.pth"
    mkdir -p "$venv/share/jupyter/labextensions" "$venv/etc/jupyter/jupyter_server_config.d"
    ln -sfn "$REPO/jupyterlab_deardiary/labextension" "$venv/share/jupyter/labextensions/jupyterlab-deardiary"
    cp "$REPO"/jupyter-config/server-config/*.json "$venv/etc/jupyter/jupyter_server_config.d/"
    echo "$want" > "$stamp"
  fi
  # The version check JupyterLab itself makes: the oldest must list the extension OK.
  listing="$(PATH="$venv/bin:$PATH" jupyter labextension list 2>&1 | grep deardiary)"
  echo "$name: $listing"
  if ! grep -qE 'enabled.*OK' <<<"$listing" || grep -qi 'not compatible' <<<"$listing"; then
    echo "FAILED: $name: jupyterlab-deardiary is not enabled and OK" >&2; rc=1; continue
  fi
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  root="$(mktemp -d)"
  if [ "$name" = notebook7 ]; then
    args=(tests/frontends/notebook7.spec.ts); front=notebook
  else
    args=(tests/smoke.spec.ts --project ijulia-1.24); front=lab
  fi
  rtc=0; [ "$name" = rtc ] && rtc=1   # smoke.spec.ts checks the notebook is shared (RTC) or not
  (cd "$REPO/ui-tests" && PATH="$venv/bin:$PATH" DEARDIARY_UI_PORT="$port" DEARDIARY_UI_ROOT="$root" \
    DEARDIARY_UI_FRONTEND="$front" DEARDIARY_UI_RTC="$rtc" PLAYWRIGHT_JSON_OUTPUT_NAME="$RESULTS/frontend-$name.json" \
    timeout 600 jlpm playwright test "${args[@]}" --reporter=list,json) || { echo "FAILED: $name smoke" >&2; rc=1; }
  rm -rf "$root"
done
exit $rc

#!/usr/bin/env bash
# Fetch Julia 1.5.3 from Debian bullseye into .cache/julia (tests only; see README).
# Nothing in /etc/apt changes: apt uses a private sources file and state folder.
# Prints the path of the julia wrapper on success.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="${JULIA_ROOT:-$here/.cache/julia}"
wrapper="$dest/bin/julia"
if [ -x "$wrapper" ] && "$wrapper" -e 'exit(VERSION == v"1.5.3" ? 0 : 1)' >/dev/null 2>&1; then
  echo "$wrapper"; exit 0
fi
rm -rf "$dest"; mkdir -p "$dest"/{apt/lists/partial,apt/cache/archives/partial,debs,root,bin,depot}
mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -v '^ *#' \
  | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
cat > "$dest/apt/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main
SRC
apt_opts=(-o Dir::Etc::sourcelist="$dest/apt/sources.list" -o Dir::Etc::sourceparts=-
          -o Dir::State::Lists="$dest/apt/lists" -o Dir::Cache="$dest/apt/cache"
          -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1)
apt-get "${apt_opts[@]}" update -qq >/dev/null
pkgs=(julia=1.5.3+dfsg-3 libjulia1=1.5.3+dfsg-3 julia-common=1.5.3+dfsg-3 libdsfmt-19937-1
      libgfortran5 libgit2-1.1 libllvm9 libmbedcrypto3 libmbedtls12 libmbedx509-0 libopenlibm3
      libutf8proc2 libhttp-parser2.9 libpcre3 libffi7 libunwind8=1.3.2-2)
(cd "$dest/debs" && apt-get "${apt_opts[@]}" download "${pkgs[@]}" >/dev/null)
for deb in "$dest"/debs/*.deb; do dpkg -x "$deb" "$dest/root"; done
lib="$dest/root/usr/lib/x86_64-linux-gnu"
# Relative links to system libraries dangle once extracted elsewhere: re-point them.
for link in "$lib"/julia/*; do
  if [ -L "$link" ] && [ ! -e "$link" ]; then
    ln -sf "/usr/lib/x86_64-linux-gnu/$(basename "$(readlink "$link")")" "$link"
  fi
done
# Bookworm's libunwind crashes julia 1.5.3 on any exception: use bullseye's.
unwind="$(ls "$lib"/libunwind.so.8.* | head -1)"
ln -sf "$unwind" "$lib/julia/libunwind.so"
cat > "$wrapper" <<WRAP
#!/usr/bin/env bash
export LD_LIBRARY_PATH="$lib:$dest/root/lib/x86_64-linux-gnu:$lib/julia\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export JULIA_DEPOT_PATH="\${JULIA_DEPOT_PATH:-$dest/depot}"
export JULIA_PKG_OFFLINE=true
exec "$dest/root/usr/bin/julia" "\$@"
WRAP
chmod +x "$wrapper"
"$wrapper" -e 'using SHA, Base64; try error("x") catch end; VERSION == v"1.5.3" || exit(1)' >&2
echo "$wrapper"

#!/usr/bin/env bash
# Prepares the Moddable SDK for the device tier: copies the read-only SDK from ../shared/moddable-sdk
# (or $MODDABLE_SRC) into a cache outside the repository, builds its lin tools once, and installs
# tools/xsbug-log's node modules. Reused while the cached build is complete. Prints the SDK path.
# Debian packages it needs: gcc make flex bison gperf libncurses-dev libgtk-3-dev (and xvfb to run).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
src="${MODDABLE_SRC:-}"
if [ -z "$src" ]; then
  for d in "$here/../shared/moddable-sdk" /work/shared/moddable-sdk; do
    if [ -d "$d" ]; then src="$d"; break; fi
  done
fi
cache="${PAWPOST_CACHE:-$HOME/.cache/pawpost}"
dest="$cache/moddable-8.2.3"
if [ ! -x "$dest/build/bin/lin/release/mcsim" ] || [ ! -x "$dest/build/bin/lin/release/mcconfig" ]; then
  [ -n "$src" ] && [ -d "$src" ] || { echo "no Moddable SDK source (set MODDABLE_SRC)" >&2; exit 1; }
  mkdir -p "$cache"
  rm -rf "$dest"
  cp -r "$src" "$dest"
  chmod -R u+w "$dest"
  export MODDABLE="$dest"
  export PATH="$MODDABLE/build/bin/lin/release:$PATH"
  make -C "$MODDABLE/build/makefiles/lin" -j2 >"$cache/moddable-build.log" 2>&1 || { tail -30 "$cache/moddable-build.log" >&2; exit 1; }
fi
if [ ! -d "$dest/tools/xsbug-log/node_modules/saxophone" ]; then
  (cd "$dest/tools/xsbug-log" && npm install --no-audit --no-fund --silent >/dev/null)
fi
echo "$dest"

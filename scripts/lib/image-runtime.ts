/**
 * How a service's container image runs Node (infra/docker/<service>.Dockerfile), so that
 * `npm start` and the benchmarks run what ships instead of a copy of its flags: the Node flags of
 * `ENV NODE_OPTIONS="…"` and of `CMD ["node", …flags, "<entry>"]` (V8 flags that NODE_OPTIONS
 * refuses, such as --heap-growing-percent, can only be given there), and the image's
 * MALLOC_ARENA_MAX.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export interface ImageRuntime {
  /** Node flags, NODE_OPTIONS first, then the CMD's: pass them before the entry script. */
  nodeArgs: string[]
  /** The image's environment that shapes memory (only what it sets). */
  env: { MALLOC_ARENA_MAX?: string }
}

/** `NAME=value` or `NAME="a b"` on the image's `ENV` lines; undefined when the image does not set it. */
function envValue (dockerfile: string, name: string): string | undefined {
  for (const line of dockerfile.split('\n')) {
    if (!/^ENV\s/.test(line)) continue
    const m = new RegExp(`(?:^|\\s)${name}=(?:"([^"]*)"|(\\S+))`).exec(line.slice(4))
    if (m !== null) return m[1] ?? m[2]
  }
  return undefined
}

export function parseImageRuntime (dockerfile: string): ImageRuntime {
  const options = (envValue(dockerfile, 'NODE_OPTIONS') ?? '').split(/\s+/).filter((f) => f !== '')
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile)
  const argv = cmd === null ? [] : JSON.parse(cmd[1]!) as string[]
  const cmdFlags = argv.slice(1, -1).filter((a) => a.startsWith('--'))
  const arenas = envValue(dockerfile, 'MALLOC_ARENA_MAX')
  return { nodeArgs: [...options, ...cmdFlags], env: arenas === undefined ? {} : { MALLOC_ARENA_MAX: arenas } }
}

/** The runtime of `infra/docker/<image>.Dockerfile` (e.g. `ingress`, `billing`). */
export function imageRuntime (image: string): ImageRuntime {
  const file = fileURLToPath(new URL(`../../infra/docker/${image}.Dockerfile`, import.meta.url))
  return parseImageRuntime(readFileSync(file, 'utf8'))
}

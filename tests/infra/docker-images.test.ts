/**
 * The images' build steps without a Docker engine (these machines have none): each
 * infra/docker/*.Dockerfile's dependency stage is replayed in a temporary directory (its COPY
 * lines from this checkout, as the build context gives them with .dockerignore's exclusions,
 * then its `pnpm install` line, offline from the store the workspace was installed from), and a
 * service image's compile-cache warm-up (`node services/<name>/src/main.ts` without
 * configuration) must get as far as the configuration check: every module of the service's
 * graph resolved from what the image holds.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('../..', import.meta.url))
const dockerDir = join(root, 'infra', 'docker')
/** What .dockerignore keeps out of the build context (checked below). */
const IGNORED = ['node_modules', '.git']

interface Stage { copies: { sources: string[], dest: string }[], runs: string[] }

/** The instructions of each stage, in order (one line each: our Dockerfiles use no continuations). */
function stages (dockerfile: string): Stage[] {
  const out: Stage[] = []
  for (const line of dockerfile.split('\n').map((l) => l.trim())) {
    if (/^FROM\s/i.test(line)) { out.push({ copies: [], runs: [] }); continue }
    const stage = out.at(-1)
    if (stage === undefined) continue
    const copy = /^COPY\s+(.*)$/i.exec(line)
    if (copy !== null && !copy[1]!.startsWith('--from')) {
      const args = copy[1]!.split(/\s+/)
      stage.copies.push({ sources: args.slice(0, -1), dest: args.at(-1)! })
    }
    const run = /^RUN\s+(.*)$/i.exec(line)
    if (run !== null) stage.runs.push(run[1]!)
  }
  return out
}

const run = (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 })

t.test('.dockerignore keeps host dependencies and history out of the build context', async (t) => {
  const lines = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
  for (const name of IGNORED) t.ok(lines.includes(`**/${name}`), `**/${name}`)
})

for (const file of readdirSync(dockerDir).filter((f) => f.endsWith('.Dockerfile'))) {
  t.test(file, async (t) => {
    const [deps, final] = stages(readFileSync(join(dockerDir, file), 'utf8'))
    t.ok(deps !== undefined && final !== undefined, 'a dependency stage and a runtime stage')
    const app = mkdtempSync(join(tmpdir(), 'coexist-image-'))
    t.teardown(() => rmSync(app, { recursive: true, force: true }))

    for (const { sources, dest } of deps!.copies) {
      for (const source of sources) {
        const target = dest.endsWith('/') && !source.includes('/') ? join(app, dest, source) : join(app, dest)
        cpSync(join(root, source), target, { recursive: true, filter: (p) => !IGNORED.some((n) => p.split('/').includes(n)) })
      }
    }
    const install = deps!.runs.find((r) => r.startsWith('pnpm install'))
    t.ok(install, 'the dependency stage installs with pnpm')
    const args = install!.split(/\s+/).slice(1).map((a) => a.replace(/^"(.*)"$/, '$1'))
    const installed = run('pnpm', [...args, '--offline'], app)
    t.equal(installed.status, 0, `pnpm ${args.join(' ')} --offline`)
    if (installed.status !== 0) t.comment(installed.stdout + installed.stderr)

    const warmUp = final!.runs.find((r) => r.startsWith('node services/'))
    if (warmUp === undefined) return
    const entry = warmUp.split(/\s+/)[1]!
    const started = run(process.execPath, [entry], app, { PATH: process.env.PATH, NODE_ENV: 'production' })
    t.match(started.stderr, /invalid configuration/, `${entry} loads its whole module graph from the image's files and stops at the configuration check`)
    t.notMatch(started.stderr, /ERR_MODULE_NOT_FOUND|Cannot find (module|package)/)
  })
}

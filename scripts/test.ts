/**
 * `npm test`: one run of the whole suite on real infrastructure.
 *   1. Postgres and Kafka (scripts/lib/infra.ts: env, else testcontainers, else local);
 *   2. a fresh template database for this run, migrated; tests clone it (packages/testkit);
 *   3. the workspace type-check, lint (ESLint, knip) and the contracts drift check;
 *   4. tap over every test file; then the line "N passed, N failed".
 * Arguments are passed to tap (e.g. a file list). Everything the run created is removed at the end.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createDb, migrateToLatest } from '@coexist/db'
import { ensureKafka, ensurePostgres, freePortPair } from './lib/infra.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const runId = randomBytes(3).toString('hex')
const tapArgs = process.argv.slice(2)
const log = (m: string): void => { process.stderr.write(`coexist test: ${m}\n`) }

function step (name: string, cmd: string, args: string[]): boolean {
  log(name)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) log(`${name}: FAILED`)
  return r.status === 0
}

async function admin<T> (url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try { return await fn(c) } finally { await c.end() }
}

/** True when tap's built test class still loads @tapjs/typescript (or was never built). */
function tapBuiltWithTypescriptPlugin (): boolean {
  const pnpmDir = join(root, 'node_modules', '.pnpm')
  const dirs = readdirSync(pnpmDir).filter((d) => d.startsWith('@tapjs+test@'))
  return dirs.length === 0 || dirs.some((d) => {
    const built = join(pnpmDir, d, 'node_modules', '@tapjs', 'test', 'test-built', 'dist', 'esm', 'index.js')
    return !existsSync(built) || readFileSync(built, 'utf8').includes('@tapjs/typescript')
  })
}

const cleanups: (() => Promise<void>)[] = []
let passed = 0
let failed = 0

try {
  // Tests get their own broker (port 19092, throwaway data dir), apart from an `npm start` stack.
  const kafkaHome = mkdtempSync(join(tmpdir(), 'coexist-kafka-'))
  const [pgs, kafka] = await Promise.all([
    ensurePostgres(),
    ensureKafka({ port: Number(process.env.COEXIST_TEST_KAFKA_PORT ?? await freePortPair(19092)), home: kafkaHome })
  ])
  cleanups.push(kafka.stop, pgs.stop, async () => { rmSync(kafkaHome, { recursive: true, force: true }) })
  log(`Postgres: ${pgs.how}; Kafka: ${kafka.how}`)

  const template = `coexist_t_${runId}`
  await admin(pgs.value, (c) => c.query(`CREATE DATABASE "${template}"`))
  cleanups.unshift(() => admin(pgs.value, async (c) => {
    const { rows } = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${template}%`])
    for (const r of rows) await c.query(`DROP DATABASE IF EXISTS "${r.datname}" WITH (FORCE)`)
  }))
  const templateUrl = new URL(pgs.value)
  templateUrl.pathname = '/' + template
  const db = createDb(templateUrl.toString(), { max: 1 })
  await migrateToLatest(db)
  await db.destroy()

  Object.assign(process.env, {
    COEXIST_TEST_RUN_ID: runId,
    COEXIST_TEST_PG_URL: pgs.value,
    COEXIST_TEST_PG_TEMPLATE: template,
    KAFKA_BROKERS: kafka.value.join(','),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent'
  })

  if (tapArgs.length === 0) {
    if (step('type-check (tsc)', 'pnpm', ['exec', 'tsc', '-p', 'tsconfig.base.json'])) passed++; else failed++
    if (step('lint (eslint)', 'pnpm', ['exec', 'eslint', '--config', 'scripts/eslint.config.js', '.'])) passed++; else failed++
    if (step('unused files and dependencies (knip)', 'pnpm', ['exec', 'knip', '--no-progress'])) passed++; else failed++
    if (step('db: generated table types match the migrations', process.execPath, ['scripts/db-codegen.ts', '--check'])) passed++; else failed++
    if (existsSync(join(root, 'scripts/contracts.ts'))) {
      if (step('contracts: generated code matches proto/', process.execPath, ['scripts/contracts.ts', '--check'])) passed++; else failed++
    }
  }

  // Node strips TypeScript itself; tap's ts-node plugin is excluded in .taprc, which takes a
  // `tap build`. `tap plugin list` reads the config, not the build, so look at what was built;
  // building only when needed keeps concurrent runs in one tree from breaking each other.
  if (tapBuiltWithTypescriptPlugin()) step('tap build (plugin set of .taprc)', 'pnpm', ['exec', 'tap', 'build'])

  const counts = await new Promise<{ pass: number, fail: number }>((resolve, reject) => {
    const child = spawn('pnpm', ['exec', 'tap', '--reporter=tap', ...tapArgs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    let last = { pass: 0, fail: 0 }
    let buf = ''
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk)
      buf += chunk.toString('utf8')
      const lines = buf.split('\n')
      buf = lines.pop() ?? ''
      for (const line of lines) {
        // tap's closing summary: "# { total: 34, pass: 33, fail: 1, skip: 0 }"
        const m = /^# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/.exec(line)
        if (m) last = { pass: Number(m[2] ?? 0), fail: Number(m[3] ?? 0) }
      }
    })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0 && last.fail === 0) last.fail = 1
      resolve(last)
    })
  })
  passed += counts.pass
  failed += counts.fail
} catch (err) {
  log(`run failed: ${(err as Error).stack ?? String(err)}`)
  failed++
} finally {
  for (const c of cleanups) await c().catch((err: unknown) => log(`cleanup: ${String(err)}`))
}

console.log(`${passed} passed, ${failed} failed`)
process.exitCode = failed > 0 ? 1 : 0

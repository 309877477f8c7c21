/**
 * `npm start`: the whole stack on this machine, in one command.
 *   Postgres and Kafka (scripts/lib/infra.ts: DATABASE_URL/KAFKA_BROKERS, else testcontainers,
 *   else local Postgres and a local KRaft Kafka on 9092) → database `coexist` created and
 *   migrated → the four services → the Meta simulator in demo mode, posting signed webhooks to
 *   ingress. Development secrets are generated once and kept in ~/.cache/coexist/dev.env;
 *   any variable already set in the environment wins. Ctrl-C stops everything it started.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createDb, migrateToLatest } from '@coexist/db'
import { ensureKafka, ensurePostgres } from './lib/infra.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const log = (m: string): void => { process.stderr.write(`coexist start: ${m}\n`) }

export const SERVICES = [
  { name: 'ingress', port: 8080 },
  { name: 'sync', port: 8081 },
  { name: 'outbound-sender', port: 8082 },
  { name: 'billing', port: 8083 }
] as const
const SIMULATOR_PORT = 8090
const DEV_APP_ID = '100000000000001'

/** Secrets for a local stack, generated once so restarts can still decrypt stored tokens. */
function devSecrets (): Record<string, string> {
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'coexist')
  const file = join(dir, 'dev.env')
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(file, [
      `COEXIST_ENCRYPTION_KEY=${randomBytes(32).toString('base64')}`,
      `COEXIST_ADMIN_KEY=cx_admin_${randomBytes(24).toString('base64url')}`,
      `META_APP_SECRETS=${DEV_APP_ID}:${randomBytes(16).toString('hex')}`,
      `META_VERIFY_TOKEN=${randomBytes(12).toString('hex')}`
    ].join('\n') + '\n', { mode: 0o600 })
  }
  return Object.fromEntries(readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => {
    const i = l.indexOf('=')
    return [l.slice(0, i), l.slice(i + 1)]
  }))
}

async function ensureDatabase (serverUrl: string, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: serverUrl })
  await c.connect()
  try {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (rowCount === 0) await c.query(`CREATE DATABASE "${name}"`)
  } finally { await c.end() }
  const u = new URL(serverUrl); u.pathname = '/' + name
  return u.toString()
}

async function waitReady (name: string, port: number, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`)
    const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false)
    if (ok) return
    await new Promise((r) => setTimeout(r, 300))
  }
  throw new Error(`${name} was not ready on port ${port} within ${timeoutMs / 1000} s`)
}

function launch (name: string, entry: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [entry], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const prefix = `[${name}] `
  for (const stream of [child.stdout, child.stderr]) {
    let buf = ''
    stream?.on('data', (d: Buffer) => {
      buf += d.toString('utf8')
      const lines = buf.split('\n'); buf = lines.pop() ?? ''
      for (const l of lines) process.stdout.write(prefix + l + '\n')
    })
  }
  return child
}

const children: ChildProcess[] = []
const stops: (() => Promise<void>)[] = []
let stopping = false
async function shutdown (code: number): Promise<void> {
  if (stopping) return
  stopping = true
  log('stopping')
  for (const c of children.reverse()) c.kill('SIGTERM')
  await Promise.all(children.map((c) => c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r))))
  for (const s of stops) await s().catch(() => {})
  process.exit(code)
}
process.on('SIGINT', () => { void shutdown(0) })
process.on('SIGTERM', () => { void shutdown(0) })

try {
  const secrets = devSecrets()
  const [pgs, kafka] = await Promise.all([ensurePostgres(), ensureKafka()])
  stops.push(kafka.stop, pgs.stop)
  log(`Postgres: ${pgs.how}; Kafka: ${kafka.how}`)
  const databaseUrl = process.env.DATABASE_URL ?? await ensureDatabase(pgs.value, 'coexist')
  const db = createDb(databaseUrl, { max: 1 })
  await migrateToLatest(db)
  await db.destroy()
  log('database migrated')

  const base: NodeJS.ProcessEnv = {
    ...secrets,
    META_GRAPH_URL: `http://127.0.0.1:${SIMULATOR_PORT}`,
    META_GRAPH_VERSION: 'v24.0',
    LOG_LEVEL: 'info',
    ...process.env,
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: kafka.value.join(',')
  }
  for (const s of SERVICES) {
    const child = launch(s.name, join(root, 'services', s.name, 'src', 'main.ts'), { ...base, PORT: String(s.port) })
    children.push(child)
    child.once('exit', (code) => { if (!stopping) { log(`${s.name} exited (${code}); stopping the stack`); void shutdown(1) } })
  }
  await Promise.all(SERVICES.map((s, i) => waitReady(s.name, s.port, children[i]!)))

  const [appId, appSecret] = (base.META_APP_SECRETS ?? '').split(',')[0]!.split(':')
  const sim = launch('simulator', join(root, 'packages', 'meta-simulator', 'src', 'main.ts'), {
    ...base,
    PORT: String(SIMULATOR_PORT),
    SIM_DEMO: process.env.SIM_DEMO ?? '1',
    SIM_WEBHOOK_URL: `http://127.0.0.1:8080/webhooks/meta/${appId}`,
    SIM_APP_ID: appId,
    SIM_APP_SECRET: appSecret,
    SIM_COEXIST_URLS: SERVICES.map((s) => `${s.name}=http://127.0.0.1:${s.port}`).join(',')
  })
  children.push(sim)
  log([
    'stack is up:',
    ...SERVICES.map((s) => `  ${s.name.padEnd(16)} http://127.0.0.1:${s.port}  (health, /metrics, /v1/openapi.json)`),
    `  simulator        http://127.0.0.1:${SIMULATOR_PORT}  (Graph API + /_sim/ control, demo mode)`,
    `  admin API key    ${base.COEXIST_ADMIN_KEY} (from ~/.cache/coexist/dev.env)`,
    '  Ctrl-C stops everything.'
  ].join('\n'))
} catch (err) {
  log(`failed: ${(err as Error).message}`)
  await shutdown(1)
}

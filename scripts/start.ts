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
import { imageRuntime } from './lib/image-runtime.ts'
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

async function waitFor (name: string, url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`)
    const ok = await fetch(url).then((r) => r.ok, () => false)
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
  throw new Error(`${name} was not ready at ${url} within ${timeoutMs / 1000} s`)
}

const SIM = `http://127.0.0.1:${SIMULATOR_PORT}`
const SYNC = 'http://127.0.0.1:8081'
/** The demo's numbers: one Cloud API number and two coexistence numbers (Brazil, +55). */
const DEMO_NUMBERS = [1, 2, 3].map((k) => ({
  phoneNumberId: `62000000000000${k}`,
  wabaId: `31000000000000${k}`,
  displayPhoneNumber: `551199990000${k}`,
  mode: k === 1 ? 'cloud_api' as const : 'coexistence' as const
}))

async function call (method: string, url: string, key: string | undefined, body?: unknown): Promise<any> {
  const res = await fetch(url, {
    method,
    headers: { ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 300)}`)
  return text === '' ? undefined : JSON.parse(text)
}

/**
 * The demo, through the public APIs only: the numbers are configured at the simulator (Meta's
 * side), registered with Coexist by the admin key (a demo tenant, its WABAs and numbers with
 * the simulator's tokens; coexistence numbers start onboarding), then the simulator plays
 * traffic for them. Idempotent across restarts.
 */
async function startDemo (adminKey: string): Promise<{ tenantId: string, apiKey: string }> {
  await call('POST', `${SIM}/_sim/numbers`, undefined, DEMO_NUMBERS)
  const tenants = await call('GET', `${SYNC}/v1/tenants`, adminKey)
  const list: { id: string, name: string }[] = Array.isArray(tenants) ? tenants : tenants.tenants ?? tenants.items ?? tenants.data ?? []
  const tenantId = list.find((t) => t.name === 'Demo client')?.id ?? (await call('POST', `${SYNC}/v1/tenants`, adminKey, { name: 'Demo client' })).id
  for (const n of DEMO_NUMBERS) {
    const token = `sim-token-${n.phoneNumberId}`
    await call('POST', `${SYNC}/v1/wabas?tenant_id=${tenantId}`, adminKey, { id: n.wabaId, name: `Demo WABA ${n.wabaId.slice(-1)}`, currency: 'USD', timezone: 'America/Sao_Paulo', access_token: token })
    await call('POST', `${SYNC}/v1/numbers?tenant_id=${tenantId}`, adminKey, { id: n.phoneNumberId, waba_id: n.wabaId, display_phone_number: n.displayPhoneNumber, mode: n.mode, access_token: token })
  }
  const key = await call('POST', `${SYNC}/v1/tenants/${tenantId}/api-keys`, adminKey, { name: 'demo', roles: ['manage', 'send', 'read'] })
  await call('POST', `${SIM}/_sim/scenario`, undefined, { numbers: DEMO_NUMBERS, inboundRate: 0.5, echoRate: 0.1, contactChangeRate: 0.02, usersPerNumber: 12, tickMs: 250, seed: 7 })
  return { tenantId, apiKey: key.key ?? key.api_key ?? key.apiKey }
}

function launch (name: string, entry: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): ChildProcess {
  // Its own process group: a Ctrl-C reaches this supervisor only, which stops the services once
  // each (a second signal would make them skip their drain) and Kafka after them.
  const child = spawn(process.execPath, [...nodeArgs, entry], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
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
  await Promise.all(children.map((c) => c.exitCode !== null ? undefined : new Promise((resolve) => c.once('exit', resolve))))
  for (const s of stops) await s().catch(() => {})
  process.exit(code)
}
process.on('exit', () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL') })
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
    // As the service's image runs it (heap sized for its container, malloc arenas capped), not
    // with Node's defaults for this host's memory.
    const image = imageRuntime(s.name)
    const child = launch(s.name, join(root, 'services', s.name, 'src', 'main.ts'), { ...image.env, ...base, PORT: String(s.port) }, image.nodeArgs)
    children.push(child)
    child.once('exit', (code) => { if (!stopping) { log(`${s.name} exited (${code}); stopping the stack`); void shutdown(1) } })
  }
  await Promise.all(SERVICES.map((s, i) => waitFor(s.name, `http://127.0.0.1:${s.port}/health/ready`, children[i]!)))

  const [appId, appSecret] = (base.META_APP_SECRETS ?? '').split(',')[0]!.split(':')
  const sim = launch('simulator', join(root, 'packages', 'meta-simulator', 'src', 'main.ts'), {
    ...base,
    PORT: String(SIMULATOR_PORT),
    SIM_DEMO: '0',
    SIM_WEBHOOK_URL: `http://127.0.0.1:8080/webhooks/meta/${appId}`,
    SIM_APP_ID: appId,
    SIM_APP_SECRET: appSecret
  })
  children.push(sim)
  sim.once('exit', (code) => { if (!stopping) { log(`simulator exited (${code}); stopping the stack`); void shutdown(1) } })
  await waitFor('simulator', `${SIM}/_sim/numbers`, sim)
  const demo = process.env.SIM_DEMO === '0' ? undefined : await startDemo(base.COEXIST_ADMIN_KEY!)
  log([
    'stack is up:',
    ...SERVICES.map((s) => `  ${s.name.padEnd(16)} http://127.0.0.1:${s.port}  (health, /metrics, /v1/openapi.json)`),
    `  simulator        http://127.0.0.1:${SIMULATOR_PORT}  (Graph API + /_sim/ control, demo mode)`,
    `  admin API key    ${base.COEXIST_ADMIN_KEY} (from ~/.cache/coexist/dev.env)`,
    ...(demo !== undefined
      ? [`  demo tenant      ${demo.tenantId}, API key ${demo.apiKey}`,
          `                   numbers ${DEMO_NUMBERS.map((n) => `${n.phoneNumberId} (${n.mode})`).join(', ')}; the simulator plays their traffic`,
          `  try              curl -H 'Authorization: Bearer ${demo.apiKey}' http://127.0.0.1:8081/v1/conversations`]
      : []),
    '  Ctrl-C stops everything.'
  ].join('\n'))
} catch (err) {
  log(`failed: ${(err as Error).message}`)
  await shutdown(1)
}

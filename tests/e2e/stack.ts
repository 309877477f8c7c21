/**
 * The whole Coexist stack in one test process: the four services wired as their `main.ts` wire
 * them (config parsed from an environment by the same sections, the same client factories,
 * buildApp + runtime starters, graceful shutdown), on a per-test database and topic prefix,
 * with the Meta simulator as Meta: its Graph API serves the services, its emitter posts signed
 * webhooks to ingress (listening on a free port).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createKafka, createTopicRegistry, ensureTopics } from '@coexist/bus'
import type { RunningService, HttpApp } from '@coexist/http'
import { createLogger, type Logger } from '@coexist/logger'
import { startSimulator, type RunningSimulator } from '@coexist/meta-simulator'
import { testDatabase, testKafkaBrokers, testTopicPrefix, type Teardown } from '@coexist/testkit'
import { loadBillingConfig, runBilling } from '@coexist/billing'
import { loadIngressConfig, runIngress, type RunningIngress } from '@coexist/ingress'
import { loadOutboundConfig, runOutbound } from '@coexist/outbound-sender'
import { loadSyncConfig, runSync } from '@coexist/sync'

export const APP_ID = '100000000000001'
export const ADMIN_KEY = `cx_admin_${randomBytes(18).toString('base64url')}`

type Env = Record<string, string>

export interface Stack {
  sim: RunningSimulator
  ingress: RunningIngress
  sync: RunningService<HttpApp>
  outbound: RunningService<HttpApp>
  billing: RunningService<HttpApp>
  /** The environment every service was started with (as `npm start` gives its processes). */
  env: Env
  /** Errors a service would have exited on (billing's fatal consumer error); a test expects none. */
  fatal: Error[]
}

/** A JSON answer of a service. */
export interface Answer { status: number, body: any }

/** Calls a service over HTTP with an API key; `body` as JSON. */
export async function call (base: string, method: string, path: string, key?: string, body?: unknown): Promise<Answer> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  let parsed: unknown = text
  try { parsed = text === '' ? undefined : JSON.parse(text) } catch { /* not JSON */ }
  return { status: res.status, body: parsed }
}

/** Like `call`, but throws unless the status is `expect`. */
export async function ok (expect: number, base: string, method: string, path: string, key?: string, body?: unknown): Promise<any> {
  const r = await call(base, method, path, key, body)
  if (r.status !== expect) throw new Error(`${method} ${path}: expected ${expect}, got ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`)
  return r.body
}

/**
 * Polls `check` until it returns a truthy value (every 100 ms); after `timeoutMs` it throws with
 * `what` and the last value seen, so a failing test says what it was waiting for.
 */
export async function until<T> (what: string, check: () => Promise<T> | T, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>
      last = v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const shutdownOpts = { signals: [] as NodeJS.Signals[], drainMs: 0, exit: () => {} }

/** A parsed configuration, listening on a free port: PORT cannot say 0 (config refuses it). */
function onFreePort<C extends { http: { port: number, host: string } }> (config: C): C {
  return { ...config, http: { ...config.http, port: 0 } }
}

/**
 * Creates the stack's topics before the services start, with 2 partitions each instead of the
 * registry's production counts (up to 12): a test's few records need no more, and ~150
 * partitions per test would load the shared broker and slow every group's join. The services'
 * own ensureTopics then finds them and leaves them as they are.
 */
async function provisionTopics (env: Env): Promise<void> {
  const kafka = createKafka({ brokers: env.KAFKA_BROKERS!.split(','), clientId: 'e2e-provision', logger: createLogger({ level: 'silent' }) })
  const admin = kafka.admin()
  await admin.connect()
  try {
    await ensureTopics(admin, createTopicRegistry({ prefix: env.KAFKA_TOPIC_PREFIX!, partitions: 2 }))
  } finally {
    await admin.disconnect()
  }
}

/**
 * Starts the simulator, then the four services (in parallel, like `npm start`), and points the
 * simulator's webhooks at ingress. Everything is stopped at teardown, the database dropped last.
 */
export async function startStack (t: Teardown): Promise<Stack> {
  const db = await testDatabase(t)
  const sim = await startSimulator({ port: 0 })
  t.teardown(() => sim.close())
  const appSecret = randomBytes(16).toString('hex')
  const env: Env = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: testKafkaBrokers().join(','),
    KAFKA_TOPIC_PREFIX: testTopicPrefix(),
    META_APP_SECRETS: `${APP_ID}:${appSecret}`,
    META_VERIFY_TOKEN: randomBytes(12).toString('hex'),
    META_GRAPH_URL: sim.graphUrl,
    META_GRAPH_VERSION: sim.graphVersion,
    COEXIST_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    COEXIST_ADMIN_KEY: ADMIN_KEY,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    HOST: '127.0.0.1',
    INGRESS_DRAIN_MS: '0',
    // Each service's pool; 20 (the default) × 3 services × parallel test files would exhaust the shared Postgres.
    DATABASE_POOL_MAX: '6'
  }
  const fatal: Error[] = []
  const stops: Array<() => Promise<unknown>> = []
  // Whatever started is stopped, even when another service failed to start.
  t.teardown(async () => { await Promise.all(stops.map((s) => s().catch(() => {}))) })
  const started = <T extends RunningService>(p: Promise<T>): Promise<T> =>
    p.then((s) => { stops.push(() => s.shutdown('test end')); return s })
  await provisionTopics(env)
  // As main.ts runs them, with the test's environment, on free ports, without signal handlers or drain.
  const configs = { ingress: onFreePort(loadIngressConfig(env)), sync: onFreePort(loadSyncConfig(env)), outbound: onFreePort(loadOutboundConfig(env)), billing: onFreePort(loadBillingConfig(env)) }
  const logger = (config: { log: { level: string } }, name: string): Logger => createLogger({ level: config.log.level, name })
  const ingressP = started(runIngress(configs.ingress, { logger: logger(configs.ingress, 'ingress'), ...shutdownOpts }))
  const syncP = started(runSync(configs.sync, { logger: logger(configs.sync, 'sync'), ...shutdownOpts }))
  const outboundP = started(runOutbound(configs.outbound, { logger: logger(configs.outbound, 'outbound-sender'), ...shutdownOpts }))
  const billingP = started(runBilling(configs.billing, { logger: logger(configs.billing, 'billing'), ...shutdownOpts, onFatal: (err) => { fatal.push(err) } }))
  // Wait for all four before failing, so the teardown stops every one that did start.
  const failed = (await Promise.allSettled([ingressP, syncP, outboundP, billingP])).find((r) => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  const [ingress, sync, outbound, billing] = [await ingressP, await syncP, await outboundP, await billingP]
  sim.control.setWebhookTarget({ url: `${ingress.url}/webhooks/meta/${APP_ID}`, appSecret, appId: APP_ID })
  return { sim, ingress, sync, outbound, billing, env, fatal }
}

/** A tenant with a WABA and its numbers, registered through sync's API by the admin key. */
export interface Tenant { id: string, key: string }

/**
 * Registers a tenant, one WABA and its numbers through sync's API (as the `npm start` demo does),
 * with the simulator's tokens, and returns the tenant with an API key (`manage`, `send`, `read`).
 */
export async function registerTenant (stack: Stack, input: { wabaId: string, numbers: Array<{ id: string, display: string, mode: 'cloud_api' | 'coexistence' }> }): Promise<Tenant> {
  const sync = stack.sync.url
  const tenant = await ok(201, sync, 'POST', '/v1/tenants', ADMIN_KEY, { name: `e2e ${randomBytes(3).toString('hex')}` })
  const token = `sim-token-${input.numbers[0]?.id ?? ''}`
  const waba = await ok(201, sync, 'POST', `/v1/wabas?tenant_id=${tenant.id}`, ADMIN_KEY, { id: input.wabaId, name: 'e2e WABA', currency: 'USD', timezone: 'America/Sao_Paulo', access_token: token })
  if (waba.subscribed !== true) throw new Error(`WABA not subscribed at the simulator: ${waba.subscribe_error}`)
  for (const n of input.numbers) {
    await ok(201, sync, 'POST', `/v1/numbers?tenant_id=${tenant.id}`, ADMIN_KEY, { id: n.id, waba_id: input.wabaId, display_phone_number: n.display, mode: n.mode, access_token: `sim-token-${n.id}` })
  }
  const key = await ok(201, sync, 'POST', `/v1/tenants/${tenant.id}/api-keys`, ADMIN_KEY, { name: 'e2e', roles: ['manage', 'send', 'read'] })
  return { id: tenant.id, key: key.key }
}

/** Loads billing's shipped sample rate card (USD, rates + volume tiers) through its admin API. */
export async function loadSampleRateCard (stack: Stack): Promise<void> {
  const dir = new URL('../../services/billing/rate-cards/', import.meta.url)
  await ok(201, stack.billing.url, 'POST', '/v1/billing/rate-cards', ADMIN_KEY, {
    version: 'sample-2026q1',
    effective_from: '2026-01-01',
    is_sample: true,
    rates_csv: readFileSync(new URL('sample-usd-2026-01-01.csv', dir), 'utf8'),
    tiers_csv: readFileSync(new URL('sample-usd-2026-01-01-tiers.csv', dir), 'utf8')
  })
}

/**
 * Invariant 1 under Kafka trouble, on a broker of this file's own (infra/kafka/kafka-local.sh):
 * stopped, then frozen (SIGSTOP: connections open, no answers, i.e. slow past any deadline) in
 * the middle of a stream of webhooks. Ingress answers 503 meanwhile, the simulator's emitter
 * retries like Meta, and once the broker is back every webhook is on Kafka.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { createKafka } from '@coexist/bus'
import { startSimulator } from '@coexist/meta-simulator'
import { inboundTextWebhook } from '@coexist/meta/fixtures'
import { APP_ID, APP_SECRET, metricValue, readIngressTopics, silentLogger, startIngress } from './helpers.ts'

const KAFKA_LOCAL = fileURLToPath(new URL('../../../infra/kafka/kafka-local.sh', import.meta.url))
const run = promisify(execFile)
const WEBHOOKS = 400
/** Webhooks are started this far apart, so the stream spans the outage. */
const SPACING_MS = 15

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => { resolve(typeof a === 'object' && a !== null ? a.port : 0) })
    })
  })
}

/** A port whose next port (the broker's controller) is free too. */
async function freePortPair (): Promise<number> {
  for (;;) {
    const p = await freePort()
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer()
      s.once('error', () => resolve(false))
      s.listen(p + 1, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (ok && p < 65535) return p
  }
}

const until = async (what: string, cond: () => boolean, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const port = await freePortPair()
const home = mkdtempSync(join(tmpdir(), 'ingress-outage-kafka-'))
const env = { ...process.env, KAFKA_LOCAL_PORT: String(port), KAFKA_LOCAL_HOME: home, KAFKA_LOCAL_HEAP: '256m' }
const broker = (cmd: 'start' | 'stop') => run('bash', [KAFKA_LOCAL, cmd], { env, timeout: 90_000 })
const brokerPid = (): number => Number(readFileSync(join(home, 'kafka.pid'), 'utf8').trim())
t.teardown(async () => {
  try { process.kill(brokerPid(), 'SIGCONT') } catch {}
  await broker('stop').catch(() => {})
  rmSync(home, { recursive: true, force: true })
})
await broker('start')

/** Ingress on the file's broker with a 1.5 s publish deadline, and an emitter that retries through trouble. */
async function setup (t: Test) {
  const logger = silentLogger()
  // Short timeouts: a dead broker shows as fast failures rather than long waits.
  const kafka = createKafka({ brokers: [`127.0.0.1:${port}`], clientId: 'ingress-outage', logger, connectionTimeoutMs: 500, requestTimeoutMs: 3000, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 } })
  const ing = await startIngress(t, { kafka, logger, deps: { publishTimeoutMs: 1500 } })
  const sim = await startSimulator({
    port: 0,
    webhookTarget: { url: `${ing.url}/webhooks/meta/${APP_ID}`, appSecret: APP_SECRET, appId: APP_ID },
    // Meta's curve, compressed: keep retrying through the outage.
    emitter: { retry: { maxAttempts: 60, initialDelayMs: 200, factor: 1.5, maxDelayMs: 1000 } }
  })
  t.teardown(sim.close)
  return { ing, sim }
}

/**
 * Streams WEBHOOKS webhooks, runs `trouble` once the first are stored, and checks that they all
 * ended on Kafka, with 503s (and only 503s) while Kafka was in trouble.
 */
async function streamThrough (t: Test, name: string, trouble: (sim: Awaited<ReturnType<typeof setup>>['sim']) => Promise<void>) {
  const { ing, sim } = await setup(t)
  const wamids = Array.from({ length: WEBHOOKS }, (_, i) => `wamid.${name}_${i}`)
  const all = Promise.all(wamids.map((wamid, i) => sim.control.emit(inboundTextWebhook({ wamid }), { delayMs: i * SPACING_MS })))
  await until('the first webhooks to be stored', () => sim.control.stats().delivered >= 40, 10_000)
  await trouble(sim)

  const results = await all
  t.ok(results.every((r) => r.delivered), 'every webhook was delivered in the end (200)')
  const statuses = sim.control.deliveries().flatMap((d) => d.attempts.map((a) => a.status))
  t.ok(statuses.includes(503), 'ingress answered 503 while Kafka was in trouble')
  t.notOk(statuses.some((s) => s !== 200 && s !== 503), 'only 200 or 503, never another failure')

  const got = await readIngressTopics(ing, ['webhook.raw', 'webhook.messages'])
  const re = new RegExp(`wamid\\.${name}_\\d+`)
  const wamidOf = (json: string): string => re.exec(json)?.[0] ?? 'none'
  const inRaw = new Set(got.raw.map((r) => wamidOf(Buffer.from(r.decoded.body).toString())))
  const inMessages = new Set(got.changes.map((c) => wamidOf(Buffer.from(c.decoded.valueJson).toString())))
  t.equal(inRaw.size, WEBHOOKS, `all ${WEBHOOKS} webhooks in the raw archive (${got.raw.length} records: a retried request may land twice)`)
  t.equal(inMessages.size, WEBHOOKS, 'and every change on webhook.messages')
  t.ok(wamids.every((w) => inRaw.has(w) && inMessages.has(w)))
  t.ok(got.raw.length >= statuses.filter((s) => s === 200).length, 'at least one raw record per 200 answered')

  const m = await ing.metrics()
  t.ok(metricValue(m, 'ingress_webhook_requests_total', { outcome: 'kafka_unavailable' }) > 0, '503s counted')
  t.ok(metricValue(m, 'ingress_publish_failures_total') > 0, 'publish failures counted by code')
  return m
}

t.test('Kafka stopped mid-stream: 503s, Meta-style retries, and after it returns every webhook is on Kafka', async (t) => {
  const m = await streamThrough(t, 'STOPPED', async (sim) => {
    await broker('stop')
    const stoppedAt = Date.now()
    // Leave the broker down long enough for requests to fail and be retried.
    await until('503s while Kafka is down', () => sim.control.stats().retried >= 20, 15_000)
    await broker('start')
    t.comment(`broker down for ${Date.now() - stoppedAt} ms`)
  })
  t.ok(metricValue(m, 'ingress_kafka_errors_total') > 0, 'Kafka errors counted')
})

t.test('Kafka frozen mid-stream (slow past the publish deadline): 503s, then every webhook is on Kafka', async (t) => {
  const m = await streamThrough(t, 'FROZEN', async (sim) => {
    process.kill(brokerPid(), 'SIGSTOP')
    const frozenAt = Date.now()
    try {
      await until('503s while Kafka does not answer', () => sim.control.stats().retried >= 20, 15_000)
    } finally {
      process.kill(brokerPid(), 'SIGCONT')
    }
    t.comment(`broker frozen for ${Date.now() - frozenAt} ms`)
  })
  t.ok(metricValue(m, 'ingress_publish_failures_total', { code: 'BUS_PUBLISH_TIMEOUT' }) > 0, 'deadline misses counted as BUS_PUBLISH_TIMEOUT')
})

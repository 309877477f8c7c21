/**
 * Support for `pnpm bench billing` (tests/bench/billing.bench.ts): accounts and the sample card,
 * status records in the shape ingress publishes (WebhookChange, value_json from @coexist/meta's
 * fixture builders), and the worker process that runs the real billing runtime (BENCH_HEAP_PROFILE=1: an
 * allocation profile of it).
 */
import { randomBytes } from 'node:crypto'
import { createBusConsumer, createBusProducer, createKafka, createTopicRegistry, type BusProducer, type Kafka, type TopicKey, type TopicRegistry } from '@coexist/bus'
import { ensureTopicsRetrying } from '../topics.ts'
import { createDb, createPhoneNumber, createTenant, createTokenCipher, sql, upsertWaba, type Db } from '@coexist/db'
import { createLogger } from '@coexist/logger'
import { pricing, statusWebhook } from '@coexist/meta/fixtures'
import { mergeTiers, parseRateCardCsv, parseVolumeTiersCsv } from '../../src/domain/rate-card-csv.ts'
import { BILLING_PRODUCER, startBillingRuntime } from '../../src/runtime.ts'
import { saveRateCard } from '../../src/store/rate-cards.ts'
import { SAMPLE_CSV, SAMPLE_TIERS_CSV } from '../helpers.ts'

export const logger = createLogger({ level: (process.env.LOG_LEVEL ?? 'silent') as 'silent', name: 'billing-bench' })
const TOPICS: TopicKey[] = ['webhook.messages', 'webhook.smb_message_echoes', 'webhook.account_update', 'outbound.results', 'billing.usage', 'billing.balance', 'deadletter']

export interface BenchAccounts { tenantId: string, wabaId: string, numbers: string[] }

/** A tenant with a USD WABA, `count` numbers, a 10 % markup, and the sample card. */
export async function seedAccounts (db: Db, count: number): Promise<BenchAccounts> {
  const tenant = await createTenant(db, { name: 'Bench' })
  const wabaId = '319000000000001'
  await upsertWaba(db, { id: wabaId, tenantId: tenant.id, currency: 'USD', timezone: 'America/Sao_Paulo' })
  const cipher = createTokenCipher({ current: randomBytes(32) })
  const numbers: string[] = []
  for (let i = 0; i < count; i++) {
    const id = `6290000${String(i).padStart(8, '0')}`
    await createPhoneNumber(db, cipher, { id, tenantId: tenant.id, wabaId, displayPhoneNumber: `55119${String(i).padStart(8, '0')}`, mode: 'cloud_api' })
    numbers.push(id)
  }
  await db.insertInto('billing_tenant_plans').values({ tenant_id: tenant.id, markup_percent_bps: 1000 }).execute()
  const card = mergeTiers(parseRateCardCsv(SAMPLE_CSV, 'USD'), parseVolumeTiersCsv(SAMPLE_TIERS_CSV, 'USD'))
  await saveRateCard(db, { version: 'sample-2026q1', currency: 'USD', effectiveFrom: '2026-01-01', isSample: true, rates: card.rates })
  return { tenantId: tenant.id, wabaId, numbers }
}

export interface BenchBus { kafka: Kafka, registry: TopicRegistry, producer: BusProducer, lag: (groupId: string) => Promise<number>, close: () => Promise<void> }

export async function benchBus (brokers: string[], prefix: string): Promise<BenchBus> {
  const kafka = createKafka({ brokers, clientId: 'billing-bench', logger })
  const registry = createTopicRegistry({ prefix, partitions: 12 })
  const admin = kafka.admin()
  await admin.connect()
  await ensureTopicsRetrying(admin, registry, TOPICS)
  // Uncompressed, as ingress publishes webhook changes (services/ingress/src/run.ts).
  const producer = createBusProducer({ kafka, registry, logger, maxBatchBytes: 8 * 1024 * 1024, maxBatchRecords: 10_000, publishTimeoutMs: 60_000, compressMinBytes: Number.POSITIVE_INFINITY })
  await producer.connect()
  const topic = registry.topic('webhook.messages').name
  return {
    kafka,
    registry,
    producer,
    /** Records of webhook.messages the group has not committed yet. */
    async lag (groupId) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
      const high = await admin.fetchTopicOffsets(topic)
      let n = 0
      for (const p of high) {
        const c = committed?.partitions.find((x) => x.partition === p.partition)
        n += Number(p.high) - (c === undefined || c.offset === '-1' ? Number(p.low) : Number(c.offset))
      }
      return n
    },
    close: async () => { await producer.disconnect(); await admin.disconnect() }
  }
}

const CATEGORIES = ['marketing', 'utility', 'authentication', 'marketing', 'utility'] as const
const MARKETS = ['5511', '9198', '1650', '4915', '5215', '6281'] as const
const enc = new TextEncoder()

/**
 * Publishes the statuses of messages `from..to` (sent, then delivered, each with Meta's pricing
 * object, one status per record as Meta usually sends them). The wamid carries the publish time
 * (ms) so the end-to-end lag can be read from the ledger afterwards.
 */
export async function publishStatuses (bus: BenchBus, accounts: BenchAccounts, from: number, to: number, tag: string, sentAt: number): Promise<number> {
  const jobs: Promise<void>[] = []
  let n = 0
  const stamp = Date.now()
  for (let i = from; i < to; i++) {
    const pn = accounts.numbers[i % accounts.numbers.length]!
    const category = CATEGORIES[i % CATEGORIES.length]!
    const recipient = `${MARKETS[i % MARKETS.length]!}${String(i).padStart(8, '0')}`
    const wamid = `wamid.${tag}${i}.${stamp}`
    const p = pricing(category, 'regular')
    for (const [status, dt] of [['sent', 0], ['delivered', 2]] as const) {
      const body = statusWebhook({ phoneNumberId: pn, wabaId: accounts.wabaId, wamid, status, recipientId: recipient, timestamp: String(Math.floor(sentAt / 1000) + dt), pricing: p })
      const change = body.entry[0]!.changes[0]!
      jobs.push(bus.producer.publish('webhook.messages', {
        key: pn,
        value: { field: 'messages', wabaId: accounts.wabaId, phoneNumberId: pn, entryId: accounts.wabaId, valueJson: enc.encode(JSON.stringify(change.value)), receivedAt: BigInt(stamp), rawRequestId: 'bench', appId: '1' }
      }))
      n++
    }
    if (jobs.length >= 20_000) await Promise.all(jobs.splice(0))
  }
  await Promise.all(jobs)
  return n
}

/**
 * Warms the broker up, not billing: `statuses` status events published to topics of their own
 * (`prefix`) and read back by a consumer group of its own, in this process, with the worker's
 * fetch settings (64 KiB per partition, 100 ms fetch wait, 600 records in flight per partition)
 * and a handler that only takes the decoded records. A fresh JVM otherwise compiles Kafka's
 * fetch and produce paths (and sizes its heap) on the same two cores while the worker prices,
 * which a broker in service has long done. Nothing reaches the ledger.
 */
export async function warmUpBroker (brokers: string[], accounts: BenchAccounts, statuses: number, prefix: string, groupId: string, sentAt: number): Promise<void> {
  const bus = await benchBus(brokers, prefix)
  try {
    await publishStatuses(bus, accounts, 0, Math.floor(statuses / 2), 'W', sentAt)
    const consumer = createBusConsumer({
      kafka: bus.kafka,
      registry: bus.registry,
      producer: bus.producer,
      logger,
      groupId,
      fromBeginning: true,
      handlers: { 'webhook.messages': { ordering: 'none', maxConcurrency: 600, handle: () => {}, handleBatch: async () => {} } },
      maxPendingPerPartition: 600,
      maxBytesPerPartition: 64 * 1024,
      maxWaitTimeMs: 100
    })
    await consumer.start()
    try {
      const deadline = Date.now() + 300_000
      while ((await bus.lag(groupId)) > 0) {
        if (Date.now() > deadline) throw new Error('broker warm-up: not consumed in 300 s')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    } finally {
      await consumer.stop()
    }
  } finally {
    await bus.close()
  }
}

/** End-to-end lag percentiles (ms) of the lines whose wamid starts with `tag`: last update − publish time. */
export async function lagPercentiles (db: Db, tag: string): Promise<{ p50: number, p95: number, p99: number, max: number }> {
  const { rows } = await sql<{ p50: number, p95: number, p99: number, max: number }>`
    WITH l AS (SELECT extract(epoch FROM updated_at) * 1000 - split_part(wamid, '.', 3)::bigint AS lag FROM billing_ledger WHERE wamid LIKE ${`wamid.${tag}%`})
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY lag) AS p95,
      percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99, max(lag) AS max FROM l`.execute(db)
  const r = rows[0]!
  return { p50: Number(r.p50), p95: Number(r.p95), p99: Number(r.p99), max: Number(r.max) }
}

/**
 * The worker: the real billing runtime (consumers, batcher, ledger, outbox relay) on the bench's
 * topics until the parent says stop; it reports its peak RSS then. Runs in a child process.
 * `waitForGo`: it reports `loaded` and starts the runtime (joins the group) when the parent says go,
 * so that several workers join together.
 */
export async function runPricingWorker (url: string, brokers: string[], prefix: string, groupId: string, opts: { waitForGo?: boolean } = {}): Promise<void> {
  // Every statement the runtime sends through Kysely (BEGIN/COMMIT not included), counted.
  let queries = 0
  const pool = createDb(url, { max: 6 })
  const db = pool.withPlugin({ transformQuery: (args) => { queries++; return args.node }, transformResult: async (args) => args.result })
  const kafka = createKafka({ brokers, clientId: 'billing-bench-worker', logger })
  const requests = process.env.BENCH_KAFKA_REQUESTS === '1' ? countRequests(kafka) : undefined
  const runLogger = process.env.BENCH_WORKER_LOG_LEVEL === undefined ? logger : createLogger({ level: process.env.BENCH_WORKER_LOG_LEVEL as 'debug', name: 'billing-bench-worker' })
  const registry = createTopicRegistry({ prefix, partitions: 12 })
  // The producer as the service's main.ts has it (connectBus: the bus defaults and BILLING_PRODUCER).
  const producer = createBusProducer({ kafka, registry, logger, ...BILLING_PRODUCER })
  await producer.connect()
  const num = (name: string): number | undefined => process.env[name] === undefined ? undefined : Number(process.env[name])
  if (opts.waitForGo === true) {
    const go = new Promise<void>((resolve) => { const on = (m: unknown): void => { if (m === 'go') { process.off('message', on); resolve() } }; process.on('message', on) })
    process.send?.({ loaded: true })
    await go
  }
  const runtime = await startBillingRuntime({
    db,
    kafka,
    registry,
    producer,
    logger: runLogger,
    groupId,
    clock: () => Date.parse('2026-01-20T12:00:00Z'),
    // Tuning knobs for experiments; the defaults are the service's.
    maxPendingPerPartition: num('BENCH_MAX_PENDING'),
    maxBatchFacts: num('BENCH_MAX_FACTS'),
    maxInFlight: num('BENCH_IN_FLIGHT'),
    fetchMaxWaitMs: num('BENCH_FETCH_WAIT_MS'),
    fetchMaxBytesPerPartition: num('BENCH_FETCH_BYTES')
  })
  // BENCH_HEAP_PROFILE=1: a sampling profile of what the worker allocates (collected objects
  // included: allocation rate, not what is live), written at stop to /tmp/billing-bench-prof.
  const heapProfile = process.env.BENCH_HEAP_PROFILE === '1' ? await startAllocationProfile() : undefined
  process.send?.({ ready: true })
  // 'cpu': the process's CPU time so far (user + system, µs) and statements sent, for per-event figures between two asks.
  await new Promise<void>((resolve) => process.on('message', (m) => {
    if (m === 'cpu') { const u = process.cpuUsage(); process.send?.({ cpuUs: u.user + u.system, queries }) }
    if (m === 'stop') resolve()
  }))
  await heapProfile?.()
  await runtime.stop()
  await producer.disconnect()
  await pool.destroy()
  if (requests !== undefined) console.log(`worker ${process.pid} Kafka requests (count, request bytes, ms waiting for answers): ${[...requests].sort((a, b) => b[1].n - a[1].n).map(([api, r]) => `${api} ${r.n} ${Math.round(r.bytes / 1024)} KiB ${Math.round(r.ms)} ms`).join('; ')}`)
  process.send?.({ maxRssKb: process.resourceUsage().maxRSS })
}

/** BENCH_KAFKA_REQUESTS=1: the worker's Kafka requests by API (kafkajs's REQUEST events of its consumers and producers). */
function countRequests (kafka: Kafka): Map<string, { n: number, bytes: number, ms: number }> {
  const out = new Map<string, { n: number, bytes: number, ms: number }>()
  const count = (e: { payload: { apiName: string, size: number, duration: number } }): void => {
    const r = out.get(e.payload.apiName) ?? { n: 0, bytes: 0, ms: 0 }
    r.n++; r.bytes += e.payload.size; r.ms += e.payload.duration
    out.set(e.payload.apiName, r)
  }
  const consumer = kafka.consumer.bind(kafka)
  const producer = kafka.producer.bind(kafka)
  kafka.consumer = (c) => { const x = consumer(c); x.on(x.events.REQUEST, count); return x }
  kafka.producer = (c) => { const x = producer(c); x.on(x.events.REQUEST, count); return x }
  return out
}

/** Starts V8's sampling heap profiler counting collected objects too; the returned function writes the profile. */
async function startAllocationProfile (): Promise<() => Promise<void>> {
  const { Session } = await import('node:inspector/promises')
  const { mkdirSync, writeFileSync } = await import('node:fs')
  const session = new Session()
  session.connect()
  await session.post('HeapProfiler.startSampling', { samplingInterval: 32_768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling')
    mkdirSync('/tmp/billing-bench-prof', { recursive: true })
    writeFileSync(`/tmp/billing-bench-prof/alloc-${process.pid}.heapprofile`, JSON.stringify(profile))
    session.disconnect()
  }
}

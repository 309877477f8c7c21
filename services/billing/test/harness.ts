/**
 * The billing service on real infrastructure for tests: the fixture database (two tenants, USD
 * WABAs, numbers), topics under a unique prefix, buildApp + the runtime (consumers, batcher,
 * outbox relay), and helpers that publish records in the shapes ingress and the outbound sender
 * produce: one WebhookChange per entry[].changes[] (value_json = the change value's JSON bytes)
 * and OutboundResult.
 */
import { fromBinary } from '@bufbuild/protobuf'
import { createBusProducer, createKafka, createTopicRegistry, type BusProducer, type Kafka, type TopicKey, type TopicRegistry } from '@coexist/bus'
import { OutboundStatus, TenantBalanceEventSchema, UsageRecordSchema, type TenantBalanceEvent, type UsageRecord } from '@coexist/contracts'
import { createApiKey } from '@coexist/db'
import type { HttpApp } from '@coexist/http'
import { createLogger, type Logger } from '@coexist/logger'
import type { GraphClient } from '@coexist/meta'
import { publishWebhookChanges, testKafkaBrokers, testTopicPrefix, type Teardown, type WebhookBodyLike } from '@coexist/testkit'
import { buildApp } from '../src/app.ts'
import { repriceOpenLines } from '../src/ledger/pricer.ts'
import { createPricer, startBillingRuntime, type BillingRuntime } from '../src/runtime.ts'
import { FakeClock, cipher, fixture, type Fixture } from './helpers.ts'
import { ensureTopicsRetrying } from './topics.ts'

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef'
export const logger: Logger = createLogger({ level: (process.env.LOG_LEVEL ?? 'silent') as 'silent', name: 'billing-test' })

const CONSUMED: TopicKey[] = ['webhook.messages', 'webhook.smb_message_echoes', 'webhook.account_update', 'outbound.results']
const TOPICS: TopicKey[] = [...CONSUMED, 'billing.usage', 'billing.balance', 'deadletter']

interface ResultInit {
  wamid: string
  tenantId: string
  phoneNumberId: string
  recipient: string
  category: string
  sentAt: number
  status?: OutboundStatus
}

export interface BillingEnv extends Fixture {
  clock: FakeClock
  kafka: Kafka
  registry: TopicRegistry
  producer: BusProducer
  runtime: BillingRuntime
  app: HttpApp
  groupId: string
  /** API keys (role read) of the two tenants. */
  tenantKey: string
  otherTenantKey: string
  /** Publishes every change of a webhook body to its topic, as ingress does. */
  publishBody: (body: WebhookBodyLike) => Promise<void>
  /** Publishes an OutboundResult, as the outbound sender's worker does. */
  publishResult: (r: ResultInit) => Promise<void>
  /** Resolves when the group (default: the runtime's) has committed every record of the consumed topics. */
  caughtUp: (timeoutMs?: number, groupId?: string) => Promise<void>
  /** Everything billing published so far, decoded (reads wa.billing.usage.v1 / balance.v1 from the start to its end). */
  published: (topic: 'billing.usage' | 'billing.balance', timeoutMs?: number) => Promise<Array<{ key: string, eventType: string, usage?: UsageRecord, balance?: TenantBalanceEvent }>>
  inject: HttpApp['inject']
}

export interface AppEnv extends Fixture {
  clock: FakeClock
  app: HttpApp
  tenantKey: string
  otherTenantKey: string
  inject: HttpApp['inject']
  pricer: ReturnType<typeof createPricer>
}

/** The HTTP app over the fixture database, without Kafka (routes that only read and write Postgres). */
export async function appEnv (t: Teardown, opts: { now?: number, sampleCard?: boolean, graph?: Pick<GraphClient, 'getPricingAnalytics'> } = {}): Promise<AppEnv> {
  const f = await fixture(t, { sampleCard: opts.sampleCard })
  const clock = new FakeClock(opts.now ?? Date.parse('2026-02-01T12:00:00Z'))
  const pricer = createPricer(f.db, logger, clock.now)
  const graph = opts.graph ?? { getPricingAnalytics: async () => { throw new Error('no Graph in this test') } }
  const app = await buildApp({
    db: f.db,
    logger,
    adminKey: ADMIN_KEY,
    cipher,
    graph,
    clock: clock.now,
    rateLimit: false,
    reprice: async () => await repriceOpenLines(pricer),
    invalidate: () => { pricer.rateBook.invalidate(); pricer.accounts.clear() }
  })
  t.teardown(() => app.close())
  const tenantKey = (await createApiKey(f.db, { tenantId: f.tenantId, name: 'reader', roles: ['read'] })).key
  const otherTenantKey = (await createApiKey(f.db, { tenantId: f.otherTenantId, name: 'reader', roles: ['read'] })).key
  return { ...f, clock, app, tenantKey, otherTenantKey, inject: app.inject.bind(app), pricer }
}

/** Polls `check` every 25 ms until it returns a truthy value; fails after `timeoutMs`. */
async function until<T> (check: () => Promise<T> | T, timeoutMs = 20_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

export async function billingEnv (t: Teardown, opts: { now?: number, sampleCard?: boolean, graph?: Pick<GraphClient, 'getPricingAnalytics'> } = {}): Promise<BillingEnv> {
  const f = await fixture(t, { sampleCard: opts.sampleCard })
  const clock = new FakeClock(opts.now ?? Date.parse('2026-02-01T12:00:00Z'))
  const kafka = createKafka({ brokers: testKafkaBrokers(), clientId: 'billing-test', logger })
  const registry = createTopicRegistry({ prefix: testTopicPrefix(), partitions: 2 })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  await ensureTopicsRetrying(admin, registry, TOPICS)
  const producer = createBusProducer({ kafka, registry, logger })
  await producer.connect()
  t.teardown(() => producer.disconnect())
  const groupId = `billing-${registry.prefix}`
  const runtime = await startBillingRuntime({ db: f.db, kafka, registry, producer, logger, clock: clock.now, groupId })
  t.teardown(() => runtime.stop())
  const graph = opts.graph ?? { getPricingAnalytics: async () => { throw new Error('no Graph in this test') } }
  const app = await buildApp({
    db: f.db,
    logger,
    adminKey: ADMIN_KEY,
    cipher,
    graph,
    clock: clock.now,
    rateLimit: false,
    reprice: runtime.reprice,
    invalidate: runtime.invalidate,
    afterCommit: runtime.relay.kick
  })
  t.teardown(() => app.close())
  const tenantKey = (await createApiKey(f.db, { tenantId: f.tenantId, name: 'reader', roles: ['read'] })).key
  const otherTenantKey = (await createApiKey(f.db, { tenantId: f.otherTenantId, name: 'reader', roles: ['read'] })).key

  const publishBody = async (body: WebhookBodyLike): Promise<void> => { await publishWebhookChanges(producer, body, { receivedAt: clock.now() }) }

  const publishResult = async (r: ResultInit): Promise<void> => {
    await producer.publish('outbound.results', {
      key: r.phoneNumberId,
      value: {
        requestId: `req-${r.wamid}`,
        tenantId: r.tenantId,
        phoneNumberId: r.phoneNumberId,
        recipient: r.recipient,
        status: r.status ?? OutboundStatus.SENT,
        wamid: r.status === undefined || r.status === OutboundStatus.SENT ? r.wamid : '',
        attempts: 1,
        sentAt: BigInt(r.sentAt),
        completedAt: BigInt(r.sentAt + 50),
        billableHint: r.category !== 'service',
        category: r.category
      }
    })
  }

  const caughtUp = async (timeoutMs = 20_000, group = groupId): Promise<void> => {
    const topics = CONSUMED.map((k) => registry.topic(k).name)
    await until(async () => {
      const committed = await admin.fetchOffsets({ groupId: group, topics })
      for (const tp of committed) {
        const high = await admin.fetchTopicOffsets(tp.topic)
        for (const p of high) {
          const c = tp.partitions.find((x) => x.partition === p.partition)
          const at = c === undefined || c.offset === '-1' ? Number(p.low) : Number(c.offset)
          if (at < Number(p.high)) return false
        }
      }
      return true
    }, timeoutMs, 'billing consumers to catch up')
    await runtime.relay.drain()
  }

  // One reader for the env's lifetime (a new consumer group costs the broker's initial
  // rebalance delay, seconds, each time).
  type Seen = Awaited<ReturnType<BillingEnv['published']>>[number]
  const seen: Record<'billing.usage' | 'billing.balance', Seen[]> = { 'billing.usage': [], 'billing.balance': [] }
  let reader: Promise<void> | undefined
  const startReader = async (): Promise<void> => {
    const consumer = kafka.consumer({ groupId: `read-${registry.prefix}`, maxWaitTimeInMs: 100 })
    await consumer.connect()
    t.teardown(() => consumer.disconnect())
    const byName = new Map<string, 'billing.usage' | 'billing.balance'>([[registry.topic('billing.usage').name, 'billing.usage'], [registry.topic('billing.balance').name, 'billing.balance']])
    await consumer.subscribe({ topics: [...byName.keys()], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        const eventType = message.headers?.['event-type']?.toString() ?? ''
        const value = message.value ?? Buffer.alloc(0)
        seen[byName.get(topic)!].push({
          key: message.key?.toString() ?? '',
          eventType,
          ...(eventType === 'billing.usage_recorded' ? { usage: fromBinary(UsageRecordSchema, value) } : { balance: fromBinary(TenantBalanceEventSchema, value) })
        })
      }
    })
  }
  const published: BillingEnv['published'] = async (topic, timeoutMs = 15_000) => {
    const ends = await admin.fetchTopicOffsets(registry.topic(topic).name)
    const count = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
    if (count > 0) {
      reader ??= startReader()
      await reader
      await until(() => seen[topic].length >= count, timeoutMs, `${count} records on ${topic}`)
    }
    return [...seen[topic]]
  }

  return {
    ...f,
    clock,
    kafka,
    registry,
    producer,
    runtime,
    app,
    groupId,
    tenantKey,
    otherTenantKey,
    publishBody,
    publishResult,
    caughtUp,
    published,
    inject: app.inject.bind(app)
  }
}

export const bearer = (key: string): { authorization: string } => ({ authorization: `Bearer ${key}` })

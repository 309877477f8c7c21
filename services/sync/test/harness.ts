/**
 * The sync service on real infrastructure for tests: a fresh database, topics under a unique
 * prefix, the Meta simulator, buildApp + the runtime (consumers, relay, sync loop), and helpers
 * that publish webhook changes the way ingress does (one WebhookChange per entry[].changes[]).
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fromBinary } from '@bufbuild/protobuf'
import { createBusProducer, createKafka, createTopicRegistry, ensureTopics, type BusProducer, type Kafka, type TopicKey, type TopicRegistry } from '@coexist/bus'
import { DomainEventSchema, type DomainEvent } from '@coexist/contracts'
import { createTokenCipher, type Db, type TokenCipher } from '@coexist/db'
import type { HttpApp } from '@coexist/http'
import { createLogger, type Logger } from '@coexist/logger'
import { createGraphClient, type GraphClient } from '@coexist/meta'
import { startSimulator, type RunningSimulator } from '@coexist/meta-simulator'
import { publishWebhookChanges, testKafkaBrokers, testTopicPrefix, type Teardown, type WebhookBodyLike } from '@coexist/testkit'
import { buildApp } from '../src/app.ts'
import { startSyncRuntime, type SyncRuntime } from '../src/runtime.ts'
import { testDb } from './helpers.ts'

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef'
export const logger: Logger = createLogger({ level: (process.env.LOG_LEVEL ?? 'silent') as 'silent', name: 'sync-test' })

const TOPICS: TopicKey[] = ['webhook.messages', 'webhook.smb_message_echoes', 'webhook.smb_app_state_sync', 'webhook.history',
  'webhook.account_update', 'outbound.requests', 'outbound.results', 'events', 'deadletter']

export interface SyncEnv {
  db: Db
  dbUrl: string
  kafka: Kafka
  registry: TopicRegistry
  producer: BusProducer
  sim: RunningSimulator
  graph: GraphClient
  cipher: TokenCipher
  app: HttpApp
  runtime: SyncRuntime | undefined
  clock: { now: Date }
  startRuntime: (groupId?: string) => Promise<SyncRuntime>
  /** Publishes every change of a webhook body to its topic, as ingress does. */
  publishBody: (body: WebhookBodyLike, opts?: { receivedAt?: number }) => Promise<void>
  /** A URL the simulator's webhook emitter can post to: a minimal ingress into the topics. */
  ingressUrl: string
  /** Resolves when the group has committed every record of the consumed topics. */
  caughtUp: (groupId: string, timeoutMs?: number) => Promise<void>
  /** The group id of the last runtime started. */
  groupId: string
  /** Reads at least `min` records of a topic from its beginning (all that are there within a short wait). */
  readRaw: (topic: TopicKey, min: number, timeoutMs?: number) => Promise<Array<{ key: string, headers: Record<string, string>, value: Buffer }>>
  /** Reads the domain events published so far (from the beginning of wa.events.v1). */
  readEvents: (count: number, timeoutMs?: number) => Promise<DomainEvent[]>
}

/** Polls `check` every 25 ms until it returns a truthy value; fails after `timeoutMs`. */
export async function until<T> (check: () => Promise<T> | T, timeoutMs = 20_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

export async function syncEnv (t: Teardown, opts: { runtime?: boolean, partitions?: number, now?: Date } = {}): Promise<SyncEnv> {
  const { db, url } = await testDb(t, 8)
  const kafka = createKafka({ brokers: testKafkaBrokers(), clientId: 'sync-test', logger })
  const registry = createTopicRegistry({ prefix: testTopicPrefix(), partitions: opts.partitions ?? 2 })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  await ensureTopics(admin, registry, { only: TOPICS.map((k) => registry.topic(k)) })
  const producer = createBusProducer({ kafka, registry, logger })
  await producer.connect()
  t.teardown(() => producer.disconnect())
  const sim = await startSimulator({ port: 0 })
  t.teardown(() => sim.close())
  const graph = createGraphClient({ baseUrl: sim.graphUrl, version: sim.graphVersion, timeoutMs: 5000 })
  t.teardown(() => graph.close())
  const cipher = createTokenCipher({ current: randomBytes(32) })
  const clock = { now: opts.now ?? new Date() }
  const fixed = opts.now !== undefined
  const now = (): Date => (fixed ? clock.now : new Date())

  let runtime: SyncRuntime | undefined
  const app = await buildApp({ db, logger, adminKey: ADMIN_KEY, cipher, graph, clock: now, rateLimit: false, onOnboarding: () => runtime?.kickSync() })
  t.teardown(() => app.close())

  const publishBody = async (body: WebhookBodyLike, o: { receivedAt?: number } = {}): Promise<void> => {
    await publishWebhookChanges(producer, body, { receivedAt: o.receivedAt ?? Date.now() })
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      publishBody(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookBodyLike)
        .then(() => { res.writeHead(200).end('ok') }, () => { res.writeHead(503).end() })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const ingressUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/meta`

  const env: SyncEnv = {
    db,
    dbUrl: url,
    kafka,
    registry,
    producer,
    sim,
    graph,
    cipher,
    app,
    runtime,
    clock,
    publishBody,
    ingressUrl,
    groupId: '',
    async caughtUp (groupId, timeoutMs = 20_000) {
      const history = registry.topic('webhook.history').name
      const live = TOPICS.filter((k) => k !== 'events' && k !== 'deadletter' && k !== 'webhook.history').map((k) => registry.topic(k).name)
      const done = async (group: string, topics: string[]): Promise<boolean> => {
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
      }
      await until(async () => await done(groupId, live) && await done(`${groupId}-history`, [history]), timeoutMs, `group ${groupId} caught up`)
    },
    async startRuntime (groupId) {
      env.groupId = groupId ?? `sync-${randomBytes(3).toString('hex')}`
      const r = await startSyncRuntime({
        db,
        kafka,
        registry,
        producer,
        logger,
        cipher,
        graph,
        clock: now,
        groupId: env.groupId,
        syncIntervalMs: 100,
        consumer: { maxWaitTimeMs: 50, commitIntervalMs: 100 }
      })
      runtime = r
      env.runtime = r
      t.teardown(() => r.stop())
      return r
    },
    async readRaw (topic, min, timeoutMs = 15_000) {
      const name = registry.topic(topic).name
      await until(async () => (await admin.fetchTopicOffsets(name)).reduce((a, p) => a + Number(p.high) - Number(p.low), 0) >= min, timeoutMs, `${min} records on ${name}`)
      const total = (await admin.fetchTopicOffsets(name)).reduce((a, p) => a + Number(p.high) - Number(p.low), 0)
      const consumer = kafka.consumer({ groupId: `reader-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 50 })
      const out: Array<{ key: string, headers: Record<string, string>, value: Buffer }> = []
      try {
        await consumer.connect()
        await consumer.subscribe({ topics: [name], fromBeginning: true })
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`read ${out.length}/${total} of ${name}`)), timeoutMs)
          consumer.run({
            eachMessage: async ({ message }) => {
              const headers: Record<string, string> = {}
              for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v)
              out.push({ key: message.key?.toString('utf8') ?? '', headers, value: message.value ?? Buffer.alloc(0) })
              if (out.length >= total) { clearTimeout(timer); resolve() }
            }
          }).catch(reject)
        })
      } finally {
        await consumer.disconnect()
      }
      return out
    },
    async readEvents (count, timeoutMs = 15_000) {
      const consumer = kafka.consumer({ groupId: `reader-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 50 })
      const out: DomainEvent[] = []
      try {
        await consumer.connect()
        await consumer.subscribe({ topics: [registry.topic('events').name], fromBeginning: true })
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`read ${out.length}/${count} events`)), timeoutMs)
          consumer.run({
            eachMessage: async ({ message }) => {
              out.push(fromBinary(DomainEventSchema, message.value ?? Buffer.alloc(0)))
              if (out.length >= count) { clearTimeout(timer); resolve() }
            }
          }).catch(reject)
        })
      } finally {
        await consumer.disconnect()
      }
      return out
    }
  }
  if (opts.runtime !== false) await env.startRuntime()
  return env
}

/** Authorization header for a key. */
export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` })

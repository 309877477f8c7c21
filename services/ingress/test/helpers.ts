/**
 * Test support: ingress in-process on a real Kafka (own topic prefix), and a reader that returns
 * everything on a set of topics by consuming them.
 */
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { fromBinary } from '@bufbuild/protobuf'
import {
  createBusProducer, createKafka, createTopicRegistry, decodeHeaders, ensureTopics,
  type Admin, type BusProducer, type BusProducerOptions, type Kafka, type TopicKey, type TopicRegistry
} from '@coexist/bus'
import { RawWebhookSchema, UnroutedWebhookSchema, WebhookChangeSchema, type RawWebhook, type UnroutedWebhook, type WebhookChange } from '@coexist/contracts'
import type { HttpApp } from '@coexist/http'
import { createLogger, type Logger } from '@coexist/logger'
import { testKafkaBrokers, testTopicPrefix } from '@coexist/testkit'
import { buildApp, type IngressDeps } from '../src/app.ts'
import { ingressTopicSpecs } from '../src/run.ts'

export interface Teardown { teardown: (fn: () => unknown) => void }

export const APP_ID = '100000000000001'
export const APP_SECRET = 'ingress-test-secret-1'
const OTHER_APP_ID = '100000000000002'
export const OTHER_APP_SECRET = 'ingress-test-secret-2'
export const VERIFY_TOKEN = 'ingress-verify-token'

export const APP_SECRETS: ReadonlyMap<string, readonly string[]> = new Map([
  [APP_ID, ['ingress-test-secret-old', APP_SECRET]],
  [OTHER_APP_ID, [OTHER_APP_SECRET]]
])

export const silentLogger = (): Logger => createLogger({ level: process.env.LOG_LEVEL === undefined ? 'silent' : process.env.LOG_LEVEL as 'info' })

export interface StartOptions {
  logger?: Logger
  brokers?: string[]
  kafka?: Kafka
  producer?: Partial<Omit<BusProducerOptions, 'kafka' | 'registry' | 'logger'>>
  deps?: Partial<IngressDeps>
  partitions?: number
  /** Runs before ingress's topics are ensured (e.g. to create one with other settings). */
  beforeTopics?: (admin: Admin, topics: TopicRegistry) => Promise<void>
}

export interface TestIngress {
  app: HttpApp
  url: string
  topics: TopicRegistry
  kafka: Kafka
  admin: Admin
  producer: BusProducer
  /** The Prometheus text of GET /metrics. */
  metrics: () => Promise<string>
}

/** Creates the ingress topics of a fresh prefix, a producer, and the app listening on a free port. */
export async function startIngress (t: Teardown, opts: StartOptions = {}): Promise<TestIngress> {
  const logger = opts.logger ?? silentLogger()
  const topics = createTopicRegistry({ prefix: testTopicPrefix(), partitions: opts.partitions ?? 2 })
  const kafka = opts.kafka ?? createKafka({ brokers: opts.brokers ?? testKafkaBrokers(), clientId: `ingress-test-${randomBytes(3).toString('hex')}`, logger })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  await opts.beforeTopics?.(admin, topics)
  await ensureTopics(admin, topics, { only: ingressTopicSpecs(topics) })
  const producer = createBusProducer({ kafka, registry: topics, logger, ...opts.producer })
  t.teardown(() => producer.disconnect({ timeoutMs: 2000 }))
  const app = await buildApp({
    logger,
    producer,
    topics,
    appSecrets: APP_SECRETS,
    verifyToken: VERIFY_TOKEN,
    kafkaReady: async () => true,
    ...opts.deps
  })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    topics,
    kafka,
    admin,
    producer,
    metrics: async () => (await app.inject({ method: 'GET', url: '/metrics' })).body
  }
}

export interface ReadRecord {
  topic: string
  partition: number
  offset: string
  key: string | null
  value: Buffer
  headers: Record<string, string>
}

/**
 * A topic's partition offsets. kafkajs gives up at once on a retriable error here (a partition
 * whose leadership a busy broker has not settled yet, just after the topic was created, answers
 * NOT_LEADER_FOR_PARTITION): asked again every 100 ms for up to 10 s.
 */
async function topicOffsets (admin: Admin, topic: string): Promise<Awaited<ReturnType<Admin['fetchTopicOffsets']>>> {
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      return await admin.fetchTopicOffsets(topic)
    } catch (err) {
      if ((err as { retriable?: boolean }).retriable !== true || Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

/**
 * Everything on `topics` right now, by consuming from the beginning up to each partition's end
 * offset (taken first). Returns [] at once when the topics are empty.
 */
async function readTopics (kafka: Kafka, admin: Admin, topics: string[], timeoutMs = 20_000): Promise<ReadRecord[]> {
  const ends = new Map<string, bigint>()
  for (const topic of topics) {
    for (const p of await topicOffsets(admin, topic)) {
      if (BigInt(p.high) > 0n) ends.set(`${topic}/${p.partition}`, BigInt(p.high))
    }
  }
  if (ends.size === 0) return []
  const out: ReadRecord[] = []
  const consumer = kafka.consumer({ groupId: `ingress-test-reader-${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 100 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics, fromBeginning: true })
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`readTopics: not all records read within ${timeoutMs} ms`)), timeoutMs)
      const remaining = new Set(ends.keys())
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          const tp = `${topic}/${partition}`
          const end = ends.get(tp)
          if (end === undefined || BigInt(message.offset) >= end) return
          out.push({
            topic,
            partition,
            offset: message.offset,
            key: message.key === null ? null : message.key.toString('utf8'),
            value: message.value ?? Buffer.alloc(0),
            headers: decodeHeaders(message.headers)
          })
          if (BigInt(message.offset) === end - 1n) {
            remaining.delete(tp)
            if (remaining.size === 0) { clearTimeout(timer); resolve() }
          }
        }
      }).catch(reject)
    })
    await done
  } finally {
    await consumer.disconnect()
  }
  return out
}

/** Reads the given registry topics and decodes them by contract. */
export async function readIngressTopics (ing: Pick<TestIngress, 'kafka' | 'admin' | 'topics'>, keys: TopicKey[] = ingressTopicSpecs(ing.topics).map((s) => s.key)) {
  const records = await readTopics(ing.kafka, ing.admin, keys.map((k) => ing.topics.topic(k).name))
  const byKey = (k: TopicKey): ReadRecord[] => records.filter((r) => r.topic === ing.topics.topic(k).name)
  return {
    all: records,
    raw: byKey('webhook.raw').map((r) => ({ ...r, decoded: fromBinary(RawWebhookSchema, r.value) as RawWebhook })),
    unrouted: byKey('webhook.unrouted').map((r) => ({ ...r, decoded: fromBinary(UnroutedWebhookSchema, r.value) as UnroutedWebhook })),
    changes: records
      .filter((r) => { const k = ing.topics.byName(r.topic)?.key; return k !== undefined && k !== 'webhook.raw' && k !== 'webhook.unrouted' })
      .map((r) => ({ ...r, topicKey: ing.topics.byName(r.topic)!.key, decoded: fromBinary(WebhookChangeSchema, r.value) as WebhookChange }))
  }
}

/** A pino destination that keeps every line (to read the log stream in a test). */
export function logCapture (): { stream: Writable, text: () => string, lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { chunks.push(chunk.toString('utf8')); cb() } })
  return {
    stream,
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
  }
}

/** Sum of the Prometheus samples `name{labels…}` whose labels include `labels`; 0 when absent. */
export function metricValue (text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3])
  }
  return sum
}

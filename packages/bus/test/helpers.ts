/**
 * Test helpers for the bus tests (not a test file): a Kafka client on the run's broker, a
 * registry under a unique topic prefix with its topics created, and an independent reader
 * (a plain kafkajs consumer) to check what is really on a topic.
 */
import { randomBytes } from 'node:crypto'
import type { KafkaMessage } from 'kafkajs'
import { createLogger, type Logger } from '@coexist/logger'
import { testKafkaBrokers, testTopicPrefix, type Teardown } from '@coexist/testkit'
import { createKafka, createTopicRegistry, ensureTopics, type Kafka, type TopicKey, type TopicRegistry } from '../src/index.ts'

export const logger: Logger = createLogger({ level: (process.env.LOG_LEVEL ?? 'silent') as 'silent', name: 'bus-test' })

export interface BusTestEnv {
  kafka: Kafka
  registry: TopicRegistry
  admin: ReturnType<Kafka['admin']>
}

/** A registry under a fresh prefix; `only` topics are created (default all), 1 partition unless told. */
export async function busEnv (t: Teardown, opts: { partitions?: number, only?: TopicKey[] } = {}): Promise<BusTestEnv> {
  const kafka = createKafka({ brokers: testKafkaBrokers(), clientId: 'bus-test', logger })
  const registry = createTopicRegistry({ prefix: testTopicPrefix(), partitions: opts.partitions ?? 1 })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  // A CI broker creates the topics of several test files at once on 2 busy cores: allow it a
  // minute (the file's own timeout is 3).
  await ensureTopics(admin, registry, { timeoutMs: 60_000, ...(opts.only !== undefined ? { only: opts.only.map((k) => registry.topic(k)) } : {}) })
  return { kafka, registry, admin }
}

export const groupId = (name: string): string => `${name}-${randomBytes(4).toString('hex')}`

/** Reads `count` records of `topic` from the beginning with a plain kafkajs consumer. */
export async function readRecords (kafka: Kafka, topic: string, count: number, timeoutMs = 15_000): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: groupId('reader'), maxWaitTimeInMs: 100, maxBytesPerPartition: 16 * 1024 * 1024 })
  const out: KafkaMessage[] = []
  try {
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length}/${count} records of ${topic} in ${timeoutMs} ms`)), timeoutMs)
      consumer.run({
        eachMessage: async ({ message }) => {
          out.push(message)
          if (out.length >= count) { clearTimeout(timer); resolve() }
        }
      }).catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return out
}

/** Total records on a topic (sum of high watermarks minus low). */
export async function countRecords (env: BusTestEnv, topic: string): Promise<number> {
  const offsets = await env.admin.fetchTopicOffsets(topic)
  return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
}

/** Resolves when `check()` is true, polling every 20 ms; rejects after `timeoutMs`. */
export async function until (check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

import { randomBytes } from 'node:crypto'
import { create } from '@bufbuild/protobuf'
import { OutboundRequestSchema, type OutboundRequest } from '@coexist/contracts'
import { createBusProducer, createKafka, createTopicRegistry, ensureTopics, type BusProducer, type Kafka, type TopicKey, type TopicRegistry } from '@coexist/bus'
import {
  createApiKey, createDb, createPhoneNumber, createTenant, createTokenCipher, upsertWaba,
  type Db, type PhoneNumberMode, type PhoneNumberStatus, type TokenCipher
} from '@coexist/db'
import { createLogger, type Logger } from '@coexist/logger'
import { createGraphClient, type GraphClient } from '@coexist/meta'
import { startSimulator, type NumberConfigInput, type RunningSimulator } from '@coexist/meta-simulator'
import { testDatabase, testKafkaBrokers, testTopicPrefix, type Teardown } from '@coexist/testkit'
import { acceptSends, type AcceptItem, type OutboundRequestInit } from '../src/domain/accept.ts'
import { SendRequestSchema } from '../src/domain/send-request.ts'

export const silentLogger: Logger = createLogger({ level: 'silent' })

export interface TestDb { db: Db, url: string, cipher: TokenCipher }

/** A fresh migrated database (closed at teardown) and a token cipher. */
export async function testDb (t: Teardown, max = 6): Promise<TestDb> {
  const { url } = await testDatabase(t)
  const db = createDb(url, { max })
  t.teardown(() => db.destroy())
  return { db, url, cipher: createTokenCipher({ current: randomBytes(32) }) }
}

/** A simulator on a free port, closed at teardown. */
export async function testSimulator (t: Teardown): Promise<RunningSimulator> {
  const sim = await startSimulator({ port: 0, logger: silentLogger })
  t.teardown(() => sim.close())
  return sim
}

/** A Graph client pointed at the simulator. */
export function testGraph (t: Teardown, sim: RunningSimulator, timeoutMs = 5000): GraphClient {
  const graph = createGraphClient({ baseUrl: sim.graphUrl, version: sim.graphVersion, timeoutMs })
  t.teardown(() => graph.close())
  return graph
}

const digits = (n: number): string => {
  let s = String(1 + Math.floor(Math.random() * 9))
  while (s.length < n) s += String(Math.floor(Math.random() * 10))
  return s
}

export interface TestNumber { tenantId: string, wabaId: string, phoneNumberId: string, token: string }

/**
 * A tenant (new unless given), WABA and phone number in Postgres, and the same number at the
 * simulator with its token. The simulator does not check windows unless asked (`window`).
 */
export async function addNumber (
  tdb: TestDb, sim: RunningSimulator,
  opts: { tenantId?: string, mode?: PhoneNumberMode, mps?: number, status?: PhoneNumberStatus, sim?: Partial<NumberConfigInput> } = {}
): Promise<TestNumber> {
  const tenantId = opts.tenantId ?? (await createTenant(tdb.db, { name: 'tenant ' + randomBytes(2).toString('hex') })).id
  const wabaId = '31' + digits(13)
  const phoneNumberId = '62' + digits(13)
  const token = 'EAAG' + randomBytes(16).toString('hex')
  await upsertWaba(tdb.db, { id: wabaId, tenantId })
  const mode = opts.mode ?? 'cloud_api'
  const mps = opts.mps ?? (mode === 'coexistence' ? 20 : 80)
  await createPhoneNumber(tdb.db, tdb.cipher, {
    id: phoneNumberId, tenantId, wabaId, displayPhoneNumber: '+1 555 ' + digits(7), mode, throughputMps: mps, status: opts.status ?? 'active', accessToken: token
  })
  sim.control.configureNumber({ phoneNumberId, wabaId, displayPhoneNumber: '1555' + digits(7), mode, mps, accessToken: token, window: 'off', statuses: { upTo: 'none' }, ...opts.sim })
  return { tenantId, wabaId, phoneNumberId, token }
}

/** A text message body of our API. */
export function textTo (phoneNumberId: string, to: string, body: string): Record<string, unknown> {
  return { phone_number_id: phoneNumberId, to, type: 'text', text: { body } }
}

/** A template message body of our API. */
export function templateTo (phoneNumberId: string, to: string, name = 'order_update'): Record<string, unknown> {
  return { phone_number_id: phoneNumberId, to, type: 'template', template: { name, language: { code: 'en_US' } } }
}

/**
 * Accepts requests through the acceptance path (rows in Postgres), capturing the records that
 * would go to Kafka instead of publishing them: for worker tests that feed records by hand.
 */
export async function acceptDirect (db: Db, tenantId: string, bodies: Array<Record<string, unknown>>, keys?: Array<string | undefined>): Promise<OutboundRequest[]> {
  const records: OutboundRequestInit[] = []
  const items: AcceptItem[] = bodies.map((b, i) => ({ request: SendRequestSchema.parse(b), idempotencyKey: keys?.[i] }))
  const outcomes = await acceptSends({ db, publishRequest: async (r) => { records.push(r) } }, tenantId, items)
  const refused = outcomes.find((o) => !o.ok)
  if (refused !== undefined && !refused.ok) throw refused.error
  return records.map((r) => create(OutboundRequestSchema, r))
}

/** Opens the sender's own service window for a customer (as an inbound message would). */
export async function openWindow (db: Db, phoneNumberId: string, customerDigits: string, at = new Date()): Promise<void> {
  const { recordInbound } = await import('../src/store/windows.ts')
  await recordInbound(db, [{ phoneNumberId, customer: customerDigits.replace(/\D/g, ''), at }])
}

/** Polls `fn` until it returns true (or throws after `timeoutMs`). */
export async function until (fn: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Highest count of times in any half-open window [x, x + windowMs). */
export function maxInWindow (times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  let j = 0
  for (let i = 0; i < sorted.length; i++) {
    while ((sorted[i] as number) - (sorted[j] as number) >= windowMs) j++
    best = Math.max(best, i - j + 1)
  }
  return best
}

/** A recipient phone number in E.164. */
export const phone = (): string => '+5511' + digits(9)

export interface KafkaEnv {
  kafka: Kafka
  registry: TopicRegistry
  admin: ReturnType<Kafka['admin']>
  producer: BusProducer
  /** Records on a topic (sum over partitions). */
  count: (topic: TopicKey) => Promise<number>
}

/** Kafka under a fresh topic prefix, the given topics created, a bus producer; all closed at teardown. */
export async function testKafka (t: Teardown, topics: TopicKey[], partitions = 1): Promise<KafkaEnv> {
  const kafka = createKafka({ brokers: testKafkaBrokers(), clientId: 'outbound-test', logger: silentLogger })
  const registry = createTopicRegistry({ prefix: testTopicPrefix(), partitions })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  await ensureTopics(admin, registry, { only: topics.map((k) => registry.topic(k)) })
  const producer = createBusProducer({ kafka, registry, logger: silentLogger })
  await producer.connect()
  t.teardown(() => producer.disconnect())
  return {
    kafka,
    registry,
    admin,
    producer,
    count: async (topic) => (await admin.fetchTopicOffsets(registry.topic(topic).name)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
  }
}

/** A tenant API key with the given roles. */
export async function apiKey (db: Db, tenantId: string, roles: string[] = ['send', 'read']): Promise<string> {
  return (await createApiKey(db, { tenantId, name: 'test', roles })).key
}

export const ADMIN_KEY = 'test-admin-key-0123456789'

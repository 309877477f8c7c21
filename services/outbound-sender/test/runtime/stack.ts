/** A whole outbound sender on test topics: API, worker, consumers, the simulator as Meta. */
import { randomBytes } from 'node:crypto'
import { create } from '@bufbuild/protobuf'
import { WebhookChangeSchema } from '@coexist/contracts'
import type { TopicKey } from '@coexist/bus'
import type { RunningSimulator } from '@coexist/meta-simulator'
import type { Teardown } from '@coexist/testkit'
import { buildApp } from '../../src/app.ts'
import { startOutboundRuntime, type OutboundRuntime, type OutboundRuntimeDeps } from '../../src/runtime.ts'
import { NumberDirectory } from '../../src/worker/number-directory.ts'
import { ADMIN_KEY, silentLogger, testDb, testGraph, testKafka, testSimulator, type KafkaEnv, type TestDb } from '../helpers.ts'

/** What a test reads of an injected response. */
interface InjectResponse { statusCode: number, body: string, headers: Record<string, unknown>, json: () => any }

const STACK_TOPICS: TopicKey[] = ['outbound.requests', 'outbound.results', 'outbound.dlq', 'webhook.messages', 'webhook.smb_message_echoes', 'billing.balance', 'deadletter']

export interface Stack {
  tdb: TestDb
  sim: RunningSimulator
  k: KafkaEnv
  app: Awaited<ReturnType<typeof buildApp>>
  groupId: string
  /** Starts a runtime (worker + consumers) on the stack's topics; stopped at teardown. */
  startRuntime: (over?: Partial<OutboundRuntimeDeps>) => Promise<OutboundRuntime>
  post: (key: string, body: unknown, headers?: Record<string, string>) => Promise<InjectResponse>
  batch: (key: string, messages: unknown[]) => Promise<{ accepted: number, results: Array<{ status: number, message?: { id: string } }> }>
  /** Publishes a webhook change as ingress would (key = phone_number_id). */
  webhook: (field: 'messages' | 'smb_message_echoes', phoneNumberId: string, value: unknown) => Promise<void>
}

export async function stack (t: Teardown, opts: { partitions?: number } = {}): Promise<Stack> {
  const tdb = await testDb(t, 12)
  const sim = await testSimulator(t)
  const k = await testKafka(t, STACK_TOPICS, opts.partitions ?? 1)
  const app = await buildApp({
    db: tdb.db,
    logger: silentLogger,
    adminKey: ADMIN_KEY,
    rateLimit: false,
    publishRequest: async (value) => { await k.producer.publish('outbound.requests', { key: value.phoneNumberId as string, value }) }
  })
  t.teardown(() => app.close())
  const groupId = `outbound-${randomBytes(4).toString('hex')}`
  const graph = testGraph(t, sim)
  const runtimes: OutboundRuntime[] = []
  t.teardown(async () => { for (const r of runtimes) await r.kill() })
  const s: Stack = {
    tdb,
    sim,
    k,
    app,
    groupId,
    startRuntime: async (over = {}) => {
      const r = await startOutboundRuntime({
        db: tdb.db,
        kafka: k.kafka,
        registry: k.registry,
        producer: k.producer,
        logger: silentLogger,
        graph,
        numbers: new NumberDirectory(tdb.db, tdb.cipher, 1000),
        groupId,
        instanceId: randomBytes(3).toString('hex'),
        consumer: { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, maxWaitTimeMs: 100, commitIntervalMs: 100 },
        ...over,
        worker: { quietMs: 0, ...over.worker }
      })
      runtimes.push(r)
      return r
    },
    post: async (key, body, headers = {}) => await app.inject({ method: 'POST', url: '/v1/messages', headers: { authorization: `Bearer ${key}`, ...headers }, payload: body as object }),
    batch: async (key, messages) => {
      const res = await app.inject({ method: 'POST', url: '/v1/messages/batch', headers: { authorization: `Bearer ${key}` }, payload: { messages } })
      if (res.statusCode !== 207) throw new Error(`batch answered ${res.statusCode}: ${res.body}`)
      return res.json()
    },
    webhook: async (field, phoneNumberId, value) => {
      await k.producer.publish(`webhook.${field}`, {
        key: phoneNumberId,
        value: create(WebhookChangeSchema, {
          field,
          wabaId: '310000000000001',
          phoneNumberId,
          entryId: '310000000000001',
          valueJson: Buffer.from(JSON.stringify(value)),
          receivedAt: BigInt(Date.now())
        })
      })
    }
  }
  return s
}

/** A `messages` change value with one inbound text from `from`. */
export function inboundValue (phoneNumberId: string, from: string, at = Date.now()): unknown {
  return {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
    contacts: [{ profile: { name: 'Ana' }, wa_id: from.replace(/\D/g, '') }],
    messages: [{ from: from.replace(/\D/g, ''), id: `wamid.IN_${randomBytes(6).toString('hex')}`, timestamp: String(Math.floor(at / 1000)), type: 'text', text: { body: 'hi' } }]
  }
}

/** A `messages` change value with one status of `wamid`. */
export function statusValue (phoneNumberId: string, wamid: string, status: 'sent' | 'delivered' | 'read' | 'failed', recipient: string): unknown {
  return {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
    statuses: [{ id: wamid, status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: recipient.replace(/\D/g, '') }]
  }
}

/** An `smb_message_echoes` change value: the business wrote to `to` from the app. */
export function echoValue (phoneNumberId: string, to: string): unknown {
  return {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
    message_echoes: [{ from: '15550000000', to: to.replace(/\D/g, ''), id: `wamid.ECHO_${randomBytes(6).toString('hex')}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'from the app' } }]
  }
}

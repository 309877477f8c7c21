/**
 * Building blocks of `pnpm bench sync` (tests/bench/sync.bench.ts): a synthetic 6-month history
 * (threads × messages, chunked like Meta's `history` webhook), its publication to the history
 * topic as ingress would, the plain-COPY baseline of the same rows, and the import worker (the
 * real sync runtime in a child process, so its peak RSS is the service's own).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import pg from 'pg'
import copyStreams from 'pg-copy-streams'
import { createBusProducer, createKafka, createTopicRegistry, ensureTopics, type BusProducer } from '@coexist/bus'
import { createDb, createTokenCipher, sql, type Db } from '@coexist/db'
import { createLogger } from '@coexist/logger'
import { createGraphClient } from '@coexist/meta'
import { startSyncRuntime } from '../../src/runtime.ts'

export const logger = createLogger({ level: 'silent', name: 'sync-bench' })
export const BUSINESS = '5511999990000'
const DAY = 86_400

export interface BenchNumber { tenantId: string, wabaId: string, phoneNumberId: string }

/** A tenant, WABA and coexistence number with an onboarding waiting for history. */
export async function seedBenchNumber (db: Db, phoneNumberId: string, display = BUSINESS): Promise<BenchNumber> {
  const tenant = await db.insertInto('tenants').values({ name: 'bench ' + phoneNumberId }).returning('id').executeTakeFirstOrThrow()
  const wabaId = '31' + phoneNumberId.slice(2)
  await db.insertInto('wabas').values({ id: wabaId, tenant_id: tenant.id }).execute()
  await db.insertInto('phone_numbers').values({ id: phoneNumberId, tenant_id: tenant.id, waba_id: wabaId, display_phone_number: display, mode: 'coexistence', throughput_mps: 20 }).execute()
  await sql`INSERT INTO onboardings (tenant_id, phone_number_id, generation, state, source, onboarded_at, deadline_at)
    VALUES (${tenant.id}::uuid, ${phoneNumberId}, 1, 'history_sync_requested', 'api', now(), now() + interval '1 day')`.execute(db)
  return { tenantId: tenant.id, wabaId, phoneNumberId }
}

export interface HistoryMessage { from: string, to?: string, id: string, timestamp: string, type: string, text?: { body: string }, history_context: { status: string } }
export interface Chunk { phase: number, chunkOrder: number, progress: number, threads: Array<{ id: string, messages: HistoryMessage[] }> }

const BODIES = ['Hi, are you open today?', 'Do you deliver to Pinheiros?', 'Yes, we open at 9.', 'How much is the blue one?', 'It is R$ 49,90.', 'Obrigado!', 'Perfeito, até amanhã']

/** Thread `t` of the history: `perThread` messages over 180 days, 5 % media placeholders. */
export function threadMessages (tag: string, t: number, perThread: number, now: number): { id: string, messages: HistoryMessage[] } {
  const user = `5511${String(800000000 + t)}`
  const messages: HistoryMessage[] = []
  for (let m = 0; m < perThread; m++) {
    const out = m % 2 === 1
    const ts = now - 180 * DAY + Math.floor((m / perThread) * 179 * DAY) + (t % 3600)
    const placeholder = (t * 31 + m) % 20 === 0
    messages.push({
      from: out ? BUSINESS : user,
      ...(out ? { to: user } : {}),
      id: `wamid.${tag}_${t}_${m}`,
      timestamp: String(ts),
      type: placeholder ? 'media_placeholder' : 'text',
      ...(placeholder ? {} : { text: { body: BODIES[(t + m) % BODIES.length] as string } }),
      history_context: { status: out ? 'DELIVERED' : 'READ' }
    })
  }
  return { id: user, messages }
}

/** The chunks of a history of `threads × perThread` messages, `threadsPerChunk` threads each. */
export function * historyChunks (tag: string, threads: number, perThread: number, threadsPerChunk: number, now: number): Generator<Chunk> {
  const total = Math.ceil(threads / threadsPerChunk)
  const orders = [0, 0, 0]
  for (let c = 0; c < total; c++) {
    const phase = c < total * 0.05 ? 0 : c < total * 0.6 ? 1 : 2
    const list = []
    for (let t = c * threadsPerChunk; t < Math.min(threads, (c + 1) * threadsPerChunk); t++) list.push(threadMessages(tag, t, perThread, now))
    const chunkOrder = orders[phase] ?? 0
    orders[phase] = chunkOrder + 1
    yield { phase, chunkOrder, progress: Math.min(100, Math.round(((c + 1) / total) * 100)), threads: list }
  }
}

/** Publishes chunks to the history topic as ingress does (one WebhookChange each), in a shuffled order. */
export async function publishHistory (producer: BusProducer, n: BenchNumber, chunks: Iterable<Chunk>): Promise<{ records: number, bytes: number }> {
  const all = [...chunks]
  for (let i = all.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [all[i], all[j]] = [all[j] as Chunk, all[i] as Chunk] }
  let bytes = 0
  const enc = new TextEncoder()
  const pending: Promise<void>[] = []
  for (const c of all) {
    const value = enc.encode(JSON.stringify({
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: BUSINESS, phone_number_id: n.phoneNumberId },
      history: [{ metadata: { phase: c.phase, chunk_order: c.chunkOrder, progress: c.progress }, threads: c.threads }]
    }))
    bytes += value.byteLength
    pending.push(producer.publish('webhook.history', {
      key: n.phoneNumberId,
      value: { field: 'history', wabaId: n.wabaId, phoneNumberId: n.phoneNumberId, entryId: n.wabaId, valueJson: value, receivedAt: BigInt(Date.now()), rawRequestId: 'bench', appId: '1' }
    }, { timeoutMs: 60_000 }))
    if (pending.length >= 16) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending)
  return { records: all.length, bytes }
}

const esc = (v: string | null | boolean | number): string => {
  if (v === null) return '\\N'
  return String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
}

/**
 * The baseline: the same rows (contacts, conversations, messages with the same columns and
 * content) written with plain `COPY … FROM STDIN` into the same tables, no conflict handling.
 * Returns the messages written.
 */
export async function copyBaseline (url: string, n: BenchNumber, chunks: Iterable<Chunk>): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  let messages = 0
  try {
    const contactIds = new Map<string, string>()
    const convIds = new Map<string, string>()
    const chunkList = [...chunks]
    for (const c of chunkList) for (const th of c.threads) { contactIds.set(th.id, randomUUID()); convIds.set(th.id, randomUUID()) }
    const copy = async (statement: string, lines: Iterable<string>): Promise<void> => {
      await pipeline(Readable.from(lines), client.query(copyStreams.from(statement)))
    }
    await client.query('BEGIN')
    await copy('COPY contacts (id, tenant_id, phone_number_id, wa_id) FROM STDIN',
      (function * () { for (const [wa, id] of contactIds) yield `${id}\t${n.tenantId}\t${n.phoneNumberId}\t${wa}\n` })())
    await copy('COPY conversations (id, tenant_id, phone_number_id, contact_id, history_imported) FROM STDIN',
      (function * () { for (const [wa, id] of convIds) yield `${id}\t${n.tenantId}\t${n.phoneNumberId}\t${contactIds.get(wa) as string}\tt\n` })())
    const rows = function * (): Generator<string> {
      for (const c of chunkList) {
        let buf = ''
        for (const th of c.threads) {
          const conv = convIds.get(th.id) as string
          for (const m of th.messages) {
            const out = m.to !== undefined
            buf += [n.tenantId, n.phoneNumberId, conv, m.id, out ? 'outbound' : 'inbound', 'history', m.type, m.text?.body ?? null, JSON.stringify(m),
              m.type === 'media_placeholder', out ? BUSINESS : m.from, out ? (m.to as string) : BUSINESS, new Date(Number(m.timestamp) * 1000).toISOString(), m.history_context.status]
              .map(esc).join('\t') + '\n'
            messages++
          }
        }
        yield buf
      }
    }
    await copy('COPY messages (tenant_id, phone_number_id, conversation_id, wamid, direction, source, type, text, content, media_pending, from_id, to_id, sent_at, history_status) FROM STDIN', rows())
    await client.query('COMMIT')
  } finally {
    await client.end()
  }
  return messages
}

/** Creates the bench's topics under a fresh prefix and a connected producer. */
export async function benchBus (brokers: string[], prefix: string): Promise<{ producer: BusProducer, close: () => Promise<void> }> {
  const kafka = createKafka({ brokers, clientId: 'sync-bench', logger })
  const registry = createTopicRegistry({ prefix, partitions: 12 })
  const admin = kafka.admin()
  await admin.connect()
  await ensureTopics(admin, registry, { only: ['webhook.messages', 'webhook.smb_message_echoes', 'webhook.smb_app_state_sync', 'webhook.history', 'webhook.account_update', 'outbound.requests', 'outbound.results', 'events', 'deadletter'].map((k) => registry.topic(k as 'events')) })
  const producer = createBusProducer({ kafka, registry, logger, maxBatchBytes: 8 * 1024 * 1024 })
  await producer.connect()
  return { producer, close: async () => { await producer.disconnect(); await admin.disconnect() } }
}

/**
 * The import worker: the real sync runtime (consumers + outbox relay) on the bench's topics,
 * until the parent says stop; then it reports its peak RSS. Runs in a child process.
 */
export async function runImportWorker (url: string, brokers: string[], prefix: string): Promise<void> {
  const db = createDb(url, { max: 10 })
  const kafka = createKafka({ brokers, clientId: 'sync-bench-worker', logger })
  const registry = createTopicRegistry({ prefix, partitions: 12 })
  const producer = createBusProducer({ kafka, registry, logger })
  await producer.connect()
  const graph = createGraphClient({ baseUrl: 'http://127.0.0.1:9', version: 'v24.0' })
  const runtime = await startSyncRuntime({
    db,
    kafka,
    registry,
    producer,
    logger,
    graph,
    cipher: createTokenCipher({ current: randomBytes(32) }),
    groupId: 'sync-bench-' + randomBytes(3).toString('hex'),
    consumer: { maxWaitTimeMs: 50, commitIntervalMs: 200 }
  })
  if (process.env.BENCH_MEMORY_DETAIL === '1') console.log('worker RSS when ready (MB):', Math.round(process.memoryUsage().rss / 1048576))
  process.send?.({ ready: true })
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }
  const sampler = setInterval(() => {
    const m = process.memoryUsage()
    for (const k of ['rss', 'heapUsed', 'external', 'arrayBuffers'] as const) peak[k] = Math.max(peak[k], m[k])
  }, 100)
  await new Promise<void>((resolve) => process.once('message', () => resolve()))
  clearInterval(sampler)
  if (process.env.BENCH_MEMORY_DETAIL === '1') console.log('worker memory peaks (MB):', Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v / 1048576)])))
  await runtime.stop()
  await producer.disconnect()
  await graph.close()
  await db.destroy()
  process.send?.({ maxRssKb: process.resourceUsage().maxRSS })
}

/**
 * `pnpm bench sync`: history import throughput of the sync service, from the history topic to
 * committed rows, against a plain Postgres COPY of the same rows into the same tables; peak RSS
 * of the importing process; and the per-message cost of the live path (webhook topic → row).
 * Prints figures, asserts nothing.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createDb, sql } from '@coexist/db'
import { imageRuntime } from '../../scripts/lib/image-runtime.ts'
import { benchBus, copyBaseline, historyChunks, publishHistory, runImportWorker, seedBenchNumber, BUSINESS } from '../../services/sync/test/bench/history-bench.ts'

const THREADS = Number(process.env.BENCH_THREADS ?? 5000)
const PER_THREAD = Number(process.env.BENCH_PER_THREAD ?? 100)
const THREADS_PER_CHUNK = Number(process.env.BENCH_THREADS_PER_CHUNK ?? 20)
const LIVE = Number(process.env.BENCH_LIVE ?? 2000)

const url = process.env.DATABASE_URL as string
const brokers = (process.env.KAFKA_BROKERS as string).split(',')

if (process.argv[2] === '--worker') {
  await runImportWorker(url, brokers, process.argv[3] as string)
  process.exit(0)
}

const db = createDb(url, { max: 4 })
const now = Math.floor(Date.now() / 1000)
const total = THREADS * PER_THREAD
const count = async (q: string): Promise<number> => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.raw(q)}`.execute(db)).rows[0]?.n ?? 0
const wait = async (check: () => Promise<boolean>, what: string, timeoutMs = 600_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

console.log(`sync bench: history of ${total} messages across ${THREADS} threads, ${THREADS_PER_CHUNK * PER_THREAD} messages per chunk`)

// 1. Baseline: plain COPY of the same rows into the same (empty) tables.
const base = await seedBenchNumber(db, '629000000000001')
let t0 = performance.now()
const copied = await copyBaseline(url, base, historyChunks('B', THREADS, PER_THREAD, THREADS_PER_CHUNK, now))
const copySeconds = (performance.now() - t0) / 1000
const copyRate = copied / copySeconds
await sql`TRUNCATE messages, conversations, contacts`.execute(db)
await sql`VACUUM ANALYZE messages`.execute(db)

// 2. The import: chunks on the history topic (published first, shuffled), then the sync runtime
//    in a child process consumes them; timed from its start to the last committed row.
const prefix = `bench${randomBytes(3).toString('hex')}.`
const bus = await benchBus(brokers, prefix)
const n = await seedBenchNumber(db, '629000000000002')
const published = await publishHistory(bus.producer, n, historyChunks('H', THREADS, PER_THREAD, THREADS_PER_CHUNK, now))
console.log(`history topic: ${published.records} records, ${(published.bytes / 1e6).toFixed(1)} MB of JSON`)

// The service runs as its image does (infra/docker/sync.Dockerfile): heap sized for a 256 MB
// container (Node sizes it from the machine's memory otherwise), few malloc arenas.
const image = imageRuntime('sync')
const worker: ChildProcess = fork(fileURLToPath(import.meta.url), ['--worker', prefix], { env: { ...process.env, ...image.env }, stdio: 'inherit', execArgv: image.nodeArgs })
const messages: Array<{ ready?: boolean, maxRssKb?: number }> = []
worker.on('message', (m) => messages.push(m as never))
await wait(async () => messages.some((m) => m.ready === true), 'worker ready', 60_000)
t0 = performance.now()
await wait(async () => (await sql<{ n: number }>`SELECT history_messages AS n FROM onboardings WHERE phone_number_id = ${n.phoneNumberId}`.execute(db)).rows[0]?.n === total, 'history imported')
const importSeconds = (performance.now() - t0) / 1000
const importRate = total / importSeconds
const stored = await count(`messages WHERE phone_number_id = '${n.phoneNumberId}'`)

// 3. Live path: single-message `messages` webhooks, one record each, all on one number (one
//    partition, one key: the worst case), from publish to committed row; the consumer
//    group-commits concurrent records.
const liveNumber = await seedBenchNumber(db, '629000000000003')
const enc = new TextEncoder()
t0 = performance.now()
const pending: Promise<void>[] = []
for (let i = 0; i < LIVE; i++) {
  const value = {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: BUSINESS, phone_number_id: liveNumber.phoneNumberId },
    contacts: [{ profile: { name: `User ${i % 200}` }, wa_id: `55117${String(i % 200).padStart(8, '0')}` }],
    messages: [{ from: `55117${String(i % 200).padStart(8, '0')}`, id: `wamid.LIVE_${i}`, timestamp: String(now), type: 'text', text: { body: `live ${i}` } }]
  }
  pending.push(bus.producer.publish('webhook.messages', {
    key: liveNumber.phoneNumberId,
    value: { field: 'messages', wabaId: liveNumber.wabaId, phoneNumberId: liveNumber.phoneNumberId, entryId: liveNumber.wabaId, valueJson: enc.encode(JSON.stringify(value)), receivedAt: BigInt(Date.now()), rawRequestId: 'bench', appId: '1' }
  }))
}
await Promise.all(pending)
await wait(async () => (await count(`messages WHERE phone_number_id = '${liveNumber.phoneNumberId}'`)) === LIVE, 'live messages stored', 300_000)
const liveSeconds = (performance.now() - t0) / 1000

// 4. The baseline again, after the import (the machine's load drifts during a run: the ratio
//    uses the mean of both COPY runs).
await sql`TRUNCATE messages, conversations, contacts`.execute(db)
await sql`VACUUM ANALYZE messages`.execute(db)
t0 = performance.now()
const copied2 = await copyBaseline(url, base, historyChunks('C', THREADS, PER_THREAD, THREADS_PER_CHUNK, now))
const copySeconds2 = (performance.now() - t0) / 1000
const copyRate2 = copied2 / copySeconds2

worker.send('stop')
await wait(async () => messages.some((m) => m.maxRssKb !== undefined), 'worker stopped', 60_000)
const rssMb = (messages.find((m) => m.maxRssKb !== undefined)?.maxRssKb ?? 0) / 1024

console.log(`history messages imported: ${stored}`)
console.log(`history import: ${importSeconds.toFixed(2)} s`)
console.log(`history import rate: ${Math.round(importRate)} messages/s`)
const meanCopyRate = (copyRate + copyRate2) / 2
console.log(`plain COPY of the same rows: ${copySeconds.toFixed(2)} s before the import, ${copySeconds2.toFixed(2)} s after`)
console.log(`plain COPY rate: ${Math.round(meanCopyRate)} messages/s (${Math.round(copyRate)} before, ${Math.round(copyRate2)} after)`)
console.log(`import / COPY ratio: ${(100 * importRate / meanCopyRate).toFixed(1)} %`)
console.log(`peak RSS of the importing process: ${rssMb.toFixed(0)} MB`)
console.log(`live path: ${LIVE} single-message webhooks on one number in ${liveSeconds.toFixed(2)} s`)
console.log(`live path rate: ${Math.round(LIVE / liveSeconds)} messages/s`)
console.log(`live path cost: ${(1000 * liveSeconds / LIVE).toFixed(2)} ms per message (wall time / messages, publish to committed row, group-committed)`)

await bus.close()
await db.destroy()

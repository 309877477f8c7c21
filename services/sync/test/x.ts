import pg from 'pg'
import { createDb, migrateToLatest } from '@coexist/db'
import { parseChangeValue } from '@coexist/meta'
import { importHistory } from '../src/ingest/history.ts'
import { historyChunks, seedBenchNumber, BUSINESS } from './bench/history-bench.ts'
const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' }); await c.connect()
await c.query('DROP DATABASE IF EXISTS sync_prof2'); await c.query('CREATE DATABASE sync_prof2'); await c.end()
const db = createDb('postgres://postgres@127.0.0.1:5432/sync_prof2', { max: 2 })
await migrateToLatest(db)
const n = await seedBenchNumber(db, '629000000000009')
const info = { ...n, displayPhoneNumber: BUSINESS, mode: 'coexistence' as const }
let parse = 0, imp = 0, str = 0, msgs = 0
for (const ch of historyChunks('P', 1000, 100, 20, Math.floor(Date.now() / 1000))) {
  let t0 = performance.now()
  const json = JSON.stringify({ messaging_product: 'whatsapp', metadata: { display_phone_number: BUSINESS, phone_number_id: n.phoneNumberId }, history: [{ metadata: { phase: ch.phase, chunk_order: ch.chunkOrder, progress: ch.progress }, threads: ch.threads }] })
  str += performance.now() - t0
  t0 = performance.now()
  const v = parseChangeValue('history', JSON.parse(json))
  parse += performance.now() - t0
  if (!v.ok || v.field !== 'history') throw new Error('x')
  t0 = performance.now()
  const r = await db.transaction().execute(async (tx) => await importHistory(tx, info, v.value, new Date()))
  imp += performance.now() - t0
  msgs += r.messages
}
console.log({ msgs, parseMs: parse.toFixed(0), importMs: imp.toFixed(0), rate: Math.round(msgs / ((parse + imp) / 1000)) })
await db.destroy()

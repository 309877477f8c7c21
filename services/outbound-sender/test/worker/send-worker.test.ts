import t from 'tap'
import { OutboundStatus, type OutboundRequest } from '@coexist/contracts'
import { sql } from '@coexist/db'
import { NumberDirectory } from '../../src/worker/number-directory.ts'
import { SendWorker, type OutboundDeadLetterInit, type OutboundResultInit, type SendWorkerOptions } from '../../src/worker/send-worker.ts'
import {
  acceptDirect, addNumber, maxInWindow, openWindow, phone, silentLogger, templateTo, testDb, testGraph, testSimulator, textTo, until,
  type TestDb, type TestNumber
} from '../helpers.ts'
import type { RunningSimulator } from '@coexist/meta-simulator'
import type { SendMessageResponse } from '@coexist/meta'
import type { Teardown } from '@coexist/testkit'
import { Registry } from '@coexist/http'

interface Harness {
  worker: SendWorker
  results: OutboundResultInit[]
  dlq: OutboundDeadLetterInit[]
  /** Feeds records as the consumer would; resolves when all are finished. */
  feed: (records: OutboundRequest[], signal?: AbortSignal) => Promise<PromiseSettledResult<void>[]>
}

function harness (t: Teardown, tdb: TestDb, sim: RunningSimulator, opts: Partial<SendWorkerOptions> = {}, graphTimeoutMs = 5000): Harness {
  const results: OutboundResultInit[] = []
  const dlq: OutboundDeadLetterInit[] = []
  const worker = new SendWorker({
    db: tdb.db,
    graph: testGraph(t, sim, graphTimeoutMs),
    numbers: new NumberDirectory(tdb.db, tdb.cipher, 50),
    publishResult: async (r) => { results.push(r) },
    publishDeadLetter: async (d) => { dlq.push(d) },
    logger: silentLogger,
    quietMs: 0,
    // Short waits: Meta's back-off hints are capped by maxBackoffMs; no previous owner can still be alive.
    policy: { baseBackoffMs: 20, maxBackoffMs: 100, abandonedGraceMs: 300 },
    pairLimit: { backoffBaseMs: 50 },
    ...opts
  })
  t.teardown(() => worker.kill())
  const partition = new AbortController()
  return {
    worker,
    results,
    dlq,
    feed: async (records, signal = partition.signal) => await Promise.allSettled(records.map((request) => worker.handle({ request, signal })))
  }
}

async function states (tdb: TestDb): Promise<Record<string, number>> {
  const rows = await tdb.db.selectFrom('outbound_messages').select(['state', sql<number>`count(*)`.as('n')]).groupBy('state').execute()
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]))
}

t.test('sends in order with the wamid Meta returns; one result each', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim)
  const to = phone()
  await openWindow(tdb.db, n.phoneNumberId, to)
  const records = await acceptDirect(tdb.db, n.tenantId, [1, 2, 3, 4, 5].map((i) => textTo(n.phoneNumberId, to, `m${i}`)))
  const h = harness(t, tdb, sim)
  const settled = await h.feed(records)
  t.ok(settled.every((s) => s.status === 'fulfilled'))
  const accepted = sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted
  t.same(accepted.map((a) => (a.body as { text: { body: string } }).text.body), ['m1', 'm2', 'm3', 'm4', 'm5'], 'same order at Meta')
  t.same(await states(tdb), { sent: 5 })
  t.equal(h.results.length, 5)
  t.ok(h.results.every((r) => r.status === OutboundStatus.SENT && typeof r.wamid === 'string' && r.wamid.startsWith('wamid.')))
  const row = await tdb.db.selectFrom('outbound_messages').select(['wamid', 'attempts']).where('id', '=', records[0]!.requestId).executeTakeFirstOrThrow()
  t.equal(row.wamid, accepted[0]!.wamid)
  t.equal(row.attempts, 1)
})

t.test('metrics: Postgres statements by kind (BEGIN and COMMIT with each claim), in-flight slots', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim)
  const records = await acceptDirect(tdb.db, n.tenantId, [1, 2, 3, 4].map(() => templateTo(n.phoneNumberId, phone())))
  const metrics = new Registry()
  const h = harness(t, tdb, sim, { metrics })
  t.ok((await h.feed(records)).every((s) => s.status === 'fulfilled'))
  const counts = Object.fromEntries((await metrics.getSingleMetric('coexist_outbound_db_statements_total')!.get()).values.map((v) => [v.labels.kind, v.value]))
  t.ok(counts.claim >= 3 && counts.claim % 3 === 0, `claims: BEGIN, UPDATE, COMMIT each (${counts.claim})`)
  t.ok(counts.outcome >= 1 && counts.outcome <= 4, `outcomes in batches (${counts.outcome})`)
  await new Promise((resolve) => setTimeout(resolve, 300)) // the slot gauges are refreshed every 250 ms
  const slots = Object.fromEntries((await metrics.getSingleMetric('coexist_outbound_slots')!.get()).values.map((v) => [v.labels.what, v.value]))
  t.same(slots, { reserved: 0, in_flight: 0, lanes_waiting: 0 }, 'in-flight slot gauges: all free once every record is finished')
})

t.test('5xx answers and connection resets are retried; the message arrives once', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim)
  const [a, b] = [phone(), phone()]
  const records = await acceptDirect(tdb.db, n.tenantId, [templateTo(n.phoneNumberId, a), templateTo(n.phoneNumberId, b)])
  const h = harness(t, tdb, sim)
  sim.control.setFaults({ phoneNumberId: n.phoneNumberId, failNext: { count: 2, code: 131000 } })
  await h.feed([records[0]!])
  sim.control.setFaults({ phoneNumberId: n.phoneNumberId, resetNext: 1 })
  await h.feed([records[1]!])
  const report = sim.control.sends({ phoneNumberId: n.phoneNumberId })
  t.equal(report.accepted.length, 2, 'each message accepted once')
  t.same(report.rejected.map((r) => r.reason), ['error', 'error', 'reset'])
  const rows = await tdb.db.selectFrom('outbound_messages').select(['id', 'state', 'attempts']).orderBy('accepted_at').execute()
  t.same(rows.map((r) => [r.state, r.attempts]).sort(), [['sent', 2], ['sent', 3]])
})

t.test('131047 (window closed at Meta) fails at once, never retried', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim, { sim: { window: 'sync' } })
  const to = phone()
  await openWindow(tdb.db, n.phoneNumberId, to) // our view says open; Meta disagrees
  const records = await acceptDirect(tdb.db, n.tenantId, [textTo(n.phoneNumberId, to, 'hello')])
  const h = harness(t, tdb, sim)
  await h.feed(records)
  const report = sim.control.sends({ phoneNumberId: n.phoneNumberId })
  t.equal(report.rejected.length, 1, 'one call only')
  t.equal(report.rejected[0]?.code, 131047)
  const row = await tdb.db.selectFrom('outbound_messages').select(['state', 'error_code', 'meta_error', 'attempts']).executeTakeFirstOrThrow()
  t.equal(row.state, 'failed')
  t.equal((row.meta_error as { code: number }).code, 131047)
  t.equal(h.results[0]?.status, OutboundStatus.FAILED)
  t.equal(h.results[0]?.error?.code, 131047)
  t.equal(h.dlq.length, 0, 'a permanent failure is a result, not a dead letter')
})

t.test('retryable errors beyond the budget go to the DLQ with the reason', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim)
  const records = await acceptDirect(tdb.db, n.tenantId, [templateTo(n.phoneNumberId, phone())])
  const h = harness(t, tdb, sim, { policy: { maxAttempts: 3, baseBackoffMs: 10, maxBackoffMs: 20 } })
  sim.control.setFaults({ phoneNumberId: n.phoneNumberId, failNext: { count: 10, code: 133004 } })
  await h.feed(records)
  t.equal(sim.control.sends({ phoneNumberId: n.phoneNumberId }).rejected.length, 3)
  t.same(await states(tdb), { dead_lettered: 1 })
  t.equal(h.dlq.length, 1)
  t.equal(h.dlq[0]?.reason, 'OUT_RETRY_BUDGET_EXHAUSTED')
  t.equal(h.dlq[0]?.lastError?.code, 133004)
  t.equal(h.dlq[0]?.request?.requestId, records[0]!.requestId)
  t.equal(h.results[0]?.status, OutboundStatus.FAILED)
})

t.test('a timeout after the request left: unknown, not resent (default policy)', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim)
  const records = await acceptDirect(tdb.db, n.tenantId, [templateTo(n.phoneNumberId, phone())])
  const h = harness(t, tdb, sim, {}, 150)
  sim.control.setFaults({ phoneNumberId: n.phoneNumberId, latencyMs: 600 })
  await h.feed(records)
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.equal(sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length, 1, 'Meta got it once')
  const row = await tdb.db.selectFrom('outbound_messages').select(['state', 'error_code', 'attempts']).executeTakeFirstOrThrow()
  t.same(row, { state: 'unknown', error_code: 'OUT_OUTCOME_UNKNOWN', attempts: 1 })
  t.equal(h.results[0]?.status, OutboundStatus.UNKNOWN)
})

t.test('a number disconnected after acceptance: requests go to the DLQ, nothing reaches Meta', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim)
  const records = await acceptDirect(tdb.db, n.tenantId, [templateTo(n.phoneNumberId, phone()), templateTo(n.phoneNumberId, phone())])
  await tdb.db.updateTable('phone_numbers').set({ status: 'disconnected' }).where('id', '=', n.phoneNumberId).execute()
  const h = harness(t, tdb, sim)
  await h.feed(records)
  t.equal(sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length, 0)
  t.same(await states(tdb), { dead_lettered: 2 })
  t.same(h.dlq.map((d) => d.reason), ['OUT_NUMBER_DISCONNECTED', 'OUT_NUMBER_DISCONNECTED'])
})

t.test('130429 lowers the rate and is retried; 131056 backs off that recipient only', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim, { sim: { pairLimit: { burst: 2, intervalMs: 200 } } })
  const [busy, other] = [phone(), phone()]
  const records = await acceptDirect(tdb.db, n.tenantId, [
    ...[1, 2, 3, 4].map(() => templateTo(n.phoneNumberId, busy)),
    templateTo(n.phoneNumberId, other)
  ])
  const h = harness(t, tdb, sim, { pairLimit: { backoffBaseMs: 50, burst: 20, intervalMs: 200 } })
  sim.control.setFaults({ phoneNumberId: n.phoneNumberId, throttleNext: 2 })
  await h.feed(records)
  const report = sim.control.sends({ phoneNumberId: n.phoneNumberId })
  t.equal(report.accepted.length, 5, 'all sent once')
  t.equal(report.rejected.filter((r) => r.code === 130429).length, 2)
  t.ok(report.rejected.some((r) => r.code === 131056), 'the pair limit pushed back')
  t.equal(report.accepted.filter((a) => a.to === busy).length, 4)
  const order = report.accepted.filter((a) => a.to === busy).map((a) => a.seq)
  t.same(order, [...order].sort((x, y) => x - y))
  t.same(await states(tdb), { sent: 5 })
})

t.test('exact throughput: no 1 s window above the limit, zero 130429', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim, { mode: 'coexistence', mps: 20 })
  const bodies = Array.from({ length: 50 }, () => templateTo(n.phoneNumberId, phone()))
  const records = await acceptDirect(tdb.db, n.tenantId, bodies)
  const h = harness(t, tdb, sim)
  const t0 = performance.now()
  await h.feed(records)
  const elapsed = performance.now() - t0
  const report = sim.control.sends({ phoneNumberId: n.phoneNumberId })
  t.equal(report.accepted.length, 50)
  t.equal(report.rejected.length, 0, 'zero 130429')
  t.ok(maxInWindow(report.accepted.map((a) => a.at)) <= 20, `peak ${maxInWindow(report.accepted.map((a) => a.at))} ≤ 20`)
  t.ok(elapsed < 3500, `50 at 20 MPS in ${Math.round(elapsed)} ms`)
})

t.test('in-flight slots short: granted by limit, so a 1,000-MPS number is not held to a 20-MPS number\'s share', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const big = await addNumber(tdb, sim, { mps: 1000 })
  const small: TestNumber[] = []
  for (let i = 0; i < 10; i++) small.push(await addNumber(tdb, sim, { tenantId: big.tenantId, mps: 20 }))
  // A Graph that answers only when told: a send stays in flight (holding its slot) until then.
  const pending: Array<{ phoneNumberId: string, answer: () => void }> = []
  let answered = 0
  const graph = {
    sendValidatedMessage: async (phoneNumberId: string) => await new Promise<SendMessageResponse>((resolve) => {
      pending.push({ phoneNumberId, answer: () => { resolve({ messaging_product: 'whatsapp', contacts: [], messages: [{ id: `wamid.${++answered}` }] } as unknown as SendMessageResponse) } })
    }),
    markAsRead: async () => ({ success: true as const })
  }
  const h = harness(t, tdb, sim, { graph, maxInFlight: 12 })
  const records = await acceptDirect(tdb.db, big.tenantId, Array.from({ length: 400 }, () => templateTo(big.phoneNumberId, phone())))
  for (const n of small) records.push(...await acceptDirect(tdb.db, big.tenantId, Array.from({ length: 40 }, () => templateTo(n.phoneNumberId, phone()))))
  void h.feed(records)
  // Answer the oldest send whenever all 12 slots are taken: each freed slot goes to a number
  // waiting for one, and eleven numbers are waiting. By limit, the 1,000-MPS number's due is
  // 12 · 1000 / 1200 = 10 of them (taking turns would give it one in eleven).
  const grants = new Map<string, number>()
  for (let i = 0; i < 150; i++) {
    // Every number waiting for a slot when one is freed (not still committing its last claim).
    await until(() => pending.length === 12 && h.worker.stats().waitingForSlot === 11, 10_000, `12 in flight, 11 numbers waiting (round ${i})`)
    if (i >= 50) for (const p of pending.slice(-1)) grants.set(p.phoneNumberId, (grants.get(p.phoneNumberId) ?? 0) + 1)
    pending.shift()?.answer()
  }
  const bigGrants = grants.get(big.phoneNumberId) ?? 0
  t.ok(bigGrants >= 60, `of the last 100 slots freed, the 1,000-MPS number got ${bigGrants}`)
})

t.test('two workers holding the same records (zombie, replay): each message is sent once', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim, { mps: 200 })
  const records = await acceptDirect(tdb.db, n.tenantId, Array.from({ length: 40 }, () => templateTo(n.phoneNumberId, phone())))
  const a = harness(t, tdb, sim)
  const b = harness(t, tdb, sim)
  await Promise.all([a.feed(records), b.feed(records)])
  const sent = sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted
  t.equal(sent.length, 40)
  t.equal(new Set(sent.map((s) => (s.body as { to: string }).to)).size, 40, 'no duplicate')
  t.same(await states(tdb), { sent: 40 })
  t.ok(a.results.length + b.results.length >= 40, 'every result published (a replay publishes it again)')
})

t.test('kill mid-run, start again with the same records: every request sent, none twice', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim, { mps: 40 })
  sim.control.setFaults({ phoneNumberId: n.phoneNumberId, latencyMs: 30 })
  const records = await acceptDirect(tdb.db, n.tenantId, Array.from({ length: 60 }, () => templateTo(n.phoneNumberId, phone())))
  const first = harness(t, tdb, sim)
  const partition = new AbortController()
  void first.feed(records, partition.signal)
  await new Promise((resolve) => setTimeout(resolve, 600))
  first.worker.kill()
  partition.abort()
  const before = sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length
  t.ok(before > 5 && before < 60, `killed mid-run after ${before} sends`)
  await new Promise((resolve) => setTimeout(resolve, 100)) // in-flight requests land
  const second = harness(t, tdb, sim)
  await second.feed(records)
  const sent = sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted
  const perRecipient = new Map<string, number>()
  for (const s of sent) perRecipient.set(s.to, (perRecipient.get(s.to) ?? 0) + 1)
  t.ok([...perRecipient.values()].every((c) => c === 1), 'none twice')
  const st = await states(tdb)
  t.equal((st.sent ?? 0) + (st.unknown ?? 0), 60, 'every request settled')
  t.equal(sent.length, 60, `every request reached Meta (unknown outcomes: ${st.unknown ?? 0})`)
})

t.test('a backlog beyond what the lane holds is parked in Postgres and sent from there, in order', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim, { mps: 200 })
  const records = await acceptDirect(tdb.db, n.tenantId, Array.from({ length: 60 }, (_, i) => ({ ...templateTo(n.phoneNumberId, phone()), template: { name: `t_${i}`, language: { code: 'en' } } })))
  const h = harness(t, tdb, sim, { laneMinHeld: 5, laneHeldSeconds: 0.01, laneLoadSeconds: 0.01 })
  let maxHeld = 0
  const watch = setInterval(() => { const st = h.worker.stats(); maxHeld = Math.max(maxHeld, st.held - st.parking) }, 2)
  t.teardown(() => clearInterval(watch))
  const partition = new AbortController()
  const finished = await Promise.allSettled(records.map((request) => h.worker.handle({ request, signal: partition.signal, partition: 3 })))
  t.ok(finished.every((f) => f.status === 'fulfilled'), 'every record finished (parked ones at once)')
  const marker = await tdb.db.selectFrom('outbound_parked').select(['partition']).where('phone_number_id', '=', n.phoneNumberId).executeTakeFirst()
  t.same(marker, { partition: 3 }, 'the number is marked parked on its partition')
  await until(() => sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length === 60, 10_000, 'all sent')
  const names = sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.map((a) => (a.body as { template: { name: string } }).template.name)
  t.same(names, records.map((_, i) => `t_${i}`), 'in acceptance order')
  t.ok(maxHeld <= 20, `at most a few held in memory (${maxHeld}: 5 records, then reads of 10)`)
  await until(async () => (await tdb.db.selectFrom('outbound_parked').select('phone_number_id').execute()).length === 0, 5000, 'marker removed')
  t.same(await states(tdb), { sent: 60 })
})

t.test('a parked backlog is read in batches; the complete scan runs once, when the reads reach its end', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  // 20 MPS and slow answers: when the lane first reads (once it holds fewer than 5), the records
  // it holds are still `sending`, in the rows after its cursor.
  const n = await addNumber(tdb, sim, { mps: 20 })
  sim.control.setFaults({ phoneNumberId: n.phoneNumberId, latencyMs: 150 })
  const records = await acceptDirect(tdb.db, n.tenantId, Array.from({ length: 40 }, () => templateTo(n.phoneNumberId, phone())))
  const metrics = new Registry()
  const h = harness(t, tdb, sim, { laneMinHeld: 5, laneHeldSeconds: 0.01, laneLoadSeconds: 0.01, metrics })
  const partition = new AbortController()
  const finished = await Promise.allSettled(records.map((request) => h.worker.handle({ request, signal: partition.signal, partition: 2 })))
  t.ok(finished.every((f) => f.status === 'fulfilled'), 'every record finished')
  await until(async () => (await states(tdb)).sent === 40, 10_000, 'all sent')
  t.equal(sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length, 40, 'each message reached Meta once')
  const counts = Object.fromEntries((await metrics.getSingleMetric('coexist_outbound_db_statements_total')!.get()).values.map((v) => [v.labels.kind, v.value]))
  t.ok(counts.load >= 3, `batched reads (${counts.load})`)
  t.equal(counts.scan, 1, 'one complete scan, at the end')
})

t.test('a parked backlog read back while the lane finishes its held records: each request sent and published once', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  // 20 MPS: a held record waits 50 ms for its token, so the lane still holds some when it reads.
  const n = await addNumber(tdb, sim, { mps: 20 })
  const records = await acceptDirect(tdb.db, n.tenantId, Array.from({ length: 30 }, () => templateTo(n.phoneNumberId, phone())))
  // Reads of a parked backlog come back late: the rows they saw `accepted` include records the
  // lane held from Kafka, and those are sent and finished before the read returns.
  const slowLoads: Parameters<typeof tdb.db.withPlugin>[0] = {
    transformQuery: (args) => args.node,
    transformResult: async (args) => {
      const first = args.result.rows[0]
      if (first !== null && typeof first === 'object' && 'seq' in first) await new Promise((resolve) => setTimeout(resolve, 300))
      return args.result
    }
  }
  const metrics = new Registry()
  const h = harness(t, { ...tdb, db: tdb.db.withPlugin(slowLoads) }, sim, { laneMinHeld: 10, laneHeldSeconds: 0.01, laneLoadSeconds: 0.01, metrics })
  const partition = new AbortController()
  const finished = await Promise.allSettled(records.map((request) => h.worker.handle({ request, signal: partition.signal, partition: 1 })))
  t.ok(finished.every((f) => f.status === 'fulfilled'), 'every record finished')
  await until(async () => (await states(tdb)).sent === 30, 10_000, 'all sent')
  await new Promise((resolve) => setTimeout(resolve, 700)) // a late read's rows would be claimed and published by now
  t.equal(sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length, 30, 'each message reached Meta once')
  const ids = h.results.map((r) => r.requestId)
  t.equal(ids.length, 30, 'one result per request, none published again')
  t.equal(new Set(ids).size, 30)
  const counts = Object.fromEntries((await metrics.getSingleMetric('coexist_outbound_db_statements_total')!.get()).values.map((v) => [v.labels.kind, v.value]))
  t.equal(counts.unclaimed ?? 0, 0, 'no claim found its row taken')
})

t.test('records read after their rows were sent from a parked backlog: no second result from the same worker; another worker republishes', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim, { mps: 200 })
  const records = await acceptDirect(tdb.db, n.tenantId, Array.from({ length: 30 }, () => templateTo(n.phoneNumberId, phone())))
  const metrics = new Registry()
  // Remembers one finished id: the records fed again below are all forgotten, as records read
  // long after a large backlog was sent from Postgres are.
  const h = harness(t, tdb, sim, { laneMinHeld: 5, laneHeldSeconds: 0.01, laneLoadSeconds: 0.01, recentFinished: 1, metrics })
  const partition = new AbortController()
  const feed = async (): Promise<PromiseSettledResult<void>[]> => await Promise.allSettled(records.map((request) => h.worker.handle({ request, signal: partition.signal, partition: 2 })))
  t.ok((await feed()).every((f) => f.status === 'fulfilled'), 'every record finished (parked ones at once)')
  await until(async () => (await states(tdb)).sent === 30 && h.results.length === 30, 10_000, 'all sent and published')
  await until(async () => (await tdb.db.selectFrom('outbound_parked').select('phone_number_id').execute()).length === 0, 5000, 'unparked')

  t.ok((await feed()).every((f) => f.status === 'fulfilled'), 'the same records again: finished')
  const counts = Object.fromEntries((await metrics.getSingleMetric('coexist_outbound_db_statements_total')!.get()).values.map((v) => [v.labels.kind, v.value]))
  t.ok((counts.unclaimed ?? 0) > 0, `their claims found the rows taken (${counts.unclaimed ?? 0} lookups)`)
  t.equal(h.results.length, 30, 'no result published twice by the worker that recorded it')
  t.equal(sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length, 30, 'nothing sent twice')

  // Another worker (a replay after a crash or rebalance) cannot know the first one published.
  const other = harness(t, tdb, sim)
  t.ok((await other.feed(records)).every((f) => f.status === 'fulfilled'))
  t.equal(other.results.length, 30, 'another worker publishes each result again (consumers dedupe)')
  t.equal(sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length, 30, 'still nothing sent twice')
})

t.test('parked backlogs resume on the worker that owns their partition after a restart', async (t) => {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const n = await addNumber(tdb, sim, { mps: 20 })
  const records = await acceptDirect(tdb.db, n.tenantId, Array.from({ length: 40 }, () => templateTo(n.phoneNumberId, phone())))
  const first = harness(t, tdb, sim, { laneMinHeld: 5, laneHeldSeconds: 0.01, quietMs: 5000 })
  const partition = new AbortController()
  // The quiet period keeps the first worker from sending: it only parks, then dies.
  await Promise.race([Promise.allSettled(records.map((request) => first.worker.handle({ request, signal: partition.signal, partition: 7 }))), new Promise((resolve) => setTimeout(resolve, 500))])
  first.worker.kill()
  partition.abort()
  t.equal(sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length, 0)
  // No record is delivered again (their offsets were committed): only the marker brings them back.
  const second = harness(t, tdb, sim, { laneMinHeld: 5, laneHeldSeconds: 0.01 })
  await second.worker.setAssignment([1, 2])
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length, 0, 'not on a worker that does not own partition 7')
  await second.worker.setAssignment([1, 2, 7])
  // Five were held in memory by the dead worker: their records come back from Kafka.
  await second.feed(records.slice(0, 5))
  await until(() => sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted.length === 40, 10_000, 'all sent')
  const sent = sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted
  t.equal(new Set(sent.map((s) => s.to)).size, 40, 'none twice')
  await until(async () => (await tdb.db.selectFrom('outbound_parked').select('phone_number_id').execute()).length === 0, 5000, 'marker removed')
})

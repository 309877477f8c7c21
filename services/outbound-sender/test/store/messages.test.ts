import { randomUUID } from 'node:crypto'
import t from 'tap'
import { createTenant, sql, type DbExecutor } from '@coexist/db'
import {
  applyDeliveries, claimForSending, finishUnsent, insertAccepted, markNotAccepted, recordOutcomes, reviveNotAccepted,
  settleAbandoned, type NewMessageRow
} from '../../src/store/messages.ts'
import { loadAccepted, loadAcceptedAfter } from '../../src/store/parked.ts'
import { testDb, type TestDb } from '../helpers.ts'

const NUMBER = '620000000000001'
const WORKER = randomUUID()

function row (tenantId: string, idempotencyKey: string | null = null): NewMessageRow {
  return {
    id: randomUUID(),
    tenantId,
    phoneNumberId: NUMBER,
    recipient: '5511999990000',
    recipientType: 'phone',
    messageType: 'template',
    isTemplate: true,
    categoryHint: null,
    idempotencyKey,
    requestHash: Buffer.alloc(32, 1),
    body: { messaging_product: 'whatsapp', to: '5511999990000', type: 'template', template: { name: 'hello', language: { code: 'en' } } },
    acceptedAt: new Date()
  }
}

async function openIds (tdb: TestDb): Promise<string[]> {
  return (await tdb.db.selectFrom('outbound_open').select('id').orderBy('seq').execute()).map((r) => r.id)
}

/** Rows updated and HOT-updated in outbound_messages by the current transaction. */
async function xactUpdates (db: DbExecutor): Promise<{ updated: number, hot: number }> {
  const r = await sql<{ u: string, h: string }>`SELECT pg_stat_get_xact_tuples_updated('outbound_messages'::regclass) AS u,
    pg_stat_get_xact_tuples_hot_updated('outbound_messages'::regclass) AS h`.execute(db)
  return { updated: Number(r.rows[0]?.u), hot: Number(r.rows[0]?.h) }
}

t.test('the claim and the outcome are HOT updates; open requests and wamids follow them', async (t) => {
  const tdb = await testDb(t)
  const tenant = await createTenant(tdb.db, { name: 'hot' })
  const rows = [row(tenant.id, 'k-1'), row(tenant.id), row(tenant.id)]
  const [sent, failed, retried] = rows.map((r) => r.id) as [string, string, string]
  t.same(await insertAccepted(tdb.db, rows), new Set([sent, failed, retried]))
  t.same(await openIds(tdb), [sent, failed, retried], 'accepted requests are open, in acceptance order')

  const counts = await tdb.db.transaction().execute(async (trx) => {
    t.same(await claimForSending(trx, [sent, failed, retried]), new Map([[sent, 1], [failed, 1], [retried, 1]]))
    const applied = await recordOutcomes(trx, [
      { id: sent, attempt: 1, state: 'sent', wamid: 'wamid.HOT1' },
      { id: failed, attempt: 1, state: 'failed', errorCode: 'META_API_ERROR', errorMessage: 'no' },
      { id: retried, attempt: 1, state: 'accepted', errorCode: 'META_API_ERROR', errorMessage: 'later' }
    ], WORKER)
    t.same(applied, new Set([sent, failed, retried]))
    return await xactUpdates(trx)
  })
  t.same(counts, { updated: 6, hot: 6 }, 'no index entry written by the claim or the outcome')

  t.same(await openIds(tdb), [retried], 'finished requests leave outbound_open; a retry stays')
  t.same(await tdb.db.selectFrom('outbound_wamids').selectAll().execute(), [{ wamid: 'wamid.HOT1', message_id: sent }])
  const state = await tdb.db.selectFrom('outbound_messages').select(['id', 'state', 'wamid', 'attempts']).orderBy('seq').execute()
  t.same(state, [
    { id: sent, state: 'sent', wamid: 'wamid.HOT1', attempts: 1 },
    { id: failed, state: 'failed', wamid: null, attempts: 1 },
    { id: retried, state: 'accepted', wamid: null, attempts: 1 }
  ])

  t.equal(await applyDeliveries(tdb.db, [{ wamid: 'wamid.HOT1', status: 'delivered', at: new Date() }]), 1, 'a status finds its request by wamid')
  t.equal(await applyDeliveries(tdb.db, [{ wamid: 'wamid.OTHER', status: 'delivered', at: new Date() }]), 0)
  t.equal((await tdb.db.selectFrom('outbound_messages').select('delivery').where('id', '=', sent).executeTakeFirstOrThrow()).delivery, 'delivered')

  t.same((await loadAccepted(tdb.db, NUMBER, [], 10)).map((r) => r.request.requestId), [retried], 'a parked backlog reads back the open request')
  t.same((await loadAcceptedAfter(tdb.db, [{ phoneNumberId: NUMBER, afterSeq: 0, limit: 10 }]))[0]?.map((r) => r.request.requestId), [retried])

  // The retry's second attempt, left sending by a worker that stopped: read back, then settled unknown.
  t.same(await claimForSending(tdb.db, [retried]), new Map([[retried, 2]]))
  t.same((await loadAccepted(tdb.db, NUMBER, [], 10)).map((r) => r.request.requestId), [retried], 'a request left sending is read back')
  t.same((await loadAcceptedAfter(tdb.db, [{ phoneNumberId: NUMBER, afterSeq: 0, limit: 10 }]))[0]?.map((r) => r.request.requestId), [retried],
    'and by the batched read too: a lane\'s own sends in its window do not make the list short')
  t.equal(await settleAbandoned(tdb.db, retried, 2, 'unknown', 0), true)
  t.same(await openIds(tdb), [], 'settled unknown, it is no longer open')
  // A late answer still records it sent and files its wamid.
  t.same(await recordOutcomes(tdb.db, [{ id: retried, attempt: 2, state: 'sent', wamid: 'wamid.LATE' }], WORKER), new Set([retried]))
  t.equal(await applyDeliveries(tdb.db, [{ wamid: 'wamid.LATE', status: 'read', at: new Date() }]), 1)
})

t.test('requests leaving and re-entering the open states outside the worker: not acknowledged, revived, unsent', async (t) => {
  const tdb = await testDb(t)
  const tenant = await createTenant(tdb.db, { name: 'open' })
  const rows = [row(tenant.id, 'a'), row(tenant.id, 'b')]
  const [a, b] = rows.map((r) => r.id) as [string, string]
  await insertAccepted(tdb.db, rows)
  await markNotAccepted(tdb.db, [a])
  t.same(await openIds(tdb), [b], 'a request Kafka did not acknowledge is not open')
  t.same(await loadAccepted(tdb.db, NUMBER, [], 10).then((l) => l.map((r) => r.request.requestId)), [b])
  await reviveNotAccepted(tdb.db, [a])
  t.same(await openIds(tdb), [a, b], 'revived, it is open again')
  t.equal(await finishUnsent(tdb.db, b, 'dead_lettered', 'OUT_NUMBER_DISCONNECTED', 'gone'), true)
  t.equal(await finishUnsent(tdb.db, b, 'dead_lettered', 'OUT_NUMBER_DISCONNECTED', 'gone'), false, 'only once')
  t.same(await openIds(tdb), [a])
})

t.test('idempotency keys: a key conflicts within its tenant; requests without a key never do', async (t) => {
  const tdb = await testDb(t)
  const tenant = await createTenant(tdb.db, { name: 'keys' })
  const other = await createTenant(tdb.db, { name: 'keys 2' })
  const first = row(tenant.id, 'order-1')
  t.same(await insertAccepted(tdb.db, [first]), new Set([first.id]))
  const again = row(tenant.id, 'order-1')
  t.same(await insertAccepted(tdb.db, [again]), new Set(), 'the same key in the same tenant is skipped (ON CONFLICT on the partial index)')
  const elsewhere = row(other.id, 'order-1')
  const noKey = [row(tenant.id), row(tenant.id)]
  t.same(await insertAccepted(tdb.db, [elsewhere, ...noKey]), new Set([elsewhere.id, ...noKey.map((r) => r.id)]), 'another tenant, and no key twice')
  t.same(await openIds(tdb), [first.id, elsewhere.id, ...noKey.map((r) => r.id)], 'a skipped request is not open')
  const indexes = await sql<{ d: string }>`SELECT indexdef AS d FROM pg_indexes WHERE tablename = 'outbound_messages'`.execute(tdb.db)
  t.same(indexes.rows.filter((r) => /\b(state|wamid)\b/.test(r.d)), [], 'no index of outbound_messages covers state or wamid')
})

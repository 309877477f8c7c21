import t from 'tap'
import { fromBinary } from '@bufbuild/protobuf'
import { DomainEventSchema } from '@coexist/contracts'
import { parseChangeValue, type AccountUpdateValue } from '@coexist/meta'
import { accountUpdateWebhook } from '@coexist/meta/fixtures'
import { ingestAccountUpdate } from '../../src/ingest/account-update.ts'
import { touchAppActivity } from '../../src/ingest/live.ts'
import { checkAppActivity } from '../../src/workers/activity-monitor.ts'
import { seedNumber, testDb } from '../helpers.ts'

function value (event: string, o: Parameters<typeof accountUpdateWebhook>[1] = {}): AccountUpdateValue {
  const r = parseChangeValue('account_update', accountUpdateWebhook(event, o).entry[0]?.changes[0]?.value)
  if (!r.ok || r.field !== 'account_update') throw new Error('bad fixture')
  return r.value
}

t.test('lifecycle: removed disconnects with its reason, offboarded suspends until reconnected, older news changes nothing', async (t) => {
  const { db } = await testDb(t)
  const n = await seedNumber(db)
  const apply = async (event: string, time: number, o: Parameters<typeof accountUpdateWebhook>[1] = {}): Promise<number> =>
    await db.transaction().execute(async (tx) => await ingestAccountUpdate(tx, { wabaId: n.wabaId, entryTime: time, receivedAt: Date.now(), now: new Date() }, value(event, { wabaId: n.wabaId, time, ...o })))
  const status = async (): Promise<{ status: string, state: string | null, reason: string | null }> => await db.selectFrom('phone_numbers')
    .leftJoin('number_lifecycle', 'number_lifecycle.phone_number_id', 'phone_numbers.id')
    .select(['phone_numbers.status', 'number_lifecycle.state', 'number_lifecycle.reason']).where('phone_numbers.id', '=', n.phoneNumberId).executeTakeFirstOrThrow()

  t.equal(await apply('ACCOUNT_OFFBOARDED', 1000), 1)
  t.match(await status(), { status: 'suspended', state: 'offboarded' }, 'offboarded: sends stop')
  t.equal(await apply('ACCOUNT_OFFBOARDED', 1000), 0, 'a duplicate changes nothing')
  t.equal(await apply('ACCOUNT_RECONNECTED', 1100), 1)
  t.match(await status(), { status: 'active', state: 'connected' }, 'reconnected: sends resume')
  t.equal(await apply('ACCOUNT_OFFBOARDED', 1050), 0, 'an older OFFBOARDED after the RECONNECTED changes nothing')
  t.match(await status(), { status: 'active' })

  t.equal(await apply('PARTNER_REMOVED', 2000, { disconnectionInfo: { reason: 'PRIMARY_INACTIVITY', initiated_by: 'SYSTEM' } }), 1)
  t.match(await status(), { status: 'disconnected', state: 'disconnected', reason: 'PRIMARY_INACTIVITY' })
  t.equal(await apply('ACCOUNT_RECONNECTED', 2100), 0, 'RECONNECTED does not undo a removal')
  t.match(await status(), { status: 'disconnected' })

  const events = (await db.selectFrom('event_outbox').select(['event_type', 'payload']).orderBy('id').execute())
    .filter((e) => e.event_type === 'number_lifecycle_changed').map((e) => fromBinary(DomainEventSchema, e.payload))
  t.same(events.map((e) => e.event.case === 'numberLifecycleChanged' ? [e.event.value.metaEvent, e.event.value.toState, e.event.value.reason] : []),
    [['ACCOUNT_OFFBOARDED', 'offboarded', ''], ['ACCOUNT_RECONNECTED', 'connected', ''], ['PARTNER_REMOVED', 'disconnected', 'PRIMARY_INACTIVITY']])
  t.equal(events[0]?.phoneNumberId, n.phoneNumberId)
  t.equal(events[0]?.tenantId, n.tenantId)

  // A new Embedded Signup after the removal: PARTNER_ADDED reconnects and starts onboarding again.
  t.equal(await apply('PARTNER_ADDED', 3000), 1)
  t.match(await status(), { status: 'active', state: 'connected' })
  const ob = await db.selectFrom('onboardings').selectAll().where('phone_number_id', '=', n.phoneNumberId).execute()
  t.equal(ob.length, 1)
  t.equal(ob[0]?.source, 'account_update')
  t.same(ob[0]?.onboarded_at, new Date(3000_000), 'dated by the event')
})

t.test('app activity: a warning before the ~14-day limit, once per level, reset by activity', async (t) => {
  const { db } = await testDb(t)
  const n = await seedNumber(db)
  const day = 24 * 3600 * 1000
  const t0 = new Date('2026-03-01T00:00:00Z')
  await touchAppActivity(db, n, t0)
  t.equal(await checkAppActivity(db, new Date(t0.getTime() + 9 * day)), 0, 'day 9: fine')
  t.equal(await checkAppActivity(db, new Date(t0.getTime() + 10 * day)), 1, 'day 10: warning')
  t.equal(await checkAppActivity(db, new Date(t0.getTime() + 11 * day)), 0, 'once per level')
  t.equal(await checkAppActivity(db, new Date(t0.getTime() + 13 * day)), 1, 'day 13: critical')
  t.equal(await checkAppActivity(db, new Date(t0.getTime() + 13.5 * day)), 0)
  const warnings = (await db.selectFrom('event_outbox').select('payload').where('event_type', '=', 'app_activity_warning').orderBy('id').execute())
    .map((e) => fromBinary(DomainEventSchema, e.payload).event).map((e) => e.case === 'appActivityWarning' ? e.value : undefined)
  t.same(warnings.map((w) => [w?.level, w?.daysInactive]), [['warning', 10], ['critical', 13]])
  t.equal(warnings[1]?.disconnectExpectedAt, BigInt(t0.getTime() + 14 * day))
  await touchAppActivity(db, n, new Date(t0.getTime() + 13.6 * day))
  t.equal(await checkAppActivity(db, new Date(t0.getTime() + 14 * day)), 0, 'an echo resets the clock')
  t.equal(await checkAppActivity(db, new Date(t0.getTime() + 24 * day)), 1, 'and a new warning comes in time')
})

import t from 'tap'
import { randomBytes } from 'node:crypto'
import { createPhoneNumber, createTokenCipher } from '@coexist/db'
import { createGraphClient } from '@coexist/meta'
import { startSimulator } from '@coexist/meta-simulator'
import { startOnboarding } from '../../src/store/onboarding.ts'
import { runSyncRequests } from '../../src/workers/sync-requester.ts'
import { logger } from '../harness.ts'
import { testDb } from '../helpers.ts'

t.test('sync requests: contacts then history, retried with back-off inside the window, never twice', async (t) => {
  const { db } = await testDb(t, 8)
  const sim = await startSimulator({ port: 0 })
  t.teardown(() => sim.close())
  const graph = createGraphClient({ baseUrl: sim.graphUrl, version: sim.graphVersion, timeoutMs: 5000 })
  t.teardown(() => graph.close())
  const cipher = createTokenCipher({ current: randomBytes(32) })
  const tenant = await db.insertInto('tenants').values({ name: 'T' }).returning('id').executeTakeFirstOrThrow()
  await db.insertInto('wabas').values({ id: '310000000000601', tenant_id: tenant.id }).execute()
  await createPhoneNumber(db, cipher, { id: '620000000000601', tenantId: tenant.id, wabaId: '310000000000601', displayPhoneNumber: '5511999990601', mode: 'coexistence', accessToken: 'sim-token-620000000000601' })
  sim.control.configureNumber({ phoneNumberId: '620000000000601', wabaId: '310000000000601', displayPhoneNumber: '5511999990601', mode: 'coexistence' })
  sim.control.setFaults({ phoneNumberId: '620000000000601', failNext: { count: 2, code: 131000 } })

  let now = new Date()
  const clock = (): Date => now
  await startOnboarding(db, { subject: { tenantId: tenant.id, phoneNumberId: '620000000000601', wabaId: '310000000000601' }, displayPhoneNumber: '5511999990601', onboardedAt: now, source: 'api', now })
  const deps = { db, graph, cipher, logger, clock, random: () => 0.5 }

  const r1 = await runSyncRequests(deps)
  t.same(r1, { accepted: 0, retried: 1, failed: 0, expired: 0 }, 'a 5xx is retried later; history waits for contacts')
  const r1b = await runSyncRequests(deps)
  t.equal(r1b.retried + r1b.accepted, 0, 'not before its back-off')
  now = new Date(now.getTime() + 2_000)
  t.same(await runSyncRequests(deps), { accepted: 0, retried: 1, failed: 0, expired: 0 })
  now = new Date(now.getTime() + 4_000)
  // Several workers at once: the lease lets only one of them call.
  const rounds = await Promise.all([runSyncRequests(deps), runSyncRequests(deps), runSyncRequests(deps)])
  t.ok(rounds.reduce((a, r) => a + r.accepted, 0) >= 1, 'contacts accepted (and maybe history, by a round that started later)')
  t.equal(sim.control.syncRequests().filter((c) => c.syncType === 'smb_app_state_sync' && c.code === undefined).length, 1, 'contacts sent once by the three workers')
  for (let i = 0; i < 3; i++) await Promise.all([runSyncRequests(deps), runSyncRequests(deps)])
  const calls = sim.control.syncRequests()
  t.same(calls.filter((c) => c.code === undefined).map((c) => c.syncType), ['smb_app_state_sync', 'history'], 'each sync type accepted once, contacts first')
  const rows = await db.selectFrom('sync_requests').select(['sync_type', 'state', 'attempts', 'request_id']).orderBy('sync_type', 'desc').execute()
  t.match(rows, [{ sync_type: 'smb_app_state_sync', state: 'accepted', attempts: 3 }, { sync_type: 'history', state: 'accepted', attempts: 1 }])
  t.ok(rows.every((r) => r.request_id !== null), "Meta's request_id is kept")
  const ob = await db.selectFrom('onboardings').select(['state', 'reason']).executeTakeFirstOrThrow()
  t.equal(ob.state, 'history_sync_requested')
})

t.test('a call whose answer was lost is not repeated once the sync\'s webhooks have arrived', async (t) => {
  const { db } = await testDb(t, 4)
  const sim = await startSimulator({ port: 0 })
  t.teardown(() => sim.close())
  const graph = createGraphClient({ baseUrl: sim.graphUrl, version: sim.graphVersion, timeoutMs: 5000 })
  t.teardown(() => graph.close())
  const cipher = createTokenCipher({ current: randomBytes(32) })
  const tenant = await db.insertInto('tenants').values({ name: 'T' }).returning('id').executeTakeFirstOrThrow()
  await db.insertInto('wabas').values({ id: '310000000000602', tenant_id: tenant.id }).execute()
  await createPhoneNumber(db, cipher, { id: '620000000000602', tenantId: tenant.id, wabaId: '310000000000602', displayPhoneNumber: '5511999990602', mode: 'coexistence', accessToken: 'sim-token-620000000000602' })
  sim.control.configureNumber({ phoneNumberId: '620000000000602', wabaId: '310000000000602', displayPhoneNumber: '5511999990602', mode: 'coexistence' })
  sim.control.setFaults({ phoneNumberId: '620000000000602', resetNext: 1 })
  let now = new Date()
  const deps = { db, graph, cipher, logger, clock: () => now, random: () => 0.5 }
  const ob = await startOnboarding(db, { subject: { tenantId: tenant.id, phoneNumberId: '620000000000602', wabaId: '310000000000602' }, displayPhoneNumber: '5511999990602', onboardedAt: now, source: 'api', now })
  t.same(await runSyncRequests(deps), { accepted: 0, retried: 1, failed: 0, expired: 0 }, 'the connection died: outcome unknown, retry later')
  // The contacts sync's webhooks arrive (as they would if Meta had taken the call).
  await db.insertInto('contacts').values({ tenant_id: tenant.id, phone_number_id: '620000000000602', wa_id: '5511900000009', in_address_book: true, address_book_at: now }).execute()
  now = new Date(now.getTime() + 10_000)
  const contactCalls = (): number => sim.control.syncRequests().filter((s) => s.syncType === 'smb_app_state_sync').length
  const before = contactCalls()
  t.same(await runSyncRequests(deps), { accepted: 2, retried: 0, failed: 0, expired: 0 }, 'contacts recorded as accepted without a call, then history requested in the same round')
  t.equal(contactCalls(), before, 'no repeat of the contacts call')
  t.same(await runSyncRequests(deps), { accepted: 0, retried: 0, failed: 0, expired: 0 }, 'nothing left')
  t.same(sim.control.syncRequests().filter((s) => s.syncType === 'history' && s.code === undefined).length, 1)
  const row = await db.selectFrom('sync_requests').select(['state', 'last_error']).where('onboarding_id', '=', ob.id).where('sync_type', '=', 'smb_app_state_sync').executeTakeFirstOrThrow()
  t.equal(row.state, 'accepted')
  t.match(row.last_error, /answer was lost/)
})

t.test('a call slower than expected is never repeated by another worker, and a claim waits for its own call', async (t) => {
  const { db } = await testDb(t, 4)
  const sim = await startSimulator({ port: 0 })
  t.teardown(() => sim.close())
  const raw = createGraphClient({ baseUrl: sim.graphUrl, version: sim.graphVersion, timeoutMs: 5000 })
  t.teardown(() => raw.close())
  const cipher = createTokenCipher({ current: randomBytes(32) })
  const tenant = await db.insertInto('tenants').values({ name: 'T' }).returning('id').executeTakeFirstOrThrow()
  let now = new Date()
  const clock = (): Date => now
  const ids = ['620000000000611', '620000000000612', '620000000000613']
  for (const [i, id] of ids.entries()) {
    const waba = `31000000000061${i + 1}`
    await db.insertInto('wabas').values({ id: waba, tenant_id: tenant.id }).execute()
    await createPhoneNumber(db, cipher, { id, tenantId: tenant.id, wabaId: waba, displayPhoneNumber: `551199999061${i + 1}`, mode: 'coexistence', accessToken: `sim-token-${id}` })
    sim.control.configureNumber({ phoneNumberId: id, wabaId: waba, displayPhoneNumber: `551199999061${i + 1}`, mode: 'coexistence' })
    await startOnboarding(db, { subject: { tenantId: tenant.id, phoneNumberId: id, wabaId: waba }, displayPhoneNumber: `551199999061${i + 1}`, onboardedAt: now, source: 'api', now })
  }
  const leaseMs = 60_000
  // Worker A's calls each take 3/4 of the lease (the machine is slow); during each, worker B
  // runs a round of its own. Every request is due: a batch claimed at once would outlive its
  // lease while it waits its turn, and B would take it over and call it too.
  let inA = 0
  const slow = {
    async requestAppDataSync (...args: Parameters<typeof raw.requestAppDataSync>) {
      const r = await raw.requestAppDataSync(...args)
      now = new Date(now.getTime() + leaseMs * 0.75)
      inA++
      await runSyncRequests({ db, graph: raw, cipher, logger, clock, leaseMs })
      return r
    }
  }
  const a = await runSyncRequests({ db, graph: slow, cipher, logger, clock, leaseMs })
  t.ok(inA >= 1, 'worker A made calls')
  t.equal(a.accepted, inA, 'every call of A recorded as accepted')
  // Another round picks up whatever A did not reach (history after contacts); still no repeats.
  await runSyncRequests({ db, graph: raw, cipher, logger, clock, leaseMs })
  const calls = sim.control.syncRequests()
  for (const id of ids) {
    t.same(calls.filter((c) => c.phoneNumberId === id).map((c) => [c.syncType, c.code]), [['smb_app_state_sync', undefined], ['history', undefined]], `${id}: each sync type sent once`)
  }
  const rows = await db.selectFrom('sync_requests').select(['state']).execute()
  t.ok(rows.every((r) => r.state === 'accepted'), 'all accepted')
})

t.test('Meta\'s 2593108 on contacts closes history too, without a call; a request that failed for good does the same', async (t) => {
  const { db } = await testDb(t, 4)
  const sim = await startSimulator({ port: 0 })
  t.teardown(() => sim.close())
  const graph = createGraphClient({ baseUrl: sim.graphUrl, version: sim.graphVersion, timeoutMs: 5000 })
  t.teardown(() => graph.close())
  const cipher = createTokenCipher({ current: randomBytes(32) })
  const tenant = await db.insertInto('tenants').values({ name: 'T' }).returning('id').executeTakeFirstOrThrow()
  const now = new Date()
  const deps = { db, graph, cipher, logger, clock: () => now, random: () => 0.5 }
  await db.insertInto('wabas').values({ id: '310000000000621', tenant_id: tenant.id }).execute()
  // Meta knows the number was onboarded 25 h ago; our record says 1 h.
  await createPhoneNumber(db, cipher, { id: '620000000000621', tenantId: tenant.id, wabaId: '310000000000621', displayPhoneNumber: '5511999990621', mode: 'coexistence', accessToken: 'sim-token-620000000000621' })
  sim.control.configureNumber({ phoneNumberId: '620000000000621', wabaId: '310000000000621', displayPhoneNumber: '5511999990621', mode: 'coexistence', onboardedAt: now.getTime() - 25 * 3600_000 })
  const late = await startOnboarding(db, { subject: { tenantId: tenant.id, phoneNumberId: '620000000000621', wabaId: '310000000000621' }, displayPhoneNumber: '5511999990621', onboardedAt: new Date(now.getTime() - 3600_000), source: 'api', now })
  // No token stored: the contacts request fails for good.
  await db.insertInto('wabas').values({ id: '310000000000622', tenant_id: tenant.id }).execute()
  await createPhoneNumber(db, cipher, { id: '620000000000622', tenantId: tenant.id, wabaId: '310000000000622', displayPhoneNumber: '5511999990622', mode: 'coexistence', accessToken: 'sim-token-620000000000622' })
  const failed = await startOnboarding(db, { subject: { tenantId: tenant.id, phoneNumberId: '620000000000622', wabaId: '310000000000622' }, displayPhoneNumber: '5511999990622', onboardedAt: now, source: 'api', now })
  await db.updateTable('phone_numbers').set({ access_token_enc: null, token_key_id: null }).where('id', '=', '620000000000622').execute()

  t.same(await runSyncRequests(deps), { accepted: 0, retried: 0, failed: 1, expired: 1 })
  for (let i = 0; i < 3; i++) t.same(await runSyncRequests(deps), { accepted: 0, retried: 0, failed: 0, expired: 0 }, 'nothing more to do')
  t.same(sim.control.syncRequests().map((c) => [c.phoneNumberId, c.syncType, c.code]), [['620000000000621', 'smb_app_state_sync', 2593108]], 'one refused call, nothing else sent')
  const rows = async (id: string): Promise<Array<{ sync_type: string, state: string, last_error: string | null }>> =>
    await db.selectFrom('sync_requests').select(['sync_type', 'state', 'last_error']).where('onboarding_id', '=', id).orderBy('sync_type', 'desc').execute()
  t.match(await rows(late.id), [{ sync_type: 'smb_app_state_sync', state: 'expired' }, { sync_type: 'history', state: 'expired', last_error: /not sent.*2593108/ }])
  t.match(await rows(failed.id), [{ sync_type: 'smb_app_state_sync', state: 'failed' }, { sync_type: 'history', state: 'failed', last_error: /not sent.*contacts sync request failed/ }])
  const states = await db.selectFrom('onboardings').select(['id', 'state']).execute()
  t.equal(states.find((o) => o.id === late.id)?.state, 'expired')
  t.equal(states.find((o) => o.id === failed.id)?.state, 'failed')
})

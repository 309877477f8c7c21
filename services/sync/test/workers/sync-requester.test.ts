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
  t.equal((await runSyncRequests(deps)).accepted, 1, 'contacts recorded as accepted without a call')
  t.equal(contactCalls(), before, 'no repeat of the contacts call')
  t.equal((await runSyncRequests(deps)).accepted, 1, 'then history is requested')
  t.same(sim.control.syncRequests().filter((s) => s.syncType === 'history' && s.code === undefined).length, 1)
  const row = await db.selectFrom('sync_requests').select(['state', 'last_error']).where('onboarding_id', '=', ob.id).where('sync_type', '=', 'smb_app_state_sync').executeTakeFirstOrThrow()
  t.equal(row.state, 'accepted')
  t.match(row.last_error, /answer was lost/)
})

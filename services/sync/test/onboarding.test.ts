import t from 'tap'
import { sql } from '@coexist/db'
import { runSyncRequests } from '../src/workers/sync-requester.ts'
import { ADMIN_KEY, bearer, logger, syncEnv, until, type SyncEnv } from './harness.ts'

const DAY = 24 * 3600 * 1000

async function tenantWithKey (env: SyncEnv): Promise<string> {
  const tn = (await env.app.inject({ method: 'POST', url: '/v1/tenants', headers: bearer(ADMIN_KEY), payload: { name: 'Loja' } })).json()
  return (await env.app.inject({ method: 'POST', url: `/v1/tenants/${tn.id as string}/api-keys`, headers: bearer(ADMIN_KEY), payload: { name: 'k', roles: ['manage', 'read'] } })).json().key
}

async function register (env: SyncEnv, key: string, id: string, waba: string, display: string, onboardedAt?: Date): Promise<void> {
  await env.app.inject({ method: 'POST', url: '/v1/wabas', headers: bearer(key), payload: { id: waba } })
  const r = await env.app.inject({
    method: 'POST',
    url: '/v1/numbers',
    headers: bearer(key),
    payload: { id, waba_id: waba, display_phone_number: display, mode: 'coexistence', access_token: `sim-token-${id}`, ...(onboardedAt !== undefined ? { onboarded_at: onboardedAt.toISOString() } : {}) }
  })
  if (r.statusCode !== 201) throw new Error(r.body)
}

t.test('a full coexistence onboarding with 6 months of history across many threads ends complete with exact counts', async (t) => {
  const env = await syncEnv(t, { partitions: 3 })
  const key = await tenantWithKey(env)
  const id = '620000000000301'
  const onboardedAt = Date.now()
  env.sim.control.configureNumber({
    phoneNumberId: id,
    wabaId: '310000000000301',
    displayPhoneNumber: '5511999990301',
    mode: 'coexistence',
    onboardedAt,
    sync: { contacts: { count: 40, chunkSize: 15 }, history: { messages: 3000, threads: 120, days: 180, chunkSize: 150, mediaRatio: 0.1, order: 'shuffled', concurrency: 8 } }
  })
  env.sim.control.setWebhookTarget({ url: env.ingressUrl, appSecret: 'sim-secret' })
  await register(env, key, id, '310000000000301', '5511999990301', new Date(onboardedAt))

  const view = await until(async () => {
    const v = (await env.app.inject({ method: 'GET', url: `/v1/numbers/${id}/sync`, headers: bearer(key) })).json()
    return v.state === 'complete' && v.counts.history_messages === 3000 && v.counts.contacts === 40 && v.counts.media_filled > 0 && env.sim.control.syncRequests().every((s) => s.done) ? v : undefined
  }, 40_000, 'onboarding complete')
  await env.sim.control.whenIdle()
  await until(async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM messages WHERE phone_number_id = ${id} AND media_pending AND sent_at > ${new Date(onboardedAt - 14 * DAY)}`.execute(env.db)).rows[0]?.n === 0, 30_000, 'recent media filled')

  t.equal(view.progress_percent, 100)
  t.equal(view.counts.history_threads, 120, 'every thread imported')
  t.ok(view.counts.history_chunks >= 20, 'many chunks')
  t.same(view.requests.map((r: { state: string }) => r.state), ['accepted', 'accepted'])
  const requests = env.sim.control.syncRequests()
  t.equal(requests.length, 2, 'one smb_app_data call per sync type')
  t.same(requests.map((r) => [r.syncType, r.code]).sort(), [['history', undefined], ['smb_app_state_sync', undefined]])

  const counts = (await sql<{ messages: number, conversations: number, windows: number, old_pending: number, recent_pending: number }>`
    SELECT (SELECT count(*)::int FROM messages WHERE phone_number_id = ${id} AND source = 'history') AS messages,
      (SELECT count(*)::int FROM conversations WHERE phone_number_id = ${id}) AS conversations,
      (SELECT count(*)::int FROM conversations WHERE phone_number_id = ${id} AND last_inbound_at IS NOT NULL) AS windows,
      (SELECT count(*)::int FROM messages WHERE phone_number_id = ${id} AND media_pending AND sent_at <= ${new Date(onboardedAt - 14 * DAY)}) AS old_pending,
      (SELECT count(*)::int FROM messages WHERE phone_number_id = ${id} AND media_pending AND sent_at > ${new Date(onboardedAt - 14 * DAY)}) AS recent_pending`.execute(env.db)).rows[0]
  t.equal(counts?.messages, 3000, 'exactly the history sent')
  t.equal(counts?.conversations, 120)
  t.equal(counts?.windows, 0, 'history never opens a customer service window')
  t.equal(counts?.recent_pending, 0, 'placeholders of the last 14 days got their media')
  t.ok((counts?.old_pending ?? 0) > 0, 'older placeholders are kept')

  // The guard: more rounds never send again.
  env.runtime?.kickSync()
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(env.sim.control.syncRequests().length, 2, 'no repeat request')

  await env.runtime?.relay.drain()
  const outbox = await sql<{ n: number }>`SELECT count(*)::int AS n FROM event_outbox`.execute(env.db)
  t.equal(outbox.rows[0]?.n, 0, 'the outbox drained to wa.events.v1')
  const states = (await env.readEvents(10, 20_000)).filter((e) => e.event.case === 'onboardingStateChanged').map((e) => (e.event.value as { toState: string }).toState)
  t.ok(states.length >= 1)
})

t.test('after the 24-hour window the sync request is recorded as expired with a clear reason; Meta\'s own 2593108 too', async (t) => {
  const env = await syncEnv(t)
  const key = await tenantWithKey(env)
  // Our record says onboarding was 25 h ago: no call is made at all.
  env.sim.control.configureNumber({ phoneNumberId: '620000000000401', wabaId: '310000000000401', displayPhoneNumber: '5511999990401', mode: 'coexistence', onboardedAt: Date.now() - 25 * 3600_000 })
  await register(env, key, '620000000000401', '310000000000401', '5511999990401', new Date(Date.now() - 25 * 3600_000))
  // Our record says 1 h ago, Meta knows better (25 h): Meta answers 2593108.
  env.sim.control.configureNumber({ phoneNumberId: '620000000000402', wabaId: '310000000000402', displayPhoneNumber: '5511999990402', mode: 'coexistence', onboardedAt: Date.now() - 25 * 3600_000 })
  await register(env, key, '620000000000402', '310000000000402', '5511999990402', new Date(Date.now() - 3600_000))

  const late = await until(async () => {
    const v = (await env.app.inject({ method: 'GET', url: '/v1/numbers/620000000000401/sync', headers: bearer(key) })).json()
    return v.state === 'expired' ? v : undefined
  }, 10_000, 'expired by deadline')
  t.match(late.reason, /24-hour window closed/)
  t.equal(late.window_open, false)
  t.same(late.requests.map((r: { state: string }) => r.state), ['expired', 'expired'])
  t.notOk(env.sim.control.syncRequests().some((r) => r.phoneNumberId === '620000000000401'), 'no call after the deadline')

  const refused = await until(async () => {
    const v = (await env.app.inject({ method: 'GET', url: '/v1/numbers/620000000000402/sync', headers: bearer(key) })).json()
    return v.state === 'expired' ? v : undefined
  }, 10_000, 'expired by Meta')
  t.match(refused.reason, /2593108/)
  t.equal(refused.requests[0].last_error_code, 2593108)
  // Meta refuses every later smb_app_data call for this onboarding: history is closed with the
  // contacts answer, in the same write, and never sent.
  t.same(refused.requests.map((r: { sync_type: string, state: string }) => [r.sync_type, r.state]), [['smb_app_state_sync', 'expired'], ['history', 'expired']])
  t.match(refused.requests[1].last_error, /not sent.*2593108/)
  // More rounds (the runtime's loop, and another worker's) send nothing more.
  for (let i = 0; i < 3; i++) await runSyncRequests({ db: env.db, graph: env.graph, cipher: env.cipher, logger, clock: () => new Date() })
  t.equal(env.sim.control.syncRequests().filter((r) => r.phoneNumberId === '620000000000402').length, 1, 'one refused call, no retry')
})

t.test('a business that declines history sharing ends declined (2593109)', async (t) => {
  const env = await syncEnv(t)
  const key = await tenantWithKey(env)
  env.sim.control.configureNumber({ phoneNumberId: '620000000000501', wabaId: '310000000000501', displayPhoneNumber: '5511999990501', mode: 'coexistence', sync: { contacts: { count: 3 }, history: { declined: true } } })
  env.sim.control.setWebhookTarget({ url: env.ingressUrl, appSecret: 'sim-secret' })
  await register(env, key, '620000000000501', '310000000000501', '5511999990501')
  const v = await until(async () => {
    const r = (await env.app.inject({ method: 'GET', url: '/v1/numbers/620000000000501/sync', headers: bearer(key) })).json()
    return r.state === 'declined' ? r : undefined
  }, 15_000, 'declined')
  t.equal(v.history_error_code, 2593109)
  t.match(v.reason, /turned history sharing off/)
})

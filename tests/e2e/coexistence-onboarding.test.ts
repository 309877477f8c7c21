/**
 * Coexistence onboarding through the whole stack: a number registered as coexistence through
 * sync's API, sync asks Meta (the simulator) for the app's contacts and 6-month history
 * (smb_app_data), Meta answers with smb_app_state_sync and history webhooks to ingress, which
 * fans them out to Kafka, and sync imports them until GET /v1/numbers/:id/sync says complete.
 */
import t from 'tap'
import { ok, registerTenant, startStack, until } from './stack.ts'

const PN = '620000000000301'
const WABA = '310000000000301'
const CONTACTS = 12
const MESSAGES = 400
const THREADS = 15

t.test('a coexistence number onboards: contacts and history arrive as webhooks and the sync completes with exact counts', { timeout: 90_000 }, async (t) => {
  const stack = await startStack(t)
  const sim = stack.sim.control
  sim.configureNumber({
    phoneNumberId: PN,
    wabaId: WABA,
    displayPhoneNumber: '5511999990301',
    mode: 'coexistence',
    sync: { contacts: { count: CONTACTS, chunkSize: 5 }, history: { messages: MESSAGES, threads: THREADS, days: 180, chunkSize: 40, mediaRatio: 0, order: 'shuffled', concurrency: 4 } }
  })
  const tenant = await registerTenant(stack, { wabaId: WABA, numbers: [{ id: PN, display: '+55 11 99999-0301', mode: 'coexistence' }] })

  const sync = stack.sync.url
  const view = await until('the onboarding complete', async () => {
    const v = await ok(200, sync, 'GET', `/v1/numbers/${PN}/sync`, tenant.key)
    return v.state === 'complete' && v.counts.history_messages === MESSAGES && v.counts.contacts === CONTACTS ? v : undefined
  }, 45_000)
  t.match(view, { state: 'complete', phase: 'done', progress_percent: 100, window_open: true, history_error_code: null })
  t.equal(view.counts.history_threads, THREADS, 'every thread imported')
  t.ok(view.counts.history_chunks >= MESSAGES / 40, 'many history chunks')
  t.same(view.requests.map((r: { sync_type: string, state: string }) => [r.sync_type, r.state]).sort(), [['history', 'accepted'], ['smb_app_state_sync', 'accepted']])
  t.type(view.completed_at, 'string')

  // Meta was asked exactly once per sync type, and every one of its webhooks went through ingress.
  await sim.whenIdle()
  const requests = sim.syncRequests()
  t.same(requests.map((r) => [r.syncType, r.code]).sort(), [['history', undefined], ['smb_app_state_sync', undefined]], 'one smb_app_data call per sync type')
  t.ok(requests.every((r) => r.done))
  t.ok(sim.deliveries().every((d) => d.delivered), 'ingress accepted every webhook')

  // The imported history is readable: one conversation per thread, history messages never open a window.
  const conversations = (await ok(200, sync, 'GET', `/v1/conversations?phone_number_id=${PN}&limit=100`, tenant.key)).data
  t.equal(conversations.length, THREADS)
  t.equal(conversations.reduce((n: number, c: { message_count: number }) => n + c.message_count, 0), MESSAGES, 'every history message in a conversation')
  t.ok(conversations.every((c: { service_window_open: boolean }) => !c.service_window_open), 'history opens no service window')
  const sample = (await ok(200, sync, 'GET', `/v1/conversations/${conversations[0].id as string}/messages?limit=100`, tenant.key)).data
  t.ok(sample.length > 0 && sample.every((m: { source: string }) => m.source === 'history'))
  t.ok(sample.some((m: { direction: string }) => m.direction === 'inbound') && sample.some((m: { direction: string }) => m.direction === 'outbound'), 'both directions of the thread')

  const number = await ok(200, sync, 'GET', `/v1/numbers/${PN}`, tenant.key)
  t.match(number, { mode: 'coexistence', throughput_mps: 20, onboarding: { state: 'complete' } })
  t.same(stack.fatal, [])
})

import t from 'tap'
import { graph, PNID, signatureOk, startReceiver, startSim, TOKEN } from '../helpers.ts'

const HOUR = 3_600_000
const sync = (url: string, syncType: string) =>
  graph(url, 'POST', `/v24.0/${PNID}/smb_app_data`, { token: TOKEN, body: { messaging_product: 'whatsapp', sync_type: syncType } })

t.test('accepted once per sync type within 24 h; a repeat is 2593107; after 24 h 2593108', async (t) => {
  const { sim, clock } = await startSim(t, { number: { mode: 'coexistence' } })
  const first = await sync(sim.graphUrl, 'smb_app_state_sync')
  t.equal(first.status, 200)
  t.same(Object.keys(first.body), ['messaging_product', 'request_id'])
  t.match(first.body, { messaging_product: 'whatsapp', request_id: /^\d+$/ })
  const again = await sync(sim.graphUrl, 'smb_app_state_sync')
  t.equal(again.status, 400)
  t.match(again.body.error, { code: 2593107, message: '(#2593107) Synchronization Request limit exceeded' })

  clock!.advance(24 * HOUR - 1)
  t.equal((await sync(sim.graphUrl, 'history')).status, 200, 'history is its own sync type, still inside 24 h')
  t.equal((await sync(sim.graphUrl, 'history')).body.error.code, 2593107)

  const late = await startSim(t, { number: { mode: 'coexistence' } })
  late.clock!.advance(24 * HOUR + 1)
  const r = await sync(late.sim.graphUrl, 'history')
  t.equal(r.status, 400)
  t.match(r.body.error, { code: 2593108, message: '(#2593108) Synchronization Request made outside of allowed time window' })
  t.same(late.sim.control.syncRequests().map((s) => s.code), [2593108])
})

t.test('onboardedAt from config; bad bodies and non-coexistence numbers get 100', async (t) => {
  const { sim, clock } = await startSim(t, { number: { mode: 'coexistence' } })
  sim.control.configureNumber({ ...sim.control.getNumber(PNID)!, onboardedAt: clock!.now() - 25 * HOUR })
  t.equal((await sync(sim.graphUrl, 'history')).body.error.code, 2593108)
  // Re-onboarding (a new onboardedAt) makes the syncs available again.
  sim.control.configureNumber({ ...sim.control.getNumber(PNID)!, onboardedAt: clock!.now() })
  t.equal((await sync(sim.graphUrl, 'history')).status, 200)
  t.equal((await sync(sim.graphUrl, 'everything')).body.error.code, 100)
  t.equal((await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/smb_app_data`, { token: TOKEN, body: { sync_type: 'history' } })).body.error.code, 100)
  const cloud = await startSim(t)
  t.equal((await sync(cloud.sim.graphUrl, 'history')).body.error.code, 100)
})

t.test('history: phased chunks out of order, progress reaching 100, signed; media follows', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t, {
    receiver: r,
    secret: 'history-secret',
    number: { mode: 'coexistence', sync: { history: { messages: 300, threads: 12, chunkSize: 25, mediaRatio: 0.2, phaseWeights: [0.2, 0.4, 0.4], seed: 5 } } }
  })
  t.equal((await sync(sim.graphUrl, 'history')).status, 200)
  await sim.control.whenIdle()
  t.ok(r.received.every((w) => signatureOk(w, 'history-secret')), 'every POST verifies with the app secret')
  t.ok(r.received.every((w) => w.json.entry[0].changes[0].field === 'history'))
  const chunks = r.received.map((w) => w.json.entry[0].changes[0].value).filter((v) => v.history !== undefined).map((v) => v.history[0])
  const media = r.received.map((w) => w.json.entry[0].changes[0].value).filter((v) => v.history === undefined)

  const total = chunks.reduce((s, c) => s + c.threads.reduce((x: number, th: any) => x + th.messages.length, 0), 0)
  t.equal(total, 300, 'every message delivered once')
  t.same([...new Set(chunks.map((c) => c.metadata.phase))].sort(), [0, 1, 2])
  t.equal(Math.max(...chunks.map((c) => c.metadata.progress)), 100)
  t.equal(chunks.filter((c) => c.metadata.progress === 100).length, 1)
  const canonical = [...chunks].sort((a, b) => a.metadata.phase - b.metadata.phase || a.metadata.chunk_order - b.metadata.chunk_order)
  t.notSame(chunks.map((c) => c.metadata), canonical.map((c) => c.metadata), 'delivered out of order')
  const progress = canonical.map((c) => c.metadata.progress)
  t.same(progress, [...progress].sort((a, b) => a - b), 'progress grows along chunk order')
  for (const phase of [0, 1, 2]) {
    const orders = canonical.filter((c) => c.metadata.phase === phase).map((c) => c.metadata.chunk_order)
    t.same(orders, orders.map((_, i) => i + 1), `phase ${phase}: chunk_order 1..n`)
  }
  const threadIds = new Set(chunks.flatMap((c) => c.threads.map((th: any) => th.id)))
  t.equal(threadIds.size, 12, 'M threads')

  const onboardedAt = sim.control.getNumber(PNID)!.onboardedAt
  const messages = chunks.flatMap((c) => c.threads.flatMap((th: any) => th.messages.map((m: any) => ({ ...m, phase: c.metadata.phase }))))
  const ageDays = (m: any): number => (onboardedAt / 1000 - Number(m.timestamp)) / 86400
  t.ok(messages.every((m) => ageDays(m) >= 0 && ageDays(m) <= 180), 'within 180 days')
  t.ok(messages.filter((m) => m.phase === 0).every((m) => ageDays(m) <= 1))
  t.ok(messages.filter((m) => m.phase === 2).every((m) => ageDays(m) >= 90))
  t.ok(messages.every((m) => /^(DELIVERED|ERROR|PENDING|PLAYED|READ|SENT)$/.test(m.history_context.status)))
  t.ok(messages.filter((m) => m.to !== undefined).every((m) => m.from === '5511999990000'), 'to only on business-sent items')
  const placeholders = messages.filter((m) => m.type === 'media_placeholder')
  t.ok(placeholders.length > 0)

  const mediaItems = media.flatMap((v) => [...(v.messages ?? []), ...(v.message_echoes ?? [])])
  const recent = placeholders.filter((m) => ageDays(m) <= 14)
  t.same(mediaItems.map((m) => m.id).sort(), recent.map((m) => m.id).sort(), 'media webhook for the last 14 days only, matched by wamid')
  t.ok(r.received.findIndex((w) => w.json.entry[0].changes[0].value.history === undefined) >= chunks.length, 'media after the chunks')
  const one = mediaItems[0]
  const mediaObj = one[one.type]
  const info = await graph(sim.graphUrl, 'GET', `/v24.0/${mediaObj.id}`, { token: TOKEN })
  t.equal(info.status, 200)
  t.equal(info.body.sha256, mediaObj.sha256)
  t.same(sim.control.sends().inbound, [], 'history does not count as inbound traffic and opens no window')
})

t.test('history declined: one webhook with error 2593109', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t, { receiver: r, number: { mode: 'coexistence', sync: { history: { declined: true } } } })
  t.equal((await sync(sim.graphUrl, 'history')).status, 200, 'the request itself is accepted')
  await sim.control.whenIdle()
  t.equal(r.received.length, 1)
  t.match(r.received[0]!.json.entry[0].changes[0].value.history[0].errors[0], {
    code: 2593109, title: 'History sync is turned off by the business from the WhatsApp Business App'
  })
})

t.test('contacts sync emits smb_app_state_sync in chunks', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t, { receiver: r, number: { mode: 'coexistence', sync: { contacts: { count: 230, chunkSize: 100 } } } })
  await sync(sim.graphUrl, 'smb_app_state_sync')
  await sim.control.whenIdle()
  t.equal(r.received.length, 3)
  const items = r.received.flatMap((w) => w.json.entry[0].changes[0].value.state_sync)
  t.equal(items.length, 230)
  t.match(items[0], { type: 'contact', action: 'add', contact: { full_name: String, first_name: String, phone_number: /^\d+$/ }, metadata: { timestamp: /^\d+$/ } })
  t.equal(new Set(items.map((i: any) => i.contact.phone_number)).size, 230)
  t.match(sim.control.syncRequests()[0], { syncType: 'smb_app_state_sync', webhooks: 3, done: true })
})

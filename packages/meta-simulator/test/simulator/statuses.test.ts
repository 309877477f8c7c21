import t from 'tap'
import { graph, PNID, signatureOk, startReceiver, startSim, templateTo, textTo, TOKEN, USER } from '../helpers.ts'

const statusesOf = (r: Awaited<ReturnType<typeof startReceiver>>): any[] =>
  r.received.flatMap((w) => w.json.entry.flatMap((e: any) => e.changes.flatMap((c: any) => c.value.statuses ?? [])))

t.test('sent → delivered → read with per-message pricing; pricing on sent and delivered only', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t, { receiver: r, secret: 's3cret', number: { templates: { order_update: 'utility', otp: 'authentication' } } })
  sim.control.openWindow({ phoneNumberId: PNID, waId: USER })
  const send = async (body: Record<string, unknown>): Promise<string> =>
    (await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body })).body.messages[0].id
  const service = await send(textTo(`+${USER}`))
  const marketing = await send(templateTo(`+${USER}`, 'spring_sale'))
  const utility = await send(templateTo(`+${USER}`, 'order_update'))
  const utilityOutside = await send(templateTo('+5511900001111', 'order_update'))
  await sim.control.whenIdle()
  t.ok(r.received.every((w) => signatureOk(w, 's3cret')))
  const all = statusesOf(r)
  t.equal(all.length, 12)
  const of = (id: string): any[] => all.filter((s) => s.id === id)
  t.same(of(service).map((s) => s.status).sort(), ['delivered', 'read', 'sent'])
  for (const id of [service, marketing, utility, utilityOutside]) {
    t.ok(of(id).find((s) => s.status === 'sent').pricing, 'pricing on sent')
    t.ok(of(id).find((s) => s.status === 'delivered').pricing, 'pricing on delivered')
    t.notOk(of(id).find((s) => s.status === 'read').pricing, 'not on read too')
    t.notOk('conversation' in of(id)[0], 'v24: no conversation object')
  }
  t.same(of(service)[0].pricing, { billable: false, pricing_model: 'PMP', type: 'free_customer_service', category: 'service' })
  t.same(of(marketing)[0].pricing, { billable: true, pricing_model: 'PMP', type: 'regular', category: 'marketing' })
  t.same(of(utility)[0].pricing, { billable: false, pricing_model: 'PMP', type: 'free_customer_service', category: 'utility' }, 'utility inside the window is free')
  t.same(of(utilityOutside)[0].pricing, { billable: true, pricing_model: 'PMP', type: 'regular', category: 'utility' })
  t.match(of(service)[0], { recipient_id: USER, timestamp: /^\d+$/ })
  const accepted = sim.control.sends().accepted
  t.same(accepted.map((a) => a.pricing.category), ['service', 'marketing', 'utility', 'utility'], 'records carry the pricing')
})

t.test('v23 sends carry conversation{}; a reaction gets only sent; upTo and none', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t, { receiver: r, number: { statuses: { upTo: 'delivered' } } })
  const a = (await graph(sim.graphUrl, 'POST', `/v23.0/${PNID}/messages`, { token: TOKEN, body: templateTo(`+${USER}`) })).body.messages[0].id
  sim.control.openWindow({ phoneNumberId: PNID, waId: USER })
  const b = (await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: { messaging_product: 'whatsapp', to: USER, type: 'reaction', reaction: { message_id: 'wamid.IN', emoji: '👍' } } })).body.messages[0].id
  await sim.control.whenIdle()
  const all = statusesOf(r)
  const sentA = all.find((s) => s.id === a && s.status === 'sent')
  t.match(sentA.conversation, { id: /^[0-9a-f]{32}$/, expiration_timestamp: /^\d+$/, origin: { type: 'marketing' } })
  t.notOk('expiration_timestamp' in all.find((s) => s.id === a && s.status === 'delivered').conversation)
  t.notOk(all.some((s) => s.id === a && s.status === 'read'), "upTo 'delivered'")
  t.same(all.filter((s) => s.id === b).map((s) => s.status), ['sent'])

  sim.control.configureNumber({ ...sim.control.getNumber(PNID)!, statuses: { upTo: 'none' } })
  r.received.length = 0
  await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: templateTo(`+${USER}`) })
  await sim.control.whenIdle()
  t.equal(r.received.length, 0)
})

t.test('biz_opaque_callback_data comes back on statuses; mark-as-read answers success', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t, { receiver: r, number: { statuses: { upTo: 'sent' } } })
  await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: { ...templateTo(`+${USER}`), biz_opaque_callback_data: 'order-42' } })
  await sim.control.whenIdle()
  t.equal(statusesOf(r)[0].biz_opaque_callback_data, 'order-42')

  const read = await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: { messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.IN_1', typing_indicator: { type: 'text' } } })
  t.same(read, { status: 200, body: { success: true } })
  t.same(sim.control.sends().reads.map((x) => x.messageId), ['wamid.IN_1'])
  t.equal(sim.control.sends().accepted.length, 1, 'a read receipt is not a send')
  const bad = await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: { messaging_product: 'whatsapp', status: 'read' } })
  t.equal(bad.body.error.code, 100)
})

t.test('batchMs: statuses due together go out in one webhook', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t, { receiver: r, number: { statuses: { upTo: 'sent', batchMs: 30 } } })
  await Promise.all(Array.from({ length: 5 }, (_, i) => graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: templateTo(`+55119000000${i}`) })))
  await sim.control.whenIdle()
  t.equal(r.received.length, 1)
  t.equal(statusesOf(r).length, 5)
})

import t from 'tap'
import { graph, PNID, startReceiver, startSim, templateTo, textTo, TOKEN, USER } from '../helpers.ts'

const DAY = 86_400_000

t.test('131047 for free-form outside the window; OK after the user writes; closes after 24 h', async (t) => {
  const { sim, clock } = await startSim(t)
  const send = (body: Record<string, unknown>) => graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body })
  const closed = await send(textTo(`+${USER}`))
  t.equal(closed.status, 400)
  t.match(closed.body.error, { code: 131047, message: '(#131047) Re-engagement message' })
  t.equal((await send(templateTo(`+${USER}`))).status, 200, 'templates need no window')
  t.equal(sim.control.isWindowOpen(PNID, USER), false)

  const { wamid } = await sim.control.inbound({ phoneNumberId: PNID, from: USER, text: 'oi' })
  t.match(wamid, /^wamid\./)
  t.equal(sim.control.isWindowOpen(PNID, USER), true)
  const ok = await send(textTo(`+${USER}`))
  t.equal(ok.status, 200)
  t.same(ok.body.contacts, [{ input: `+${USER}`, wa_id: USER }])
  t.match(ok.body.messages[0].id, /^wamid\./)
  t.equal(ok.body.messages[0].message_status, undefined, 'message_status only for templates')

  clock!.advance(DAY - 1)
  t.equal((await send(textTo(`+${USER}`))).status, 200)
  clock!.advance(1)
  t.equal((await send(textTo(`+${USER}`))).body.error?.code, 131047, '24 h after the last user message')
})

t.test('control opens (and closes) a window; echoes, history and system messages do not open one', async (t) => {
  const { sim } = await startSim(t)
  sim.control.openWindow({ phoneNumberId: PNID, waId: '+55 11 97777-6666' })
  t.equal((await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo('+5511977776666') })).status, 200)
  sim.control.openWindow({ phoneNumberId: PNID, waId: '5511977776666', open: false })
  t.equal(sim.control.isWindowOpen(PNID, '5511977776666'), false)

  await sim.control.echo({ phoneNumberId: PNID, to: '+5511966665555' })
  await sim.control.inbound({ phoneNumberId: PNID, from: '5511955554444', type: 'system' })
  t.equal(sim.control.isWindowOpen(PNID, '5511966665555'), false)
  t.equal(sim.control.isWindowOpen(PNID, '5511955554444'), false)
})

t.test("window 'async': accepted, then a failed status with 131047", async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t, { number: { window: 'async' }, receiver: r })
  const res = await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo(`+${USER}`) })
  t.equal(res.status, 200)
  await sim.control.whenIdle()
  const statuses = r.received.flatMap((w) => w.json.entry[0].changes[0].value.statuses ?? [])
  t.equal(statuses.length, 1)
  t.match(statuses[0], { id: res.body.messages[0].id, status: 'failed', errors: [{ code: 131047, title: 'Re-engagement message' }] })
  t.notOk('pricing' in statuses[0])
})

t.test('a user known only by a business-scoped user id: window keyed by the BSUID', async (t) => {
  const { sim } = await startSim(t)
  const { body } = await sim.control.inbound({ phoneNumberId: PNID, from: '', userId: 'BR.1A2B3C4D', withoutPhone: true })
  const value = body.entry[0]!.changes[0]!.value as any
  t.match(value.contacts[0], { wa_id: '', user_id: 'BR.1A2B3C4D' })
  t.match(value.messages[0], { from: '', from_user_id: 'BR.1A2B3C4D' })
  const res = await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: { messaging_product: 'whatsapp', recipient: 'BR.1A2B3C4D', type: 'text', text: { body: 'hi' } } })
  t.equal(res.status, 200)
  t.same(res.body.contacts, [{ input: 'BR.1A2B3C4D', user_id: 'BR.1A2B3C4D' }])
})

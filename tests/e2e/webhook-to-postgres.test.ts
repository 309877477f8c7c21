/**
 * Meta's webhooks through the whole stack: the simulator posts signed webhooks to ingress,
 * ingress fans each change out to Kafka, sync consumes and stores them in Postgres, and sync's
 * query API shows them — conversations, messages with direction and source, statuses.
 */
import t from 'tap'
import { APP_ID, call, ok, registerTenant, startStack, until } from './stack.ts'

const PN = '620000000000101'
const WABA = '310000000000101'
const CUSTOMER = '5511988881111'

interface Msg { wamid: string, direction: string, source: string, type: string, text: string | null, from: string | null, to: string | null, status: string | null }

t.test('inbound messages, an app echo and its statuses go from a signed webhook to the query API', { timeout: 60_000 }, async (t) => {
  const stack = await startStack(t)
  const sim = stack.sim.control
  // The owner declines history sharing: only live traffic lands in the conversation.
  sim.configureNumber({ phoneNumberId: PN, wabaId: WABA, displayPhoneNumber: '5511999990101', mode: 'coexistence', sync: { contacts: { count: 0 }, history: { declined: true } } })
  sim.configureNumber({ phoneNumberId: '620000000000102', wabaId: '310000000000102', displayPhoneNumber: '5511999990102' })
  const tenant = await registerTenant(stack, { wabaId: WABA, numbers: [{ id: PN, display: '+55 11 99999-0101', mode: 'coexistence' }] })

  // Several inbound types; the text is delivered twice (Meta delivers at least once).
  const inbound = []
  inbound.push(await sim.inbound({ phoneNumberId: PN, from: CUSTOMER, name: 'Ana', type: 'text', text: 'Olá, tudo bem?' }, { duplicates: 1 }))
  inbound.push(await sim.inbound({ phoneNumberId: PN, from: CUSTOMER, name: 'Ana', type: 'image' }))
  inbound.push(await sim.inbound({ phoneNumberId: PN, from: CUSTOMER, name: 'Ana', type: 'location' }))
  inbound.push(await sim.inbound({ phoneNumberId: PN, from: CUSTOMER, name: 'Ana', type: 'interactive', interactiveType: 'button_reply' }))
  for (const r of inbound) t.match(r.delivery, { delivered: true, status: 200 }, 'ingress accepted the signed webhook')

  // The owner answers from the Business App: an echo, then its statuses, the last one late.
  const [echoBody] = sim.generate({ kind: 'echo', phoneNumberId: PN, to: CUSTOMER, text: 'Respondi pelo app' })
  const echoWamid = (echoBody as any).entry[0].changes[0].value.message_echoes[0].id as string
  t.match(await sim.emit(echoBody!), { delivered: true, status: 200 })
  for (const status of ['delivered', 'read', 'sent'] as const) {
    const [body] = sim.generate({ kind: 'status', phoneNumberId: PN, wamid: echoWamid, status, recipientId: CUSTOMER })
    t.match(await sim.emit(body!), { delivered: true, status: 200 }, `${status} status accepted`)
  }

  // A bad signature is refused by ingress and never reaches sync.
  // (posted directly: the emitter would keep retrying a refused delivery, as Meta does)
  const [forgedBody] = sim.generate({ kind: 'inbound', phoneNumberId: PN, from: CUSTOMER, type: 'text', text: 'forged' })
  const forged = await fetch(`${stack.ingress.url}/webhooks/meta/${APP_ID}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
    body: JSON.stringify(forgedBody)
  })
  t.equal(forged.status, 401, 'a forged webhook is refused')

  const sync = stack.sync.url
  const conversation = await until('the conversation with all five messages', async () => {
    const page = await ok(200, sync, 'GET', `/v1/conversations?phone_number_id=${PN}`, tenant.key)
    const c = page.data[0]
    return c !== undefined && c.message_count === 5 ? c : undefined
  })
  t.equal((await ok(200, sync, 'GET', `/v1/conversations?phone_number_id=${PN}`, tenant.key)).data.length, 1, 'one conversation')
  t.match(conversation, { phone_number_id: PN, contact: { wa_id: CUSTOMER, name: 'Ana' }, owner: 'app', service_window_open: true })

  const final = await until('the echo read', async () => {
    const page = await ok(200, sync, 'GET', `/v1/conversations/${conversation.id as string}/messages?limit=50`, tenant.key)
    const msgs = page.data as Msg[]
    return msgs.find((m) => m.wamid === echoWamid)?.status === 'read' ? msgs : undefined
  })
  t.equal(final.length, 5, 'duplicates stored once, the forged message never')
  const byWamid = new Map(final.map((m) => [m.wamid, m]))
  const types = ['text', 'image', 'location', 'interactive']
  inbound.forEach((r, i) => {
    t.match(byWamid.get(r.wamid), { direction: 'inbound', source: 'customer', type: types[i], from: CUSTOMER }, `inbound ${types[i]} stored`)
  })
  t.match(byWamid.get(inbound[0]!.wamid), { text: 'Olá, tudo bem?' })
  t.match(byWamid.get(echoWamid), { direction: 'outbound', source: 'business_app', type: 'text', text: 'Respondi pelo app', to: CUSTOMER, status: 'read' },
    'the echo is outbound from the app, and a late `sent` did not move it back from read')
  t.notOk(final.some((m) => m.text === 'forged'))

  // Tenants are walled: another tenant's key sees none of it.
  const other = await registerTenant(stack, { wabaId: '310000000000102', numbers: [{ id: '620000000000102', display: '+55 11 99999-0102', mode: 'cloud_api' }] })
  t.same((await ok(200, sync, 'GET', '/v1/conversations', other.key)).data, [], 'another tenant sees no conversation')
  t.equal((await call(sync, 'GET', `/v1/conversations/${conversation.id as string}/messages`, other.key)).status, 404)
  t.same(stack.fatal, [], 'no service failed')
})

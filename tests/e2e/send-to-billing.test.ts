/**
 * A send through the whole stack: POST /v1/messages on outbound-sender → Kafka → the worker →
 * the simulator (Meta) → statuses with pricing as signed webhooks → ingress → Kafka → sync (the
 * message with its final status) and billing (the ledger: the template charged once, the
 * service reply inside the open window free).
 */
import t from 'tap'
import { ADMIN_KEY, loadSampleRateCard, ok, registerTenant, startStack, until } from './stack.ts'

const PN = '620000000000201'
const WABA = '310000000000201'
const CUSTOMER = '5511977772222'

t.test('a template and a service reply: sent, delivered, read, stored by sync and priced once by billing', { timeout: 60_000 }, async (t) => {
  const started = Date.now()
  const stack = await startStack(t)
  const sim = stack.sim.control
  sim.configureNumber({ phoneNumberId: PN, wabaId: WABA, displayPhoneNumber: '5511999990201', mode: 'cloud_api', templates: { spring_sale: 'marketing' } })
  const tenant = await registerTenant(stack, { wabaId: WABA, numbers: [{ id: PN, display: '+55 11 99999-0201', mode: 'cloud_api' }] })
  await loadSampleRateCard(stack)

  // The customer writes first: the 24-hour service window opens (at Meta and in sync).
  const hello = await sim.inbound({ phoneNumberId: PN, from: CUSTOMER, name: 'Bia', type: 'text', text: 'Oi! Meu pedido?' })
  t.match(hello.delivery, { delivered: true, status: 200 })
  const sync = stack.sync.url
  const conversation = await until('the inbound message in sync', async () =>
    (await ok(200, sync, 'GET', `/v1/conversations?phone_number_id=${PN}`, tenant.key)).data[0])
  t.equal(conversation.service_window_open, true)

  const out = stack.outbound.url
  const template = await ok(202, out, 'POST', '/v1/messages', tenant.key,
    { phone_number_id: PN, to: `+${CUSTOMER}`, type: 'template', template: { name: 'spring_sale', language: { code: 'pt_BR' } } })
  const reply = await ok(202, out, 'POST', '/v1/messages', tenant.key,
    { phone_number_id: PN, to: `+${CUSTOMER}`, type: 'text', text: { body: 'Seu pedido sai hoje.' } })
  t.match(template, { state: 'accepted', type: 'template' })
  t.match(reply, { state: 'accepted', type: 'text' })

  // Both reach Meta once, and Meta's statuses come back through ingress to the sender's view.
  const views = await until('both sends read', async () => {
    const vs = [await ok(200, out, 'GET', `/v1/messages/${template.id as string}`, tenant.key), await ok(200, out, 'GET', `/v1/messages/${reply.id as string}`, tenant.key)]
    if (!vs.every((v) => v.state === 'read')) throw new Error(`states ${JSON.stringify(vs.map((v) => [v.state, v.attempts, v.error]))}; at Meta ${JSON.stringify(sim.sends({ phoneNumberId: PN, withoutBodies: true }).accepted.map((s) => s.wamid))}`)
    return vs
  }, 30_000)
  const [templateWamid, replyWamid] = views.map((v) => v.wamid as string)
  const sends = sim.sends({ phoneNumberId: PN, withoutBodies: true })
  t.same(sends.accepted.map((s) => s.wamid).sort(), [templateWamid, replyWamid].sort(), 'Meta got each message once')
  t.same(sends.rejected, [], 'nothing refused (the reply was inside the window)')
  t.match(sends.accepted.find((s) => s.wamid === templateWamid), { type: 'template', templateName: 'spring_sale', pricing: { type: 'regular', category: 'marketing' } })

  // Sync: the API-sent messages in the customer's conversation with their final status.
  const messages = await until('sync shows both sends read', async () => {
    const page = await ok(200, sync, 'GET', `/v1/conversations/${conversation.id as string}/messages`, tenant.key)
    const sent = (page.data as Array<{ wamid: string, status: string | null }>).filter((m) => m.wamid === templateWamid || m.wamid === replyWamid)
    return sent.length === 2 && sent.every((m) => m.status === 'read') ? page.data : undefined
  })
  t.equal(messages.length, 3)
  t.match(messages.find((m: any) => m.wamid === templateWamid), { direction: 'outbound', source: 'api', type: 'template', to: CUSTOMER, request_id: template.id, status: 'read' })
  t.match(messages.find((m: any) => m.wamid === replyWamid), { direction: 'outbound', source: 'api', type: 'text', text: 'Seu pedido sai hoje.', request_id: reply.id, status: 'read' })

  // Billing: one ledger line each; the marketing template charged (once delivered), the reply free.
  const billing = stack.billing.url
  const period = `from=${new Date(started - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`
  const lines = await until('both ledger lines settled', async () => {
    const page = await ok(200, billing, 'GET', `/v1/billing/ledger?${period}&phone_number_id=${PN}`, tenant.key)
    const byWamid = new Map((page.data as Array<{ wamid: string, state: string }>).map((l) => [l.wamid, l]))
    const a = byWamid.get(templateWamid!)
    const b = byWamid.get(replyWamid!)
    return a?.state === 'charged' && b?.state === 'free' ? page.data : undefined
  })
  t.equal(lines.length, 2, 'one line per message; the inbound message is not a line')
  const charged = lines.find((l: any) => l.wamid === templateWamid)
  t.match(charged, { state: 'charged', category: 'marketing', market: 'Brazil', currency: 'USD', delivery: 'delivered', rate_card_version: 'sample-2026q1' })
  t.ok(charged.billed_price_micros > 0, 'the template has a price')
  t.match(lines.find((l: any) => l.wamid === replyWamid), { state: 'free', category: 'service', billed_price_micros: 0 })

  // Meta delivers at least once: every status webhook again changes nothing.
  for (const d of sim.deliveries().filter((d) => d.delivered && d.body.includes('"statuses"'))) {
    t.match(await sim.emit(JSON.parse(d.body)), { delivered: true, status: 200 })
  }
  // A later template to another customer is the marker that billing has read past the replays.
  const marker = await ok(202, out, 'POST', '/v1/messages', tenant.key,
    { phone_number_id: PN, to: '+5511966663333', type: 'template', template: { name: 'spring_sale', language: { code: 'pt_BR' } } })
  const markerWamid = (await until('the marker sent', async () => {
    const v = await ok(200, out, 'GET', `/v1/messages/${marker.id as string}`, tenant.key)
    return v.wamid
  })) as string
  await until('the marker charged', async () =>
    (await ok(200, billing, 'GET', `/v1/billing/ledger/${encodeURIComponent(markerWamid)}`, tenant.key)).state === 'charged')
  const again = await ok(200, billing, 'GET', `/v1/billing/ledger/${encodeURIComponent(templateWamid!)}`, tenant.key)
  t.equal(again.revision, charged.revision, 'replayed statuses did not touch the charged line')
  t.equal(again.billed_price_micros, charged.billed_price_micros)

  const usage = await ok(200, billing, 'GET', `/v1/billing/usage?${period}&group_by=category`, tenant.key)
  const marketing = usage.data.find((r: any) => r.category === 'marketing')
  const service = usage.data.find((r: any) => r.category === 'service')
  t.match(marketing, { messages: 2, charged: 2, free: 0, billed_micros: 2 * Number(charged.billed_price_micros) }, 'two templates, each charged once')
  t.match(service, { messages: 1, charged: 0, free: 1, billed_micros: 0 }, 'the service reply is free')
  // The admin key sees the same tenant's usage; no service failed.
  const admin = await ok(200, billing, 'GET', `/v1/billing/usage?${period}&group_by=category&tenant_id=${tenant.id}`, ADMIN_KEY)
  t.same(admin.data, usage.data)
  t.same(stack.fatal, [])
})

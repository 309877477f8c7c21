import t from 'tap'
import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { OutboundResultSchema, OutboundStatus, WebhookChangeSchema } from '@coexist/contracts'
import { hasCode } from '@coexist/errors'
import { accountUpdateWebhook, echoWebhook, inboundTextWebhook, pricing, statusWebhook, type WebhookBody } from '@coexist/meta/fixtures'
import { echoFacts, messagesFacts, sendFactOf, tierFacts } from '../../src/consumers/record-facts.ts'

const change = (body: WebhookBody) => {
  const c = body.entry[0]!.changes[0]!
  const v = c.value as { metadata?: { phone_number_id?: string } }
  return create(WebhookChangeSchema, { field: c.field, wabaId: body.entry[0]!.id, phoneNumberId: v.metadata?.phone_number_id ?? '', valueJson: new TextEncoder().encode(JSON.stringify(c.value)) })
}

t.test('statuses and users\' messages of a messages change', async (t) => {
  const s = messagesFacts(change(statusWebhook({ wamid: 'wamid.S', status: 'delivered', timestamp: 1751400300, pricing: pricing('authentication-international', 'regular') })))
  t.same(s, [{ kind: 'status', wamid: 'wamid.S', phoneNumberId: '620000000000001', wabaId: '310000000000001', status: 'delivered', ts: 1751400300000, recipient: '5511988887777', pricing: { model: 'PMP', type: 'regular', category: 'authentication_international', billable: true } }])
  const cbp = messagesFacts(change(statusWebhook({ wamid: 'wamid.C', status: 'sent', pricing: pricing('utility', 'regular', 'CBP') })))
  t.match(cbp[0], { pricing: { model: 'CBP', type: null, category: 'utility', billable: true } })
  const none = messagesFacts(change(statusWebhook({ wamid: 'wamid.N', status: 'read' })))
  t.match(none[0], { pricing: null })
  const ad = messagesFacts(change(inboundTextWebhook({ wamid: 'wamid.I', timestamp: 1751400000, referral: { source_type: 'ad', ctwa_clid: 'x' } })))
  t.same(ad, [{ kind: 'inbound', wamid: 'wamid.I', phoneNumberId: '620000000000001', waId: '5511988887777', ts: 1751400000000, entryPoint: true }])
  const plain = messagesFacts(change(inboundTextWebhook({ wamid: 'wamid.J' })))
  t.match(plain[0], { entryPoint: false })
})

t.test('a status is priced from the fields billing reads: an odd part it never reads does not dead-letter it', async (t) => {
  // The whole value's schema rejects this conversation object; billing reads only the status's
  // id, status, time, recipient and pricing object.
  const odd = messagesFacts(change(statusWebhook({ wamid: 'wamid.O', status: 'delivered', timestamp: 1751400300, conversation: { id: 7 }, pricing: pricing('utility', 'regular') })))
  t.match(odd, [{ kind: 'status', wamid: 'wamid.O', status: 'delivered', ts: 1751400300000, pricing: { model: 'PMP', type: 'regular', category: 'utility', billable: true } }])
  // What it reads is still validated.
  const noTime = JSON.parse(JSON.stringify(statusWebhook({ wamid: 'wamid.T', status: 'sent' })))
  delete noTime.entry[0].changes[0].value.statuses[0].timestamp
  t.throws(() => messagesFacts(change(noTime)), { code: 'BILL_INVALID_RECORD' })
  const badPricing = statusWebhook({ wamid: 'wamid.P', status: 'sent', pricing: { billable: 'yes', pricing_model: 'PMP', category: 'utility' } })
  t.throws(() => messagesFacts(change(badPricing)), { code: 'BILL_INVALID_RECORD' })
})

t.test('echoes: messages sent from the Business App', async (t) => {
  t.same(echoFacts(change(echoWebhook({ wamid: 'wamid.E', to: '+5511988887777', timestamp: 1751400400 }))), [
    { kind: 'echo', wamid: 'wamid.E', phoneNumberId: '620000000000001', wabaId: '310000000000001', recipient: '+5511988887777', ts: 1751400400000 }
  ])
})

t.test('VOLUME_BASED_PRICING_TIER_UPDATE becomes a tier fact; other account updates nothing', async (t) => {
  const body = accountUpdateWebhook('VOLUME_BASED_PRICING_TIER_UPDATE', { extra: { volume_tier_info: { tier_update_time: 1743451903, pricing_category: 'AUTHENTICATION_INTERNATIONAL', tier: '25000001:50000000', effective_month: '2025-11', region: 'India' } } })
  t.same(tierFacts(change(body)), [{ kind: 'tier', wabaId: '310000000000001', market: 'India', category: 'authentication', month: '2025-11', lower: 25000001, upper: 50000000, updateTime: 1743451903000 }])
  t.same(tierFacts(change(accountUpdateWebhook('PARTNER_ADDED'))), [])
  const bad = accountUpdateWebhook('VOLUME_BASED_PRICING_TIER_UPDATE', { extra: { volume_tier_info: { tier_update_time: 1, pricing_category: 'MARKETING', tier: '1:2', effective_month: '2025-11', region: 'India' } } })
  t.ok(hasCode(((): unknown => { try { return tierFacts(change(bad)) } catch (e) { return e } })(), 'BILL_INVALID_RECORD'), 'marketing has no tiers: invalid, dead-lettered')
})

t.test('invalid values are coded errors (the consumer dead-letters them)', async (t) => {
  const c = create(WebhookChangeSchema, { field: 'messages', valueJson: new TextEncoder().encode('{"statuses":"nope"}') })
  t.throws(() => messagesFacts(c), { code: 'BILL_INVALID_RECORD' })
  const notJson = create(WebhookChangeSchema, { field: 'messages', valueJson: new TextEncoder().encode('{') })
  t.throws(() => messagesFacts(notJson), { code: 'BILL_INVALID_RECORD' })
})

t.test('OutboundResult: a SENT result is a send fact; its category tells template or not', async (t) => {
  const r = (o: MessageInitShape<typeof OutboundResultSchema>) => create(OutboundResultSchema, { requestId: 'r', tenantId: 't', phoneNumberId: 'p', recipient: '+55 11 98888-7777', status: OutboundStatus.SENT, wamid: 'wamid.X', sentAt: 1000n, completedAt: 1100n, category: 'utility', ...o } as MessageInitShape<typeof OutboundResultSchema>)
  t.same(sendFactOf(r({})), { kind: 'send', wamid: 'wamid.X', tenantId: 't', phoneNumberId: 'p', recipient: '+55 11 98888-7777', categoryHint: 'utility', isTemplate: true, sentAt: 1000 })
  t.match(sendFactOf(r({ category: 'service' })), { isTemplate: false, categoryHint: 'service' })
  t.match(sendFactOf(r({ category: '' })), { isTemplate: null, categoryHint: null })
  t.equal(sendFactOf(r({ status: OutboundStatus.FAILED, wamid: '' })), undefined)
  t.equal(sendFactOf(r({ status: OutboundStatus.UNKNOWN, wamid: '' })), undefined)
})

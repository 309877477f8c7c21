import t from 'tap'
import { createTopicRegistry, type WebhookTopicKey } from '@coexist/bus'
import { serializeLikeMeta } from '@coexist/meta'
import { FIXTURE_IDS, WEBHOOK_SAMPLES, batchBodies, inboundTextWebhook, webhookBody } from '@coexist/meta/fixtures'
import { planWebhook, type PlannedRecord, type WebhookContext } from '../../src/webhook/fan-out.ts'

const topics = createTopicRegistry({ prefix: 'wa.' })
const ctx: WebhookContext = { appId: '1001', requestId: 'req-1', receivedAt: 1_751_400_000_123, contentType: 'application/json' }
const plan = (body: string | Buffer) => planWebhook(Buffer.isBuffer(body) ? body : Buffer.from(body), ctx, topics)
type ChangeRecord = Extract<PlannedRecord, { topic: WebhookTopicKey }>
type UnroutedRecord = Extract<PlannedRecord, { topic: 'webhook.unrouted' }>
const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('utf8')

/** Fields whose changes carry value.metadata.phone_number_id. */
const PHONE_SCOPED = new Set(['messages', 'smb_message_echoes', 'smb_app_state_sync', 'history'])

t.test('every sample: raw first (byte for byte), then one record per change on its field topic, right key', async (t) => {
  for (const [name, sample] of Object.entries(WEBHOOK_SAMPLES)) {
    const body = Buffer.from(serializeLikeMeta(sample))
    const p = plan(body)
    const [raw, ...changes] = p.records
    t.equal(raw?.topic, 'webhook.raw', name)
    if (raw?.topic !== 'webhook.raw') continue
    t.ok(Buffer.from(raw.value.body ?? []).equals(body), `${name}: archived byte for byte`)
    t.equal(raw.key, FIXTURE_IDS.wabaId, `${name}: raw keyed by the WABA`)
    t.match(raw.value, { appId: '1001', requestId: 'req-1', signatureVerified: true, contentType: 'application/json', receivedAt: 1_751_400_000_123n })
    const expected = sample.entry.flatMap((e) => e.changes)
    t.equal(changes.length, expected.length, `${name}: one record per change`)
    t.same(p.unrouted, [], `${name}: nothing unrouted`)
    changes.forEach((r, i) => {
      const field = expected[i]!.field
      t.equal(r.topic, `webhook.${field}`, `${name}: ${field} topic`)
      t.equal(r.key, PHONE_SCOPED.has(field) ? FIXTURE_IDS.phoneNumberId : FIXTURE_IDS.wabaId, `${name}: ${field} key`)
      if (r.topic === 'webhook.raw' || r.topic === 'webhook.unrouted') return
      t.equal(text(r.value.valueJson), serializeLikeMeta(expected[i]!.value), `${name}: value cut from the body`)
      t.equal(r.value.rawRequestId, 'req-1')
    })
  }
})

t.test('PARTNER_* account updates: keyed by waba_info.waba_id, entry id kept as sent', async (t) => {
  const p = plan(serializeLikeMeta(WEBHOOK_SAMPLES.accountPartnerAdded))
  const change = p.records[1] as ChangeRecord
  t.equal(change.topic, 'webhook.account_update')
  t.equal(change.key, FIXTURE_IDS.wabaId)
  t.equal(change.value.wabaId, FIXTURE_IDS.wabaId)
  t.equal(change.value.entryId, FIXTURE_IDS.partnerBusinessId)
  t.equal(change.value.entryTime, BigInt(FIXTURE_IDS.timestamp))
  t.equal(change.value.phoneNumberId, '')
  t.equal(p.records[0]?.key, FIXTURE_IDS.wabaId, 'raw archive keyed by the customer WABA too')
})

t.test('a batch: entry and change positions, phone ids per change', async (t) => {
  const body = batchBodies(
    inboundTextWebhook({ wamid: 'wamid.A', phoneNumberId: '620000000000009' }),
    webhookBody('template_category_update', { new_category: 'MARKETING' }, { entryId: '310000000000777' }),
    inboundTextWebhook({ wamid: 'wamid.B' })
  )
  const p = plan(serializeLikeMeta(body))
  t.same(p.records.map((r) => [r.topic, r.key]), [
    ['webhook.raw', FIXTURE_IDS.wabaId],
    ['webhook.messages', '620000000000009'],
    ['webhook.unrouted', '310000000000777'],
    ['webhook.messages', FIXTURE_IDS.phoneNumberId]
  ])
  t.same(p.unrouted, ['unknown_field'])
  t.equal(p.changes, 3)
  const unrouted = p.records[2] as UnroutedRecord
  t.match(unrouted.value, { reason: 'unknown_field', field: 'template_category_update', entryId: '310000000000777', rawRequestId: 'req-1', appId: '1001' })
  t.same(JSON.parse(text(unrouted.value.body)), { field: 'template_category_update', value: { new_category: 'MARKETING' } }, 'the change object, cut from the body')
  const third = p.records[3] as ChangeRecord
  t.equal(third.value.entryIndex, 2)
  t.equal(third.value.changeIndex, 0)
})

t.test('bodies that are not JSON, or not a WhatsApp envelope: raw + the whole body unrouted', async (t) => {
  const notJson = plan('hello, this is not json')
  t.same(notJson.records.map((r) => [r.topic, r.key]), [['webhook.raw', 'req-1'], ['webhook.unrouted', 'req-1']])
  t.match(notJson.records[1]?.value, { reason: 'unparseable_body:invalid_json', field: '' })
  t.equal(text((notJson.records[1]?.value as { body: Uint8Array }).body), 'hello, this is not json')
  t.same(notJson.unrouted, ['unparseable_body'])

  const noEnvelope = plan('{"hello":"world"}')
  t.match(noEnvelope.records[1]?.value, { reason: 'unparseable_body:invalid_envelope' })

  const page = plan(JSON.stringify({ object: 'page', entry: [{ id: '555', changes: [{ field: 'feed', value: {} }] }] }))
  t.same(page.records.map((r) => [r.topic, r.key]), [['webhook.raw', '555'], ['webhook.unrouted', '555']])
  t.match(page.records[1]?.value, { reason: 'unexpected_object:page', entryId: '555' })
  t.same(page.unrouted, ['unexpected_object'])

  const empty = plan('')
  t.same(empty.records.map((r) => r.topic), ['webhook.raw', 'webhook.unrouted'])
})

t.test('a change without metadata falls back to the WABA id; a null value stays null', async (t) => {
  const p = plan(JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '310', time: 17.9, changes: [{ field: 'messages', value: { messages: [] } }, { field: 'history', value: null }] }] }))
  const [, a, b] = p.records as [PlannedRecord, ChangeRecord, ChangeRecord]
  t.equal(a.key, '310')
  t.equal(a.value.entryTime, 17n, 'fractional seconds are cut, never a throw')
  t.equal(b.key, '310')
  t.equal(text(b.value.valueJson), 'null')
})

t.test('an envelope whose change lacks `field` or `value` is kept whole on the unrouted topic', async (t) => {
  const p = plan(JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '310', changes: [{ field: 'history' }] }] }))
  t.same(p.records.map((r) => [r.topic, r.key]), [['webhook.raw', 'req-1'], ['webhook.unrouted', 'req-1']])
  t.match(p.records[1]?.value, { reason: 'unparseable_body:invalid_envelope' })
})

/**
 * Other services' tests publish webhook changes with @coexist/testkit instead of running ingress.
 * This holds the two to the same records: topic, key and every field, for every sample.
 */
import t from 'tap'
import { createTopicRegistry, type WebhookTopicKey } from '@coexist/bus'
import { serializeLikeMeta } from '@coexist/meta'
import { WEBHOOK_SAMPLES, batchBodies, inboundTextWebhook, webhookBody } from '@coexist/meta/fixtures'
import { webhookChangeRecords, type WebhookBodyLike } from '@coexist/testkit'
import { planWebhook, type PlannedRecord } from '../../src/webhook/fan-out.ts'

const topics = createTopicRegistry({ prefix: 'wa.' })
const receivedAt = 1_751_400_000_123
type ChangeRecord = Extract<PlannedRecord, { topic: WebhookTopicKey }>
/** valueJson as parsed JSON: ingress cuts Meta's bytes (escapes and all), testkit re-serialises. */
const comparable = (topic: string, key: string, value: ChangeRecord['value']): unknown =>
  ({ topic, key, ...value, valueJson: JSON.parse(Buffer.from(value.valueJson ?? []).toString('utf8')) })

const bodies: Array<[string, WebhookBodyLike]> = [
  ...Object.entries(WEBHOOK_SAMPLES) as Array<[string, WebhookBodyLike]>,
  ['a batch of numbers and WABA-level changes', batchBodies(
    inboundTextWebhook({ wamid: 'wamid.A', phoneNumberId: '620000000000009' }),
    webhookBody('template_category_update', { new_category: 'MARKETING' }, { entryId: '310000000000777' }),
    webhookBody('not_a_field_we_know', { x: 1 }),
    inboundTextWebhook({ wamid: 'wamid.B' })
  ) as WebhookBodyLike]
]

t.test('testkit publishes exactly the change records ingress plans (unknown fields left out)', async (t) => {
  for (const [name, body] of bodies) {
    const planned = planWebhook(Buffer.from(serializeLikeMeta(body)), { appId: '7', requestId: 'req-9', receivedAt, contentType: 'application/json' }, topics)
      .records.filter((r): r is ChangeRecord => r.topic !== 'webhook.raw' && r.topic !== 'webhook.unrouted')
    const kit = webhookChangeRecords(body, { receivedAt, rawRequestId: 'req-9', appId: '7' })
    t.ok(kit.length > 0, `${name}: has changes`)
    t.same(kit.map((r) => comparable(r.topic, r.record.key as string, r.record.value as ChangeRecord['value'])),
      planned.map((r) => comparable(r.topic, r.key, r.value)), name)
  }
})

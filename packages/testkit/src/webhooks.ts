/**
 * Webhook changes as ingress publishes them, for services' tests that consume the webhook topics
 * without running ingress: one `WebhookChange` per `entry[].changes[]`, on its field's topic,
 * keyed by @coexist/meta's routing rule. (Ingress itself also archives the raw body and routes
 * unknown fields to `webhook.unrouted`; consumers of the field topics never see those.)
 *
 * @example
 * await publishWebhookChanges(producer, statusWebhook({ ... }), { receivedAt: Date.now() })
 */
import { webhookTopicKey, type BusProducer, type PublishRecord, type WebhookTopicKey } from '@coexist/bus'
import { changeRoutingKeys, listChanges, type WebhookEnvelope } from '@coexist/meta'

/** A webhook body in Meta's shape (what the simulator's builders return). */
export interface WebhookBodyLike {
  object: string
  entry: Array<{ id: string, time?: number, changes: Array<{ field: string, value: unknown }> }>
}

export interface WebhookChangeRecord {
  topic: WebhookTopicKey
  record: PublishRecord<WebhookTopicKey>
}

/** The field-topic records of a body's changes, in body order; changes of unknown fields are left out. */
export function webhookChangeRecords (body: WebhookBodyLike, ctx: { receivedAt: number, rawRequestId?: string, appId?: string }): WebhookChangeRecord[] {
  const out: WebhookChangeRecord[] = []
  for (const c of listChanges(body as WebhookEnvelope)) {
    const topic = webhookTopicKey(c.field)
    if (topic === 'webhook.unrouted') continue
    const routing = changeRoutingKeys(c.entryId, c.field, c.value)
    out.push({
      topic,
      record: {
        key: routing.key,
        value: {
          field: c.field,
          wabaId: routing.wabaId,
          phoneNumberId: routing.phoneNumberId ?? '',
          entryId: c.entryId,
          entryTime: BigInt(c.entryTime ?? 0),
          changeIndex: c.changeIndex,
          entryIndex: c.entryIndex,
          valueJson: new TextEncoder().encode(JSON.stringify(c.value)),
          rawRequestId: ctx.rawRequestId ?? 'test',
          receivedAt: BigInt(ctx.receivedAt),
          appId: ctx.appId ?? '1'
        }
      }
    })
  }
  return out
}

/** Publishes {@link webhookChangeRecords} of a body and resolves when Kafka has them all. */
export async function publishWebhookChanges (producer: BusProducer, body: WebhookBodyLike, ctx: { receivedAt: number, rawRequestId?: string, appId?: string }): Promise<void> {
  await Promise.all(webhookChangeRecords(body, ctx).map((r) => producer.publish(r.topic, r.record)))
}

/**
 * What one verified webhook body becomes on Kafka: the raw archive record, one record per
 * `entry[].changes[]` on its field's topic, and unrouted records for what cannot be routed.
 * Pure: no I/O, so every routing rule is tested without a broker.
 */
import type { PublishRecord, TopicRegistry, TopicSpec, WebhookTopicKey } from '@coexist/bus'
import { DEFAULT_MAX_WEBHOOK_BYTES, changeRoutingKeys, listChanges, parseEnvelope, routeChange } from '@coexist/meta'
import type { RawWebhookFields, WebhookChangeFields } from './encode.ts'
import { findChangeSpans, type ChangeSpan, type Span } from './json-spans.ts'
import { scanWebhook } from './scan-webhook.ts'

/** Meta's `object` for WhatsApp webhooks; any other is not ours to route. */
const WHATSAPP_OBJECT = 'whatsapp_business_account'

/** Why something was not routed: the stable token of `UnroutedWebhook.reason` (before any `:detail`). */
type UnroutedReason = 'unknown_field' | 'unparseable_body' | 'unexpected_object'

export type PlannedRecord =
  | { topic: 'webhook.raw', key: string, value: RawWebhookFields }
  | { topic: WebhookTopicKey, key: string, value: WebhookChangeFields }
  | { topic: 'webhook.unrouted', key: string, value: PublishRecord<'webhook.unrouted'>['value'] }

export interface WebhookContext {
  /** The Meta app whose secret verified the body. */
  appId: string
  /** Ingress's id of the HTTP request (RawWebhook.request_id). */
  requestId: string
  /** Receive time, ms since the Unix epoch. */
  receivedAt: number
  /** The request's Content-Type header, as sent ('' when absent). */
  contentType: string
}

export interface WebhookPlan {
  /** The raw archive record first, then one per change (body order), then any whole-body unrouted record. */
  records: PlannedRecord[]
  /** Changes in the body (0 when it could not be parsed as an envelope). */
  changes: number
  /** Reason tokens of the unrouted records, one per record. */
  unrouted: UnroutedReason[]
  /** The WABA id the raw record is keyed by, when known. */
  wabaId: string | undefined
}

/** One change, routed, with its bytes (the same from either path). */
interface RoutedChange {
  entryId: string
  entryTime: number | undefined
  entryIndex: number
  changeIndex: number
  field: string
  /** Partition key: phone_number_id, else the WABA id. */
  key: string
  wabaId: string
  phoneNumberId: string | undefined
  /** The topic of its field (`webhook.unrouted` for a field without one). */
  spec: TopicSpec
  /** The change object, for a field without a topic (its unrouted record); empty otherwise. */
  changeBytes: Uint8Array
  /** The change's `value`. */
  valueBytes: Uint8Array
}

const EMPTY = new Uint8Array(0)
const MAX_DETAIL = 64

/** A short, printable detail for an unrouted reason (the text comes from a signed but odd body). */
const detail = (s: string): string => s.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_DETAIL)

const slice = (body: Buffer, span: Span | undefined): Buffer | undefined =>
  span === undefined ? undefined : body.subarray(span.start, span.end)

/** JSON bytes of a value when no span could be cut (a body the scanner did not follow). */
const serialised = (value: unknown): Buffer => Buffer.from(JSON.stringify(value ?? null), 'utf8')

/** Unix seconds as Meta sent them, as int64; 0 when absent or not a finite number. */
const unixSeconds = (t: number | undefined): bigint => t !== undefined && Number.isFinite(t) ? BigInt(Math.trunc(t)) : 0n

/**
 * Plans the records for one verified body. Never throws on any body: what cannot be parsed is
 * still archived and goes to `webhook.unrouted` whole.
 *
 * @example
 * const plan = planWebhook(rawBody, { appId, requestId, receivedAt: Date.now(), contentType }, topics)
 * await Promise.all(plan.records.map((r) => producer.publish(r.topic, { key: r.key, value: r.value })))
 */
export function planWebhook (body: Buffer, ctx: WebhookContext, topics: TopicRegistry): WebhookPlan {
  const receivedAt = BigInt(ctx.receivedAt)
  const raw = (key: string): PlannedRecord => ({
    topic: 'webhook.raw',
    key,
    value: { body, receivedAt, appId: ctx.appId, signatureVerified: true, contentType: ctx.contentType, requestId: ctx.requestId }
  })
  const wholeBodyUnrouted = (reason: string, key: string, entryId = ''): PlannedRecord => ({
    topic: 'webhook.unrouted',
    key,
    value: { reason, body, receivedAt, appId: ctx.appId, field: '', rawRequestId: ctx.requestId, entryId }
  })

  // The common path: one scan of the bytes (scan-webhook.ts). When the scanner is not sure
  // (not JSON, another shape, escapes where it reads), the reference path below decides.
  const scanned = body.length <= DEFAULT_MAX_WEBHOOK_BYTES ? scanWebhook(body) : undefined
  let changes: RoutedChange[]
  let firstEntryId: string | undefined
  if (scanned !== undefined && scanned.object === WHATSAPP_OBJECT) {
    firstEntryId = scanned.firstEntryId
    changes = scanned.changes.map((c) => {
      const spec = topics.forWebhookField(c.field)
      const { key, wabaId } = routeChange(c.entryId, c.field, c.phoneNumberId, c.wabaInfoId)
      return {
        entryId: c.entryId,
        entryTime: c.entryTime,
        entryIndex: c.entryIndex,
        changeIndex: c.changeIndex,
        field: c.field,
        key,
        wabaId,
        phoneNumberId: c.phoneNumberId,
        spec,
        changeBytes: spec.key === 'webhook.unrouted' ? body.subarray(c.change.start, c.change.end) : EMPTY,
        valueBytes: body.subarray(c.value.start, c.value.end)
      }
    })
  } else {
    const parsed = parseEnvelope(body)
    if (!parsed.ok) {
      // Not JSON, or JSON without the `{ object, entry[].changes[] }` shape: archived, and kept
      // whole on the unrouted topic. The parser's message is left out on purpose: V8 quotes the
      // body in JSON syntax errors.
      return {
        records: [raw(ctx.requestId), wholeBodyUnrouted(`unparseable_body:${parsed.error.kind}`, ctx.requestId)],
        changes: 0,
        unrouted: ['unparseable_body'],
        wabaId: undefined
      }
    }
    const envelope = parsed.envelope
    firstEntryId = envelope.entry[0]?.id
    if (envelope.object !== WHATSAPP_OBJECT) {
      const key = firstEntryId ?? ctx.requestId
      return {
        records: [raw(key), wholeBodyUnrouted(`unexpected_object:${detail(String(envelope.object))}`, key, firstEntryId)],
        changes: 0,
        unrouted: ['unexpected_object'],
        wabaId: firstEntryId
      }
    }
    const listed = listChanges(envelope)
    const spans: ChangeSpan[][] | undefined = listed.length > 0 ? findChangeSpans(body) : undefined
    changes = listed.map((c) => {
      const routing = changeRoutingKeys(c.entryId, c.field, c.value)
      const span = spans?.[c.entryIndex]?.[c.changeIndex]
      const spec = topics.forWebhookField(c.field)
      return {
        entryId: c.entryId,
        entryTime: c.entryTime,
        entryIndex: c.entryIndex,
        changeIndex: c.changeIndex,
        field: c.field,
        key: routing.key,
        wabaId: routing.wabaId,
        phoneNumberId: routing.phoneNumberId,
        spec,
        changeBytes: spec.key === 'webhook.unrouted' ? slice(body, span?.change) ?? serialised({ field: c.field, value: c.value }) : EMPTY,
        valueBytes: slice(body, span?.value) ?? serialised(c.value)
      }
    })
  }

  const records: PlannedRecord[] = []
  const unrouted: UnroutedReason[] = []
  let wabaId: string | undefined
  for (const c of changes) {
    wabaId ??= c.wabaId
    const spec = c.spec
    if (spec.key === 'webhook.unrouted') {
      records.push({
        topic: 'webhook.unrouted',
        key: c.wabaId,
        value: {
          reason: 'unknown_field',
          body: c.changeBytes,
          receivedAt,
          appId: ctx.appId,
          field: c.field,
          rawRequestId: ctx.requestId,
          entryId: c.entryId
        }
      })
      unrouted.push('unknown_field')
      continue
    }
    records.push({
      topic: spec.key as WebhookTopicKey,
      key: c.key,
      value: {
        field: c.field,
        wabaId: c.wabaId,
        phoneNumberId: c.phoneNumberId ?? '',
        entryId: c.entryId,
        entryTime: unixSeconds(c.entryTime),
        changeIndex: c.changeIndex,
        entryIndex: c.entryIndex,
        valueJson: c.valueBytes,
        rawRequestId: ctx.requestId,
        receivedAt,
        appId: ctx.appId
      }
    })
  }
  records.unshift(raw(wabaId ?? firstEntryId ?? ctx.requestId))
  return { records, changes: changes.length, unrouted, wabaId: wabaId ?? firstEntryId }
}

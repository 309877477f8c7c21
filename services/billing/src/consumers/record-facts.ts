// Records of billing's topics turned into ledger facts. Change values are parsed with
// @coexist/meta's schemas (validation at the edge); a value that does not parse is an invalid
// record (dead-lettered by the consumer), never silently dropped.
import { z } from 'zod'
import { OutboundStatus, type OutboundResult, type WebhookChange } from '@coexist/contracts'
import { InboundMessageSchema, PhoneMetadataSchema, PricingSchema, StatusSchema, parseChangeValue, unixSeconds, type EchoesValue, type AccountUpdateValue } from '@coexist/meta'
import { BillErrors } from '../errors.ts'
import { TEMPLATE_CATEGORIES, normalizeCategory, normalizePricingType, tierCounterCategory } from '../domain/categories.ts'
import { normalizeMarket } from '../domain/markets.ts'
import { parseTier, type MetaPricing } from '../domain/pricing.ts'
import type { EchoFact, Fact, InboundMessageFact, SendFact, StatusFact, TierFact } from '../ledger/facts.ts'

/**
 * A SENT OutboundResult as a send fact; undefined for FAILED/UNKNOWN results (no wamid, nothing
 * Meta could charge). The result carries no template flag: its category tells (`service` = a
 * free-form message, a template category = a template, empty = unknown).
 */
export function sendFactOf (r: OutboundResult): SendFact | undefined {
  if (r.status !== OutboundStatus.SENT || r.wamid === '') return undefined
  const hint = normalizeCategory(r.category) ?? null
  const isTemplate = hint === null ? null : TEMPLATE_CATEGORIES.has(hint)
  const sentAt = Number(r.sentAt) > 0 ? Number(r.sentAt) : Number(r.completedAt)
  return {
    kind: 'send',
    wamid: r.wamid,
    tenantId: r.tenantId === '' ? null : r.tenantId,
    phoneNumberId: r.phoneNumberId,
    recipient: r.recipient,
    categoryHint: hint,
    isTemplate,
    sentAt
  }
}

function valueOf (change: WebhookChange): unknown {
  try {
    const v = change.valueJson
    return JSON.parse(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8')) // a view, not a copy
  } catch (err) {
    throw BillErrors.BILL_INVALID_RECORD.create({ message: 'change value is not JSON', cause: err })
  }
}

function parsed<F extends 'smb_message_echoes' | 'account_update'> (change: WebhookChange, field: F): ReturnType<typeof parseChangeValue> & { ok: true, field: F } {
  const r = parseChangeValue(field, valueOf(change))
  if (!r.ok) throw BillErrors.BILL_INVALID_RECORD.create({ message: `invalid ${field} value: ${r.error.message}`, detail: { issues: r.error.issues } })
  return r as never
}

/**
 * Billing's view of a `messages` value: the fields pricing reads, validated with @coexist/meta's
 * schemas for them (statuses' id, status, time, recipient and pricing object; users' messages
 * whole), every other key dropped unread. Statuses are most of billing's records, and the whole
 * value's schema (contacts, conversation, errors, unknown keys kept) cost a tenth of the
 * worker's allocations; a part of a status that billing never reads (an odd `conversation`, say)
 * no longer keeps the status from being priced.
 */
const S = StatusSchema.shape
const MessagesViewSchema = z.object({
  messaging_product: z.literal('whatsapp'),
  metadata: z.object({ phone_number_id: PhoneMetadataSchema.shape.phone_number_id }),
  messages: z.array(InboundMessageSchema).optional(),
  statuses: z.array(z.object({
    id: S.id,
    status: S.status,
    timestamp: S.timestamp,
    recipient_id: S.recipient_id,
    recipient_user_id: S.recipient_user_id,
    pricing: z.object(PricingSchema.shape).optional()
  })).optional()
})
type MessagesView = z.output<typeof MessagesViewSchema>

function messagesView (change: WebhookChange): MessagesView {
  const r = MessagesViewSchema.safeParse(valueOf(change))
  if (!r.success) {
    const issues = r.error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.'), message: i.message, code: i.code }))
    throw BillErrors.BILL_INVALID_RECORD.create({ message: 'invalid messages value', detail: { issues } })
  }
  return r.data
}

function pricingOf (p: NonNullable<MessagesView['statuses']>[number]['pricing']): MetaPricing | null {
  if (p === undefined) return null
  return {
    model: p.pricing_model,
    type: normalizePricingType(p.type) ?? null,
    category: normalizeCategory(p.category) ?? null,
    billable: p.billable ?? null
  }
}

/** Facts of a `messages` change: statuses of our messages and users' messages. */
export function messagesFacts (change: WebhookChange): Fact[] {
  const value = messagesView(change)
  const phoneNumberId = value.metadata.phone_number_id
  const wabaId = change.wabaId === '' ? null : change.wabaId
  const out: Fact[] = []
  for (const s of value.statuses ?? []) {
    const f: StatusFact = {
      kind: 'status',
      wamid: s.id,
      phoneNumberId,
      wabaId,
      status: s.status,
      ts: unixSeconds(s.timestamp) * 1000,
      recipient: s.recipient_id !== undefined && s.recipient_id !== '' ? s.recipient_id : s.recipient_user_id ?? '',
      pricing: pricingOf(s.pricing)
    }
    out.push(f)
  }
  for (const m of value.messages ?? []) {
    // A `system` message (the user changed number) is not the user writing to the business.
    if (m.type === 'system') continue
    const waId = m.from !== undefined && m.from !== '' ? m.from : m.from_user_id ?? ''
    if (waId === '') continue
    const f: InboundMessageFact = { kind: 'inbound', wamid: m.id, phoneNumberId, waId, ts: unixSeconds(m.timestamp) * 1000, entryPoint: m.referral !== undefined }
    out.push(f)
  }
  return out
}

/** Facts of a `smb_message_echoes` change: messages sent from the Business App (always free). */
export function echoFacts (change: WebhookChange): EchoFact[] {
  const value = (parsed(change, 'smb_message_echoes').value) as EchoesValue
  const phoneNumberId = value.metadata.phone_number_id
  return value.message_echoes.map((e) => ({
    kind: 'echo' as const,
    wamid: e.id,
    phoneNumberId,
    wabaId: change.wabaId === '' ? null : change.wabaId,
    recipient: e.to !== undefined && e.to !== '' ? e.to : e.to_user_id ?? '',
    ts: unixSeconds(e.timestamp) * 1000
  }))
}

/**
 * A VOLUME_BASED_PRICING_TIER_UPDATE as a tier fact; other account updates give nothing. A tier
 * update naming a market or category we cannot map is invalid (dead-lettered for a look).
 */
export function tierFacts (change: WebhookChange): TierFact[] {
  const value = (parsed(change, 'account_update').value) as AccountUpdateValue
  if (value.event !== 'VOLUME_BASED_PRICING_TIER_UPDATE') return []
  const info = value.volume_tier_info
  const market = normalizeMarket(info?.region ?? '')
  const category = tierCounterCategory(normalizeCategory(info?.pricing_category) ?? 'service')
  const tier = parseTier(info?.tier ?? '')
  const month = info?.effective_month ?? ''
  const at = Number(info?.tier_update_time)
  if (market === undefined || category === undefined || tier === undefined || !/^\d{4}-\d{2}$/.test(month) || !Number.isFinite(at) || change.wabaId === '') {
    throw BillErrors.BILL_INVALID_RECORD.create({ message: 'volume tier update cannot be mapped', detail: { volume_tier_info: info } })
  }
  return [{ kind: 'tier', wabaId: change.wabaId, market, category, month, lower: tier.lower, upper: tier.upper, updateTime: at * 1000 }]
}

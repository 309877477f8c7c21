/**
 * Webhook bodies in Meta's shapes (facts §2–§4): the envelope, inbound messages of every type,
 * statuses with pricing, coexistence echoes, contact sync, history chunks and account updates.
 * Keys are written in Meta's order so encoded bodies look like the real ones.
 */
import { buildWebhookError } from '@coexist/meta'

/** The phone number a phone-scoped webhook belongs to. */
export interface NumberRef {
  phoneNumberId: string
  displayPhoneNumber: string
  wabaId: string
}

export interface WebhookChange { field: string, value: Record<string, unknown> }
export interface WebhookEntry { id: string, time?: number, changes: WebhookChange[] }
/** `{ object: 'whatsapp_business_account', entry: [...] }` */
export interface WebhookEnvelope { object: 'whatsapp_business_account', entry: WebhookEntry[] }

/** Unix seconds as Meta writes them in message payloads (a string). */
export function unixSeconds (ms: number): string {
  return String(Math.floor(ms / 1000))
}

/** The envelope around one change. `time` (Unix seconds) is set on account events. */
export function buildEnvelope (entryId: string, field: string, value: Record<string, unknown>, time?: number): WebhookEnvelope {
  const entry: WebhookEntry = time === undefined ? { id: entryId, changes: [{ field, value }] } : { id: entryId, time, changes: [{ field, value }] }
  return { object: 'whatsapp_business_account', entry: [entry] }
}

function phoneValue (n: NumberRef, rest: Record<string, unknown>): Record<string, unknown> {
  return {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: n.displayPhoneNumber, phone_number_id: n.phoneNumberId },
    ...rest
  }
}

// ---------------------------------------------------------------------------------------------
// Inbound messages (field `messages`)

/** Inbound message types the simulator can generate (facts §3.2). */
export const INBOUND_TYPES = [
  'text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts', 'interactive',
  'button', 'reaction', 'order', 'system', 'unsupported', 'edit', 'revoke'
] as const
export type InboundType = typeof INBOUND_TYPES[number]

export const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const
export type MediaType = typeof MEDIA_TYPES[number]

/** Default MIME type per media type. */
export const MEDIA_MIME: Readonly<Record<MediaType, string>> = Object.freeze({
  image: 'image/jpeg',
  video: 'video/mp4',
  audio: 'audio/ogg; codecs=opus',
  document: 'application/pdf',
  sticker: 'image/webp'
})

/** A media object as it appears in a webhook. */
export interface MediaRef {
  id: string
  mimeType: string
  /** Hex SHA-256 of the bytes. */
  sha256: string
  url?: string
}

export interface InboundMessageSpec {
  type: InboundType
  /** The user's phone number; empty for a user known only by a business-scoped user id. */
  from: string
  /** Business-scoped user id (BSUID), sent as `from_user_id`. */
  fromUserId?: string
  id: string
  /** Epoch ms. */
  at: number
  /** Text body, caption, reaction emoji, or system body, depending on the type. */
  text?: string
  media?: MediaRef
  filename?: string
  /** For interactive/button/reaction/edit/revoke: the wamid replied to, reacted to or changed. */
  refId?: string
  /** For interactive: `button_reply` (default) or `list_reply`. */
  interactiveType?: 'button_reply' | 'list_reply'
  /** Business display number quoted in `context.from` for replies. */
  businessNumber?: string
  /** For `unsupported`: the kind Meta did not support (e.g. `poll`). */
  unsupportedType?: string
  referral?: Record<string, unknown>
  forwarded?: boolean
}

/** One `messages[]` item of the given type, with plausible content. */
export function buildInboundMessage (s: InboundMessageSpec): Record<string, unknown> {
  const head: Record<string, unknown> = {}
  const ctxFrom = s.businessNumber ?? ''
  if (s.forwarded === true) head.context = { forwarded: true }
  else if (s.type === 'interactive' || s.type === 'button') head.context = { from: ctxFrom, id: s.refId ?? 'wamid.UNKNOWN' }
  const base = { ...head, from: s.from, ...(s.fromUserId !== undefined ? { from_user_id: s.fromUserId } : {}), id: s.id, timestamp: unixSeconds(s.at), type: s.type }
  const media = (m: MediaRef): Record<string, unknown> => ({ mime_type: m.mimeType, sha256: m.sha256, id: m.id, ...(m.url !== undefined ? { url: m.url } : {}) })
  const m = s.media ?? { id: '0', mimeType: 'application/octet-stream', sha256: '' }
  let out: Record<string, unknown>
  switch (s.type) {
    case 'text': out = { ...base, text: { body: s.text ?? 'Hello' } }; break
    case 'image':
    case 'video': out = { ...base, [s.type]: { ...(s.text !== undefined ? { caption: s.text } : {}), ...media(m) } }; break
    case 'audio': out = { ...base, audio: { ...media(m), voice: true } }; break
    case 'document': out = { ...base, document: { ...(s.text !== undefined ? { caption: s.text } : {}), filename: s.filename ?? 'document.pdf', ...media(m) } }; break
    case 'sticker': out = { ...base, sticker: { ...media(m), animated: false } }; break
    case 'location': out = { ...base, location: { address: 'Av. Paulista, 1578 - Bela Vista, São Paulo', latitude: -23.5614, longitude: -46.6559, name: 'MASP' } }; break
    case 'contacts': out = {
      ...base,
      contacts: [{
        name: { formatted_name: s.text ?? 'João Silva', first_name: 'João', last_name: 'Silva' },
        phones: [{ phone: '+55 11 97777-6666', wa_id: '5511977776666', type: 'CELL' }]
      }]
    }; break
    case 'interactive': out = s.interactiveType === 'list_reply'
      ? { ...base, interactive: { type: 'list_reply', list_reply: { id: 'opt-1', title: s.text ?? 'Standard', description: '3-5 days' } } }
      : { ...base, interactive: { type: 'button_reply', button_reply: { id: 'btn-yes', title: s.text ?? 'Yes' } } }
      break
    case 'button': out = { ...base, button: { payload: 'QUICK_REPLY_1', text: s.text ?? 'Track order' } }; break
    case 'reaction': out = { ...base, reaction: { message_id: s.refId ?? 'wamid.UNKNOWN', emoji: s.text ?? '\u{1F44D}' } }; break
    case 'order': out = {
      ...base,
      order: { catalog_id: '1234567890', text: s.text ?? 'Please deliver today', product_items: [{ product_retailer_id: 'SKU-1', quantity: 2, item_price: 19.9, currency: 'BRL' }] }
    }; break
    case 'system': out = { ...base, system: { body: s.text ?? `User ${s.from} changed from ${s.from} to ${s.from}9`, wa_id: `${s.from}9`, type: 'user_changed_number' } }; break
    case 'unsupported': out = {
      ...base,
      errors: [buildWebhookError(131051, 'Message type is currently not supported.')],
      unsupported: { type: s.unsupportedType ?? 'poll' }
    }; break
    case 'edit': out = { ...base, edit: { original_message_id: s.refId ?? 'wamid.UNKNOWN', message: { type: 'text', text: { body: s.text ?? 'edited text' } } } }; break
    case 'revoke': out = { ...base, revoke: { original_message_id: s.refId ?? 'wamid.UNKNOWN' } }; break
  }
  if (s.referral !== undefined) out.referral = s.referral
  return out
}

/** A `messages` webhook carrying user messages (with `contacts[]` unless every item is `system`). */
export function buildMessagesWebhook (n: NumberRef, items: Array<{ message: Record<string, unknown>, name?: string, waId: string, userId?: string }>): WebhookEnvelope {
  const contacts = items
    .filter((i) => i.message.type !== 'system')
    .map((i) => ({ profile: { name: i.name ?? 'Customer' }, wa_id: i.waId, ...(i.userId !== undefined ? { user_id: i.userId } : {}) }))
  const unique = contacts.filter((c, idx) => contacts.findIndex((o) => o.wa_id === c.wa_id && o.user_id === c.user_id) === idx)
  const value = phoneValue(n, {
    ...(unique.length > 0 ? { contacts: unique } : {}),
    messages: items.map((i) => i.message)
  })
  return buildEnvelope(n.wabaId, 'messages', value)
}

/** A `messages` webhook with system-level `value.errors[]` (e.g. 130429, 131060). */
export function buildMessagesErrorWebhook (n: NumberRef, code: number, details?: string): WebhookEnvelope {
  return buildEnvelope(n.wabaId, 'messages', phoneValue(n, { errors: [buildWebhookError(code, details)] }))
}

// ---------------------------------------------------------------------------------------------
// Statuses and pricing

export type PricingCategory = 'marketing' | 'utility' | 'authentication' | 'authentication_international' | 'marketing_lite' | 'service' | 'referral_conversion'
export type PricingType = 'regular' | 'free_customer_service' | 'free_entry_point'

export interface Pricing {
  billable: boolean
  pricing_model: 'PMP'
  type: PricingType
  category: PricingCategory
}

/**
 * Per-message pricing (facts §3.5, §8.1): templates are charged at their category's rate, except
 * utility templates inside an open customer service window; non-template messages are free.
 */
export function pricingFor (category: PricingCategory, windowOpen: boolean): Pricing {
  if (category === 'service') return { billable: false, pricing_model: 'PMP', type: 'free_customer_service', category }
  if (category === 'utility' && windowOpen) return { billable: false, pricing_model: 'PMP', type: 'free_customer_service', category }
  return { billable: true, pricing_model: 'PMP', type: 'regular', category }
}

export type StatusValue = 'sent' | 'delivered' | 'read' | 'played' | 'failed'

export interface StatusSpec {
  id: string
  status: StatusValue
  /** Epoch ms. */
  at: number
  recipientId: string
  pricing?: Pricing
  /** Legacy `conversation{}` (sent for Graph versions before v24.0). */
  conversation?: { id: string, expirationTimestamp?: string, originType: string }
  bizOpaqueCallbackData?: string
  errors?: Array<{ code: number, details?: string }>
}

/** One `statuses[]` item. */
export function buildStatus (s: StatusSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { id: s.id, status: s.status, timestamp: unixSeconds(s.at), recipient_id: s.recipientId }
  if (s.bizOpaqueCallbackData !== undefined) out.biz_opaque_callback_data = s.bizOpaqueCallbackData
  if (s.conversation !== undefined) {
    out.conversation = {
      id: s.conversation.id,
      ...(s.conversation.expirationTimestamp !== undefined ? { expiration_timestamp: s.conversation.expirationTimestamp } : {}),
      origin: { type: s.conversation.originType }
    }
  }
  if (s.pricing !== undefined) out.pricing = s.pricing
  if (s.errors !== undefined) out.errors = s.errors.map((e) => buildWebhookError(e.code, e.details))
  return out
}

/** A `messages` webhook with `statuses[]`. */
export function buildStatusesWebhook (n: NumberRef, statuses: StatusSpec[]): WebhookEnvelope {
  return buildEnvelope(n.wabaId, 'messages', phoneValue(n, { statuses: statuses.map(buildStatus) }))
}

// ---------------------------------------------------------------------------------------------
// Coexistence: echoes, contacts, history

export interface EchoSpec {
  to: string
  id: string
  at: number
  /** Message type and its object, as in a send request (e.g. `{ type: 'text', text: { body } }`). */
  type: string
  payload: Record<string, unknown>
}

/** One `message_echoes[]` item: a message the business sent from the app. */
export function buildEcho (n: NumberRef, e: EchoSpec): Record<string, unknown> {
  return { from: n.displayPhoneNumber, to: e.to, id: e.id, timestamp: unixSeconds(e.at), type: e.type, [e.type]: e.payload }
}

/** An `smb_message_echoes` webhook. */
export function buildEchoesWebhook (n: NumberRef, echoes: EchoSpec[]): WebhookEnvelope {
  return buildEnvelope(n.wabaId, 'smb_message_echoes', phoneValue(n, { message_echoes: echoes.map((e) => buildEcho(n, e)) }))
}

export interface ContactChange {
  phoneNumber: string
  action: 'add' | 'remove'
  fullName?: string
  firstName?: string
  /** Epoch ms. */
  at: number
}

/** An `smb_app_state_sync` webhook (contacts added/edited or removed in the Business App). */
export function buildStateSyncWebhook (n: NumberRef, changes: ContactChange[]): WebhookEnvelope {
  const stateSync = changes.map((c) => ({
    type: 'contact',
    contact: c.action === 'remove'
      ? { phone_number: c.phoneNumber }
      : { full_name: c.fullName ?? c.phoneNumber, first_name: c.firstName ?? (c.fullName ?? '').split(' ')[0] ?? '', phone_number: c.phoneNumber },
    action: c.action,
    metadata: { timestamp: unixSeconds(c.at) }
  }))
  return buildEnvelope(n.wabaId, 'smb_app_state_sync', phoneValue(n, { state_sync: stateSync }))
}

export type HistoryStatus = 'DELIVERED' | 'ERROR' | 'PENDING' | 'PLAYED' | 'READ' | 'SENT'

export interface HistoryThread {
  /** The user's phone number. */
  id: string
  messages: Record<string, unknown>[]
}

/** One chunk of the history sync (`history[0].metadata` has phase, chunk_order and progress). */
export function buildHistoryChunkWebhook (n: NumberRef, meta: { phase: 0 | 1 | 2, chunkOrder: number, progress: number }, threads: HistoryThread[]): WebhookEnvelope {
  return buildEnvelope(n.wabaId, 'history', phoneValue(n, {
    history: [{ metadata: { phase: meta.phase, chunk_order: meta.chunkOrder, progress: meta.progress }, threads }]
  }))
}

/** The history webhook sent when the business declined to share its history (error 2593109). */
export function buildHistoryDeclinedWebhook (n: NumberRef): WebhookEnvelope {
  return buildEnvelope(n.wabaId, 'history', phoneValue(n, {
    history: [{ errors: [buildWebhookError(2593109, 'History sharing is turned off by the business')] }]
  }))
}

/**
 * The later `history` webhook carrying media for placeholders of the last 14 days: user-sent
 * media in `messages[]`, business-sent media in `message_echoes[]`.
 */
export function buildHistoryMediaWebhook (n: NumberRef, items: { messages?: Record<string, unknown>[], echoes?: Record<string, unknown>[] }): WebhookEnvelope {
  return buildEnvelope(n.wabaId, 'history', phoneValue(n, {
    ...(items.messages !== undefined && items.messages.length > 0 ? { messages: items.messages } : {}),
    ...(items.echoes !== undefined && items.echoes.length > 0 ? { message_echoes: items.echoes } : {})
  }))
}

// ---------------------------------------------------------------------------------------------
// Account updates

export const ACCOUNT_EVENTS = [
  'PARTNER_ADDED', 'PARTNER_APP_INSTALLED', 'PARTNER_APP_UNINSTALLED', 'PARTNER_REMOVED',
  'ACCOUNT_OFFBOARDED', 'ACCOUNT_RECONNECTED', 'ACCOUNT_DELETED', 'ACCOUNT_RESTRICTION',
  'ACCOUNT_VIOLATION', 'DISABLED_UPDATE', 'VOLUME_BASED_PRICING_TIER_UPDATE'
] as const
export type AccountEvent = typeof ACCOUNT_EVENTS[number]

export const DISCONNECTION_REASONS = [
  'ACCOUNT_DISCONNECTED', 'BUSINESS_DOWNGRADE', 'CHANGE_NUMBER', 'COMPANION_INACTIVITY', 'PRIMARY_INACTIVITY', 'USER_RE_REGISTERED'
] as const
export type DisconnectionReason = typeof DISCONNECTION_REASONS[number]

export interface AccountUpdateSpec {
  event: AccountEvent
  wabaId: string
  /** Epoch ms; `entry.time` is Unix seconds. */
  at: number
  ownerBusinessId?: string
  /**
   * For PARTNER_* events Meta's examples put the partner's business id in `entry.id` and the
   * customer's WABA in `waba_info.waba_id`; set this to reproduce that (facts §2.1).
   */
  partnerBusinessId?: string
  partnerAppId?: string
  /** The 2025 onboarding page shows PARTNER_REMOVED with `value.phone_number`. */
  phoneNumber?: string
  disconnection?: { reason: DisconnectionReason | string, initiatedBy: 'USER' | 'SYSTEM' }
}

/** An `account_update` webhook (onboarding, offboarding, reconnection, disconnection). */
export function buildAccountUpdateWebhook (s: AccountUpdateSpec): WebhookEnvelope {
  const partnerEvent = s.event.startsWith('PARTNER_')
  const value: Record<string, unknown> = { event: s.event }
  if (s.phoneNumber !== undefined) value.phone_number = s.phoneNumber
  if (partnerEvent) {
    value.waba_info = {
      waba_id: s.wabaId,
      owner_business_id: s.ownerBusinessId ?? '880000000000123',
      ...(s.partnerAppId !== undefined ? { partner_app_id: s.partnerAppId } : {}),
      ...(s.partnerBusinessId !== undefined ? { solution_partner_business_ids: [s.partnerBusinessId] } : {})
    }
  }
  if (s.disconnection !== undefined) value.disconnection_info = { reason: s.disconnection.reason, initiated_by: s.disconnection.initiatedBy }
  const entryId = partnerEvent && s.partnerBusinessId !== undefined ? s.partnerBusinessId : s.wabaId
  return buildEnvelope(entryId, 'account_update', value, Math.floor(s.at / 1000))
}

/**
 * Meta's parsed webhook values (from @coexist/meta's schemas) → the rows sync stores. One place
 * decides direction, source, the preview text and the media reference of every message shape.
 */
import { inboundSender, unixSeconds, type EchoMessage, type HistoryMessage, type HistoryThread, type InboundMessage, type WebhookContact } from '@coexist/meta'
import type { MessageInput } from '../store/messages.ts'

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker'])

type Loose = Record<string, unknown>
const obj = (v: unknown): Loose | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Loose : undefined)
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null)

/** A phone-like id as Meta's `wa_id` has it: digits only (echo `to` may be `+1 650-555-1234`). */
export function normalisePhone (v: string | null | undefined): string | null {
  if (v === undefined || v === null || v.trim() === '') return null
  return /^[+\d\s().-]+$/.test(v) ? v.replace(/\D/g, '') : v
}

/** The readable part of a message: body, caption, reply title, emoji… (null when there is none). */
export function messageText (m: Loose): string | null {
  const type = typeof m.type === 'string' ? m.type : ''
  const body = obj(m[type])
  switch (type) {
    case 'text': return str(body?.body)
    case 'interactive': {
      const reply = obj(body?.[String(body?.type ?? '')])
      return str(reply?.title) ?? str(body?.body && obj(body.body)?.text) ?? str(obj(body?.nfm_reply)?.body)
    }
    case 'button': return str(body?.text)
    case 'reaction': return str(body?.emoji)
    case 'location': return str(body?.name) ?? str(body?.address)
    case 'order': return str(body?.text)
    case 'system': return str(body?.body)
    case 'edit': {
      const inner = obj(body?.message)
      return str(obj(inner?.text)?.body) ?? str(inner?.caption)
    }
    case 'template': return str(body?.name)
    default:
      return MEDIA_TYPES.has(type) ? str(body?.caption) : null
  }
}

function media (m: Loose): { id: string | null, mime: string | null } {
  const type = typeof m.type === 'string' ? m.type : ''
  if (!MEDIA_TYPES.has(type)) return { id: null, mime: null }
  const body = obj(m[type])
  return { id: str(body?.id), mime: str(body?.mime_type) }
}

function base (m: Loose & { id: string, type: string, timestamp: string | number }): Omit<MessageInput, 'direction' | 'source' | 'fromId' | 'toId' | 'customer'> {
  const { id: mediaId, mime } = media(m)
  const context = obj(m.context)
  return {
    wamid: m.id,
    type: m.type,
    text: messageText(m),
    content: m,
    mediaId,
    mediaMimeType: mime,
    mediaPending: m.type === 'media_placeholder',
    contextWamid: str(context?.id),
    referral: obj(m.referral) ?? null,
    sentAt: new Date(unixSeconds(m.timestamp) * 1000),
    historyStatus: str(obj(m.history_context)?.status),
    requestId: null
  }
}

/** A live user message (`messages` field): inbound, from the customer; opens the service window. */
export function inboundMessageRow (m: InboundMessage, contacts: readonly WebhookContact[] | undefined): MessageInput {
  const who = inboundSender(m, contacts ?? [])
  const waId = normalisePhone(who.waId)
  return {
    ...base(m as unknown as Loose & InboundMessage),
    direction: 'inbound',
    source: 'customer',
    fromId: waId,
    toId: null,
    customer: { waId, userId: who.userId ?? null, profileName: who.profileName ?? null, username: who.username ?? null }
  }
}

/** A message the business sent from the WhatsApp Business app (`smb_message_echoes`). */
export function echoMessageRow (e: EchoMessage, contacts?: readonly WebhookContact[]): MessageInput {
  const to = normalisePhone(e.to)
  const userId = str(e.to_user_id)
  const c = contacts?.find((x) => (userId !== null && x.user_id === userId) || (to !== null && x.wa_id === to))
  return {
    ...base(e as unknown as Loose & EchoMessage),
    direction: 'outbound',
    source: 'business_app',
    fromId: normalisePhone(e.from),
    toId: to,
    customer: { waId: to ?? normalisePhone(c?.wa_id), userId: userId ?? str(c?.user_id), profileName: c?.profile?.name ?? null, username: c?.profile?.username ?? null }
  }
}

/**
 * The messages of one history thread. Business→user items carry `to` (or come from the business
 * number); the rest are the user's. History never opens a service window (source `history`).
 */
export function historyThreadRows (thread: HistoryThread, businessDisplayNumber: string): MessageInput[] {
  const business = normalisePhone(businessDisplayNumber)
  const ctx = thread.context
  const waId = normalisePhone(thread.id) ?? normalisePhone(ctx?.wa_id)
  const customer = { waId, userId: str(ctx?.user_id), username: str(ctx?.username) }
  return thread.messages.map((m: HistoryMessage) => {
    const from = normalisePhone(m.from)
    const outbound = (m.to !== undefined && m.to !== '') || str(m.to_user_id) !== null || (from !== null && from === business)
    return {
      ...base(m as unknown as Loose & HistoryMessage),
      direction: outbound ? 'outbound' : 'inbound',
      source: 'history',
      fromId: from,
      toId: outbound ? (normalisePhone(m.to) ?? waId) : business,
      customer: {
        waId: customer.waId ?? (outbound ? normalisePhone(m.to) : from),
        userId: customer.userId ?? str(outbound ? m.to_user_id : m.from_user_id),
        username: customer.username
      }
    }
  })
}

/** The media a `history` webhook delivers after its placeholders: user-sent (`messages[]`) or business-sent (`message_echoes[]`). */
export function historyMediaRows (value: {
  messages?: ReadonlyArray<Loose & { id: string, type: string, from: string, from_user_id?: string | undefined, timestamp: string | number }> | undefined,
  message_echoes?: readonly EchoMessage[] | undefined
}, businessDisplayNumber: string): MessageInput[] {
  const business = normalisePhone(businessDisplayNumber)
  const inbound = (value.messages ?? []).map((m): MessageInput => {
    const from = normalisePhone(m.from)
    return { ...base(m), direction: 'inbound', source: 'history', fromId: from, toId: business, customer: { waId: from, userId: str(m.from_user_id) } }
  })
  const outbound = (value.message_echoes ?? []).map((e): MessageInput => ({ ...echoMessageRow(e), source: 'history' }))
  return [...inbound, ...outbound]
}

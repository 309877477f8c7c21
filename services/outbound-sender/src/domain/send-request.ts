import { createHash } from 'node:crypto'
import { SendMessageInputSchema } from '@coexist/meta'
import { z } from 'zod'

/** Mark an inbound message as read (optionally showing a typing indicator). Not a message: no window, no pair limit. */
const MarkAsReadRequestSchema = z.looseObject({
  type: z.literal('mark_as_read'),
  /** The wamid of the customer's message. */
  message_id: z.string().min(1).max(256),
  typing_indicator: z.looseObject({ type: z.literal('text') }).optional()
})

const Envelope = z.object({
  /** The sending number (Meta's phone_number_id); it must be one of the caller's active numbers. */
  phone_number_id: z.string().regex(/^\d{1,32}$/, { error: 'must be a Cloud API phone number id (digits)' })
})

/**
 * The body of `POST /v1/messages`: the sending number plus a Cloud API message exactly as Meta
 * takes it (`messaging_product` optional), validated by Meta's rules from `@coexist/meta`; or a
 * mark-as-read (`type: "mark_as_read"`).
 *
 * @example { "phone_number_id": "1065…", "to": "+5511988887777", "type": "text", "text": { "body": "Hi" } }
 */
export const SendRequestSchema = z.intersection(Envelope, z.discriminatedUnion('type', [SendMessageInputSchema, MarkAsReadRequestSchema]))
export type SendRequest = z.output<typeof SendRequestSchema>

/** One item of `POST /v1/messages/batch`: a send request with its own optional idempotency key. */
const BatchItemSchema = z.intersection(
  z.object({ idempotency_key: z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, { error: 'visible ASCII only' }).optional() }),
  SendRequestSchema
)

export const MAX_BATCH = 500
export const BatchRequestSchema = z.object({ messages: z.array(BatchItemSchema).min(1).max(MAX_BATCH) })

/** What the sender stores and sends for one request. */
export interface PreparedSend {
  phoneNumberId: string
  /** The Graph API body of `POST /{phone-number-id}/messages`. */
  graphBody: Record<string, unknown>
  /** `to` or the BSUID as given; '' for mark-as-read. */
  recipient: string
  recipientType: 'phone' | 'user_id'
  /** Message type (`text`, `template`, …, `mark_as_read`). */
  messageType: string
  isTemplate: boolean
  /** A user-visible message that the window rule applies to (not templates, not read receipts). */
  needsOpenWindow: boolean
  /** The window and pair-limit key of the recipient (see {@link customerKey}); '' for mark-as-read. */
  customer: string
  /** SHA-256 of the canonical request (Idempotency-Key comparisons). */
  requestHash: Buffer
}

/**
 * The key a customer is known by in windows and pair limits: the phone number's digits (Meta's
 * wa_id has no `+`), or `uid:<BSUID>` for a business-scoped user id.
 */
export function customerKey (recipient: string, type: 'phone' | 'user_id'): string {
  return type === 'phone' ? recipient.replace(/\D/g, '') : `uid:${recipient}`
}

/** JSON with object keys sorted at every level: the same request hashes the same. */
function canonicalJson (value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}

/** Turns a validated request into what is stored, hashed and sent. */
export function prepareSend (req: SendRequest): PreparedSend {
  const { phone_number_id: phoneNumberId, ...rest } = req as SendRequest & Record<string, unknown>
  let graphBody: Record<string, unknown>
  let recipient = ''
  let recipientType: 'phone' | 'user_id' = 'phone'
  if (rest.type === 'mark_as_read') {
    const { type: _type, ...read } = rest
    graphBody = { ...read, messaging_product: 'whatsapp', status: 'read' }
  } else {
    graphBody = { ...rest, messaging_product: 'whatsapp' }
    if (typeof rest.to === 'string') recipient = rest.to
    else if (typeof rest.recipient === 'string') { recipient = rest.recipient; recipientType = 'user_id' }
  }
  const messageType = String(rest.type)
  const isTemplate = messageType === 'template'
  return {
    phoneNumberId,
    graphBody,
    recipient,
    recipientType,
    messageType,
    isTemplate,
    needsOpenWindow: !isTemplate && messageType !== 'mark_as_read',
    customer: recipient === '' ? '' : customerKey(recipient, recipientType),
    requestHash: createHash('sha256').update(canonicalJson({ phone_number_id: phoneNumberId, message: graphBody })).digest()
  }
}

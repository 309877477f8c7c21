/**
 * Validation of `POST /{phone-number-id}/messages` bodies, answering the way Meta does: a missing
 * or wrong envelope key (`messaging_product`, `to`) is `100`; a missing field of the message is
 * `131008`; a present but invalid value is `131009`.
 */
import { z } from 'zod'
import { graphError, type GraphErrorAnswer } from './graph-error.ts'

const mediaObject = z.looseObject({
  id: z.string().min(1).optional(),
  link: z.url().optional(),
  caption: z.string().max(1024).optional(),
  filename: z.string().optional()
}).refine((m) => m.id !== undefined || m.link !== undefined, { message: 'id or link is required', path: ['id'] })

/** Per-type payload schemas (facts §6.2). Unknown extra keys are tolerated, as Meta does. */
const PAYLOADS = {
  text: z.looseObject({ body: z.string().min(1).max(4096), preview_url: z.boolean().optional() }),
  image: mediaObject,
  video: mediaObject,
  audio: mediaObject,
  document: mediaObject,
  sticker: mediaObject,
  template: z.looseObject({
    name: z.string().min(1).max(512).regex(/^[a-z0-9_]+$/, 'template name: lowercase letters, digits and _'),
    language: z.looseObject({ code: z.string().min(2), policy: z.string().optional() }),
    components: z.array(z.looseObject({ type: z.string().min(1) })).optional()
  }),
  interactive: z.looseObject({
    type: z.enum(['button', 'list', 'cta_url', 'flow', 'product', 'product_list', 'catalog_message', 'location_request_message', 'address_message', 'call_permission_request']),
    action: z.looseObject({}),
    body: z.looseObject({ text: z.string().max(4096) }).optional()
  }),
  reaction: z.looseObject({ message_id: z.string().min(1), emoji: z.string() }),
  location: z.looseObject({ latitude: z.union([z.number(), z.string()]), longitude: z.union([z.number(), z.string()]), name: z.string().optional(), address: z.string().optional() }),
  contacts: z.array(z.looseObject({ name: z.looseObject({ formatted_name: z.string().min(1) }) })).min(1)
} as const

/** Message types the simulator accepts for sending. */
export type SendType = keyof typeof PAYLOADS
const SEND_TYPES = Object.keys(PAYLOADS) as SendType[]

const Envelope = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  recipient_type: z.enum(['individual', 'group']).optional(),
  to: z.string().min(1),
  type: z.string().optional(),
  context: z.looseObject({ message_id: z.string().min(1) }).optional(),
  biz_opaque_callback_data: z.string().max(512).optional()
})

/** A validated send request: what the simulator needs to decide and to record. */
export interface SendRequest {
  to: string
  type: SendType
  /** Present for `template` sends. */
  templateName?: string
  reactionTo?: string
  bizOpaqueCallbackData?: string
}

/** Mark-as-read body: `{ messaging_product, status: 'read', message_id, typing_indicator? }`. */
export const MarkReadSchema = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  status: z.literal('read'),
  message_id: z.string().min(1),
  typing_indicator: z.looseObject({ type: z.literal('text') }).optional()
})

export type Validated<T> = { ok: true, value: T } | { ok: false, answer: GraphErrorAnswer }

const isMissing = (issue: z.core.$ZodIssue): boolean =>
  issue.code === 'invalid_type' && /received undefined/.test(issue.message)

const pathText = (path: readonly PropertyKey[]): string =>
  path.map((p, i) => typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `['${String(p)}']`).join('')

function fromIssues (issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): GraphErrorAnswer {
  const issue = issues[0] as z.core.$ZodIssue
  const path = [...prefix, ...issue.path]
  return isMissing(issue)
    ? graphError(131008, { details: `The parameter ${pathText(path)} is required.` })
    : graphError(131009, { details: `${pathText(path)}: ${issue.message}` })
}

/** Validates a send body; on failure the answer carries Meta's code for the first problem. */
export function validateSendBody (body: unknown): Validated<SendRequest> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, answer: graphError(100, { details: 'The request body must be a JSON object.' }) }
  }
  const env = Envelope.safeParse(body)
  if (!env.success) {
    const issue = env.error.issues[0] as z.core.$ZodIssue
    const key = String(issue.path[0] ?? '')
    if (key === 'messaging_product' || key === 'to') {
      return { ok: false, answer: graphError(100, { details: isMissing(issue) ? `The parameter ${key} is required.` : `Invalid parameter ${key}.` }) }
    }
    return { ok: false, answer: fromIssues(env.error.issues, []) }
  }
  const type = (env.data.type ?? 'text') as SendType
  if (!SEND_TYPES.includes(type)) {
    return { ok: false, answer: graphError(131009, { details: `Param type must be one of {${SEND_TYPES.join(', ').toUpperCase()}}.` }) }
  }
  const payload = (body as Record<string, unknown>)[type]
  const r = PAYLOADS[type].safeParse(payload)
  if (!r.success) return { ok: false, answer: fromIssues(r.error.issues, [type]) }
  if (type === 'reaction' && env.data.context !== undefined) {
    return { ok: false, answer: graphError(131009, { details: 'context is not allowed with reaction messages.' }) }
  }
  const value: SendRequest = { to: env.data.to, type }
  if (type === 'template') value.templateName = (r.data as { name: string }).name
  if (type === 'reaction') value.reactionTo = (r.data as { message_id: string }).message_id
  if (env.data.biz_opaque_callback_data !== undefined) value.bizOpaqueCallbackData = env.data.biz_opaque_callback_data
  return { ok: true, value }
}

/** Digits of a recipient as Meta returns them in `wa_id` (`+55 11 9…` → `55119…`). */
export function waIdOf (to: string): string {
  return to.replace(/\D/g, '')
}

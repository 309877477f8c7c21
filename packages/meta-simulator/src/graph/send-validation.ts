/**
 * Validation of Graph request bodies with `@coexist/meta`'s schemas, answering the way Meta does:
 * a missing or wrong envelope key (`messaging_product`, `to`) is `100`; a missing field of the
 * message is `131008`; a present but invalid value (or an unknown type) is `131009`.
 */
import type { z } from 'zod'
import {
  MarkAsReadBodySchema, SendMessageBodySchema, SmbAppDataBodySchema,
  type MarkAsReadBody, type SendMessageType, type SmbAppDataBody
} from '@coexist/meta'
import { graphError, type GraphErrorAnswer } from './graph-error.ts'

/** What the simulator needs from a valid send to decide and to record. */
export interface SendRequest {
  /** `to` as given (phone number), or the BSUID in `recipient`. */
  to: string
  /** Whether `to` is a business-scoped user id rather than a phone number. */
  bsuid: boolean
  type: SendMessageType
  templateName?: string
  bizOpaqueCallbackData?: string
}

export type Validated<T> = { ok: true, value: T } | { ok: false, answer: GraphErrorAnswer }

const ENVELOPE_KEYS = new Set(['messaging_product', 'to', 'recipient'])

const isMissing = (issue: z.core.$ZodIssue): boolean =>
  issue.code === 'invalid_type' && /received undefined/.test(issue.message)

const pathText = (path: readonly PropertyKey[]): string =>
  path.map((p, i) => typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `['${String(p)}']`).join('')

/** Meta's code for the first zod issue of a request body. */
function answerFor (issues: readonly z.core.$ZodIssue[]): GraphErrorAnswer {
  const issue = issues[0] as z.core.$ZodIssue
  const key = String(issue.path[0] ?? '')
  if (ENVELOPE_KEYS.has(key)) {
    return graphError(100, { details: isMissing(issue) ? `The parameter ${key} is required.` : `Invalid parameter ${key}: ${issue.message}` })
  }
  if (key === 'type' && issue.code === 'invalid_union') return graphError(131009, { details: 'Parameter value is not valid: unsupported message type.' })
  return isMissing(issue)
    ? graphError(131008, { details: `The parameter ${pathText(issue.path)} is required.` })
    : graphError(131009, { details: `${pathText(issue.path)}: ${issue.message}` })
}

const notAnObject = (body: unknown): boolean => body === null || typeof body !== 'object' || Array.isArray(body)

/** Validates a send body; on failure the answer carries Meta's code for the first problem. */
export function validateSendBody (body: unknown): Validated<SendRequest> {
  if (notAnObject(body)) return { ok: false, answer: graphError(100, { details: 'The request body must be a JSON object.' }) }
  // Meta defaults a missing `type` to text.
  const input = (body as { type?: unknown }).type === undefined ? { ...(body as object), type: 'text' } : body
  const r = SendMessageBodySchema.safeParse(input)
  if (!r.success) return { ok: false, answer: answerFor(r.error.issues) }
  const m = r.data
  const bsuid = m.to === undefined
  const value: SendRequest = { to: (m.to ?? m.recipient) as string, bsuid, type: m.type }
  if (m.type === 'template') value.templateName = m.template.name
  if (m.biz_opaque_callback_data !== undefined) value.bizOpaqueCallbackData = m.biz_opaque_callback_data
  return { ok: true, value }
}

/** Validates a mark-as-read body (`status: 'read'`). */
export function validateMarkAsRead (body: unknown): Validated<MarkAsReadBody> {
  if (notAnObject(body)) return { ok: false, answer: graphError(100, { details: 'The request body must be a JSON object.' }) }
  const r = MarkAsReadBodySchema.safeParse(body)
  return r.success ? { ok: true, value: r.data } : { ok: false, answer: graphError(100, { details: `Invalid parameter ${pathText(r.error.issues[0]?.path ?? [])}.` }) }
}

/** Validates an `smb_app_data` body; Meta answers 100 for a bad one. */
export function validateSmbAppData (body: unknown): Validated<SmbAppDataBody> {
  if (notAnObject(body)) return { ok: false, answer: graphError(100, { details: 'The parameter messaging_product is required.' }) }
  const r = SmbAppDataBodySchema.safeParse(body)
  if (r.success) return { ok: true, value: r.data }
  const key = String(r.error.issues[0]?.path[0] ?? 'sync_type')
  return {
    ok: false,
    answer: graphError(100, { details: key === 'sync_type' ? 'The parameter sync_type must be one of {smb_app_state_sync, history}.' : `The parameter ${key} is required.` })
  }
}

/** Digits of a recipient as Meta returns them in `wa_id` (`+55 11 9…` → `55119…`). */
export function waIdOf (to: string): string {
  return to.replace(/\D/g, '')
}

/**
 * Parsing of webhook bodies that never throws: malformed JSON, wrong types, oversized or odd
 * bodies all come back as a typed `{ ok: false, error }`.
 */
import type { z } from 'zod'
import {
  WEBHOOK_VALUE_SCHEMAS, WebhookEnvelopeSchema,
  type WebhookEnvelope, type WebhookField, type WebhookValue
} from './webhook-schemas.ts'

/** Default cap on a body we agree to parse: Meta sends at most 3 MB; this leaves headroom. */
export const DEFAULT_MAX_WEBHOOK_BYTES = 16 * 1024 * 1024
/** At most this many validation issues are reported (a huge bad body must not make a huge error). */
const MAX_ISSUES = 20

export type WebhookParseErrorKind = 'too_large' | 'invalid_json' | 'invalid_envelope' | 'unknown_field' | 'invalid_value'

export interface WebhookIssue {
  /** Dotted path of the bad field, e.g. `messages.0.text.body`. */
  path: string
  message: string
  code: string
}

/** Why a body or a change value could not be parsed. */
export interface WebhookParseError {
  kind: WebhookParseErrorKind
  message: string
  /** Validation issues (at most 20), for dead-letter records. */
  issues?: WebhookIssue[]
}

export type EnvelopeResult = { ok: true, envelope: WebhookEnvelope } | { ok: false, error: WebhookParseError }

/** A successfully parsed change, discriminated by `field`. */
export type ParsedChange = { [F in WebhookField]: { ok: true, field: F, value: WebhookValue<F> } }[WebhookField]
export type ChangeResult = ParsedChange | { ok: false, field: string, error: WebhookParseError }

function toIssues (error: z.ZodError): WebhookIssue[] {
  return error.issues.slice(0, MAX_ISSUES).map((i) => ({
    path: i.path.map(String).join('.'),
    message: i.message,
    code: i.code
  }))
}

/**
 * Parses a webhook POST body (raw bytes, text, or an already-parsed value) into the envelope
 * `{ object, entry[].changes[] }`; change values stay unparsed (see {@link parseChangeValue}).
 * Never throws.
 *
 * @example
 * const r = parseEnvelope(rawBody)
 * if (!r.ok) return reply.code(400).send(r.error)
 * for (const c of iterateChanges(r.envelope)) …
 */
export function parseEnvelope (input: unknown, opts: { maxBytes?: number } = {}): EnvelopeResult {
  try {
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_WEBHOOK_BYTES
    let value: unknown = input
    if (Buffer.isBuffer(input) || input instanceof Uint8Array || typeof input === 'string') {
      const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength
      if (size > maxBytes) return { ok: false, error: { kind: 'too_large', message: `body of ${size} bytes exceeds ${maxBytes}` } }
      const text = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8')
      try {
        value = JSON.parse(text)
      } catch (err) {
        return { ok: false, error: { kind: 'invalid_json', message: `body is not JSON: ${(err as Error).message.slice(0, 200)}` } }
      }
    }
    const r = WebhookEnvelopeSchema.safeParse(value)
    if (!r.success) return { ok: false, error: { kind: 'invalid_envelope', message: 'body is not a webhook envelope', issues: toIssues(r.error) } }
    return { ok: true, envelope: r.data }
  } catch (err) {
    // Belt and braces: nothing above should throw, but a parser must not take the process down.
    return { ok: false, error: { kind: 'invalid_envelope', message: `unexpected parse failure: ${String((err as Error)?.message ?? err).slice(0, 200)}` } }
  }
}

/** True when `field` is one this package has a schema for. */
export function isKnownWebhookField (field: string): field is WebhookField {
  return Object.hasOwn(WEBHOOK_VALUE_SCHEMAS, field)
}

/**
 * Validates one change value against its field's schema. Unknown fields give
 * `{ ok: false, error.kind: 'unknown_field' }` (route them to the unrouted topic). Never throws.
 *
 * @example
 * const r = parseChangeValue(change.field, change.value)
 * if (r.ok && r.field === 'messages') r.value.messages?.forEach(…)
 */
export function parseChangeValue (field: string, value: unknown): ChangeResult {
  if (!isKnownWebhookField(field)) return { ok: false, field, error: { kind: 'unknown_field', message: `no schema for webhook field ${JSON.stringify(field).slice(0, 100)}` } }
  try {
    const schema = WEBHOOK_VALUE_SCHEMAS[field] as z.ZodType
    const r = schema.safeParse(value)
    if (!r.success) return { ok: false, field, error: { kind: 'invalid_value', message: `invalid ${field} value`, issues: toIssues(r.error) } }
    return { ok: true, field, value: r.data } as ParsedChange
  } catch (err) {
    return { ok: false, field, error: { kind: 'invalid_value', message: `unexpected parse failure: ${String((err as Error)?.message ?? err).slice(0, 200)}` } }
  }
}

/** One change with its entry's id and time, in body order. */
export interface ChangeRef {
  entryId: string
  entryTime: number | undefined
  entryIndex: number
  changeIndex: number
  field: string
  value: unknown
}

/** Flattens `entry[].changes[]` into a list (body order). */
export function listChanges (envelope: WebhookEnvelope): ChangeRef[] {
  const out: ChangeRef[] = []
  envelope.entry.forEach((entry, entryIndex) => {
    entry.changes.forEach((change, changeIndex) => {
      out.push({ entryId: entry.id, entryTime: entry.time, entryIndex, changeIndex, field: change.field, value: change.value })
    })
  })
  return out
}

/** How to route one change. */
export interface RoutingKeys {
  /** Partition key: `phoneNumberId` when the change has one, else `wabaId`. */
  key: string
  phoneNumberId: string | undefined
  /** The customer's WABA: `value.waba_info.waba_id` when present (PARTNER_* events), else `entry.id`. */
  wabaId: string
  /** `entry.id` as sent (may be the partner's business id). */
  entryId: string
  displayPhoneNumber: string | undefined
}

function str (v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/**
 * The routing rule, from ids already read (non-empty or undefined): a change is keyed by its
 * number, else by its WABA, which is `waba_info.waba_id` on `account_update` when present and
 * `entry.id` otherwise. Used by {@link changeRoutingKeys} and by readers that scan the bytes.
 */
export function routeChange (entryId: string, field: string, phoneNumberId: string | undefined, wabaInfoId: string | undefined): { key: string, wabaId: string } {
  const wabaId = (field === 'account_update' ? wabaInfoId : undefined) ?? entryId
  return { key: phoneNumberId ?? wabaId, wabaId }
}

/**
 * Routing keys of one change, read defensively from the raw value (works before or without
 * schema validation). For `account_update` the WABA comes from `value.waba_info.waba_id` when
 * present, because on `PARTNER_*` events `entry.id` can be the partner's business id.
 */
export function changeRoutingKeys (entryId: string, field: string, value: unknown): RoutingKeys {
  const v = (value !== null && typeof value === 'object' ? value : {}) as Record<string, unknown>
  const metadata = (v.metadata !== null && typeof v.metadata === 'object' ? v.metadata : {}) as Record<string, unknown>
  const wabaInfo = (v.waba_info !== null && typeof v.waba_info === 'object' ? v.waba_info : {}) as Record<string, unknown>
  const phoneNumberId = str(metadata.phone_number_id)
  return {
    ...routeChange(entryId, field, phoneNumberId, str(wabaInfo.waba_id)),
    phoneNumberId,
    entryId,
    displayPhoneNumber: str(metadata.display_phone_number) ?? str(v.display_phone_number)
  }
}

/** One change of a body, parsed, with its routing keys. */
export type ParsedWebhookChange = ChangeRef & { routing: RoutingKeys, result: ChangeResult }

/**
 * Parses a whole body: the envelope, then every change value. A bad change does not stop the
 * others; each carries its own result.
 */
export function parseWebhook (input: unknown, opts: { maxBytes?: number } = {}): { ok: true, envelope: WebhookEnvelope, changes: ParsedWebhookChange[] } | { ok: false, error: WebhookParseError } {
  const env = parseEnvelope(input, opts)
  if (!env.ok) return env
  const changes = listChanges(env.envelope).map((c) => ({
    ...c,
    routing: changeRoutingKeys(c.entryId, c.field, c.value),
    result: parseChangeValue(c.field, c.value)
  }))
  return { ok: true, envelope: env.envelope, changes }
}

/** Who sent / received a message, from whichever identifiers Meta included. */
export interface UserIdentity {
  /** Phone number (`wa_id`); undefined when Meta sent it empty or not at all. */
  waId: string | undefined
  /** Business-scoped user id. */
  userId: string | undefined
  parentUserId: string | undefined
  username: string | undefined
  profileName: string | undefined
  countryCode: string | undefined
}

/**
 * The sender of an inbound message, combining `from`/`from_user_id` with the matching
 * `value.contacts[]` entry (matched by `user_id`, else `wa_id`, else the only contact).
 */
export function inboundSender (
  message: { from?: string | undefined, from_user_id?: string | undefined, from_parent_user_id?: string | undefined },
  contacts: ReadonlyArray<{ wa_id?: string | undefined, user_id?: string | undefined, parent_user_id?: string | undefined, profile?: { name?: string | undefined, username?: string | undefined, country_code?: string | undefined } | undefined }> = []
): UserIdentity {
  const waId = str(message.from)
  const userId = str(message.from_user_id)
  const contact = contacts.find((c) => userId !== undefined && c.user_id === userId) ??
    contacts.find((c) => waId !== undefined && c.wa_id === waId) ??
    (contacts.length === 1 ? contacts[0] : undefined)
  return {
    waId: waId ?? str(contact?.wa_id),
    userId: userId ?? str(contact?.user_id),
    parentUserId: str(message.from_parent_user_id) ?? str(contact?.parent_user_id),
    username: str(contact?.profile?.username),
    profileName: str(contact?.profile?.name),
    countryCode: str(contact?.profile?.country_code)
  }
}

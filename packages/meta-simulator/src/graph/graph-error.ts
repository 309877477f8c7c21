/**
 * Synchronous Graph error answers, built only from `@coexist/meta`'s error table so the simulator
 * answers with exactly the codes, titles and HTTP statuses the rest of Coexist classifies.
 */
import { randomBytes } from 'node:crypto'
import { buildGraphErrorBody, metaHttpStatus, type GraphErrorBody } from '@coexist/meta'

/** An error answer: HTTP status plus Meta's `{ error: {...} }` body. */
export interface GraphErrorAnswer {
  status: number
  body: GraphErrorBody
}

/** `error_data.details` texts in Meta's wording, for codes where the default title is too vague. */
const META_DETAILS: Readonly<Record<number, string>> = Object.freeze({
  130429: 'Cloud API message throughput has been reached.',
  131056: 'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
  131047: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  131000: 'Something went wrong',
  131016: 'A service is temporarily unavailable.',
  133004: 'Server is temporarily unavailable.',
  2: 'Service temporarily unavailable',
  2593107: 'Synchronization Request limit exceeded',
  2593108: 'Synchronization Request made outside of allowed time window'
})

/** A random `fbtrace_id` shaped like Meta's (23 url-safe characters). */
function fbtraceId (): string {
  return randomBytes(18).toString('base64url').slice(0, 23)
}

/**
 * Builds an error answer for a Meta code: status from the table, body exactly as Meta writes it.
 *
 * @example
 * graphError(130429) // { status: 400, body: { error: { message: '(#130429) Rate limit hit', … } } }
 */
export function graphError (code: number, opts: { details?: string, subcode?: number, message?: string } = {}): GraphErrorAnswer {
  const details = opts.details ?? META_DETAILS[code]
  const body = buildGraphErrorBody(code, { ...(details !== undefined ? { details } : {}), fbtraceId: fbtraceId() })
  const error = { ...body.error }
  if (opts.message !== undefined) error.message = opts.message
  if (opts.subcode !== undefined) {
    // Meta puts error_subcode after code; keep its key order so bodies look like the real ones.
    const { fbtrace_id: trace, error_data: data, ...head } = error
    return { status: metaHttpStatus(code), body: { error: { ...head, error_subcode: opts.subcode, error_data: data, fbtrace_id: trace } } }
  }
  return { status: metaHttpStatus(code), body: { error } }
}

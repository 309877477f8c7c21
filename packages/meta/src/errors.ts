/**
 * Meta Cloud API error codes as data, and the `META_` error catalog of this package.
 *
 * The table follows Meta's error-codes reference (titles and HTTP statuses as documented there);
 * `kind`, `scope`, `retryable` and the back-off hints are our reading of Meta's advice (facts file
 * §7.2/§7.3). Decide by `code` and `kind`, never by title or message text: Meta says titles will
 * be deprecated. The simulator answers with exactly these codes, titles and HTTP statuses.
 */
import { z } from 'zod'
import { CoexistError, defineErrors, type CreateOptions } from '@coexist/errors'

/** What a Meta error means for the caller; senders route retries by this. */
export type MetaErrorKind =
  /** 130429: the number's messages-per-second limit; slow the whole number down. */
  | 'throughput'
  /** 131056: business↔user pair limit; back off for that recipient only (4^X s). */
  | 'pair_rate'
  /** 4, 80007: the app's or the WABA's management-API call budget. */
  | 'rate_limit'
  /** 131047: more than 24 h since the user's last message; send a template. */
  | 'window_closed'
  /** 0, 190: token invalid or expired; needs a new token. */
  | 'token'
  /** 3, 10, 200–299, 131005: permission missing or removed. */
  | 'permission'
  /** 132xxx: template missing, paused, disabled or wrongly parameterised. */
  | 'template'
  /** 131021, 131026, 131050, 130472: this recipient cannot get this message; do not retry. */
  | 'recipient_permanent'
  /** 131049: Meta chose not to deliver (per-user marketing limit); not before 24 h. */
  | 'recipient_deferred'
  /** 368, 130497, 131031, 131048: account or number restricted by policy or quality. */
  | 'policy'
  /** 131042, 134011: billing or payments set-up. */
  | 'payment'
  /** 131052, 131053: media could not be downloaded or uploaded. */
  | 'media'
  /** 33, 131037, 131045, 133xxx: number registration / display-name / PIN state. */
  | 'registration'
  /** 131060: coexistence companion-device problem, reported by webhook. */
  | 'coexistence'
  /** 2593107, 2593108, 2593109: coexistence contacts/history sync refused. */
  | 'sync'
  /** 1, 100, 131008, 131009, 131051, 135000: the request is wrong; fix it. */
  | 'invalid_request'
  /** 2, 131000, 131016, 131057, 133004, 2494100: Meta-side, temporary. */
  | 'transient'
  /** A code not in the table: treated as permanent. */
  | 'permanent'

/** Who a back-off applies to: one recipient, the sending number, the WABA, the app, or this request. */
export type MetaErrorScope = 'request' | 'recipient' | 'phone_number' | 'waba' | 'app'

export interface MetaErrorSpec {
  /** Meta's `error.code`. */
  readonly code: number
  /** Upper end of a documented range (`200`–`299`); absent for single codes. */
  readonly codeMax?: number
  /** Meta's title (the text after `(#code) ` in `error.message`). */
  readonly title: string
  /**
   * HTTP status Meta documents for a synchronous response; `null` when the code is documented
   * only in webhooks or without a status (131060, 2593109, 2494100).
   */
  readonly httpStatus: number | null
  readonly kind: MetaErrorKind
  readonly scope: MetaErrorScope
  /** Whether the same request can succeed later without a change on our side. */
  readonly retryable: boolean
  /** Suggested first wait in ms; for `pair_rate` see {@link metaRetryDelayMs}. */
  readonly backoffMs?: number
}

const MIN = 60_000
const HOUR = 60 * MIN

/** Every code of facts-file §7.2, in Meta's words where Meta has a title. */
export const META_ERROR_TABLE: readonly MetaErrorSpec[] = Object.freeze([
  // Authorization
  { code: 0, title: 'AuthException', httpStatus: 401, kind: 'token', scope: 'waba', retryable: false },
  { code: 3, title: 'API Method', httpStatus: 500, kind: 'permission', scope: 'request', retryable: false },
  { code: 10, title: 'Permission Denied', httpStatus: 403, kind: 'permission', scope: 'request', retryable: false },
  { code: 190, title: 'Access token has expired', httpStatus: 401, kind: 'token', scope: 'waba', retryable: false },
  { code: 200, codeMax: 299, title: 'API Permission', httpStatus: 403, kind: 'permission', scope: 'request', retryable: false },
  // Integrity
  { code: 368, title: 'Temporarily blocked for policies violations', httpStatus: 403, kind: 'policy', scope: 'waba', retryable: false },
  { code: 130497, title: 'Business account is restricted from messaging users in this country.', httpStatus: 403, kind: 'policy', scope: 'recipient', retryable: false },
  { code: 131031, title: 'Account has been locked', httpStatus: 403, kind: 'policy', scope: 'phone_number', retryable: false },
  // Synchronization (coexistence)
  { code: 2593107, title: 'Synchronization Request limit exceeded', httpStatus: 400, kind: 'sync', scope: 'phone_number', retryable: false },
  { code: 2593108, title: 'Synchronization Request made outside of allowed time window', httpStatus: 400, kind: 'sync', scope: 'phone_number', retryable: false },
  { code: 2593109, title: 'History sync is turned off by the business from the WhatsApp Business App', httpStatus: null, kind: 'sync', scope: 'phone_number', retryable: false },
  // Throttling
  { code: 4, title: 'API Too Many Calls', httpStatus: 400, kind: 'rate_limit', scope: 'app', retryable: true, backoffMs: 5 * MIN },
  { code: 80007, title: 'Rate limit issues', httpStatus: 400, kind: 'rate_limit', scope: 'waba', retryable: true, backoffMs: 5 * MIN },
  { code: 130429, title: 'Rate limit hit', httpStatus: 400, kind: 'throughput', scope: 'phone_number', retryable: true, backoffMs: 1000 },
  { code: 131048, title: 'Spam rate limit hit', httpStatus: 400, kind: 'policy', scope: 'phone_number', retryable: false },
  { code: 131056, title: '(Business Account, Consumer Account) pair rate limit hit', httpStatus: 400, kind: 'pair_rate', scope: 'recipient', retryable: true, backoffMs: 1000 },
  { code: 133016, title: 'Account register deregister rate limit exceeded', httpStatus: 400, kind: 'registration', scope: 'phone_number', retryable: true, backoffMs: HOUR },
  // Other
  { code: 1, title: 'API Unknown', httpStatus: 400, kind: 'invalid_request', scope: 'request', retryable: false },
  { code: 2, title: 'API Service', httpStatus: 503, kind: 'transient', scope: 'request', retryable: true, backoffMs: 5000 },
  { code: 33, title: 'Parameter value is not valid', httpStatus: 400, kind: 'registration', scope: 'phone_number', retryable: false },
  { code: 100, title: 'Invalid parameter', httpStatus: 400, kind: 'invalid_request', scope: 'request', retryable: false },
  { code: 130472, title: 'User\u2019s number is part of an experiment', httpStatus: 400, kind: 'recipient_permanent', scope: 'recipient', retryable: false },
  { code: 131000, title: 'Something went wrong', httpStatus: 500, kind: 'transient', scope: 'request', retryable: true, backoffMs: 5000 },
  { code: 131005, title: 'Access denied', httpStatus: 403, kind: 'permission', scope: 'request', retryable: false },
  { code: 131008, title: 'Required parameter is missing', httpStatus: 400, kind: 'invalid_request', scope: 'request', retryable: false },
  { code: 131009, title: 'Parameter value is not valid', httpStatus: 400, kind: 'invalid_request', scope: 'request', retryable: false },
  { code: 131016, title: 'Service unavailable', httpStatus: 500, kind: 'transient', scope: 'request', retryable: true, backoffMs: 5000 },
  { code: 131021, title: 'Recipient cannot be sender', httpStatus: 400, kind: 'recipient_permanent', scope: 'recipient', retryable: false },
  { code: 131026, title: 'Message Undeliverable', httpStatus: 400, kind: 'recipient_permanent', scope: 'recipient', retryable: false },
  { code: 131037, title: 'WhatsApp provided number needs display name approval before message can be sent.', httpStatus: 400, kind: 'registration', scope: 'phone_number', retryable: false },
  { code: 131042, title: 'Business eligibility payment issue', httpStatus: 400, kind: 'payment', scope: 'waba', retryable: false },
  { code: 131045, title: 'Incorrect certificate', httpStatus: 500, kind: 'registration', scope: 'phone_number', retryable: false },
  { code: 131047, title: 'Re-engagement message', httpStatus: 400, kind: 'window_closed', scope: 'recipient', retryable: false },
  { code: 131049, title: 'Meta chose not to deliver.', httpStatus: 400, kind: 'recipient_deferred', scope: 'recipient', retryable: true, backoffMs: 24 * HOUR },
  { code: 131050, title: 'User has stopped receipt of marketing messages.', httpStatus: 400, kind: 'recipient_permanent', scope: 'recipient', retryable: false },
  { code: 131051, title: 'Unsupported message type', httpStatus: 400, kind: 'invalid_request', scope: 'request', retryable: false },
  { code: 131052, title: 'Media download error', httpStatus: 400, kind: 'media', scope: 'request', retryable: false },
  { code: 131053, title: 'Media upload error', httpStatus: 400, kind: 'media', scope: 'request', retryable: false },
  { code: 131057, title: 'Account in maintenance mode', httpStatus: 500, kind: 'transient', scope: 'phone_number', retryable: true, backoffMs: MIN },
  // BSUID rollout (business-scoped-user-ids doc, Nov 2025): authentication templates need a phone number. Title and HTTP status [I].
  { code: 131062, title: 'Business-scoped user ID recipients are not supported for this message', httpStatus: 400, kind: 'invalid_request', scope: 'request', retryable: false },
  { code: 131060, title: 'Message sent through an unsupported companion device', httpStatus: null, kind: 'coexistence', scope: 'phone_number', retryable: false },
  { code: 132000, title: 'Template Param Count Mismatch', httpStatus: 400, kind: 'template', scope: 'request', retryable: false },
  { code: 132001, title: 'Template does not exist', httpStatus: 404, kind: 'template', scope: 'request', retryable: false },
  { code: 132005, title: 'Template Hydrated Text Too Long', httpStatus: 400, kind: 'template', scope: 'request', retryable: false },
  { code: 132007, title: 'Template Format Character Policy Violated', httpStatus: 400, kind: 'template', scope: 'request', retryable: false },
  { code: 132012, title: 'Template Parameter Format Mismatch', httpStatus: 400, kind: 'template', scope: 'request', retryable: false },
  { code: 132015, title: 'Template is Paused', httpStatus: 400, kind: 'template', scope: 'request', retryable: false },
  { code: 132016, title: 'Template is Disabled', httpStatus: 400, kind: 'template', scope: 'request', retryable: false },
  { code: 132068, title: 'Flow is blocked', httpStatus: 400, kind: 'template', scope: 'request', retryable: false },
  // "10 messages with this flow in the last hour": later is fine.
  { code: 132069, title: 'Flow is throttled', httpStatus: 400, kind: 'template', scope: 'request', retryable: true, backoffMs: HOUR },
  { code: 133000, title: 'Incomplete Deregistration', httpStatus: 500, kind: 'registration', scope: 'phone_number', retryable: false },
  { code: 133004, title: 'Server Temporarily Unavailable', httpStatus: 503, kind: 'transient', scope: 'request', retryable: true, backoffMs: 5000 },
  { code: 133005, title: 'Two step verification PIN Mismatch', httpStatus: 400, kind: 'registration', scope: 'phone_number', retryable: false },
  { code: 133006, title: 'Phone number re-verification needed', httpStatus: 400, kind: 'registration', scope: 'phone_number', retryable: false },
  // The wait is given in error_data.details; 1 h is a floor-less guess callers should override.
  { code: 133008, title: 'Too Many two step verification PIN Guesses', httpStatus: 400, kind: 'registration', scope: 'phone_number', retryable: true, backoffMs: HOUR },
  { code: 133009, title: 'Two step verification PIN Guessed Too Fast', httpStatus: 400, kind: 'registration', scope: 'phone_number', retryable: true, backoffMs: MIN },
  { code: 133010, title: 'Phone number Not Registered', httpStatus: 400, kind: 'registration', scope: 'phone_number', retryable: false },
  { code: 133015, title: 'Please wait a few minutes before attempting to register this phone number', httpStatus: 400, kind: 'registration', scope: 'phone_number', retryable: true, backoffMs: 5 * MIN },
  { code: 134011, title: 'WhatsApp Payments terms of service has not been accepted', httpStatus: 400, kind: 'payment', scope: 'waba', retryable: false },
  { code: 135000, title: 'Generic user error', httpStatus: 400, kind: 'invalid_request', scope: 'request', retryable: false },
  { code: 2494100, title: 'Account is in maintenance mode.', httpStatus: null, kind: 'transient', scope: 'phone_number', retryable: true, backoffMs: 3 * MIN }
] satisfies MetaErrorSpec[]).map((s) => Object.freeze(s)) as readonly MetaErrorSpec[]

const BY_CODE = new Map<number, MetaErrorSpec>()
for (const spec of META_ERROR_TABLE) {
  for (let c = spec.code; c <= (spec.codeMax ?? spec.code); c++) BY_CODE.set(c, spec)
}

/** The table entry for a Meta code (ranges resolved), or undefined for an unknown code. */
export function metaErrorSpec (code: number): MetaErrorSpec | undefined {
  return BY_CODE.get(code)
}

/** The result of classifying one Meta error. */
export interface MetaErrorClassification {
  readonly code: number
  readonly title: string
  readonly kind: MetaErrorKind
  readonly scope: MetaErrorScope
  readonly retryable: boolean
  readonly backoffMs: number | undefined
  /** HTTP status Meta documents for this code (null: webhook-only or undocumented). */
  readonly httpStatus: number | null
  /** False when the code is not in the table (classified as permanent). */
  readonly known: boolean
}

/**
 * Classifies a Meta error by code. Accepts a bare `{ code }`, a webhook error object
 * (`{ code, title, ... }`), or a Graph error body (`{ error: { code, ... } }`). Never throws:
 * anything without a numeric code classifies as an unknown permanent error (code -1).
 *
 * @example
 * classifyMetaError({ code: 131056 }) // { kind: 'pair_rate', scope: 'recipient', retryable: true, ... }
 */
export function classifyMetaError (input: unknown): MetaErrorClassification {
  const code = extractCode(input)
  const spec = code === undefined ? undefined : BY_CODE.get(code)
  if (spec === undefined) {
    const title = typeof (input as { title?: unknown } | null)?.title === 'string' ? (input as { title: string }).title : 'Unknown error'
    return Object.freeze({ code: code ?? -1, title, kind: 'permanent', scope: 'request', retryable: false, backoffMs: undefined, httpStatus: null, known: false })
  }
  return Object.freeze({
    code: code as number,
    title: spec.title,
    kind: spec.kind,
    scope: spec.scope,
    retryable: spec.retryable,
    backoffMs: spec.backoffMs,
    httpStatus: spec.httpStatus,
    known: true
  })
}

function extractCode (input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isInteger(input) ? input : undefined
  if (input === null || typeof input !== 'object') return undefined
  const direct = (input as { code?: unknown }).code
  if (typeof direct === 'number' && Number.isInteger(direct)) return direct
  if (typeof direct === 'string' && /^\d{1,10}$/.test(direct)) return Number(direct)
  const nested = (input as { error?: unknown }).error
  if (nested !== undefined && nested !== input) return extractCode(nested)
  return undefined
}

/** Upper bound for the pair-rate back-off (4^X s grows fast; beyond ~17 min we just wait that). */
export const PAIR_RATE_MAX_BACKOFF_MS = 1024_000

/**
 * Suggested wait before retry number `attempt` (0-based: the wait after the first failure is
 * `attempt = 0`). For 131056 Meta's rule is 4^X seconds (1 s, 4 s, 16 s, 64 s, …, capped at
 * {@link PAIR_RATE_MAX_BACKOFF_MS}); for other retryable codes the table's hint, doubled per
 * attempt for `transient`/`throughput` (capped at 10× the hint). Undefined when not retryable.
 * No jitter: callers add their own.
 */
export function metaRetryDelayMs (codeOrClassification: number | { code: number }, attempt: number): number | undefined {
  const c = typeof codeOrClassification === 'number' ? classifyMetaError({ code: codeOrClassification }) : classifyMetaError(codeOrClassification)
  if (!c.retryable || c.backoffMs === undefined) return undefined
  const n = Math.max(0, Math.floor(Number.isFinite(attempt) ? attempt : 0))
  if (c.kind === 'pair_rate') return Math.min(PAIR_RATE_MAX_BACKOFF_MS, 1000 * 4 ** Math.min(n, 10))
  if (c.kind === 'transient' || c.kind === 'throughput') return Math.min(c.backoffMs * 10, c.backoffMs * 2 ** Math.min(n, 10))
  return c.backoffMs
}

/** Errors this package throws itself (besides {@link MetaApiError}). */
export const MetaErrors = defineErrors('META_', {
  META_API_ERROR: { status: 502, message: 'Meta Graph API returned an error' },
  META_RESPONSE_INVALID: { status: 502, message: 'Meta Graph API response did not match the expected shape' },
  META_REQUEST_INVALID: { status: 422, message: 'request body is not valid for the Cloud API' },
  /** Refused before any byte was written (DNS, connect refused, pool closed): safe to retry. */
  META_CONNECT_FAILED: { status: 503, message: 'could not connect to Meta Graph API; the request was not sent', retryable: true, backoffMs: 1000 },
  /** The request was (possibly) written, then the connection failed or the deadline passed: outcome unknown. */
  META_OUTCOME_UNKNOWN: { status: 504, message: 'connection to Meta Graph API failed after the request was sent; outcome unknown', retryable: true, backoffMs: 1000 },
  META_MEDIA_TOO_LARGE: { status: 413, message: 'media is larger than the allowed size' },
  META_NO_APP_SECRETS: { status: 500, message: 'signature verifier needs at least one app secret' },
  META_CONFIG_INVALID: { status: 500, message: 'Graph client configuration is invalid' }
})

/** Detail about a Meta error that is safe to log (never the token). */
export interface MetaApiErrorInit {
  classification: MetaErrorClassification
  /** HTTP status of the response (0 when the error came from a webhook). */
  httpStatus: number
  message?: string
  type?: string
  details?: string
  fbtraceId?: string
  errorSubcode?: number
  cause?: unknown
}

/**
 * A Meta error (synchronous Graph response or webhook error object), carrying Meta's code,
 * `fbtrace_id`, `error_data.details` and the classification. `code` is always `META_API_ERROR`;
 * decide with `metaCode` / `classification.kind`. `retryable`/`backoffMs` come from the table.
 */
export class MetaApiError extends CoexistError {
  readonly metaCode: number
  readonly classification: MetaErrorClassification
  readonly httpStatus: number
  readonly fbtraceId: string | undefined
  readonly details: string | undefined
  readonly metaType: string | undefined
  readonly errorSubcode: number | undefined

  constructor (init: MetaApiErrorInit) {
    const c = init.classification
    const opts: CreateOptions = {
      message: `Meta error ${c.code} (${c.title})${init.details !== undefined ? `: ${init.details}` : ''}`,
      cause: init.cause,
      detail: { metaCode: c.code, kind: c.kind, httpStatus: init.httpStatus, fbtraceId: init.fbtraceId, details: init.details }
    }
    super('META_API_ERROR', { ...MetaErrors.META_API_ERROR.spec, retryable: c.retryable, backoffMs: c.backoffMs }, opts)
    this.name = 'MetaApiError'
    this.metaCode = c.code
    this.classification = c
    this.httpStatus = init.httpStatus
    this.fbtraceId = init.fbtraceId
    this.details = init.details
    this.metaType = init.type
    this.errorSubcode = init.errorSubcode
  }
}

/** The first MetaApiError in `err`'s cause chain, if any. */
export function findMetaApiError (err: unknown, depth = 0): MetaApiError | undefined {
  if (err instanceof MetaApiError) return err
  if (err === null || typeof err !== 'object' || depth > 16) return undefined
  return findMetaApiError((err as { cause?: unknown }).cause, depth + 1)
}

/** Meta's synchronous error body: `{ error: { message, type, code, error_data, error_subcode?, fbtrace_id } }`. */
export const GraphErrorBodySchema = z.looseObject({
  error: z.looseObject({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.number().int(),
    error_subcode: z.number().int().optional(),
    error_user_title: z.string().optional(),
    error_user_msg: z.string().optional(),
    error_data: z.looseObject({
      messaging_product: z.string().optional(),
      details: z.string().optional()
    }).optional(),
    fbtrace_id: z.string().optional()
  })
})
export type GraphErrorBody = z.infer<typeof GraphErrorBodySchema>

/**
 * Parses a Graph error body (object or JSON text). Returns undefined when it is not one; never
 * throws.
 */
export function parseGraphErrorBody (json: unknown): GraphErrorBody | undefined {
  let value = json
  if (typeof json === 'string' || Buffer.isBuffer(json)) {
    try { value = JSON.parse(json.toString()) } catch { return undefined }
  }
  const r = GraphErrorBodySchema.safeParse(value)
  return r.success ? r.data : undefined
}

/** Builds a MetaApiError from a parsed Graph error body and the response's HTTP status. */
export function metaApiErrorFromBody (body: GraphErrorBody, httpStatus: number, cause?: unknown): MetaApiError {
  const e = body.error
  return new MetaApiError({
    classification: classifyMetaError({ code: e.code }),
    httpStatus,
    message: e.message,
    type: e.type,
    details: e.error_data?.details,
    fbtraceId: e.fbtrace_id,
    errorSubcode: e.error_subcode,
    cause
  })
}

/** Builds a MetaApiError from a webhook error object (`statuses[].errors[]`, `value.errors[]`…). */
export function metaApiErrorFromWebhook (error: { code: number, title?: string, message?: string, error_data?: { details?: string } }): MetaApiError {
  return new MetaApiError({
    classification: classifyMetaError({ code: error.code }),
    httpStatus: 0,
    message: error.message,
    details: error.error_data?.details
  })
}

/** Synchronous Graph error body exactly as Meta writes it, for the simulator and tests. */
export function buildGraphErrorBody (code: number, opts: { details?: string, fbtraceId?: string, type?: string } = {}): GraphErrorBody {
  const title = metaErrorSpec(code)?.title ?? 'Unknown error'
  return {
    error: {
      message: `(#${code}) ${title}`,
      type: opts.type ?? 'OAuthException',
      code,
      error_data: { messaging_product: 'whatsapp', details: opts.details ?? title },
      fbtrace_id: opts.fbtraceId ?? 'AbCdEfGhIjKlMnOpQrStUvW'
    }
  }
}

/** Webhook error object (`{ code, title, message, error_data.details, href }`) for a Meta code. */
export function buildWebhookError (code: number, details?: string): { code: number, title: string, message: string, error_data: { details: string }, href: string } {
  const title = metaErrorSpec(code)?.title ?? 'Unknown error'
  return { code, title, message: title, error_data: { details: details ?? title }, href: '/documentation/business-messaging/whatsapp/support/error-codes' }
}

/** HTTP status the simulator should answer with for a code (documented status, else 400). */
export function metaHttpStatus (code: number): number {
  return metaErrorSpec(code)?.httpStatus ?? 400
}

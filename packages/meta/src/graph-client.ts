/**
 * The Graph API client (undici). Transport is a dependency (`dispatcher`); base URL and version
 * come from config. Every call takes the access token per call and never logs or quotes it.
 *
 * Failures are coded errors, decided by code:
 * - `META_API_ERROR` ({@link MetaApiError}): Meta answered with its error body; see
 *   `classification` (kind, scope, retryable, back-off).
 * - `META_CONNECT_FAILED`: nothing was written to Meta (DNS, refused, connect timeout, closed
 *   client, or our deadline passed while the request was still queued). Safe to retry.
 * - `META_OUTCOME_UNKNOWN`: the request was (possibly) written, then the connection failed, the
 *   deadline passed, or Meta's edge answered a non-Graph 5xx. Retrying a send may duplicate it
 *   (there is no idempotency key on `/messages`). `detail.reason` says what happened.
 * - `META_RESPONSE_INVALID`: a 2xx whose body is not what Meta documents (or a non-Graph 4xx).
 * - `META_REQUEST_INVALID`: our own request failed validation before anything was sent.
 * - `META_MEDIA_TOO_LARGE`: a download exceeded `maxBytes`.
 */
import { channel } from 'node:diagnostics_channel'
import { Agent, type Dispatcher } from 'undici'
import type { z } from 'zod'
import type { CoexistError } from '@coexist/errors'
import { MetaErrors, metaApiErrorFromBody, parseGraphErrorBody } from './errors.ts'
import {
  MediaUrlResponseSchema, PhoneNumberResponseSchema, PricingAnalyticsQuerySchema, PricingAnalyticsResponseSchema, SendMessageInputSchema,
  SendMessageResponseSchema, SmbAppDataResponseSchema, SuccessResponseSchema, type MediaUrlResponse, type PhoneNumberResponse,
  type PricingAnalyticsQuery, type PricingAnalyticsResponse, type SendMessageInput, type SendMessageResponse,
  type SmbAppDataResponse, type SuccessResponse, type SyncType
} from './send-schemas.ts'

/** The subset of a pino logger the client uses. */
export interface GraphLogger {
  debug: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
}

export interface GraphClientOptions {
  /** e.g. `https://graph.facebook.com` (or the simulator's URL); from config. */
  baseUrl: string
  /** Graph version path segment, e.g. `v24.0`; from config. */
  version: string
  /** Transport; when absent the client creates (and `close()` closes) one pooled undici Agent. */
  dispatcher?: Dispatcher
  logger?: GraphLogger
  /** Deadline per call, from dispatch to the last body byte. Default 30 s. */
  timeoutMs?: number
  /** Connect timeout of the Agent the client creates. Default min(timeoutMs, 10 s). */
  connectTimeoutMs?: number
  /** Keep-alive connections per origin of the Agent the client creates. Default 64. */
  connections?: number
  /** Largest JSON response accepted. Default 1 MiB. */
  maxResponseBytes?: number
  /**
   * Host suffixes a media download URL may point at (the bearer token is sent there). URLs on
   * `baseUrl`'s origin are always allowed. Default: Meta's CDN/lookaside hosts.
   */
  mediaHosts?: readonly string[]
}

/** Diagnostics channel: one message per Graph call `{ method, path, statusCode?, durationMs, outcome, metaCode? }` (no token). */
export const GRAPH_REQUEST_CHANNEL = 'coexist:meta:graph-request'
const requestChannel = channel(GRAPH_REQUEST_CHANNEL)

const DEFAULT_MEDIA_HOSTS = ['fbsbx.com', 'facebook.com', 'fbcdn.net', 'whatsapp.net', 'whatsapp.com'] as const
/** Documents can reach 100 MB. */
export const DEFAULT_MEDIA_MAX_BYTES = 100 * 1024 * 1024
const SAFE_ID = /^[A-Za-z0-9_.-]{1,128}$/
const SAFE_FIELD = /^[a-z0-9_.(){},]{1,256}$/i

export interface MediaDownload {
  data: Buffer
  contentType: string | undefined
  size: number
}

export interface GraphClient {
  /** `POST /{phone-number-id}/messages`: validates the body (SendMessageInputSchema) and sends it. */
  sendMessage: (phoneNumberId: string, token: string, body: SendMessageInput) => Promise<SendMessageResponse>
  /**
   * `POST /{phone-number-id}/messages` with a body validated by SendMessageInputSchema before and
   * serialized as JSON (e.g. a request the send API validated and stored): sent as is, not
   * validated again. Only its shape (a JSON object) is checked.
   *
   * @example
   * const { messages } = await graph.sendValidatedMessage(phoneNumberId, token, storedBodyJson)
   */
  sendValidatedMessage: (phoneNumberId: string, token: string, json: string) => Promise<SendMessageResponse>
  /** Marks an inbound message as read (optionally showing a typing indicator). */
  markAsRead: (phoneNumberId: string, token: string, wamid: string, opts?: { typingIndicator?: boolean }) => Promise<SuccessResponse>
  /** `POST /{phone-number-id}/smb_app_data` with `sync_type`: starts the one-time contacts or history sync. */
  requestAppDataSync: (phoneNumberId: string, token: string, syncType: SyncType) => Promise<SmbAppDataResponse>
  /** `GET /{media-id}`: a download URL (valid 5 min), MIME type, size. */
  getMediaUrl: (mediaId: string, token: string, opts?: { phoneNumberId?: string }) => Promise<MediaUrlResponse>
  /** Downloads media from a URL given by Meta, with the token, refusing more than `maxBytes`. */
  downloadMedia: (url: string, token: string, opts?: { maxBytes?: number }) => Promise<MediaDownload>
  /** `POST /{waba-id}/subscribed_apps`, optionally with a WABA callback override. */
  subscribeApp: (wabaId: string, token: string, opts?: { overrideCallbackUri?: string, verifyToken?: string }) => Promise<SuccessResponse>
  /** `GET /{phone-number-id}?fields=…`. */
  getPhoneNumber: (phoneNumberId: string, token: string, fields: readonly string[]) => Promise<PhoneNumberResponse>
  /**
   * `GET /{waba-id}?fields=pricing_analytics.start(…).end(…).granularity(…)…`: Meta's per-message
   * pricing figures (volume, approximate cost in the WABA currency) for a period. Meta hides
   * cost from businesses that bill through a partner; the call then fails with Meta's error.
   */
  getPricingAnalytics: (wabaId: string, token: string, query: PricingAnalyticsQuery) => Promise<PricingAnalyticsResponse>
  /** Closes the Agent the client created (a given dispatcher is left to its owner). */
  close: () => Promise<void>
}

interface RawResponse {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** Why a dispatch failed, and whether the request had started being written. */
class DispatchFailure extends Error {
  readonly started: boolean
  readonly reason: 'timeout' | 'too_large' | 'network'
  constructor (cause: unknown, started: boolean, reason: 'timeout' | 'too_large' | 'network') {
    super('dispatch failed', { cause })
    this.started = started
    this.reason = reason
  }
}

function networkCode (err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e !== null && typeof e === 'object' && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
}

/**
 * Dispatches one request and buffers the response (up to `maxBytes`), tracking whether undici
 * began writing it (`onRequestStart` runs on a connected socket just before the bytes go out).
 */
function dispatchBuffered (dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, timeoutMs: number, maxBytes: number): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    let started = false
    let settled = false
    let controller: Dispatcher.DispatchController | undefined
    let failure: DispatchFailure | undefined
    let statusCode = 0
    let headers: Record<string, string | string[] | undefined> = {}
    const chunks: Buffer[] = []
    let size = 0

    const finish = (fn: () => void): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      fn()
    }
    const timer = setTimeout(() => {
      failure = new DispatchFailure(new Error(`no complete answer within ${timeoutMs} ms`), started, 'timeout')
      if (controller !== undefined) controller.abort(failure)
      else finish(() => reject(failure)) // still queued or connecting: it will be aborted before any byte is written
    }, timeoutMs)

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart (ctrl) {
        controller = ctrl
        if (settled) { ctrl.abort(failure ?? new Error('cancelled')); return }
        started = true
      },
      onResponseStart (ctrl, code, hdrs) {
        statusCode = code
        headers = hdrs as Record<string, string | string[] | undefined>
        const declared = Number(hdrs['content-length'])
        if (Number.isFinite(declared) && declared > maxBytes) {
          failure = new DispatchFailure(new Error(`content-length ${declared} exceeds ${maxBytes}`), true, 'too_large')
          ctrl.abort(failure)
        }
      },
      onResponseData (ctrl, chunk) {
        size += chunk.length
        if (size > maxBytes) {
          failure ??= new DispatchFailure(new Error(`response exceeds ${maxBytes} bytes`), true, 'too_large')
          ctrl.abort(failure)
          return
        }
        chunks.push(chunk)
      },
      onResponseEnd () {
        finish(() => resolve({ statusCode, headers, body: Buffer.concat(chunks, size) }))
      },
      onResponseError (_ctrl, err) {
        finish(() => reject(failure ?? new DispatchFailure(err, started, 'network')))
      }
    }
    try {
      dispatcher.dispatch({ ...opts, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, handler)
    } catch (err) {
      finish(() => reject(new DispatchFailure(err, false, 'network')))
    }
  })
}

/** JSON text that is sent as is. */
class PreparedJson {
  readonly json: string
  constructor (json: string) { this.json = json }
}
/** Looks like the JSON text of an object (it was produced by JSON.stringify or Postgres; Meta parses it). */
const isJsonObjectText = (s: unknown): s is string => typeof s === 'string' && s.trimStart().startsWith('{') && s.trimEnd().endsWith('}')

function assertId (name: string, value: string): void {
  if (typeof value !== 'string' || !SAFE_ID.test(value)) {
    throw MetaErrors.META_REQUEST_INVALID.create({ message: `${name} is not a valid Graph id`, detail: { field: name } })
  }
}

function assertToken (token: string): void {
  // Bearer tokens are URL-safe ASCII; anything else could inject headers. Never quote it.
  if (typeof token !== 'string' || token.length === 0 || token.length > 4096 || !/^[\x21-\x7e]+$/.test(token)) {
    throw MetaErrors.META_REQUEST_INVALID.create({ message: 'access token is missing or malformed', detail: { field: 'token' } })
  }
}

function issuesOf (error: z.ZodError): Array<{ path: string, message: string }> {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.'), message: i.message }))
}

/**
 * Creates a Graph API client. One pooled undici Agent is created when no dispatcher is given.
 *
 * @example
 * const graph = createGraphClient({ baseUrl: config.meta.graphUrl, version: config.meta.graphVersion, logger })
 * const { messages } = await graph.sendMessage(phoneNumberId, token, { to: '+5511988887777', type: 'text', text: { body: 'Hi' } })
 */
export function createGraphClient (opts: GraphClientOptions): GraphClient {
  let base: URL
  try {
    base = new URL(opts.baseUrl)
  } catch (err) {
    throw MetaErrors.META_CONFIG_INVALID.create({ message: 'Graph baseUrl is not a URL', cause: err })
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw MetaErrors.META_CONFIG_INVALID.create({ message: 'Graph baseUrl must be http(s)' })
  if (!/^v\d{1,3}\.\d{1,3}$/.test(opts.version)) throw MetaErrors.META_CONFIG_INVALID.create({ message: `Graph version must look like v24.0, got ${JSON.stringify(opts.version).slice(0, 40)}` })
  const timeoutMs = opts.timeoutMs ?? 30_000
  if (!(timeoutMs > 0)) throw MetaErrors.META_CONFIG_INVALID.create({ message: 'timeoutMs must be positive' })
  const maxResponseBytes = opts.maxResponseBytes ?? 1024 * 1024
  const origin = base.origin
  const prefix = `${base.pathname.replace(/\/+$/, '')}/${opts.version}`
  const ownDispatcher = opts.dispatcher === undefined
  const dispatcher: Dispatcher = opts.dispatcher ?? new Agent({
    connections: opts.connections ?? 64,
    keepAliveTimeout: 30_000,
    connect: { timeout: opts.connectTimeoutMs ?? Math.min(timeoutMs, 10_000) }
  })
  const mediaHosts = opts.mediaHosts ?? DEFAULT_MEDIA_HOSTS
  const log = opts.logger

  function publish (msg: Record<string, unknown>): void {
    if (requestChannel.hasSubscribers) requestChannel.publish(msg)
  }

  /** Maps a dispatch failure to a coded error; `what` names the call without any secret. */
  function transportError (err: unknown, what: { method: string, path: string }): CoexistError {
    if (!(err instanceof DispatchFailure)) return MetaErrors.META_OUTCOME_UNKNOWN.create({ cause: err, detail: { ...what, reason: 'unexpected' } })
    const code = networkCode(err.cause)
    if (err.reason === 'too_large') return MetaErrors.META_RESPONSE_INVALID.create({ message: 'Meta response is larger than allowed', cause: err.cause, detail: { ...what, reason: 'too_large' } })
    if (!err.started) {
      return MetaErrors.META_CONNECT_FAILED.create({
        message: err.reason === 'timeout' ? 'Meta Graph API could not be reached in time; the request was not sent' : undefined,
        cause: err.cause,
        detail: { ...what, reason: err.reason, networkCode: code, requestSent: false }
      })
    }
    return MetaErrors.META_OUTCOME_UNKNOWN.create({
      message: err.reason === 'timeout'
        ? 'Meta Graph API did not answer in time after the request was sent; outcome unknown'
        : undefined,
      cause: err.cause,
      detail: { ...what, reason: err.reason, networkCode: code, requestSent: true }
    })
  }

  /** `body`: a value to serialize, or (`{ json }`) JSON text to send as is. */
  async function call<S extends z.ZodType> (method: 'GET' | 'POST', path: string, token: string, schema: S, body?: unknown): Promise<z.output<S>> {
    assertToken(token)
    const fullPath = `${prefix}${path}`
    const what = { method, path: fullPath.split('?')[0] as string }
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' }
    let payload: string | undefined
    if (body !== undefined) {
      payload = body instanceof PreparedJson ? body.json : JSON.stringify(body)
      headers['content-type'] = 'application/json'
    }
    const t0 = performance.now()
    let res: RawResponse
    try {
      res = await dispatchBuffered(dispatcher, { origin, path: fullPath, method, headers, body: payload ?? null, idempotent: method === 'GET' }, timeoutMs, maxResponseBytes)
    } catch (err) {
      const e = transportError(err, what)
      const durationMs = Math.round(performance.now() - t0)
      log?.warn({ ...what, durationMs, code: e.code, detail: e.detail }, 'Graph call failed')
      publish({ ...what, durationMs, outcome: e.code })
      throw e
    }
    const durationMs = Math.round(performance.now() - t0)
    let json: unknown
    try {
      json = res.body.length === 0 ? undefined : JSON.parse(res.body.toString('utf8'))
    } catch {
      json = undefined
    }
    if (res.statusCode >= 400 || (json !== null && typeof json === 'object' && 'error' in json)) {
      const graphError = parseGraphErrorBody(json)
      if (graphError !== undefined) {
        const e = metaApiErrorFromBody(graphError, res.statusCode)
        log?.debug({ ...what, statusCode: res.statusCode, durationMs, metaCode: e.metaCode, kind: e.classification.kind, fbtraceId: e.fbtraceId }, 'Graph error')
        publish({ ...what, statusCode: res.statusCode, durationMs, outcome: 'META_API_ERROR', metaCode: e.metaCode })
        throw e
      }
      // Not a Graph error body: an edge/proxy failure. 5xx/429 may or may not have been processed.
      const e = res.statusCode >= 500 || res.statusCode === 429
        ? MetaErrors.META_OUTCOME_UNKNOWN.create({ message: `Meta answered HTTP ${res.statusCode} without a Graph error body; outcome unknown`, detail: { ...what, statusCode: res.statusCode, reason: 'http_status', requestSent: true } })
        : MetaErrors.META_RESPONSE_INVALID.create({ message: `Meta answered HTTP ${res.statusCode} without a Graph error body`, detail: { ...what, statusCode: res.statusCode } })
      log?.warn({ ...what, statusCode: res.statusCode, durationMs, code: e.code }, 'Graph call failed')
      publish({ ...what, statusCode: res.statusCode, durationMs, outcome: e.code })
      throw e
    }
    const parsed = schema.safeParse(json)
    if (!parsed.success) {
      const e = MetaErrors.META_RESPONSE_INVALID.create({ detail: { ...what, statusCode: res.statusCode, issues: issuesOf(parsed.error) } })
      log?.warn({ ...what, statusCode: res.statusCode, durationMs, code: e.code, detail: e.detail }, 'Graph response invalid')
      publish({ ...what, statusCode: res.statusCode, durationMs, outcome: e.code })
      throw e
    }
    log?.debug({ ...what, statusCode: res.statusCode, durationMs }, 'Graph call')
    publish({ ...what, statusCode: res.statusCode, durationMs, outcome: 'ok' })
    return parsed.data
  }

  function mediaUrlAllowed (u: URL): boolean {
    if (u.origin === origin) return true
    if (u.protocol !== 'https:') return false
    const host = u.hostname.toLowerCase()
    return mediaHosts.some((h) => host === h || host.endsWith(`.${h}`))
  }

  return {
    async sendMessage (phoneNumberId, token, body) {
      assertId('phoneNumberId', phoneNumberId)
      const valid = SendMessageInputSchema.safeParse(body)
      if (!valid.success) throw MetaErrors.META_REQUEST_INVALID.create({ detail: { issues: issuesOf(valid.error) } })
      return await call('POST', `/${phoneNumberId}/messages`, token, SendMessageResponseSchema, valid.data)
    },

    async sendValidatedMessage (phoneNumberId, token, json) {
      assertId('phoneNumberId', phoneNumberId)
      if (!isJsonObjectText(json)) throw MetaErrors.META_REQUEST_INVALID.create({ message: 'the message body is not a JSON object' })
      return await call('POST', `/${phoneNumberId}/messages`, token, SendMessageResponseSchema, new PreparedJson(json))
    },

    async markAsRead (phoneNumberId, token, wamid, o = {}) {
      assertId('phoneNumberId', phoneNumberId)
      if (typeof wamid !== 'string' || wamid === '' || wamid.length > 512) throw MetaErrors.META_REQUEST_INVALID.create({ message: 'wamid is required', detail: { field: 'wamid' } })
      const body = { messaging_product: 'whatsapp', status: 'read', message_id: wamid, ...(o.typingIndicator === true ? { typing_indicator: { type: 'text' } } : {}) }
      return await call('POST', `/${phoneNumberId}/messages`, token, SuccessResponseSchema, body)
    },

    async requestAppDataSync (phoneNumberId, token, syncType) {
      assertId('phoneNumberId', phoneNumberId)
      if (syncType !== 'smb_app_state_sync' && syncType !== 'history') throw MetaErrors.META_REQUEST_INVALID.create({ message: 'sync_type must be smb_app_state_sync or history', detail: { field: 'syncType' } })
      return await call('POST', `/${phoneNumberId}/smb_app_data`, token, SmbAppDataResponseSchema, { messaging_product: 'whatsapp', sync_type: syncType })
    },

    async getMediaUrl (mediaId, token, o = {}) {
      assertId('mediaId', mediaId)
      if (o.phoneNumberId !== undefined) assertId('phoneNumberId', o.phoneNumberId)
      const q = o.phoneNumberId !== undefined ? `?phone_number_id=${o.phoneNumberId}` : ''
      return await call('GET', `/${mediaId}${q}`, token, MediaUrlResponseSchema)
    },

    async downloadMedia (url, token, o = {}) {
      assertToken(token)
      let u: URL
      try {
        u = new URL(url)
      } catch {
        throw MetaErrors.META_REQUEST_INVALID.create({ message: 'media URL is not a URL', detail: { field: 'url' } })
      }
      if (!mediaUrlAllowed(u)) {
        // The bearer token goes with the request: only to Meta's hosts (or the configured base).
        throw MetaErrors.META_REQUEST_INVALID.create({ message: 'media URL host is not an allowed Meta host', detail: { field: 'url', host: u.hostname } })
      }
      const maxBytes = o.maxBytes ?? DEFAULT_MEDIA_MAX_BYTES
      const what = { method: 'GET', path: u.pathname }
      const t0 = performance.now()
      let res: RawResponse
      try {
        res = await dispatchBuffered(dispatcher, {
          origin: u.origin,
          path: `${u.pathname}${u.search}`,
          method: 'GET',
          headers: { authorization: `Bearer ${token}` },
          idempotent: true
        }, timeoutMs, maxBytes)
      } catch (err) {
        if (err instanceof DispatchFailure && err.reason === 'too_large') {
          throw MetaErrors.META_MEDIA_TOO_LARGE.create({ message: `media is larger than ${maxBytes} bytes`, detail: { ...what, maxBytes } })
        }
        throw transportError(err, what)
      }
      publish({ ...what, statusCode: res.statusCode, durationMs: Math.round(performance.now() - t0), outcome: res.statusCode < 400 ? 'ok' : 'error' })
      if (res.statusCode >= 400) {
        const graphError = parseGraphErrorBody(res.body)
        if (graphError !== undefined) throw metaApiErrorFromBody(graphError, res.statusCode)
        // 404 means the URL expired (5 min): fetch a new one with getMediaUrl.
        throw (res.statusCode >= 500 ? MetaErrors.META_OUTCOME_UNKNOWN : MetaErrors.META_RESPONSE_INVALID).create({
          message: `media download answered HTTP ${res.statusCode}`,
          detail: { ...what, statusCode: res.statusCode, reason: res.statusCode === 404 ? 'expired_or_missing' : 'http_status' }
        })
      }
      const ct = res.headers['content-type']
      return { data: res.body, contentType: Array.isArray(ct) ? ct[0] : ct, size: res.body.length }
    },

    async subscribeApp (wabaId, token, o = {}) {
      assertId('wabaId', wabaId)
      const body = o.overrideCallbackUri !== undefined
        ? { override_callback_uri: o.overrideCallbackUri, ...(o.verifyToken !== undefined ? { verify_token: o.verifyToken } : {}) }
        : undefined
      return await call('POST', `/${wabaId}/subscribed_apps`, token, SuccessResponseSchema, body)
    },

    async getPhoneNumber (phoneNumberId, token, fields) {
      assertId('phoneNumberId', phoneNumberId)
      const list = fields.join(',')
      if (fields.length > 0 && !SAFE_FIELD.test(list)) throw MetaErrors.META_REQUEST_INVALID.create({ message: 'invalid fields list', detail: { field: 'fields' } })
      return await call('GET', `/${phoneNumberId}${fields.length > 0 ? `?fields=${encodeURIComponent(list)}` : ''}`, token, PhoneNumberResponseSchema)
    },

    async getPricingAnalytics (wabaId, token, query) {
      assertId('wabaId', wabaId)
      const q = PricingAnalyticsQuerySchema.safeParse(query)
      if (!q.success) throw MetaErrors.META_REQUEST_INVALID.create({ message: 'invalid pricing analytics query', detail: { issues: issuesOf(q.error) } })
      const v = q.data
      const list = (name: string, values: readonly string[] | undefined): string => values === undefined || values.length === 0 ? '' : `.${name}(${values.join(',')})`
      const field = `pricing_analytics.start(${v.start}).end(${v.end}).granularity(${v.granularity})` +
        list('dimensions', v.dimensions) + list('country_codes', v.countryCodes) + list('phone_numbers', v.phoneNumbers) +
        list('metric_types', v.metricTypes) + list('pricing_types', v.pricingTypes) + list('pricing_categories', v.pricingCategories)
      return await call('GET', `/${wabaId}?fields=${encodeURIComponent(field)}`, token, PricingAnalyticsResponseSchema)
    },

    async close () {
      if (ownDispatcher) await dispatcher.close()
    }
  }
}

/**
 * True when a failed call may have been carried out by Meta anyway (`META_OUTCOME_UNKNOWN`):
 * retrying a send could then deliver it twice. A `META_CONNECT_FAILED` was never sent; a
 * `META_API_ERROR` was refused by Meta.
 */
export function isOutcomeUnknown (err: unknown): boolean {
  return MetaErrors.META_OUTCOME_UNKNOWN.is(err)
}

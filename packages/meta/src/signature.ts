/**
 * Webhook authenticity: the `X-Hub-Signature-256` check on POST bodies and the `hub.*` handshake
 * on GET. Meta signs the exact bytes it sent (with `\uXXXX` and `\/` escapes), so the HMAC is
 * always computed over the raw body Buffer, never over re-serialised JSON.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { MetaErrors } from './errors.ts'

export const SIGNATURE_HEADER = 'x-hub-signature-256'
const PREFIX = 'sha256='
/** `sha256=` + 64 hex digits (Meta sends lowercase; uppercase is accepted). */
const SIGNATURE_RE = /^sha256=([0-9a-fA-F]{64})$/

export type SignatureResult = { ok: true } | { ok: false, reason: 'missing' | 'malformed' | 'mismatch' }

/** `'sha256=' + hex(HMAC-SHA256(secret, rawBody))`, as Meta computes it. For the simulator and tests. */
export function signBody (rawBody: Buffer | string, secret: string): string {
  return PREFIX + createHmac('sha256', secret).update(rawBody).digest('hex')
}

function parseHeader (header: string | readonly string[] | undefined): Buffer | 'missing' | 'malformed' {
  if (header === undefined) return 'missing'
  // Node joins repeated headers into an array for some names; more than one signature is malformed.
  if (typeof header !== 'string') return header.length === 0 ? 'missing' : header.length === 1 ? parseHeader(header[0]) : 'malformed'
  const trimmed = header.trim()
  if (trimmed === '') return 'missing'
  const m = SIGNATURE_RE.exec(trimmed)
  if (m === null) return 'malformed'
  return Buffer.from((m[1] as string).toLowerCase(), 'hex')
}

function matchesAny (rawBody: Buffer, given: Buffer, secrets: readonly string[]): boolean {
  let ok = false
  // Check every secret (no early exit) so timing does not reveal which one matched.
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(rawBody).digest()
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true
  }
  return ok
}

/**
 * Verifies `X-Hub-Signature-256` over the exact raw body bytes against any of `secrets` (several
 * secrets allow rotation). Constant-time compare. Never throws.
 *
 * @example
 * const r = verifySignature(request.rawBody, request.headers['x-hub-signature-256'], secrets)
 * if (!r.ok) return reply.code(401).send({ reason: r.reason })
 */
export function verifySignature (rawBody: Buffer, header: string | readonly string[] | undefined, secrets: readonly string[]): SignatureResult {
  const given = parseHeader(header)
  if (given === 'missing' || given === 'malformed') return { ok: false, reason: given }
  if (!Buffer.isBuffer(rawBody)) return { ok: false, reason: 'mismatch' }
  return matchesAny(rawBody, given, secrets.filter((s) => s !== '')) ? { ok: true } : { ok: false, reason: 'mismatch' }
}

export type AppSignatureResult = { ok: true, appId: string } | { ok: false, reason: 'missing' | 'malformed' | 'mismatch' | 'unknown_app' }

export interface SignatureVerifier {
  /** Verifies against the secrets of `appId` (`unknown_app` when it has none). */
  verifyForApp: (appId: string, rawBody: Buffer, header: string | readonly string[] | undefined) => AppSignatureResult
  /** Verifies against every app's secrets; tells which app matched. */
  verifyAny: (rawBody: Buffer, header: string | readonly string[] | undefined) => AppSignatureResult
  /** App ids known to this verifier. */
  readonly appIds: readonly string[]
}

/**
 * Creates a verifier over `appId → secrets`. Refuses (throws `META_NO_APP_SECRETS`) an empty map,
 * an app with no secret, or an empty secret: a verifier that accepts nothing or everything is a
 * configuration error to catch at start.
 */
export function createSignatureVerifier (appSecrets: ReadonlyMap<string, readonly string[]>): SignatureVerifier {
  if (appSecrets.size === 0) throw MetaErrors.META_NO_APP_SECRETS.create({ message: 'no app secrets configured' })
  const table = new Map<string, readonly string[]>()
  for (const [appId, secrets] of appSecrets) {
    if (appId === '') throw MetaErrors.META_NO_APP_SECRETS.create({ message: 'empty app id in app secrets' })
    if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s === '')) {
      throw MetaErrors.META_NO_APP_SECRETS.create({ message: `app ${appId} has no usable secret`, detail: { appId } })
    }
    table.set(appId, Object.freeze([...secrets]))
  }
  const appIds = Object.freeze([...table.keys()])
  return {
    appIds,
    verifyForApp (appId, rawBody, header) {
      const secrets = table.get(appId)
      if (secrets === undefined) return { ok: false, reason: 'unknown_app' }
      const r = verifySignature(rawBody, header, secrets)
      return r.ok ? { ok: true, appId } : r
    },
    verifyAny (rawBody, header) {
      const given = parseHeader(header)
      if (given === 'missing' || given === 'malformed') return { ok: false, reason: given }
      if (!Buffer.isBuffer(rawBody)) return { ok: false, reason: 'mismatch' }
      let matched: string | undefined
      for (const [appId, secrets] of table) {
        if (matchesAny(rawBody, given, secrets) && matched === undefined) matched = appId
      }
      return matched !== undefined ? { ok: true, appId: matched } : { ok: false, reason: 'mismatch' }
    }
  }
}

/**
 * Parses `META_APP_SECRETS`-style text: `appId:secret` pairs separated by commas; an app id may
 * repeat (rotation). Throws `META_CONFIG_INVALID` on a malformed pair (the message never quotes
 * the secret).
 */
export function parseAppSecrets (text: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const [i, part] of text.split(',').entries()) {
    const pair = part.trim()
    if (pair === '') continue
    const at = pair.indexOf(':')
    const appId = at > 0 ? pair.slice(0, at).trim() : ''
    const secret = at > 0 ? pair.slice(at + 1).trim() : ''
    if (appId === '' || secret === '') throw MetaErrors.META_CONFIG_INVALID.create({ message: `app secret pair #${i + 1} is not appId:secret` })
    const list = out.get(appId) ?? []
    list.push(secret)
    out.set(appId, list)
  }
  return out
}

export type VerifyChallengeResult =
  | { ok: true, challenge: string }
  | { ok: false, reason: 'missing_mode' | 'wrong_mode' | 'missing_token' | 'token_mismatch' | 'missing_challenge' }

function first (v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0]
  return undefined
}

/**
 * The GET handshake: `hub.mode` must be `subscribe`, `hub.verify_token` must equal `verifyToken`
 * (constant-time), and the reply is the bare `hub.challenge`. Accepts a parsed query object
 * (`{ 'hub.mode': … }`, as Fastify gives) or URLSearchParams.
 */
export function checkVerifyChallenge (query: URLSearchParams | Record<string, unknown>, verifyToken: string): VerifyChallengeResult {
  const get = (k: string): string | undefined => query instanceof URLSearchParams ? (query.get(k) ?? undefined) : first(query[k])
  const mode = get('hub.mode')
  const token = get('hub.verify_token')
  const challenge = get('hub.challenge')
  if (mode === undefined || mode === '') return { ok: false, reason: 'missing_mode' }
  if (mode !== 'subscribe') return { ok: false, reason: 'wrong_mode' }
  if (token === undefined || token === '') return { ok: false, reason: 'missing_token' }
  if (verifyToken === '' || !constantTimeEqual(token, verifyToken)) return { ok: false, reason: 'token_mismatch' }
  if (challenge === undefined || challenge === '') return { ok: false, reason: 'missing_challenge' }
  return { ok: true, challenge }
}

/** Constant-time string equality (hashing both sides first so lengths do not leak). */
export function constantTimeEqual (a: string, b: string): boolean {
  const ha = createHmac('sha256', 'coexist-compare').update(a).digest()
  const hb = createHmac('sha256', 'coexist-compare').update(b).digest()
  return timingSafeEqual(ha, hb) && a.length === b.length
}

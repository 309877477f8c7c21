import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { httpErrors } from './errors.ts'
import type { AuthMode, HttpAuthOptions, Principal } from './types.ts'

export const BOOTSTRAP_ADMIN_KEY_ID = 'admin:bootstrap'
const REALM = 'coexist'
/** Keys longer than this, or with characters outside the token set, are refused unseen. */
const MAX_KEY_LENGTH = 512
const KEY_CHARS = /^[A-Za-z0-9._~+/=:-]+$/
const V1 = /^\/v1(\/|$)/

/** The route's declared mode, or the default for its URL ('tenant' under /v1, else 'none'). */
function defaultAuthMode (url: string, declared: AuthMode | undefined): AuthMode {
  return declared ?? (V1.test(url) ? 'tenant' : 'none')
}

/**
 * The presented API key: `Authorization: Bearer <key>` first, else `X-API-Key`. Returns
 * `undefined` when none is present and `null` when one is present but malformed.
 */
export function extractApiKey (headers: IncomingHttpHeaders): string | null | undefined {
  const authz = headers.authorization
  let key: string | undefined
  if (typeof authz === 'string' && authz !== '') {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authz)
    if (m === null) return null
    key = m[1]
  } else {
    const header = headers['x-api-key']
    if (Array.isArray(header)) return null
    if (typeof header === 'string' && header !== '') key = header.trim()
  }
  if (key === undefined) return undefined
  return key.length <= MAX_KEY_LENGTH && KEY_CHARS.test(key) ? key : null
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

type AuthFailure = 'missing' | 'invalid'

function unauthenticated (reply: FastifyReply, failure: AuthFailure): Error {
  // RFC 6750 §3: a missing credential gets the bare challenge, a bad one names the error.
  reply.header('www-authenticate', failure === 'missing' ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token"`)
  return httpErrors.HTTP_UNAUTHENTICATED.create()
}

export interface AuthPluginOptions {
  auth: HttpAuthOptions | undefined
}

/**
 * Authentication and route-level authorization.
 *
 * Order matters: the key is resolved in an instance-level `onRequest` hook (it runs before the
 * route-level `onRequest` hook of @fastify/rate-limit, so limits are keyed by key id), and the
 * verdict (401/403) is given in `preParsing`, after the rate limit has counted the request, so
 * guessing keys is rate limited by IP, and before any body is read.
 */
export const authPlugin = fp(async (app: FastifyInstance, opts: AuthPluginOptions) => {
  const auth = opts.auth
  if (auth !== undefined && auth.adminKey.length < 16) throw new Error('auth.adminKey must be at least 16 characters')
  const adminDigest = auth === undefined ? undefined : sha256(auth.adminKey)
  const failures = new WeakMap<FastifyRequest, AuthFailure>()

  app.decorateRequest('principal', null)

  // Normalise each route's mode once, at registration; refuse a protected route without auth.
  app.addHook('onRoute', (route: RouteOptions) => {
    const mode = defaultAuthMode(route.url, route.config?.auth)
    if (mode !== 'none' && auth === undefined) {
      throw new Error(`route ${route.method.toString()} ${route.url} requires auth '${mode}' but createHttpApp got no auth option`)
    }
    route.config = { ...route.config, auth: mode }
  })

  app.addHook('onRequest', async (request) => {
    const mode = request.routeOptions.config?.auth ?? 'none'
    if (mode === 'none' || auth === undefined || adminDigest === undefined) return
    const key = extractApiKey(request.headers)
    if (key === undefined) { failures.set(request, 'missing'); return }
    if (key === null) { failures.set(request, 'invalid'); return }
    if (timingSafeEqual(sha256(key), adminDigest)) {
      request.principal = { keyId: BOOTSTRAP_ADMIN_KEY_ID, tenantId: null, roles: ['admin'], isAdmin: true }
      return
    }
    const found = await auth.resolveApiKey(key)
    if (found === null) { failures.set(request, 'invalid'); return }
    request.principal = { keyId: found.keyId, tenantId: found.tenantId, roles: [...found.roles], isAdmin: found.roles.includes('admin') }
  })

  app.addHook('preParsing', async (request, reply, payload) => {
    const mode = request.routeOptions.config?.auth ?? 'none'
    if (mode === 'none') return payload
    const principal = request.principal
    if (principal === null) throw unauthenticated(reply, failures.get(request) ?? 'missing')
    if (mode === 'admin' && !principal.isAdmin) throw httpErrors.HTTP_FORBIDDEN.create({ message: 'this route needs an admin key' })
    return payload
  })
}, { name: '@coexist/http/auth', fastify: '5.x' })

function principalOf (request: FastifyRequest): Principal {
  if (request.principal === null) throw httpErrors.HTTP_UNAUTHENTICATED.create()
  return request.principal
}

/**
 * The tenant a request acts for. A tenant key acts for its own tenant (naming another one is
 * 403); an admin key must name one explicitly (e.g. query `tenant_id`), else 400
 * `HTTP_TENANT_REQUIRED`.
 *
 * @example
 * const tenantId = requireTenantId(request, request.query.tenant_id)
 */
export function requireTenantId (request: FastifyRequest, explicitTenantId?: string | null): string {
  const principal = principalOf(request)
  const explicit = explicitTenantId === null || explicitTenantId === '' ? undefined : explicitTenantId
  if (principal.isAdmin) {
    const tenantId = explicit ?? principal.tenantId
    if (tenantId === null || tenantId === undefined) throw httpErrors.HTTP_TENANT_REQUIRED.create()
    return tenantId
  }
  if (principal.tenantId === null) throw httpErrors.HTTP_FORBIDDEN.create({ message: 'this API key belongs to no tenant' })
  if (explicit !== undefined && explicit !== principal.tenantId) {
    throw httpErrors.HTTP_FORBIDDEN.create({ message: 'this API key may not act for another tenant' })
  }
  return principal.tenantId
}

/** The request's principal when it holds `role` (admins hold every role); else 401/403. */
export function requireRole (request: FastifyRequest, role: string): Principal {
  const principal = principalOf(request)
  if (!principal.isAdmin && !principal.roles.includes(role)) {
    throw httpErrors.HTTP_FORBIDDEN.create({ message: `this API key lacks the role ${role}`, detail: { role } })
  }
  return principal
}

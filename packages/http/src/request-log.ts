import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

const REDACTED_VALUE = '[REDACTED]'
/** Query parameter names whose values are secrets (hub.verify_token, access_token, api_key, code…). */
const SECRET_PARAM = /(token|secret|signature|passw|api[-_.]?key|auth|session|cookie)/i
const SECRET_NAME = /^(key|code|sig|hub\.challenge)$/i
/** Values that look like credentials: long runs of token characters. */
const TOKEN_LIKE = /^[A-Za-z0-9._~+/=-]{24,}$/
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
/** Probed every few seconds: their completion lines go to debug so they do not flood the logs. */
const QUIET_ROUTES = new Set(['/health/live', '/health/ready', '/metrics'])

function safeDecode (s: string): string {
  try { return decodeURIComponent(s.replace(/\+/g, ' ')) } catch { return s }
}

/**
 * The URL as it may be logged: the path as is, and each query value replaced by `[REDACTED]`
 * when its name suggests a secret or the value looks like a token.
 */
export function sanitizeUrl (url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  const query = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=')
    if (eq === -1) return pair
    const name = pair.slice(0, eq)
    const value = safeDecode(pair.slice(eq + 1))
    const decodedName = safeDecode(name)
    return SECRET_PARAM.test(decodedName) || SECRET_NAME.test(decodedName) || TOKEN_LIKE.test(value) ? `${name}=${REDACTED_VALUE}` : pair
  })
  return `${url.slice(0, q)}?${query.join('&')}`
}

/** Request id: the caller's `X-Request-Id` when it is a short plain token, else a new UUID. */
export function genReqId (req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
}

/**
 * Fastify's request log lines, replaced: one line per request when it completes, with method,
 * sanitised URL, route pattern, status and duration. Headers and bodies are never passed to the
 * logger, so neither the Authorization header nor an API key can reach a log line from here.
 */
export class RequestLogController extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      url: sanitizeUrl(request.url),
      route: request.routeOptions.url,
      statusCode: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime * 100) / 100
    }
    if (error !== null && error !== undefined) reply.log.error({ ...line, err: error }, 'request errored')
    else if (QUIET_ROUTES.has(line.route ?? '')) reply.log.debug(line, 'request completed')
    else reply.log.info(line, 'request completed')
  }

  override routeNotFound (): void {}

  override defaultErrorLog (error: Error, request: FastifyRequest, reply: FastifyReply): void {
    // Only reached if a plugin replaces our error handler; keep the same rule: no req/headers.
    if (reply.statusCode >= 500) reply.log.error({ err: error, url: sanitizeUrl(request.url) }, 'request failed')
    else reply.log.info({ code: (error as { code?: unknown }).code, statusCode: reply.statusCode }, 'request rejected')
  }

  override writeHeadError (error: Error, _request: FastifyRequest, reply: FastifyReply): void {
    reply.log.warn({ err: error }, 'writing the response head failed')
  }
}

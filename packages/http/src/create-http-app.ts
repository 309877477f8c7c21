import rateLimit from '@fastify/rate-limit'
import type { Logger } from '@coexist/logger'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type FastifyServerOptions, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Registry } from 'prom-client'
import { authPlugin } from './auth.ts'
import { httpErrors } from './errors.ts'
import { healthPlugin, type ReadinessCheck } from './health.ts'
import { metricsPlugin } from './metrics.ts'
import { openApiPlugin } from './openapi.ts'
import { problemPlugin } from './problem.ts'
import { genReqId, RequestLogController } from './request-log.ts'
import type { HttpAuthOptions } from './types.ts'

/** The Fastify instance every service builds on: zod type provider, pino logger. */
export type HttpApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>

export interface RateLimitOptions {
  /** Requests allowed per key (API key id, else client IP) per window. */
  max: number
  /** Window length: milliseconds or an ms-style string ('1 minute'). */
  timeWindow: string | number
}

export interface CreateHttpAppOptions {
  /** Root pino logger from @coexist/logger; Fastify derives per-request children from it. */
  logger: Logger
  /** Service name (OpenAPI title default, logs). */
  service: string
  /** Service version (OpenAPI `info.version`). Default '0.0.0'. */
  version?: string
  /** Named dependency checks for GET /health/ready, e.g. `{ postgres: () => pingDb(db) }`. */
  readiness: Record<string, ReadinessCheck>
  /** Per-check time limit of GET /health/ready. Default 2000 ms. */
  readinessTimeoutMs?: number
  /** API keys. Without it, any route that needs a key is refused at registration. */
  auth?: HttpAuthOptions
  /** Global rate limit; `false` disables it. Default 6000 requests per minute per key. */
  rateLimit?: RateLimitOptions | false
  /** Largest accepted request body in bytes. Default 1 MiB (Fastify's). */
  bodyLimit?: number
  openapi?: { title: string, description?: string }
  /** Registry for GET /metrics; a new one when absent. */
  metrics?: Registry
  /** Fastify's `trustProxy` (behind a load balancer, to rate limit by the real client IP). */
  trustProxy?: FastifyServerOptions['trustProxy']
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 6000, timeWindow: 60_000 }

const rateLimitKey = (request: FastifyRequest): string =>
  request.principal !== null ? `key:${request.principal.keyId}` : `ip:${request.ip}`

/**
 * Builds the Fastify app a service serves: zod validation and serialization, problem+json
 * errors, API-key auth (`config.auth` per route), rate limit, health, metrics and the OpenAPI
 * document at `GET /v1/openapi.json`. Register route plugins on the result, then `listen()`.
 *
 * @example
 * const app = await createHttpApp({ logger, service: 'sync', readiness: { postgres: () => ping(db) },
 *   auth: { adminKey: config.adminKey, resolveApiKey: (k) => findApiKey(db, k) } })
 * await app.register(contactRoutes, { db })
 */
export async function createHttpApp (opts: CreateHttpAppOptions): Promise<HttpApp> {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    logController: new RequestLogController(),
    genReqId,
    ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
    ...(opts.trustProxy !== undefined ? { trustProxy: opts.trustProxy } : {})
  }).withTypeProvider<ZodTypeProvider>()

  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)

  app.addHook('onRequest', async (request, reply) => { reply.header('x-request-id', request.id) })

  // Order matters: auth's onRoute hook and onRequest hook must exist before rate limit and any route.
  await app.register(problemPlugin)
  await app.register(authPlugin, { auth: opts.auth })
  if (opts.rateLimit !== false) {
    const limits = opts.rateLimit ?? DEFAULT_RATE_LIMIT
    await app.register(rateLimit, {
      global: true,
      max: limits.max,
      timeWindow: limits.timeWindow,
      keyGenerator: rateLimitKey,
      errorResponseBuilder: (_request, context) => httpErrors.HTTP_RATE_LIMITED.create({
        detail: { limit: context.max, retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)) }
      })
    })
  }
  await app.register(openApiPlugin, { title: opts.openapi?.title ?? opts.service, description: opts.openapi?.description, version: opts.version ?? '0.0.0' })
  await app.register(metricsPlugin, { registry: opts.metrics })
  await app.register(healthPlugin, { readiness: opts.readiness, timeoutMs: opts.readinessTimeoutMs ?? 2000 })
  return app
}

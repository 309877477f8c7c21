import { pingDb, resolveApiKey, type Db } from '@coexist/db'
import { createHttpApp, type HttpApp, type RateLimitOptions, type ReadinessCheck, type Registry } from '@coexist/http'
import type { Logger } from '@coexist/logger'
import type { AcceptDeps } from './domain/accept.ts'
import { messagesRoutes } from './routes/messages.ts'

export interface OutboundAppDeps {
  db: Db
  logger: Logger
  /** COEXIST_ADMIN_KEY. */
  adminKey: string
  /** Publishes an accepted request on wa.outbound.requests.v1; resolves once Kafka acknowledged it. */
  publishRequest: AcceptDeps['publishRequest']
  /** Extra readiness checks (Kafka), beside Postgres. */
  readiness?: Record<string, ReadinessCheck>
  metrics?: Registry
  rateLimit?: RateLimitOptions | false
  /** Wall clock for windows (ms since the epoch). */
  now?: () => number
  version?: string
}

/**
 * The outbound sender's HTTP app (port 8082): the send API, health, metrics and OpenAPI. The
 * worker and consumers run beside it (runtime.ts); `main.ts` wires both.
 */
export async function buildApp (deps: OutboundAppDeps): Promise<HttpApp> {
  const app = await createHttpApp({
    logger: deps.logger,
    service: 'outbound-sender',
    version: deps.version,
    readiness: { postgres: async () => await pingDb(deps.db), ...deps.readiness },
    auth: { adminKey: deps.adminKey, resolveApiKey: async (key) => await resolveApiKey(deps.db, key) },
    rateLimit: deps.rateLimit,
    // A batch of 500 rich messages stays far below 4 MiB.
    bodyLimit: 4 * 1024 * 1024,
    ...(deps.metrics !== undefined ? { metrics: deps.metrics } : {}),
    openapi: { title: 'Coexist outbound sender', description: 'Send WhatsApp messages: durable acceptance, exact per-number throughput, pair limits, retries by Meta error code' }
  })
  await app.register(messagesRoutes, { db: deps.db, publishRequest: deps.publishRequest, ...(deps.now !== undefined ? { now: deps.now } : {}) })
  return app
}

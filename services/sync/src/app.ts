import { pingDb, resolveApiKey, type Db, type TokenCipher } from '@coexist/db'
import { createHttpApp, type HttpApp, type RateLimitOptions, type ReadinessCheck } from '@coexist/http'
import type { Logger } from '@coexist/logger'
import type { GraphClient } from '@coexist/meta'
import { registerSyncMetrics } from './metrics.ts'
import { accountsRoutes } from './routes/accounts.ts'
import { recordsRoutes } from './routes/records.ts'

export interface SyncAppDeps {
  db: Db
  logger: Logger
  /** COEXIST_ADMIN_KEY. */
  adminKey: string
  /** Encrypts access tokens at rest (COEXIST_ENCRYPTION_KEY). */
  cipher: TokenCipher
  graph: Pick<GraphClient, 'subscribeApp'>
  clock?: () => Date
  /** Extra readiness checks (Kafka), beside Postgres. */
  readiness?: Record<string, ReadinessCheck>
  /** Called when an onboarding starts, so its sync requests go out at once. */
  onOnboarding?: () => void
  rateLimit?: RateLimitOptions | false
  version?: string
}

/**
 * The sync service's HTTP app (port 8081): the accounts API (admin and `manage` keys), the query
 * API (tenant keys), health, metrics and OpenAPI. Consumers and workers run beside it
 * (see runtime.ts); `main.ts` wires both.
 */
export async function buildApp (deps: SyncAppDeps): Promise<HttpApp> {
  const clock = deps.clock ?? (() => new Date())
  const app = await createHttpApp({
    logger: deps.logger,
    service: 'sync',
    version: deps.version,
    readiness: { postgres: async () => await pingDb(deps.db), ...deps.readiness },
    auth: { adminKey: deps.adminKey, resolveApiKey: async (key) => await resolveApiKey(deps.db, key) },
    rateLimit: deps.rateLimit,
    openapi: { title: 'Coexist sync', description: 'Accounts, coexistence onboarding and sync, conversations, messages and contacts' }
  })
  const unsubscribe = registerSyncMetrics(app.metrics, deps.db)
  app.addHook('onClose', async () => { unsubscribe() })
  await app.register(accountsRoutes, { db: deps.db, cipher: deps.cipher, graph: deps.graph, clock, onOnboarding: deps.onOnboarding })
  await app.register(recordsRoutes, { db: deps.db, clock })
  return app
}

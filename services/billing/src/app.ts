import { pingDb, resolveApiKey, type Db, type TokenCipher } from '@coexist/db'
import { createHttpApp, type HttpApp, type RateLimitOptions, type ReadinessCheck } from '@coexist/http'
import type { Logger } from '@coexist/logger'
import type { GraphClient } from '@coexist/meta'
import { balanceRoutes } from './routes/balances.ts'
import { rateCardRoutes } from './routes/rate-cards.ts'
import { reconciliationRoutes } from './routes/reconciliation.ts'
import { usageRoutes } from './routes/usage.ts'

export interface BillingAppDeps {
  db: Db
  logger: Logger
  /** COEXIST_ADMIN_KEY. */
  adminKey: string
  /** Decrypts the stored access tokens used for pricing analytics. */
  cipher: TokenCipher
  graph: Pick<GraphClient, 'getPricingAnalytics'>
  /** ms since the epoch; a fake clock in tests. */
  clock?: () => number
  /** Recomputes open ledger lines (after a rate card load). */
  reprice: () => Promise<number>
  /** Forget cached rate cards and accounts. */
  invalidate?: () => void
  /** Called after a change wrote events to the outbox (the relay publishes at once). */
  afterCommit?: () => void
  /** Extra readiness checks (Kafka), beside Postgres. */
  readiness?: Record<string, ReadinessCheck>
  rateLimit?: RateLimitOptions | false
  version?: string
}

/**
 * The billing service's HTTP app (port 8083): usage, ledger and invoices (tenant keys see their
 * own tenant), balances, top-ups and plans, rate cards (admin), reconciliation; health, metrics
 * and OpenAPI. The consumers and the outbox relay run beside it (runtime.ts); main.ts wires both.
 */
export async function buildApp (deps: BillingAppDeps): Promise<HttpApp> {
  const clock = deps.clock ?? Date.now
  const afterCommit = deps.afterCommit ?? (() => {})
  const app = await createHttpApp({
    logger: deps.logger,
    service: 'billing',
    version: deps.version,
    readiness: { postgres: async () => await pingDb(deps.db), ...deps.readiness },
    auth: { adminKey: deps.adminKey, resolveApiKey: async (key) => await resolveApiKey(deps.db, key) },
    rateLimit: deps.rateLimit,
    bodyLimit: 6 * 1024 * 1024,
    openapi: { title: 'Coexist billing', description: 'Meta per-message pricing, ledger, usage, invoices, balances, rate cards and reconciliation' }
  })
  await app.register(usageRoutes, { db: deps.db, clock })
  await app.register(balanceRoutes, { db: deps.db, clock, afterCommit })
  await app.register(rateCardRoutes, { db: deps.db, reprice: deps.reprice, invalidate: deps.invalidate ?? (() => {}) })
  await app.register(reconciliationRoutes, { db: deps.db, cipher: deps.cipher, graph: deps.graph })
  return app
}

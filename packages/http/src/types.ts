import type { Registry } from 'prom-client'

/** What a route requires of its caller; set per route as `config: { auth }`. */
export type AuthMode = 'none' | 'tenant' | 'admin'

/** The authenticated caller of a request (`request.principal`). */
export interface Principal {
  /** Stable id of the API key (never the key itself); rate limits and audit logs use it. */
  readonly keyId: string
  /** The tenant the key belongs to; `null` for admin keys that span tenants. */
  readonly tenantId: string | null
  readonly roles: readonly string[]
  /** True for the bootstrap admin key and for keys with the `admin` role. */
  readonly isAdmin: boolean
}

/** What a service's key store answers for a presented plain API key (`null`: unknown or revoked). */
export interface ResolvedApiKey {
  keyId: string
  tenantId: string | null
  roles: string[]
}

export interface HttpAuthOptions {
  /** The bootstrap admin key (COEXIST_ADMIN_KEY); compared in constant time. */
  adminKey: string
  /** Looks a presented key up (services hash it and query their key table). */
  resolveApiKey: (plainKey: string) => Promise<ResolvedApiKey | null>
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Default: 'tenant' under /v1, 'none' elsewhere. */
    auth?: AuthMode
  }
  interface FastifyRequest {
    /** The authenticated caller; `null` on public routes. */
    principal: Principal | null
  }
  interface FastifyInstance {
    /** The Prometheus registry served at GET /metrics; register service metrics on it. */
    metrics: Registry
    /** Makes GET /health/ready answer 503 from now on (called when shutdown starts). */
    markNotReady: () => void
  }
}

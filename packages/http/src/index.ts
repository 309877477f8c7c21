/**
 * @coexist/http: the Fastify bootstrap every service serves with. `createHttpApp` gives the zod
 * type provider, problem+json errors, API-key auth (`config: { auth }` per route), rate limit,
 * health, Prometheus metrics and the OpenAPI document; `listen` and `installGracefulShutdown`
 * run it from a service's `main.ts`.
 */
import './types.ts'

export { createHttpApp, DEFAULT_RATE_LIMIT, type CreateHttpAppOptions, type HttpApp, type RateLimitOptions } from './create-http-app.ts'
export { httpErrors, type HttpErrorCode } from './errors.ts'
export { BOOTSTRAP_ADMIN_KEY_ID, extractApiKey, requireRole, requireTenantId } from './auth.ts'
export type { CheckResult, ReadinessCheck, ReadinessReport } from './health.ts'
export { HTTP_DURATION_METRIC, UNMATCHED_ROUTE } from './metrics.ts'
export { OPENAPI_PATH } from './openapi.ts'
export { buildProblem, FieldErrorSchema, PROBLEM_CONTENT_TYPE, problemFromError, ProblemSchema, sendProblem, type FieldError, type Problem } from './problem.ts'
export { sanitizeUrl } from './request-log.ts'
export { installGracefulShutdown, listen, serve, type GracefulShutdownOptions, type ListenOptions, type RunningService, type ServeOptions, type ServiceRunOptions, type ShutdownHandle } from './lifecycle.ts'
export type { AuthMode, HttpAuthOptions, Principal, ResolvedApiKey } from './types.ts'
// Re-exported so services need no direct dependency on the provider or on prom-client.
export type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod'
export { Counter, Gauge, Histogram, Registry } from 'prom-client'

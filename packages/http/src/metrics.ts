import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'

export const HTTP_DURATION_METRIC = 'http_request_duration_seconds'
/** Route label of requests that matched no route: one series, however many URLs are probed. */
export const UNMATCHED_ROUTE = 'unmatched'
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export interface MetricsPluginOptions {
  registry: Registry | undefined
}

/**
 * `app.metrics` (a prom-client Registry with the default process metrics), a request duration
 * histogram by route pattern, method and status, and `GET /metrics`.
 */
export const metricsPlugin = fp(async (app: FastifyInstance, opts: MetricsPluginOptions) => {
  const registry = opts.registry ?? new Registry()
  // A registry handed in may already carry them (several apps in one process, e.g. tests).
  if (registry.getSingleMetric('process_cpu_user_seconds_total') === undefined) collectDefaultMetrics({ register: registry })
  const duration = (registry.getSingleMetric(HTTP_DURATION_METRIC) as Histogram<'method' | 'route' | 'status_code'> | undefined) ??
    new Histogram({
      name: HTTP_DURATION_METRIC,
      help: 'HTTP request duration in seconds, by route pattern, method and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: DURATION_BUCKETS,
      registers: [registry]
    })

  app.decorate('metrics', registry)

  app.addHook('onResponse', async (request, reply) => {
    duration.observe({
      method: request.method,
      // The pattern (`/v1/messages/:id`), never the raw URL: label values must stay few.
      route: request.routeOptions.url ?? UNMATCHED_ROUTE,
      status_code: String(reply.statusCode)
    }, reply.elapsedTime / 1000)
  })

  app.get('/metrics', { config: { auth: 'none', rateLimit: false }, schema: { hide: true } }, async (_request, reply) => {
    const text = await registry.metrics()
    return reply.header('cache-control', 'no-store').type(registry.contentType).send(text)
  })
}, { name: '@coexist/http/metrics', fastify: '5.x' })

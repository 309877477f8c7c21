/**
 * The ingress HTTP app: the webhook routes on the shared bootstrap (health, metrics, problem+json,
 * OpenAPI). No rate limit: Meta retries anything but 200, so a limit would only multiply traffic.
 */
import type { BusProducer, TopicRegistry } from '@coexist/bus'
import { createHttpApp, type HttpApp, type ReadinessCheck, type Registry } from '@coexist/http'
import type { Logger } from '@coexist/logger'
import { createSignatureVerifier } from '@coexist/meta'
import { DEFAULT_BODY_LIMIT_BYTES, DEFAULT_PUBLISH_TIMEOUT_MS } from './config.ts'
import { createIngressMetrics, observeBusDiagnostics } from './metrics.ts'
import { webhookRoutes } from './routes/webhooks.ts'

export interface IngressDeps {
  logger: Logger
  /** The group-commit producer (@coexist/bus); publish() resolves once Kafka acknowledged. */
  producer: Pick<BusProducer, 'publish' | 'publishRaw'>
  topics: TopicRegistry
  /** appId → secrets (several while a secret is rotated). */
  appSecrets: ReadonlyMap<string, readonly string[]>
  verifyToken: string
  /** Readiness of Kafka (GET /health/ready). */
  kafkaReady: ReadinessCheck
  /** Default 4 MiB (Meta's bodies reach 3 MB). */
  bodyLimitBytes?: number
  /** Default 5000 ms. */
  publishTimeoutMs?: number
  /** Registry for GET /metrics; a new one when absent. */
  metrics?: Registry
  /** Receive-time clock, ms since the epoch. Default Date.now. */
  now?: () => number
  version?: string
}

/**
 * Builds the ingress app (not listening).
 *
 * @example
 * const app = await buildApp({ logger, producer, topics, appSecrets, verifyToken, kafkaReady: async () => true })
 * await app.listen({ port: 0 })
 */
export async function buildApp (deps: IngressDeps): Promise<HttpApp> {
  const bodyLimitBytes = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES
  const verifier = createSignatureVerifier(deps.appSecrets)
  const app = await createHttpApp({
    logger: deps.logger,
    service: 'ingress',
    version: deps.version ?? '0.1.0',
    readiness: { kafka: deps.kafkaReady },
    rateLimit: false,
    bodyLimit: bodyLimitBytes,
    openapi: { title: 'Coexist ingress', description: 'Meta webhook endpoint: signature check on the raw bytes, then Kafka' },
    ...(deps.metrics !== undefined ? { metrics: deps.metrics } : {})
  })
  const metrics = createIngressMetrics(app.metrics)
  const unobserve = observeBusDiagnostics(metrics)
  app.addHook('onClose', async () => { unobserve() })
  await app.register(webhookRoutes, {
    producer: deps.producer,
    topics: deps.topics,
    verifier,
    verifyToken: deps.verifyToken,
    metrics,
    bodyLimitBytes,
    publishTimeoutMs: deps.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
    now: deps.now ?? Date.now
  })
  return app
}

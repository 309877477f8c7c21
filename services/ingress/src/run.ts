/**
 * Runs ingress from its configuration: Kafka clients, topics, producer, the app, listening and
 * graceful shutdown. `main.ts` calls it with the parsed environment; tests call it with a
 * config object and an `exit` recorder, so the same wiring is what they exercise.
 */
import {
  createBusProducer, createKafka, createTopicRegistry, ensureTopics, kafkaReady,
  type BusProducer, type TopicRegistry
} from '@coexist/bus'
import { serve, type HttpApp, type RunningService, type ServiceRunOptions } from '@coexist/http'
import { buildApp } from './app.ts'
import type { IngressConfig } from './config.ts'

/** The drain comes from the configuration (INGRESS_DRAIN_MS). */
export interface RunIngressOptions extends Omit<ServiceRunOptions, 'drainMs'> {
  /** Producer batching overrides (tests and benchmarks). */
  producer?: { lingerMs?: number, maxBatchRecords?: number, compressMinBytes?: number }
}

/**
 * Ingress sends its batches uncompressed: its CPU is what limits it, and at full load gzip of
 * the big batches (and kafkajs's per-record encoders on that path) cost more than all its other
 * Kafka encoding, on cores the broker shares. The raw archive is still stored compressed (its
 * topic's compression.type is gzip: the broker compresses it); the field topics are stored as
 * sent. `producer.compressMinBytes` overrides this.
 */
const INGRESS_COMPRESS_MIN_BYTES = Number.POSITIVE_INFINITY

/** Ingress listening: the app, its URL and shutdown, and the topics and producer it publishes with. */
export interface RunningIngress extends RunningService<HttpApp> {
  topics: TopicRegistry
  producer: BusProducer
}

/** The registry topics ingress publishes to: the raw archive, every field topic, unrouted. */
export function ingressTopicSpecs (topics: TopicRegistry): ReturnType<TopicRegistry['all']> {
  return topics.all().filter((s) => s.key.startsWith('webhook.'))
}

/**
 * Starts ingress and returns once it listens with its topics ready. Throws when Kafka cannot be
 * reached or the topics cannot be created (main.ts then exits 1 and the orchestrator restarts it).
 */
export async function runIngress (config: IngressConfig, opts: RunIngressOptions): Promise<RunningIngress> {
  const logger = opts.logger
  const topics = createTopicRegistry({
    prefix: config.kafka.topicPrefix,
    replicationFactor: config.ingress.replicationFactor,
    ...(config.ingress.topicPartitions !== undefined ? { partitions: config.ingress.topicPartitions } : {})
  })
  const clientId = config.kafka.clientId ?? 'coexist-ingress'
  const kafka = createKafka({ brokers: [...config.kafka.brokers], clientId, logger })
  // The readiness probe gets its own client without retries, so a dead broker answers fast.
  const probeKafka = createKafka({ brokers: [...config.kafka.brokers], clientId: `${clientId}-probe`, logger, retry: { retries: 0 }, connectionTimeoutMs: 1000 })
  const admin = kafka.admin()
  const probe = probeKafka.admin()
  const producer = createBusProducer({
    kafka,
    registry: topics,
    logger,
    publishTimeoutMs: config.ingress.publishTimeoutMs,
    compressMinBytes: INGRESS_COMPRESS_MIN_BYTES,
    ...opts.producer
  })
  const closeClients = async (): Promise<void> => {
    await producer.disconnect().catch((err: unknown) => logger.warn({ err }, 'producer disconnect failed'))
    await admin.disconnect().catch(() => {})
    await probe.disconnect().catch(() => {})
  }
  let app: HttpApp
  try {
    await admin.connect()
    const specs = ingressTopicSpecs(topics)
    const { created } = await ensureTopics(admin, topics, { only: specs })
    if (created.length > 0) logger.info({ created }, 'created Kafka topics')
    await producer.connect()
    await probe.connect().catch((err: unknown) => logger.warn({ err }, 'readiness probe cannot connect yet'))
    app = await buildApp({
      logger,
      producer,
      topics,
      appSecrets: config.meta.appSecrets,
      verifyToken: config.meta.verifyToken,
      kafkaReady: async () => (await kafkaReady(probe)).ready,
      bodyLimitBytes: config.ingress.bodyLimitBytes,
      publishTimeoutMs: config.ingress.publishTimeoutMs
    })
  } catch (err) {
    await closeClients()
    throw err
  }
  const running = await serve(app, {
    logger,
    host: config.http.host,
    port: config.http.port,
    drainMs: config.ingress.drainMs,
    // In-flight requests finish inside app.close(); then whatever the producer still holds is flushed.
    onShutdown: closeClients,
    ...(opts.exit !== undefined ? { exit: opts.exit } : {}),
    ...(opts.signals !== undefined ? { signals: opts.signals } : {})
  })
  logger.info({ port: running.port, topics: ingressTopicSpecs(topics).map((s) => s.name).length, apps: config.meta.appSecrets.size }, 'ingress listening')
  return { ...running, topics, producer }
}

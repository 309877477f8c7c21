/**
 * Runs the outbound sender from its configuration: Postgres (with migrations), Kafka (topics,
 * producer), the Graph client, the HTTP app, the worker and consumers (unless
 * OUTBOUND_ROLES=api), listening and graceful shutdown. `main.ts` calls it with the parsed
 * environment; the cross-service tests call it with theirs, so the wiring they exercise is the
 * one that runs.
 */
import { dataServiceSections, httpSection, loadConfig, type ConfigOf } from '@coexist/config'
import { connectBus } from '@coexist/bus'
import { createDb, createTokenCipher, migrateToLatest } from '@coexist/db'
import { Registry, serve, type HttpApp, type RunningService, type ServiceRunOptions } from '@coexist/http'
import { createGraphClient } from '@coexist/meta'
import { buildApp } from './app.ts'
import { outboundSection } from './config.ts'
import { startOutboundRuntime, type OutboundRuntime } from './runtime.ts'
import { NumberDirectory } from './worker/number-directory.ts'

const SECTIONS = {
  http: httpSection(8082),
  ...dataServiceSections,
  outbound: outboundSection
}

export type OutboundConfig = ConfigOf<typeof SECTIONS>

/** Parses the outbound sender's configuration from `env`; throws a ConfigError naming every bad variable. */
export function loadOutboundConfig (env: Record<string, string | undefined>): OutboundConfig {
  return loadConfig(env, SECTIONS)
}

export type RunOutboundOptions = ServiceRunOptions

/** Starts the outbound sender and returns once it listens. */
export async function runOutbound (config: OutboundConfig, opts: RunOutboundOptions): Promise<RunningService<HttpApp>> {
  const { logger } = opts
  const db = createDb(config.db.url, { applicationName: 'coexist-outbound-sender', max: config.db.poolMax, onIdleError: (err) => logger.warn({ err }, 'idle Postgres connection failed') })
  await migrateToLatest(db)
  const { kafka, registry, producer, ready: kafkaIsReady, close: closeBus } = await connectBus({ brokers: config.kafka.brokers, topicPrefix: config.kafka.topicPrefix, clientId: config.kafka.clientId ?? 'coexist-outbound-sender', logger })

  const metrics = new Registry()
  const cipher = createTokenCipher({ current: config.crypto.encryptionKey, previous: config.crypto.previousEncryptionKeys })
  const graph = createGraphClient({ baseUrl: config.meta.graphUrl, version: config.meta.graphVersion, logger, timeoutMs: config.outbound.graphTimeoutMs, connections: config.outbound.graphConnections })

  const app = await buildApp({
    db,
    logger,
    adminKey: config.admin.adminKey,
    metrics,
    publishRequest: async (value) => { await producer.publish('outbound.requests', { key: value.phoneNumberId as string, value }) },
    readiness: { kafka: kafkaIsReady }
  })

  let runtime: OutboundRuntime | undefined
  if (config.outbound.roles !== 'api') {
    runtime = await startOutboundRuntime({
      db,
      kafka,
      registry,
      producer,
      logger,
      graph,
      metrics,
      numbers: new NumberDirectory(db, cipher),
      groupId: config.outbound.groupId,
      ...(config.outbound.instanceId !== undefined ? { instanceId: config.outbound.instanceId } : {}),
      traffic: config.outbound.traffic,
      maxPendingPerPartition: config.outbound.maxPendingPerPartition,
      maxHeld: config.outbound.maxHeld,
      worker: { policy: config.outbound.policy, pairLimit: { burst: config.outbound.pairBurst }, maxInFlight: config.outbound.maxInFlight }
    })
  }

  return await serve(app, {
    ...opts,
    host: config.http.host,
    port: config.http.port,
    onShutdown: async () => {
      await runtime?.stop()
      await closeBus()
      await graph.close()
      await db.destroy()
    }
  })
}

/**
 * Runs the outbound sender from its configuration: Postgres (with migrations), Kafka (topics,
 * producer), the Graph client, the HTTP app, the worker and consumers (unless
 * OUTBOUND_ROLES=api), listening and graceful shutdown. `main.ts` calls it with the parsed
 * environment; the cross-service tests call it with theirs, so the wiring they exercise is the
 * one that runs.
 */
import { dataServiceSections, httpSection, loadConfig, type ConfigOf } from '@coexist/config'
import { Registry, serve, type HttpApp, type RunningService, type ServiceRunOptions } from '@coexist/http'
import { startDataClients } from '@coexist/service'
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
  const { db, bus, cipher, graph, close } = await startDataClients(config, {
    name: 'coexist-outbound-sender',
    logger,
    graph: { timeoutMs: config.outbound.graphTimeoutMs, connections: config.outbound.graphConnections }
  })
  const metrics = new Registry()

  const app = await buildApp({
    db,
    logger,
    adminKey: config.admin.adminKey,
    metrics,
    publishRequest: async (value) => { await bus.producer.publish('outbound.requests', { key: value.phoneNumberId as string, value }) },
    readiness: { kafka: bus.ready }
  })

  let runtime: OutboundRuntime | undefined
  if (config.outbound.roles !== 'api') {
    runtime = await startOutboundRuntime({
      db,
      kafka: bus.kafka,
      registry: bus.registry,
      producer: bus.producer,
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
      await close()
    }
  })
}

/**
 * Runs sync from its configuration: Postgres (with migrations), Kafka (topics, producer), the
 * Graph client, the consumers and workers, the HTTP app, listening and graceful shutdown.
 * `main.ts` calls it with the parsed environment; the cross-service tests call it with theirs,
 * so the wiring they exercise is the one that runs.
 */
import { dataServiceSections, httpSection, loadConfig, type ConfigOf } from '@coexist/config'
import { serve, type HttpApp, type RunningService, type ServiceRunOptions } from '@coexist/http'
import { startDataClients } from '@coexist/service'
import { buildApp } from './app.ts'
import { startSyncRuntime, type SyncRuntime } from './runtime.ts'

const SECTIONS = {
  http: httpSection(8081),
  ...dataServiceSections
}

export type SyncConfig = ConfigOf<typeof SECTIONS>

/** Parses sync's configuration from `env`; throws a ConfigError naming every bad variable. */
export function loadSyncConfig (env: Record<string, string | undefined>): SyncConfig {
  return loadConfig(env, SECTIONS)
}

export type RunSyncOptions = ServiceRunOptions

/** Starts sync and returns once it listens. */
export async function runSync (config: SyncConfig, opts: RunSyncOptions): Promise<RunningService<HttpApp>> {
  const { logger } = opts
  const { db, bus, cipher, graph, close } = await startDataClients(config, { name: 'coexist-sync', logger })

  let runtime: SyncRuntime | undefined
  const app = await buildApp({
    db,
    logger,
    adminKey: config.admin.adminKey,
    cipher,
    graph,
    readiness: { kafka: bus.ready },
    onOnboarding: () => runtime?.kickSync()
  })
  runtime = await startSyncRuntime({ db, kafka: bus.kafka, registry: bus.registry, producer: bus.producer, logger, cipher, graph })

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

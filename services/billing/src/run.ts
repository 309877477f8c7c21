/**
 * Runs billing from its configuration: Postgres (with migrations), Kafka (topics, producer), the
 * Graph client, the consumers and the outbox relay, the HTTP app, listening and graceful
 * shutdown. `main.ts` calls it with the parsed environment; the cross-service tests call it with
 * theirs, so the wiring they exercise is the one that runs.
 */
import { dataServiceSections, httpSection, loadConfig, type ConfigOf } from '@coexist/config'
import { serve, type HttpApp, type RunningService, type ServiceRunOptions } from '@coexist/http'
import { startDataClients } from '@coexist/service'
import { buildApp } from './app.ts'
import { BILLING_PRODUCER, startBillingRuntime } from './runtime.ts'

const SECTIONS = {
  http: httpSection(8083),
  ...dataServiceSections
}

export type BillingConfig = ConfigOf<typeof SECTIONS>

/** Parses billing's configuration from `env`; throws a ConfigError naming every bad variable. */
export function loadBillingConfig (env: Record<string, string | undefined>): BillingConfig {
  return loadConfig(env, SECTIONS)
}

export interface RunBillingOptions extends ServiceRunOptions {
  /**
   * A consumer stopped for good (its retries spent). Default: log it and exit 1, so the
   * orchestrator restarts the process; tests record it.
   */
  onFatal?: (err: Error) => void
}

/** Starts billing and returns once it listens. */
export async function runBilling (config: BillingConfig, opts: RunBillingOptions): Promise<RunningService<HttpApp>> {
  const { onFatal: fatal, ...serviceOpts } = opts
  const { logger } = opts
  const exit = opts.exit ?? ((code: number) => process.exit(code))
  const onFatal = fatal ?? ((err: Error) => { logger.fatal({ err }, 'billing consumer stopped for good; exiting'); exit(1) })
  const { db, bus, cipher, graph, close } = await startDataClients(config, { name: 'coexist-billing', logger, producer: BILLING_PRODUCER })

  const runtime = await startBillingRuntime({ db, kafka: bus.kafka, registry: bus.registry, producer: bus.producer, logger, onFatal })
  const app = await buildApp({
    db,
    logger,
    adminKey: config.admin.adminKey,
    cipher,
    graph,
    reprice: runtime.reprice,
    invalidate: runtime.invalidate,
    afterCommit: runtime.relay.kick,
    readiness: { kafka: bus.ready }
  })

  return await serve(app, {
    ...serviceOpts,
    host: config.http.host,
    port: config.http.port,
    exit,
    onShutdown: async () => {
      await runtime.stop()
      await close()
    }
  })
}

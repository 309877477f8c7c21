/**
 * The clients a data service (sync, outbound-sender, billing) starts before its own wiring:
 * the token cipher, Postgres (migrated), the Graph client and Kafka (topics created, a
 * group-commit producer), and their stop in reverse order. A start that fails part-way stops
 * what it had started, so a service that cannot reach Kafka exits instead of hanging on an
 * open Postgres pool.
 *
 * @example
 * const clients = await startDataClients(config, { name: 'coexist-sync', logger })
 * // … the service's runtime and app on clients.db, clients.bus, clients.graph, clients.cipher
 * onShutdown: async () => { await runtime.stop(); await clients.close() }
 */
import { connectBus, type ConnectBusOptions, type ConnectedBus } from '@coexist/bus'
import type { ConfigOf, dataServiceSections } from '@coexist/config'
import { createDb, createTokenCipher, migrateToLatest, type Db, type TokenCipher } from '@coexist/db'
import type { Logger } from '@coexist/logger'
import { createGraphClient, type GraphClient, type GraphClientOptions } from '@coexist/meta'

/** The configuration sections every data service has (`dataServiceSections`). */
export type DataServiceConfig = ConfigOf<typeof dataServiceSections>

export interface DataClientsOptions {
  /** The service, e.g. `coexist-sync`: Postgres's application_name and Kafka's client id unless KAFKA_CLIENT_ID sets one. */
  name: string
  logger: Logger
  /** The service's producer settings (e.g. billing's compressMinBytes). */
  producer?: ConnectBusOptions['producer']
  /** The service's Graph client settings (e.g. outbound's deadline and connections). */
  graph?: Pick<GraphClientOptions, 'timeoutMs' | 'connections'>
}

export interface DataClients {
  db: Db
  bus: ConnectedBus
  cipher: TokenCipher
  graph: GraphClient
  /** Stops Kafka's producer and admin, the Graph client's connections and the Postgres pool, in that order. */
  close: () => Promise<void>
}

export async function startDataClients (config: DataServiceConfig, opts: DataClientsOptions): Promise<DataClients> {
  const { logger } = opts
  const cipher = createTokenCipher({ current: config.crypto.encryptionKey, previous: config.crypto.previousEncryptionKeys })
  /** Stops of what is started so far, the latest first. */
  const stops: Array<() => Promise<void>> = []
  const close = async (): Promise<void> => {
    for (const stop of stops.splice(0)) await stop()
  }
  try {
    const db = createDb(config.db.url, { applicationName: opts.name, max: config.db.poolMax, onIdleError: (err) => logger.warn({ err }, 'idle Postgres connection failed') })
    stops.unshift(() => db.destroy())
    await migrateToLatest(db)
    const graph = createGraphClient({ baseUrl: config.meta.graphUrl, version: config.meta.graphVersion, logger, ...opts.graph })
    stops.unshift(() => graph.close())
    const bus = await connectBus({
      brokers: config.kafka.brokers,
      topicPrefix: config.kafka.topicPrefix,
      clientId: config.kafka.clientId ?? opts.name,
      logger,
      ...(opts.producer !== undefined ? { producer: opts.producer } : {})
    })
    stops.unshift(bus.close)
    return { db, bus, cipher, graph, close }
  } catch (err) {
    await close().catch((closeErr: unknown) => { logger.warn({ err: closeErr }, 'stopping the clients started so far failed') })
    throw err
  }
}

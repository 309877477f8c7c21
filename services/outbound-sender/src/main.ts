/**
 * The outbound sender process: config from the environment (once), clients (Postgres with
 * migrations, Kafka with topics, the Graph client), the HTTP app on PORT (8082), the worker and
 * consumers, and graceful shutdown. The only module that reads process.env or exits.
 */
import { adminSection, cryptoSection, databaseSection, httpSection, kafkaSection, loadConfig, logSection, metaGraphSection } from '@coexist/config'
import { connectBus } from '@coexist/bus'
import { createDb, createTokenCipher, migrateToLatest } from '@coexist/db'
import { installGracefulShutdown, listen, Registry } from '@coexist/http'
import { createLogger } from '@coexist/logger'
import { createGraphClient } from '@coexist/meta'
import { buildApp } from './app.ts'
import { outboundSection } from './config.ts'
import { startOutboundRuntime, type OutboundRuntime } from './runtime.ts'
import { NumberDirectory } from './worker/number-directory.ts'

const config = loadConfig(process.env, {
  http: httpSection(8082),
  log: logSection,
  db: databaseSection,
  kafka: kafkaSection,
  meta: metaGraphSection,
  crypto: cryptoSection,
  admin: adminSection,
  outbound: outboundSection
})
const logger = createLogger({ level: config.log.level, name: 'outbound-sender' })
const db = createDb(config.db.url, { applicationName: 'coexist-outbound-sender', max: 20, onIdleError: (err) => logger.warn({ err }, 'idle Postgres connection failed') })
await migrateToLatest(db)

const { kafka, registry, producer, ready: kafkaIsReady, close: closeBus } = await connectBus({ brokers: config.kafka.brokers, topicPrefix: config.kafka.topicPrefix, clientId: config.kafka.clientId ?? 'coexist-outbound-sender', logger })

const metrics = new Registry()
const cipher = createTokenCipher({ current: config.crypto.encryptionKey, previous: config.crypto.previousEncryptionKeys })
const graph = createGraphClient({ baseUrl: config.meta.graphUrl, version: config.meta.graphVersion, logger, timeoutMs: config.outbound.graphTimeoutMs, connections: config.outbound.graphConnections })
const roles = config.outbound.roles

const app = await buildApp({
  db,
  logger,
  adminKey: config.admin.adminKey,
  metrics,
  publishRequest: async (value) => { await producer.publish('outbound.requests', { key: value.phoneNumberId as string, value }) },
  readiness: { kafka: kafkaIsReady }
})

let runtime: OutboundRuntime | undefined
if (roles !== 'api') {
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

installGracefulShutdown(app, {
  logger,
  onShutdown: async () => {
    await runtime?.stop()
    await closeBus()
    await graph.close()
    await db.destroy()
  }
})
await listen(app, { port: config.http.port, host: config.http.host })

/**
 * The billing service process: config from the environment (once), clients (Postgres with
 * migrations, Kafka with topics, the Graph client), the consumers and the outbox relay, the HTTP
 * app on PORT (8083), and graceful shutdown. The only module that reads process.env or exits.
 */
import { adminSection, cryptoSection, databaseSection, httpSection, kafkaSection, loadConfig, logSection, metaGraphSection } from '@coexist/config'
import { connectBus } from '@coexist/bus'
import { createDb, createTokenCipher, migrateToLatest } from '@coexist/db'
import { installGracefulShutdown, listen } from '@coexist/http'
import { createLogger } from '@coexist/logger'
import { createGraphClient } from '@coexist/meta'
import { buildApp } from './app.ts'
import { BILLING_PRODUCER, startBillingRuntime } from './runtime.ts'

const config = loadConfig(process.env, {
  http: httpSection(8083),
  log: logSection,
  db: databaseSection,
  kafka: kafkaSection,
  meta: metaGraphSection,
  crypto: cryptoSection,
  admin: adminSection
})
const logger = createLogger({ level: config.log.level, name: 'billing' })
const db = createDb(config.db.url, { applicationName: 'coexist-billing', max: 20, onIdleError: (err) => logger.warn({ err }, 'idle Postgres connection failed') })
await migrateToLatest(db)

const { kafka, registry, producer, ready: kafkaIsReady, close: closeBus } = await connectBus({ brokers: config.kafka.brokers, topicPrefix: config.kafka.topicPrefix, clientId: config.kafka.clientId ?? 'coexist-billing', logger, producer: BILLING_PRODUCER })

const cipher = createTokenCipher({ current: config.crypto.encryptionKey, previous: config.crypto.previousEncryptionKeys })
const graph = createGraphClient({ baseUrl: config.meta.graphUrl, version: config.meta.graphVersion, logger })

const runtime = await startBillingRuntime({
  db,
  kafka,
  registry,
  producer,
  logger,
  onFatal: (err) => { logger.fatal({ err }, 'billing consumer stopped for good; exiting'); process.exit(1) }
})
const app = await buildApp({
  db,
  logger,
  adminKey: config.admin.adminKey,
  cipher,
  graph,
  reprice: runtime.reprice,
  invalidate: runtime.invalidate,
  afterCommit: runtime.relay.kick,
  readiness: { kafka: kafkaIsReady }
})

installGracefulShutdown(app, {
  logger,
  onShutdown: async () => {
    await runtime.stop()
    await closeBus()
    await graph.close()
    await db.destroy()
  }
})
await listen(app, { port: config.http.port, host: config.http.host })

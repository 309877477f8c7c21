import { randomBytes } from 'node:crypto'
import t from 'tap'
import pg from 'pg'
import { create } from '@bufbuild/protobuf'
import { RawWebhookSchema } from '@coexist/contracts'
import { dataServiceSections, loadConfig } from '@coexist/config'
import { sql } from '@coexist/db'
import { createLogger } from '@coexist/logger'
import { testDatabase, testKafkaBrokers, testTopicPrefix } from '@coexist/testkit'
import { startDataClients, type DataServiceConfig } from '../src/index.ts'

const logger = createLogger({ level: 'silent' })

function config (databaseUrl: string, brokers: string[]): DataServiceConfig {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: testTopicPrefix(),
    META_GRAPH_URL: 'http://127.0.0.1:9',
    COEXIST_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    COEXIST_ADMIN_KEY: randomBytes(24).toString('hex'),
    DATABASE_POOL_MAX: '2'
  }, dataServiceSections)
}

/** Connections the server holds for `applicationName` on `url`'s database. */
async function connections (url: string, applicationName: string): Promise<number> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const r = await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [applicationName])
    return Number(r.rows[0]?.n)
  } finally { await c.end() }
}

t.test('starts Postgres (migrated, named), Kafka (topics, producer), the cipher and the Graph client; close stops them', async (t) => {
  const { url } = await testDatabase(t)
  const name = `coexist-clients-test-${randomBytes(3).toString('hex')}`
  const clients = await startDataClients(config(url, testKafkaBrokers()), { name, logger })
  let closed = false
  t.teardown(async () => { if (!closed) await clients.close() })

  const migrations = await sql<{ n: string }>`SELECT count(*) AS n FROM kysely_migration`.execute(clients.db)
  t.ok(Number(migrations.rows[0]?.n) > 0, 'migrations applied')
  t.ok(await connections(url, name) >= 1, 'Postgres connections carry the service name')
  t.equal(await clients.bus.ready(), true, 'Kafka is ready')
  await clients.bus.producer.publish('webhook.raw', { key: 'waba-1', value: create(RawWebhookSchema, { body: Buffer.from('{}'), appId: '1' }) })
  const sealed = clients.cipher.encrypt('token-1')
  t.equal(clients.cipher.decrypt(sealed.ciphertext, sealed.keyId), 'token-1', 'the cipher uses the configured key')

  await clients.close()
  closed = true
  t.equal(await connections(url, name), 0, 'the pool is closed')
  await t.rejects(sql`SELECT 1`.execute(clients.db), 'the db no longer takes queries')
  await clients.close() // twice is harmless
})

t.test('a start that fails part-way (Kafka unreachable) stops what it had started', async (t) => {
  const { url } = await testDatabase(t)
  const name = `coexist-clients-test-${randomBytes(3).toString('hex')}`
  // Port 1: refused at once; kafkajs gives up after its client retries.
  await t.rejects(startDataClients(config(url, ['127.0.0.1:1']), { name, logger }))
  t.equal(await connections(url, name), 0, 'no Postgres connection left open (the pool would keep one idle for 10 s)')
})

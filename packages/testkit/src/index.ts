/**
 * Test isolation on real infrastructure. `scripts/test.ts` starts Postgres and Kafka once per
 * run, migrates a template database, and exports where they are; each test then gets its own
 * database (`CREATE DATABASE … TEMPLATE …`) and its own topic prefix, dropped at teardown.
 *
 * @example
 * const db = await testDatabase(t)          // { url, name }
 * const prefix = testTopicPrefix()           // 't3f9a_12.'
 * const brokers = testKafkaBrokers()
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export interface Teardown { teardown: (fn: () => unknown) => void }

function required (name: string): string {
  const v = process.env[name]
  if (v === undefined || v === '') {
    throw new Error(`${name} is not set: run tests through \`npm test\` (scripts/test.ts starts Postgres and Kafka and sets it)`)
  }
  return v
}

/** Identifies this test run; part of every database and topic name the run creates. */
export function testRunId (): string { return required('COEXIST_TEST_RUN_ID') }

/** Kafka bootstrap servers for tests. */
export function testKafkaBrokers (): string[] { return required('KAFKA_BROKERS').split(',') }

let seq = 0
/** A topic prefix no other test (in this run or another) uses, ending with a dot. */
export function testTopicPrefix (): string {
  return `t${testRunId()}_${process.pid}_${++seq}_${randomBytes(2).toString('hex')}.`
}

/** URL of `database` on the test server. */
export function testDatabaseUrl (database: string): string {
  const u = new URL(required('COEXIST_TEST_PG_URL'))
  u.pathname = '/' + database
  return u.toString()
}

async function admin<T> (fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: required('COEXIST_TEST_PG_URL') })
  await c.connect()
  try { return await fn(c) } finally { await c.end() }
}

/**
 * A fresh database cloned from the run's migrated template, dropped when the test ends.
 * Cloning is retried: Postgres refuses two clones of one template at the same instant.
 */
export async function testDatabase (t: Teardown): Promise<{ url: string, name: string }> {
  const template = required('COEXIST_TEST_PG_TEMPLATE')
  const name = `${template}_${process.pid}_${++seq}_${randomBytes(3).toString('hex')}`
  await admin(async (c) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`)
        return
      } catch (err) {
        // 55006: source database is being accessed by other users (a parallel clone).
        if ((err as { code?: string }).code !== '55006' || attempt > 100) throw err
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100))
      }
    }
  })
  t.teardown(() => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)))
  return { url: testDatabaseUrl(name), name }
}

export { publishWebhookChanges, webhookChangeRecords, type WebhookBodyLike, type WebhookChangeRecord } from './webhooks.ts'

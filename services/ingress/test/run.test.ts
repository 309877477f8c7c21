/**
 * The wiring main.ts runs: topics created, readiness from Kafka, and graceful shutdown that turns
 * readiness false first, lets in-flight webhooks finish (each still gets its 200 after Kafka's
 * ack), then closes the producer.
 */
import t from 'tap'
import { createKafka } from '@coexist/bus'
import { signBody, serializeLikeMeta } from '@coexist/meta'
import { inboundTextWebhook } from '@coexist/meta/fixtures'
import { testKafkaBrokers, testTopicPrefix } from '@coexist/testkit'
import { loadIngressConfig } from '../src/config.ts'
import { runIngress } from '../src/run.ts'
import { APP_ID, APP_SECRET, VERIFY_TOKEN, readIngressTopics, silentLogger } from './helpers.ts'

t.test('graceful shutdown: not ready first, in-flight webhooks finish with 200 and are on Kafka, then exit 0', async (t) => {
  const loaded = loadIngressConfig({
    KAFKA_BROKERS: testKafkaBrokers().join(','),
    KAFKA_TOPIC_PREFIX: testTopicPrefix(),
    META_APP_SECRETS: `${APP_ID}:${APP_SECRET}`,
    META_VERIFY_TOKEN: VERIFY_TOKEN,
    INGRESS_DRAIN_MS: '300',
    INGRESS_TOPIC_PARTITIONS: '2'
  })
  const config = { ...loaded, http: { host: '127.0.0.1', port: 0 } }
  const exits: number[] = []
  const logger = silentLogger()
  // A long linger keeps the webhooks waiting for Kafka while the shutdown starts.
  const ing = await runIngress(config, { logger, exit: (code) => exits.push(code), signals: [], producer: { lingerMs: 1000 } })
  let closed = false
  t.teardown(async () => { if (!closed) await ing.shutdown('teardown') })

  t.equal((await fetch(`${ing.url}/health/ready`)).status, 200, 'ready once Kafka answers')

  const bodies = Array.from({ length: 20 }, (_, i) => serializeLikeMeta(inboundTextWebhook({ wamid: `wamid.DRAIN_${i}` })))
  const pending = bodies.map((b) => fetch(`${ing.url}/webhooks/meta`, { method: 'POST', body: b, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(b, APP_SECRET) } }))
  await new Promise((resolve) => setTimeout(resolve, 100)) // the requests reach the handler and wait for the producer
  const shutdown = ing.shutdown('test')

  const ready = await fetch(`${ing.url}/health/ready`)
  t.equal(ready.status, 503, 'readiness turns false first, while the server still serves')
  t.match(await ready.json(), { status: 'shutting_down' })

  const statuses = await Promise.all(pending.map(async (p) => (await p).status))
  t.same(statuses, bodies.map(() => 200), 'every in-flight webhook answered 200')
  t.equal(await shutdown, 0)
  closed = true
  t.same(exits, [0])
  await t.rejects(fetch(`${ing.url}/health/live`), 'the server is closed')

  const kafka = createKafka({ brokers: testKafkaBrokers(), clientId: 'ingress-run-test', logger })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  const got = await readIngressTopics({ kafka, admin, topics: ing.topics }, ['webhook.raw'])
  t.equal(got.raw.length, bodies.length, 'all of them on Kafka')
})

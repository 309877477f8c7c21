/**
 * Kafka refusing a record (here: a raw-archive topic created with a record limit smaller than the
 * body) is a 503, never a 200: Meta keeps the webhook and retries until the topic is fixed.
 */
import t from 'tap'
import { serializeLikeMeta, signBody } from '@coexist/meta'
import { inboundTextWebhook } from '@coexist/meta/fixtures'
import { APP_ID, APP_SECRET, metricValue, readIngressTopics, startIngress } from '../helpers.ts'

t.test('a record the broker refuses: 503, counted, the body not in the archive', async (t) => {
  const ing = await startIngress(t, {
    // The broker, not the client, must refuse: the registry still believes in its 8 MiB limit.
    beforeTopics: async (admin, topics) => {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: topics.topic('webhook.raw').name, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '600' }] }]
      })
    }
  })
  const small = serializeLikeMeta({ object: 'whatsapp_business_account', entry: [] })
  const ok = await fetch(`${ing.url}/webhooks/meta/${APP_ID}`, { method: 'POST', body: small, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(small, APP_SECRET) } })
  t.equal(ok.status, 200, 'a body under the limit is stored')

  const body = serializeLikeMeta(inboundTextWebhook({ wamid: 'wamid.REFUSED_0001', body: 'x'.repeat(800) }))
  const res = await fetch(`${ing.url}/webhooks/meta/${APP_ID}`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, APP_SECRET) } })
  t.equal(res.status, 503)
  t.match(await res.json(), { code: 'ING_KAFKA_UNAVAILABLE' })
  t.equal(res.headers.get('retry-after'), '1')

  const got = await readIngressTopics(ing, ['webhook.raw'])
  t.same(got.raw.map((r) => Buffer.from(r.decoded.body).toString()), [small], 'only the small body is archived')
  const m = await ing.metrics()
  t.equal(metricValue(m, 'ingress_webhook_requests_total', { outcome: 'kafka_unavailable' }), 1)
  t.equal(metricValue(m, 'ingress_publish_failures_total', { code: 'BUS_RECORD_TOO_LARGE' }), 1, 'counted by the bus error code')
  t.ok(metricValue(m, 'ingress_kafka_errors_total') >= 1, 'the failed batch is counted from the diagnostics channel')
})

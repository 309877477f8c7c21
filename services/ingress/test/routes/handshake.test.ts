import t from 'tap'
import { APP_ID, VERIFY_TOKEN, metricValue, startIngress } from '../helpers.ts'

const query = (q: Record<string, string>): string => new URLSearchParams(q).toString()

t.test('GET handshake: the challenge as plain text when mode and token match, 403 otherwise', async (t) => {
  const ing = await startIngress(t)
  for (const path of ['/webhooks/meta', `/webhooks/meta/${APP_ID}`]) {
    const ok = await ing.app.inject({ method: 'GET', url: `${path}?${query({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' })}` })
    t.equal(ok.statusCode, 200, path)
    t.equal(ok.body, '1158201444', 'the bare challenge')
    t.match(ok.headers['content-type'], /^text\/plain/)
  }
  const refused: Array<[string, Record<string, string>, string]> = [
    ['/webhooks/meta', { 'hub.mode': 'subscribe', 'hub.verify_token': 'wrong', 'hub.challenge': '1' }, 'token_mismatch'],
    ['/webhooks/meta', { 'hub.mode': 'unsubscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1' }, 'wrong_mode'],
    ['/webhooks/meta', { 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1' }, 'missing_mode'],
    ['/webhooks/meta', { 'hub.mode': 'subscribe', 'hub.challenge': '1' }, 'missing_token'],
    ['/webhooks/meta', { 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN }, 'missing_challenge'],
    ['/webhooks/meta/999', { 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1' }, 'unknown_app']
  ]
  for (const [path, q, reason] of refused) {
    const res = await ing.app.inject({ method: 'GET', url: `${path}?${query(q)}` })
    t.equal(res.statusCode, 403, reason)
    t.match(res.json(), { code: 'ING_VERIFICATION_FAILED', reason })
    t.notMatch(res.body, '1158201444')
  }
  const m = await ing.metrics()
  t.equal(metricValue(m, 'ingress_verifications_total', { result: 'ok' }), 2)
  t.equal(metricValue(m, 'ingress_verifications_total', { result: 'token_mismatch' }), 1)
})

t.test('health, metrics and the OpenAPI document', async (t) => {
  let ready = true
  const ing = await startIngress(t, { deps: { kafkaReady: async () => ready } })
  t.equal((await ing.app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
  ready = false
  const notReady = await ing.app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(notReady.statusCode, 503)
  t.match(notReady.json(), { failed: ['kafka'] })
  t.equal((await ing.app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
  const doc = (await ing.app.inject({ method: 'GET', url: '/v1/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> }
  t.ok(doc.paths['/webhooks/meta']?.post, 'POST documented')
  t.ok(doc.paths['/webhooks/meta/{appId}']?.get, 'GET documented')
  const m = await ing.metrics()
  for (const name of ['ingress_webhook_requests_total', 'ingress_signature_failures_total', 'ingress_publish_duration_seconds', 'ingress_kafka_batch_records', 'ingress_kafka_errors_total']) {
    t.match(m, `# HELP ${name} `, name)
  }
})

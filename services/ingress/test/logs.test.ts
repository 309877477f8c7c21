/**
 * Logs never carry a body's message text or a secret: every path (stored, unrouted, refused,
 * oversized, Kafka down, handshake) runs at `trace` level, kafkajs's own logs included, and
 * the captured stream is searched.
 */
import t from 'tap'
import { createBusProducer, createKafka, createTopicRegistry } from '@coexist/bus'
import { createLogger } from '@coexist/logger'
import { serializeLikeMeta, signBody } from '@coexist/meta'
import { inboundTextWebhook } from '@coexist/meta/fixtures'
import { buildApp } from '../src/app.ts'
import { APP_ID, APP_SECRET, APP_SECRETS, OTHER_APP_SECRET, VERIFY_TOKEN, logCapture, startIngress } from './helpers.ts'

const MESSAGE_TEXT = 'Meu cartão é 4111 1111 1111 1111, código XQZ-7731'

t.test('no message text, secret, token or signature in any log line', async (t) => {
  const capture = logCapture()
  const logger = createLogger({ level: 'trace', name: 'ingress' }, capture.stream)
  const ing = await startIngress(t, { logger })
  const endpoint = `${ing.url}/webhooks/meta/${APP_ID}`
  const body = serializeLikeMeta(inboundTextWebhook({ wamid: 'wamid.LOG_0001', body: MESSAGE_TEXT }))
  const signature = signBody(body, APP_SECRET)
  const post = (b: string | Buffer, sig: string | undefined, url = endpoint) =>
    fetch(url, { method: 'POST', body: b, headers: { 'content-type': 'application/json', ...(sig !== undefined ? { 'x-hub-signature-256': sig } : {}) } })

  t.equal((await post(body, signature)).status, 200, 'stored')
  t.equal((await post(body, signBody(body, OTHER_APP_SECRET))).status, 401, 'other app')
  t.equal((await post(body + ' ', signature)).status, 401, 'tampered')
  const notJson = `not json: ${MESSAGE_TEXT}`
  t.equal((await post(notJson, signBody(notJson, APP_SECRET))).status, 200, 'unparseable body, unrouted')
  const unknown = serializeLikeMeta({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'security', value: { text: MESSAGE_TEXT } }] }] })
  t.equal((await post(unknown, signBody(unknown, APP_SECRET))).status, 200, 'unknown field, unrouted')
  const big = Buffer.concat([Buffer.from(MESSAGE_TEXT), Buffer.alloc(4 * 1024 * 1024)])
  t.equal((await post(big, signBody(big, APP_SECRET))).status, 413, 'oversized')
  const challenge = await ing.app.inject({ method: 'GET', url: `/webhooks/meta?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=987654321` })
  t.equal(challenge.statusCode, 200)
  t.equal((await ing.app.inject({ method: 'GET', url: `/webhooks/meta?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}x&hub.challenge=1` })).statusCode, 403)

  // Kafka unreachable: the 503 path logs the error chain.
  const deadKafka = createKafka({ brokers: ['127.0.0.1:1'], clientId: 'ingress-log-test', logger, connectionTimeoutMs: 200, retry: { retries: 0 } })
  const deadProducer = createBusProducer({ kafka: deadKafka, registry: createTopicRegistry({ prefix: 'dead.' }), logger, publishTimeoutMs: 2000, retry: { retries: 0 } })
  t.teardown(() => deadProducer.disconnect({ timeoutMs: 100 }))
  const deadApp = await buildApp({ logger, producer: deadProducer, topics: createTopicRegistry({ prefix: 'dead.' }), appSecrets: APP_SECRETS, verifyToken: VERIFY_TOKEN, kafkaReady: async () => false })
  t.teardown(() => deadApp.close())
  const unavailable = await deadApp.inject({ method: 'POST', url: `/webhooks/meta/${APP_ID}`, payload: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature } })
  t.equal(unavailable.statusCode, 503)
  t.match(unavailable.json(), { code: 'ING_KAFKA_UNAVAILABLE' })

  await ing.app.close()
  const text = capture.text()
  const lines = capture.lines()
  t.ok(lines.length > 20, `${lines.length} lines captured`)
  t.ok(lines.some((l) => l.msg === 'webhook signature rejected' && l.reason === 'other_app'), 'refusals are logged, with their reason')
  t.ok(lines.some((l) => l.msg === 'webhook not stored: Kafka did not acknowledge; answering 503'), 'the 503 is logged')
  t.ok(lines.some((l) => (l as { kafkajs?: unknown }).kafkajs !== undefined), 'kafkajs logs are in the stream too')

  const forbidden: Array<[string, string]> = [
    ['message text', 'XQZ-7731'],
    ['message text (card number)', '4111 1111'],
    ['message text, as Meta escapes it', 'c\\u00f3digo'],
    ['app secret', APP_SECRET],
    ['other app secret', OTHER_APP_SECRET],
    ['rotated secret', 'ingress-test-secret-old'],
    ['verify token', VERIFY_TOKEN],
    ['challenge', '987654321'],
    ['signature', signature.slice('sha256='.length)]
  ]
  for (const [what, needle] of forbidden) t.notOk(text.includes(needle), `no ${what} in the logs`)
})

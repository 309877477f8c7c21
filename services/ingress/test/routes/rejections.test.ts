import t from 'tap'
import { serializeLikeMeta, signBody } from '@coexist/meta'
import { startSimulator } from '@coexist/meta-simulator'
import { inboundTextWebhook } from '@coexist/meta/fixtures'
import { APP_ID, APP_SECRET, OTHER_APP_SECRET, metricValue, readIngressTopics, startIngress } from '../helpers.ts'

const post = (url: string, body: Buffer | string | ReadableStream, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit)

t.test('tampered, re-serialised, unsigned, wrongly signed and oversized bodies: 401/413 and nothing published', async (t) => {
  const ing = await startIngress(t)
  const endpoint = `${ing.url}/webhooks/meta/${APP_ID}`
  // Meta's bytes: `\u00e1` and `\/` escapes; JSON.stringify of the parsed body gives other bytes.
  const metaBytes = serializeLikeMeta(inboundTextWebhook({ wamid: 'wamid.REJ_0001', body: 'Olá, pedido 12/3 👍' }))
  const signature = signBody(metaBytes, APP_SECRET)
  t.match(metaBytes, /\\u00e1.*\\\//)

  const tampered = Buffer.from(metaBytes)
  const at = tampered.indexOf('pedido') + 1
  tampered[at] = (tampered[at] ?? 0) ^ 0x01
  const reserialised = JSON.stringify(JSON.parse(metaBytes))
  t.not(reserialised, metaBytes)

  const cases: Array<[string, Promise<Response>, number, string]> = [
    ['tampered byte', post(endpoint, tampered, { 'x-hub-signature-256': signature }), 401, 'mismatch'],
    ['re-serialised JSON', post(endpoint, reserialised, { 'x-hub-signature-256': signature }), 401, 'mismatch'],
    ['no signature', post(endpoint, metaBytes, {}), 401, 'missing'],
    ['malformed header', post(endpoint, metaBytes, { 'x-hub-signature-256': 'sha1=abc' }), 401, 'malformed'],
    ['signed by another of our apps', post(endpoint, metaBytes, { 'x-hub-signature-256': signBody(metaBytes, OTHER_APP_SECRET) }), 401, 'other_app'],
    ['app id we do not know', post(`${ing.url}/webhooks/meta/999`, metaBytes, { 'x-hub-signature-256': signature }), 401, 'unknown_app'],
    ['wrong secret, app from the signature', post(`${ing.url}/webhooks/meta`, metaBytes, { 'x-hub-signature-256': signBody(metaBytes, 'not-a-secret-we-have') }), 401, 'mismatch']
  ]
  for (const [name, pending, status, reason] of cases) {
    const res = await pending
    t.equal(res.status, status, name)
    t.match(res.headers.get('content-type'), /^application\/problem\+json/, `${name}: problem+json`)
    t.match(await res.json(), { code: 'ING_SIGNATURE_INVALID', reason }, `${name}: reason ${reason}`)
  }

  // The simulator's emitter: unsigned and wrongly signed deliveries.
  const sim = await startSimulator({ port: 0, webhookTarget: { url: endpoint, appSecret: APP_SECRET, appId: APP_ID }, emitter: { retry: { maxAttempts: 1 } } })
  t.teardown(sim.close)
  t.equal((await sim.control.emit(inboundTextWebhook({}), { signature: 'missing' })).status, 401)
  t.equal((await sim.control.emit(inboundTextWebhook({}), { signature: 'invalid' })).status, 401)

  // Oversized: above the 4 MiB default, validly signed; with a Content-Length and streamed (chunked).
  const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20)
  const bigSig = signBody(big, APP_SECRET)
  const tooLarge = await post(endpoint, big, { 'x-hub-signature-256': bigSig })
  t.equal(tooLarge.status, 413, 'Content-Length above the limit')
  t.match(await tooLarge.json(), { code: 'HTTP_PAYLOAD_TOO_LARGE' })
  const chunks = [big.subarray(0, 2_000_000), big.subarray(2_000_000)]
  const stream = new ReadableStream<Uint8Array>({ pull (c) { const n = chunks.shift(); if (n === undefined) c.close(); else c.enqueue(n) } })
  t.equal((await post(endpoint, stream, { 'x-hub-signature-256': bigSig })).status, 413, 'chunked body past the limit')

  const got = await readIngressTopics(ing)
  t.same(got.all, [], 'nothing on any ingress topic')

  const m = await ing.metrics()
  t.equal(metricValue(m, 'ingress_signature_failures_total', { reason: 'mismatch' }), 4, 'tampered, re-serialised, unknown secret, emitter\'s wrong secret')
  t.equal(metricValue(m, 'ingress_signature_failures_total', { reason: 'missing' }), 2)
  t.equal(metricValue(m, 'ingress_signature_failures_total', { reason: 'malformed' }), 1)
  t.equal(metricValue(m, 'ingress_signature_failures_total', { reason: 'other_app' }), 1)
  t.equal(metricValue(m, 'ingress_signature_failures_total', { reason: 'unknown_app' }), 1)
  t.equal(metricValue(m, 'ingress_webhook_requests_total', { outcome: 'signature_rejected' }), 9)
  t.equal(metricValue(m, 'ingress_webhook_requests_total', { outcome: 'too_large' }), 2)
  t.equal(metricValue(m, 'ingress_changes_total'), 0)
})

t.test('the signature is checked whatever the Content-Type; a rotated-out secret still verifies', async (t) => {
  const ing = await startIngress(t)
  const bytes = serializeLikeMeta(inboundTextWebhook({ wamid: 'wamid.CT_0001' }))
  for (const [contentType, secret] of [['text/plain', APP_SECRET], ['application/json; charset=utf-8', 'ingress-test-secret-old']] as const) {
    const res = await post(`${ing.url}/webhooks/meta/${APP_ID}`, bytes, { 'content-type': contentType, 'x-hub-signature-256': signBody(bytes, secret) })
    t.equal(res.status, 200, contentType)
  }
  const noType = await fetch(`${ing.url}/webhooks/meta`, { method: 'POST', body: new Blob([bytes]), headers: { 'x-hub-signature-256': signBody(bytes, APP_SECRET) } })
  t.equal(noType.status, 200, 'no Content-Type at all')
  const got = await readIngressTopics(ing, ['webhook.raw'])
  t.same(got.raw.map((r) => r.decoded.contentType).sort(), ['', 'application/json; charset=utf-8', 'text/plain'])
  t.ok(got.raw.every((r) => Buffer.from(r.decoded.body).toString() === bytes))
})

import t from 'tap'
import { serializeLikeMeta } from '@coexist/meta'
import { startSimulator } from '@coexist/meta-simulator'
import { FIXTURE_IDS, WEBHOOK_SAMPLES, historyChunkWebhook, historyThread, inboundTextWebhook, webhookBody } from '@coexist/meta/fixtures'
import { APP_ID, APP_SECRET, metricValue, readIngressTopics, startIngress, type Teardown } from '../helpers.ts'

const PHONE_SCOPED = new Set(['messages', 'smb_message_echoes', 'smb_app_state_sync', 'history'])

async function simulatorFor (t: Teardown, url: string) {
  const sim = await startSimulator({ port: 0, webhookTarget: { url, appSecret: APP_SECRET, appId: APP_ID }, emitter: { retry: { maxAttempts: 1 } } })
  t.teardown(sim.close)
  return sim
}

t.test('every field routes to its topic with the right key and headers; the body is archived byte for byte', async (t) => {
  const ing = await startIngress(t)
  const sim = await simulatorFor(t, `${ing.url}/webhooks/meta/${APP_ID}`)
  const samples = Object.entries(WEBHOOK_SAMPLES)
  const results = await sim.control.emitMany(samples.map(([, s]) => s), { concurrency: 8 })
  t.ok(results.every((r) => r.delivered && r.status === 200), 'every POST answered 200')

  const got = await readIngressTopics(ing)
  t.equal(got.raw.length, samples.length, 'one raw record per POST')
  t.equal(got.unrouted.length, 0)
  const rawBodies = new Set(got.raw.map((r) => Buffer.from(r.decoded.body).toString('utf8')))
  for (const [name, sample] of samples) t.ok(rawBodies.has(serializeLikeMeta(sample)), `${name}: archived as sent`)
  for (const r of got.raw) {
    t.equal(r.key, FIXTURE_IDS.wabaId)
    t.match(r.decoded, { appId: APP_ID, signatureVerified: true, contentType: 'application/json' })
    t.match(r.headers, { 'event-type': 'webhook.raw', schema: 'coexist.webhook.v1.RawWebhook', 'content-type': 'application/x-protobuf', 'trace-id': /^[0-9a-f]{32}$/ })
  }

  // Expected: every change of every sample, on webhook.<field>, keyed by phone number or WABA.
  const expected = samples.flatMap(([, s]) => s.entry.flatMap((e) => e.changes.map((c) => ({
    topic: ing.topics.topic(`webhook.${c.field}` as 'webhook.messages').name,
    key: PHONE_SCOPED.has(c.field) ? FIXTURE_IDS.phoneNumberId : FIXTURE_IDS.wabaId,
    value: serializeLikeMeta(c.value)
  }))))
  const actual = got.changes.map((r) => ({ topic: r.topic, key: r.key, value: Buffer.from(r.decoded.valueJson).toString('utf8') }))
  const sort = (l: Array<{ topic: string, key: string | null, value: string }>) => l.map((x) => JSON.stringify(x)).sort()
  t.same(sort(actual), sort(expected), 'each change on its field topic, with its key and its value bytes')
  t.ok(new Set(actual.map((a) => a.topic)).size >= 8, 'all eight field topics used')

  const rawById = new Map(got.raw.map((r) => [r.decoded.requestId, r]))
  for (const c of got.changes) {
    const raw = rawById.get(c.decoded.rawRequestId)
    t.ok(raw, 'points back at its raw record')
    t.equal(c.headers['trace-id'], raw?.headers['trace-id'], 'shares the request\'s trace id')
    t.equal(c.headers['trace-id'], c.decoded.rawRequestId.replaceAll('-', ''), 'the trace id is the request id')
    t.equal(c.headers['event-type'], `webhook.${c.decoded.field}`)
    t.equal(c.headers.schema, 'coexist.webhook.v1.WebhookChange')
    t.equal(c.decoded.receivedAt, raw?.decoded.receivedAt)
  }
  const partner = got.changes.find((c) => c.decoded.entryId === FIXTURE_IDS.partnerBusinessId)
  t.equal(partner?.key, FIXTURE_IDS.wabaId, 'PARTNER_* event keyed by waba_info.waba_id')

  const m = await ing.metrics()
  t.equal(metricValue(m, 'ingress_webhook_requests_total', { outcome: 'routed' }), samples.length)
  t.equal(metricValue(m, 'ingress_changes_total'), expected.length)
  t.equal(metricValue(m, 'ingress_publish_duration_seconds_count', { outcome: 'ok' }), samples.length)
  t.ok(metricValue(m, 'ingress_kafka_batch_records_count') >= 1, 'batches observed from the bus diagnostics channel')
})

t.test('duplicates pass through unchanged; signed non-WhatsApp bodies and unknown fields are archived and unrouted with 200', async (t) => {
  const ing = await startIngress(t)
  const sim = await simulatorFor(t, `${ing.url}/webhooks/meta`)
  const dup = await sim.control.emit(inboundTextWebhook({ wamid: 'wamid.DUP_0001' }), { duplicates: 2 })
  t.ok(dup.delivered && dup.duplicates?.every((d) => d.delivered), 'three deliveries of the same bytes, all 200')
  const odd = await sim.control.emitMany([
    'this is not json at all',
    JSON.stringify({ object: 'page', entry: [{ id: '42', changes: [{ field: 'feed', value: {} }] }] }),
    webhookBody('security', { event: 'PIN_CHANGED' })
  ])
  t.same(odd.map((r) => r.status), [200, 200, 200])

  const got = await readIngressTopics(ing)
  const dupMessages = got.changes.filter((c) => c.topic === ing.topics.topic('webhook.messages').name)
  t.equal(dupMessages.length, 3, 'each delivery published: deduplication is the consumers\' job')
  t.equal(new Set(dupMessages.map((c) => Buffer.from(c.decoded.valueJson).toString('hex'))).size, 1, 'identical values')
  t.equal(new Set(dupMessages.map((c) => c.decoded.rawRequestId)).size, 3, 'three requests')
  t.equal(got.raw.length, 6, 'every POST archived')
  t.same(got.unrouted.map((u) => u.decoded.reason).sort(), ['unexpected_object:page', 'unknown_field', 'unparseable_body:invalid_json'])
  const notJson = got.unrouted.find((u) => u.decoded.reason.startsWith('unparseable_body'))
  t.equal(Buffer.from(notJson?.decoded.body ?? []).toString(), 'this is not json at all', 'the whole body kept')
  const unknown = got.unrouted.find((u) => u.decoded.reason === 'unknown_field')
  t.equal(unknown?.decoded.field, 'security')
  t.equal(unknown?.key, FIXTURE_IDS.wabaId)
  t.same(JSON.parse(Buffer.from(unknown?.decoded.body ?? []).toString()), { field: 'security', value: { event: 'PIN_CHANGED' } })

  const m = await ing.metrics()
  t.equal(metricValue(m, 'ingress_webhook_requests_total', { outcome: 'unrouted' }), 3)
  t.equal(metricValue(m, 'ingress_unrouted_total', { reason: 'unparseable_body' }), 1)
  t.equal(metricValue(m, 'ingress_unrouted_total', { reason: 'unexpected_object' }), 1)
  t.equal(metricValue(m, 'ingress_unrouted_total', { reason: 'unknown_field' }), 1)
})

t.test('a 3 MB history chunk (Meta\'s largest body) is stored whole', async (t) => {
  const ing = await startIngress(t)
  const sim = await simulatorFor(t, `${ing.url}/webhooks/meta/${APP_ID}`)
  const thread = (i: number) => historyThread({
    userWaId: `55119${String(i).padStart(8, '0')}`,
    messages: Array.from({ length: 40 }, (_, j) => ({ direction: j % 2 === 0 ? 'in' as const : 'out' as const, wamid: `wamid.H_${i}_${j}`, timestamp: 1745000000 + j, status: 'READ' }))
  })
  // Threads are all about the same size: enough of them to pass 3,000,000 bytes by a little.
  const perThread = Buffer.byteLength(serializeLikeMeta(thread(0))) + 1
  const body = historyChunkWebhook({ phase: 1, chunkOrder: 1, progress: 10, threads: Array.from({ length: Math.ceil(3_000_000 / perThread) + 1 }, (_, i) => thread(i)) })
  const bytes = Buffer.byteLength(serializeLikeMeta(body))
  t.ok(bytes >= 3_000_000 && bytes < 3_100_000, `body of ${bytes} bytes`)
  const r = await sim.control.emit(body)
  t.equal(r.status, 200)
  const got = await readIngressTopics(ing, ['webhook.raw', 'webhook.history'])
  t.equal(got.raw.length, 1)
  t.equal(got.raw[0]?.decoded.body.length, bytes)
  t.equal(got.changes.length, 1)
  t.equal(got.changes[0]?.key, FIXTURE_IDS.phoneNumberId)
  t.same(JSON.parse(Buffer.from(got.changes[0]?.decoded.valueJson ?? []).toString()), body.entry[0]?.changes[0]?.value)
})

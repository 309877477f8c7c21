import t from 'tap'
import { batchWebhooks, WebhookEmitter } from '../../src/webhooks/webhook-emitter.ts'
import { buildStatusesWebhook, type NumberRef } from '../../src/webhooks/builders.ts'
import { signatureOk, startReceiver } from '../helpers.ts'

const SECRET = 'app-secret-for-tests'
const n: NumberRef = { phoneNumberId: '620000000000001', wabaId: '310000000000001', displayPhoneNumber: '5511999990000' }
const status = (id: string): object => buildStatusesWebhook(n, [{ id, status: 'sent', at: 1_751_400_300_000, recipientId: '5511988887777' }])

t.test('retries on 500 with back-off, then succeeds; only 200 counts', async (t) => {
  const r = await startReceiver(t)
  r.respond((i) => (i <= 2 ? 500 : i === 3 ? 204 : 200))
  const e = new WebhookEmitter({ target: { url: r.url, appSecret: SECRET }, retry: { initialDelayMs: 5, maxAttempts: 6 } })
  t.teardown(() => e.close())
  const res = await e.emit(status('wamid.A'))
  t.equal(res.delivered, true)
  t.equal(res.attempts, 4, '500, 500, 204 (not 200), then 200')
  t.equal(r.received.length, 4)
  t.ok(r.received.every((w) => w.raw.equals(r.received[0]!.raw)), 'every retry carries the same bytes')
  t.ok(r.received.every((w) => signatureOk(w, SECRET)))
  t.same(e.stats(), { emitted: 1, delivered: 1, retried: 3, failed: 0, pending: 0, attempts: 4 })
  const rec = e.records()[0]!
  t.same(rec.attempts.map((a) => a.status), [500, 500, 204, 200])
})

t.test('gives up after maxAttempts; network errors are retried too', async (t) => {
  const r = await startReceiver(t)
  r.respond(() => 503)
  const e = new WebhookEmitter({ target: { url: r.url, appSecret: SECRET }, retry: { initialDelayMs: 1, maxAttempts: 3 } })
  t.teardown(() => e.close())
  const res = await e.emit(status('wamid.B'))
  t.equal(res.delivered, false)
  t.equal(res.attempts, 3)
  t.equal(res.status, 503)
  t.equal(e.stats().failed, 1)

  const dead = new WebhookEmitter({ target: { url: 'http://127.0.0.1:1/none', appSecret: SECRET }, retry: { initialDelayMs: 1, maxAttempts: 2 } })
  t.teardown(() => dead.close())
  const res2 = await dead.emit(status('wamid.C'))
  t.equal(res2.delivered, false)
  t.equal(res2.attempts, 2)
  t.equal(res2.status, 0)
  t.ok(res2.error)
})

t.test('headers, Meta escaping, bad and missing signatures on demand', async (t) => {
  const r = await startReceiver(t)
  const e = new WebhookEmitter({ target: { url: r.url, appSecret: SECRET } })
  t.teardown(() => e.close())
  const body = { object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { text: 'Olá/👍' } }] }] }
  await e.emit(body)
  await e.emit(body, { signature: 'invalid' })
  await e.emit(body, { signature: 'missing' })
  const [ok, bad, missing] = r.received
  t.equal(ok!.headers['content-type'], 'application/json')
  t.equal(ok!.raw.toString(), '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"text":"Ol\\u00e1\\/\\ud83d\\udc4d"}}]}]}')
  t.ok(signatureOk(ok!, SECRET))
  t.notOk(signatureOk(bad!, SECRET))
  t.equal(missing!.headers['x-hub-signature-256'], undefined)
  // A receiver that re-serialises instead of hashing raw bytes fails the check.
  const reserialised = Buffer.from(JSON.stringify(ok!.json))
  t.notOk(signatureOk({ ...ok!, raw: reserialised }, SECRET))
})

t.test('duplicates, reordering and batching in emitMany', async (t) => {
  const r = await startReceiver(t)
  const e = new WebhookEmitter({ target: { url: r.url, appSecret: SECRET } })
  t.teardown(() => e.close())
  const bodies = Array.from({ length: 10 }, (_, i) => status(`wamid.${i}`))

  const dup = await e.emit(bodies[0]!, { duplicates: 2 })
  t.equal(dup.duplicates?.length, 2)
  t.equal(r.received.length, 3)
  t.ok(r.received.every((w) => w.raw.equals(r.received[0]!.raw)))

  r.received.length = 0
  await e.emitMany(bodies, { order: 'reversed', concurrency: 1 })
  t.same(r.received.map((w) => w.json.entry[0].changes[0].value.statuses[0].id), bodies.map((_, i) => `wamid.${9 - i}`).slice())

  r.received.length = 0
  const results = await e.emitMany(bodies, { batch: 4 })
  t.equal(results.length, 3, '10 changes in POSTs of at most 4')
  const changes = r.received.map((w) => w.json.entry.reduce((s: number, en: any) => s + en.changes.length, 0))
  t.same(changes.sort(), [2, 4, 4])
  t.equal(r.received[0]!.json.entry.length, 1, 'same WABA: one entry with several changes')

  r.received.length = 0
  await e.emitMany(bodies, { order: 'shuffled', seed: 3, duplicateRatio: 1 })
  t.equal(r.received.length, 20, 'every POST duplicated')
})

t.test('batchWebhooks keeps different WABAs in separate entries', async (t) => {
  const other = { ...n, wabaId: '310000000000002' }
  const out = batchWebhooks([status('a'), buildStatusesWebhook(other, [{ id: 'b', status: 'sent', at: 0, recipientId: '1' }]), status('c')], 1000) as any[]
  t.equal(out.length, 1)
  t.same(out[0].entry.map((e: any) => [e.id, e.changes.length]), [['310000000000001', 1], ['310000000000002', 1], ['310000000000001', 1]])
})

t.test('without a target nothing is sent and the result says so', async (t) => {
  const e = new WebhookEmitter()
  t.teardown(() => e.close())
  const res = await e.emit(status('x'))
  t.equal(res.delivered, false)
  t.match(res.error, /no webhook target/)
})

t.test('close cancels pending retries', async (t) => {
  const r = await startReceiver(t)
  r.respond(() => 500)
  const e = new WebhookEmitter({ target: { url: r.url, appSecret: SECRET }, retry: { initialDelayMs: 60_000, maxAttempts: 5 } })
  const p = e.emit(status('x'))
  await r.waitFor(1)
  await e.close()
  const res = await p
  t.equal(res.delivered, false)
  t.equal(res.attempts, 1)
})

import t from 'tap'
import { recordBalances } from '../../src/store/balances.ts'
import { buildApp } from '../../src/app.ts'
import type { OutboundRequestInit } from '../../src/domain/accept.ts'
import {
  ADMIN_KEY, addNumber, apiKey, openWindow, phone, silentLogger, templateTo, testDb, testKafka, testSimulator, textTo,
  type KafkaEnv, type TestDb
} from '../helpers.ts'
import type { RunningSimulator } from '@coexist/meta-simulator'
import type { Teardown } from '@coexist/testkit'

interface Env { tdb: TestDb, sim: RunningSimulator, k: KafkaEnv, app: Awaited<ReturnType<typeof buildApp>>, publish: { fn: (r: OutboundRequestInit) => Promise<void> } }

async function env (t: Teardown): Promise<Env> {
  const tdb = await testDb(t)
  const sim = await testSimulator(t)
  const k = await testKafka(t, ['outbound.requests'])
  // Swappable, so a test can make Kafka refuse.
  const publish = { fn: async (r: OutboundRequestInit) => { await k.producer.publish('outbound.requests', { key: r.phoneNumberId as string, value: r }) } }
  const app = await buildApp({ db: tdb.db, logger: silentLogger, adminKey: ADMIN_KEY, publishRequest: (r) => publish.fn(r), rateLimit: false })
  t.teardown(() => app.close())
  return { tdb, sim, k, app, publish }
}

const post = (e: Env, key: string, body: unknown, headers: Record<string, string> = {}) =>
  e.app.inject({ method: 'POST', url: '/v1/messages', headers: { authorization: `Bearer ${key}`, ...headers }, payload: body as object })

t.test('a template is accepted (202) once durable on Kafka, and readable by its id', async (t) => {
  const e = await env(t)
  const n = await addNumber(e.tdb, e.sim)
  const key = await apiKey(e.tdb.db, n.tenantId)
  const res = await post(e, key, templateTo(n.phoneNumberId, '+5511988887777'))
  t.equal(res.statusCode, 202)
  const body = res.json()
  t.match(body, { state: 'accepted', phone_number_id: n.phoneNumberId, recipient: '+5511988887777', type: 'template' })
  t.equal(res.headers.location, `/v1/messages/${body.id}`)
  t.equal(await e.k.count('outbound.requests'), 1, 'the record is on the topic')
  const row = await e.tdb.db.selectFrom('outbound_messages').select(['state', 'published_at', 'body']).executeTakeFirstOrThrow()
  t.equal(row.state, 'accepted')
  t.ok(row.published_at !== null)
  t.match(row.body, { messaging_product: 'whatsapp', type: 'template', to: '+5511988887777' })
  t.notOk('phone_number_id' in (row.body as object), 'our envelope is not part of the Graph body')
  const got = await e.app.inject({ method: 'GET', url: `/v1/messages/${body.id}`, headers: { authorization: `Bearer ${key}` } })
  t.equal(got.statusCode, 200)
  t.match(got.json(), { id: body.id, state: 'accepted', attempts: 0, wamid: null })
})

t.test('validation: 400 naming the field, by Meta\'s rules', async (t) => {
  const e = await env(t)
  const n = await addNumber(e.tdb, e.sim)
  const key = await apiKey(e.tdb.db, n.tenantId)
  const cases: Array<[unknown, string]> = [
    [{ ...textTo(n.phoneNumberId, '+5511988887777', 'x'), text: { body: 'x'.repeat(4097) } }, 'body.text.body'],
    [{ ...templateTo(n.phoneNumberId, '+5511988887777'), template: { name: 'Bad Name', language: { code: 'en' } } }, 'body.template.name'],
    [{ phone_number_id: n.phoneNumberId, to: '+1', type: 'image', image: { id: '1', link: 'https://x.example/a.jpg' } }, 'body.image'],
    [{ phone_number_id: 'abc', to: '+1', type: 'text', text: { body: 'hi' } }, 'body.phone_number_id'],
    [{ phone_number_id: n.phoneNumberId, to: '+1', type: 'interactive', interactive: { type: 'button', body: { text: 'b' }, action: { buttons: [1, 2, 3, 4].map((i) => ({ type: 'reply', reply: { id: `b${i}`, title: `t${i}` } })) } } }, 'body.interactive.action.buttons'],
    [{ phone_number_id: n.phoneNumberId, type: 'mark_as_read' }, 'body.message_id']
  ]
  for (const [body, path] of cases) {
    const res = await post(e, key, body)
    t.equal(res.statusCode, 400, path)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.ok(res.json().errors.some((x: { path: string }) => x.path === path), `names ${path}: ${JSON.stringify(res.json().errors)}`)
  }
  t.equal(await e.k.count('outbound.requests'), 0)
  const okTypes = [
    { phone_number_id: n.phoneNumberId, to: '+1555', type: 'image', image: { link: 'https://cdn.example.com/a.jpg', caption: 'c' } },
    { phone_number_id: n.phoneNumberId, to: '+1555', type: 'location', location: { latitude: 1, longitude: 2 } },
    { phone_number_id: n.phoneNumberId, type: 'mark_as_read', message_id: 'wamid.IN_1' }
  ]
  await openWindow(e.tdb.db, n.phoneNumberId, '+1555')
  for (const body of okTypes) t.equal((await post(e, key, body)).statusCode, 202, String(body.type))
})

t.test('Idempotency-Key: same request → first answer, one record; other request → 409', async (t) => {
  const e = await env(t)
  const n = await addNumber(e.tdb, e.sim)
  const key = await apiKey(e.tdb.db, n.tenantId)
  const body = templateTo(n.phoneNumberId, '+5511988887777')
  const first = await post(e, key, body, { 'idempotency-key': 'order-42' })
  // Same request, keys in another order: the same request.
  const again = await post(e, key, { template: body.template, type: 'template', to: '+5511988887777', phone_number_id: n.phoneNumberId }, { 'idempotency-key': 'order-42' })
  t.equal(first.statusCode, 202)
  t.equal(again.statusCode, 202)
  t.same(again.json(), first.json(), 'the first answer')
  t.equal(again.headers['idempotent-replayed'], 'true')
  const other = await post(e, key, templateTo(n.phoneNumberId, '+5511000000000'), { 'idempotency-key': 'order-42' })
  t.equal(other.statusCode, 409)
  t.equal(other.json().code, 'OUT_IDEMPOTENCY_KEY_REUSED')
  t.equal(await e.k.count('outbound.requests'), 1, 'sent once')
  // Concurrent duplicates: one row, one answer.
  const burst = await Promise.all(Array.from({ length: 8 }, () => post(e, key, body, { 'idempotency-key': 'order-43' })))
  t.ok(burst.every((r) => r.statusCode === 202))
  t.equal(new Set(burst.map((r) => r.json().id)).size, 1)
  t.equal(Number((await e.tdb.db.selectFrom('outbound_messages').select((eb) => eb.fn.countAll().as('n')).where('idempotency_key', '=', 'order-43').executeTakeFirstOrThrow()).n), 1)
  t.equal((await post(e, key, body, { 'idempotency-key': 'bad key with spaces' })).statusCode, 400)
})

t.test('Kafka refusing: 503, nothing sent; the same key later is accepted', async (t) => {
  const e = await env(t)
  const n = await addNumber(e.tdb, e.sim)
  const key = await apiKey(e.tdb.db, n.tenantId)
  const real = e.publish.fn
  e.publish.fn = async () => { throw new Error('broker down') }
  const body = templateTo(n.phoneNumberId, '+5511988887777')
  const res = await post(e, key, body, { 'idempotency-key': 'k1' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'OUT_NOT_DURABLE')
  const row = await e.tdb.db.selectFrom('outbound_messages').select(['state', 'error_code']).executeTakeFirstOrThrow()
  t.same(row, { state: 'failed', error_code: 'OUT_NOT_ACCEPTED' }, 'never sent, even if the record landed')
  e.publish.fn = real
  const retry = await post(e, key, body, { 'idempotency-key': 'k1' })
  t.equal(retry.statusCode, 202)
  t.equal((await e.tdb.db.selectFrom('outbound_messages').select('state').executeTakeFirstOrThrow()).state, 'accepted')
  t.equal(await e.k.count('outbound.requests'), 1)
})

t.test('early refusals: closed window 422, inactive number 409, unknown number 404, spend limit 402', async (t) => {
  const e = await env(t)
  const n = await addNumber(e.tdb, e.sim)
  const key = await apiKey(e.tdb.db, n.tenantId)
  const to = '+5511988887777'
  const closed = await post(e, key, textTo(n.phoneNumberId, to, 'hi'))
  t.equal(closed.statusCode, 422)
  t.equal(closed.json().code, 'OUT_WINDOW_CLOSED')
  await openWindow(e.tdb.db, n.phoneNumberId, to, new Date(Date.now() - 25 * 3600_000))
  t.equal((await post(e, key, textTo(n.phoneNumberId, to, 'hi'))).statusCode, 422, 'a message from 25 h ago does not open it')
  await openWindow(e.tdb.db, n.phoneNumberId, to)
  t.equal((await post(e, key, textTo(n.phoneNumberId, to, 'hi'))).statusCode, 202)
  t.equal((await post(e, key, textTo(n.phoneNumberId, '+5511000000001', 'hi'))).statusCode, 422, 'another customer')

  await recordBalances(e.tdb.db, [{ tenantId: n.tenantId, state: 'exhausted', balanceMicros: -5, currency: 'USD', occurredAt: new Date() }])
  const paid = await post(e, key, templateTo(n.phoneNumberId, to))
  t.equal(paid.statusCode, 402)
  t.equal(paid.json().code, 'OUT_SPEND_LIMIT_REACHED')
  t.equal((await post(e, key, textTo(n.phoneNumberId, to, 'still ok'))).statusCode, 202, 'service replies in the window still go')
  await recordBalances(e.tdb.db, [{ tenantId: n.tenantId, state: 'ok', balanceMicros: 5, currency: 'USD', occurredAt: new Date(Date.now() - 60_000) }])
  t.equal((await post(e, key, templateTo(n.phoneNumberId, to))).statusCode, 402, 'an older event changes nothing')
  await recordBalances(e.tdb.db, [{ tenantId: n.tenantId, state: 'ok', balanceMicros: 5, currency: 'USD', occurredAt: new Date(Date.now() + 1000) }])
  t.equal((await post(e, key, templateTo(n.phoneNumberId, to))).statusCode, 202)

  for (const status of ['disconnected', 'suspended', 'pending'] as const) {
    await e.tdb.db.updateTable('phone_numbers').set({ status }).where('id', '=', n.phoneNumberId).execute()
    const res = await post(e, key, templateTo(n.phoneNumberId, to))
    t.equal(res.statusCode, 409, status)
    t.equal(res.json().code, `OUT_NUMBER_${status.toUpperCase()}`)
  }
  const unknown = await post(e, key, templateTo('123456789', to))
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'OUT_NUMBER_NOT_FOUND')
})

t.test('tenants are walled: another tenant\'s number and messages are not found', async (t) => {
  const e = await env(t)
  const a = await addNumber(e.tdb, e.sim)
  const b = await addNumber(e.tdb, e.sim)
  const keyA = await apiKey(e.tdb.db, a.tenantId)
  const keyB = await apiKey(e.tdb.db, b.tenantId)
  const sent = await post(e, keyA, templateTo(a.phoneNumberId, '+5511988887777'))
  t.equal(sent.statusCode, 202)
  const id = sent.json().id
  const peek = await e.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: { authorization: `Bearer ${keyB}` } })
  t.equal(peek.statusCode, 404)
  t.equal(peek.json().code, 'OUT_MESSAGE_NOT_FOUND')
  const borrow = await post(e, keyB, templateTo(a.phoneNumberId, '+5511988887777'))
  t.equal(borrow.statusCode, 404, 'sending from another tenant\'s number')
  const readOnly = await apiKey(e.tdb.db, a.tenantId, ['read'])
  t.equal((await post(e, readOnly, templateTo(a.phoneNumberId, '+5511988887777'))).statusCode, 403, 'read keys cannot send')
  t.equal((await e.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: { authorization: `Bearer ${readOnly}` } })).statusCode, 200)
  t.equal((await e.app.inject({ method: 'GET', url: `/v1/messages/${id}?tenant_id=${a.tenantId}`, headers: { authorization: `Bearer ${ADMIN_KEY}` } })).statusCode, 200, 'admin names the tenant')
  t.equal((await e.app.inject({ method: 'GET', url: '/v1/messages/not-a-uuid', headers: { authorization: `Bearer ${keyA}` } })).statusCode, 404)
  t.equal((await post(e, 'nope', templateTo(a.phoneNumberId, '+5511988887777'))).statusCode, 401)
})

t.test('batch: items are independent, each with its own answer (207)', async (t) => {
  const e = await env(t)
  const n = await addNumber(e.tdb, e.sim)
  const key = await apiKey(e.tdb.db, n.tenantId)
  const messages = [
    templateTo(n.phoneNumberId, phone()),
    textTo(n.phoneNumberId, phone(), 'window closed'),
    { ...templateTo(n.phoneNumberId, phone()), idempotency_key: 'own-key' },
    templateTo('999', phone())
  ]
  const res = await e.app.inject({ method: 'POST', url: '/v1/messages/batch', headers: { authorization: `Bearer ${key}`, 'idempotency-key': 'batch-1' }, payload: { messages } })
  t.equal(res.statusCode, 207)
  const body = res.json()
  t.same(body.results.map((r: { status: number }) => r.status), [202, 422, 202, 404])
  t.equal(body.accepted, 2)
  t.equal(body.results[1].problem.code, 'OUT_WINDOW_CLOSED')
  t.equal(await e.k.count('outbound.requests'), 2)
  const again = await e.app.inject({ method: 'POST', url: '/v1/messages/batch', headers: { authorization: `Bearer ${key}`, 'idempotency-key': 'batch-1' }, payload: { messages } })
  t.same(again.json().results.map((r: { status: number }) => r.status), [202, 422, 202, 404])
  t.same(again.json().results[0].message, body.results[0].message, 'replayed')
  t.equal(await e.k.count('outbound.requests'), 2, 'nothing sent twice')
  const keys = (await e.tdb.db.selectFrom('outbound_messages').select('idempotency_key').execute()).map((r) => r.idempotency_key).sort()
  t.same(keys, ['batch-1:0', 'own-key'])
  const bad = await e.app.inject({ method: 'POST', url: '/v1/messages/batch', headers: { authorization: `Bearer ${key}` }, payload: { messages: [{ phone_number_id: n.phoneNumberId, type: 'text', to: '+1', text: {} }] } })
  t.equal(bad.statusCode, 400)
  t.ok(bad.json().errors.some((x: { path: string }) => x.path === 'body.messages.0.text.body'))
})

t.test('OpenAPI documents the send API', async (t) => {
  const e = await env(t)
  const doc = (await e.app.inject({ method: 'GET', url: '/v1/openapi.json' })).json()
  t.ok(doc.paths['/v1/messages'].post)
  t.ok(doc.paths['/v1/messages/batch'].post)
  t.ok(doc.paths['/v1/messages/{id}'].get)
})

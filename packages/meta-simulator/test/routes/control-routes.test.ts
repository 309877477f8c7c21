import t from 'tap'
import { request } from 'undici'
import { graph, PNID, signatureOk, startReceiver, startSim, templateTo, textTo, TOKEN, USER, WABA } from '../helpers.ts'

async function control (url: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number, type: string | undefined, body: any }> {
  const res = await request(`${url}/_sim${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {})
  })
  const text = await res.body.text()
  return { status: res.statusCode, type: res.headers['content-type'] as string | undefined, body: text === '' ? undefined : JSON.parse(text) }
}

t.test('numbers: create (one or many), list, get, delete; defaults filled in', async (t) => {
  const { sim } = await startSim(t)
  const created = await control(sim.url, 'POST', '/numbers', { phoneNumberId: '620000000000009', wabaId: WABA, displayPhoneNumber: '5511999990009', mode: 'coexistence', accessToken: 'tok-9' })
  t.equal(created.status, 201)
  t.match(created.body, { phoneNumberId: '620000000000009', mps: 20, accessTokens: ['tok-9'], pairLimit: { burst: 45, intervalMs: 6000 }, window: 'sync', statuses: { upTo: 'read' } })
  const many = await control(sim.url, 'POST', '/numbers', [
    { phoneNumberId: '620000000000010', wabaId: WABA, displayPhoneNumber: '5511999990010', mps: 5 },
    { phoneNumberId: '620000000000011', wabaId: WABA, displayPhoneNumber: '5511999990011', mps: 1000 }
  ])
  t.same(many.body.data.map((n: any) => n.mps), [5, 1000])
  t.equal((await control(sim.url, 'GET', '/numbers')).body.data.length, 4)
  t.equal((await control(sim.url, 'GET', '/numbers/620000000000010')).body.mps, 5)
  t.equal((await control(sim.url, 'DELETE', '/numbers/620000000000010')).status, 204)
  t.equal((await control(sim.url, 'GET', '/numbers/620000000000010')).status, 404)
})

t.test('bad bodies answer problem+json with the path of each bad field', async (t) => {
  const { sim } = await startSim(t)
  const bad = await control(sim.url, 'POST', '/numbers', { phoneNumberId: 'abc', wabaId: WABA, displayPhoneNumber: '55', mps: 0 })
  t.equal(bad.status, 400)
  t.match(bad.type, /application\/problem\+json/)
  t.equal(bad.body.code, 'SIM_INVALID_BODY')
  t.same(bad.body.issues.map((i: any) => i.path).sort(), ['displayPhoneNumber', 'mps', 'phoneNumberId'])
  t.match((await control(sim.url, 'POST', '/faults', { phoneNumberId: '699999999999999', latencyMs: 5 })), { status: 404, body: { code: 'SIM_UNKNOWN_NUMBER' } })
  t.match((await control(sim.url, 'POST', '/faults', { phoneNumberId: PNID, failNext: { count: 1, code: 130429 } })), { status: 400, body: { issues: [{ path: 'failNext.code' }] } })
  t.match((await control(sim.url, 'POST', '/emit', { body: {}, raw: '{}' })), { status: 400 })
})

t.test('sends report with arrival times and rejections; since; windows; faults', async (t) => {
  const { sim } = await startSim(t)
  await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo(`+${USER}`) })
  t.same((await control(sim.url, 'POST', '/windows', { phoneNumberId: PNID, waId: `+${USER}` })).body, { ok: true })
  await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo(`+${USER}`) })
  const report = (await control(sim.url, 'GET', `/sends?phone_number_id=${PNID}`)).body
  t.equal(report.accepted.length, 1)
  t.match(report.accepted[0], { at: Number, wamid: /^wamid\./, waId: USER, type: 'text', body: { text: { body: 'hello' } } })
  t.match(report.rejected, [{ code: 131047, httpStatus: 400, reason: 'error' }])
  const later = (await control(sim.url, 'GET', `/sends?phone_number_id=${PNID}&since=${report.lastSeq}&bodies=false`)).body
  t.same([later.accepted.length, later.rejected.length], [0, 0])
  t.equal((await control(sim.url, 'GET', '/sends?phone_number_id=620000000000002')).body.accepted.length, 0)

  t.match((await control(sim.url, 'POST', '/faults', { phoneNumberId: PNID, throttleNext: 1, latencyMs: 1 })).body, { throttleNext: 1, latencyMs: 1 })
  t.equal((await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: templateTo(USER) })).body.error.code, 130429)
  t.match((await control(sim.url, 'POST', '/faults', { phoneNumberId: PNID, clear: true })).body, { throttleNext: 0, latencyMs: 0 })
})

t.test('webhook target, emit (given, raw, generated), webhooks log, reset', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t)
  t.same((await control(sim.url, 'POST', '/webhook-target', { url: r.url, appSecret: 'ctl-secret', appId: '123', retry: { initialDelayMs: 1, maxAttempts: 2 } })).body, { ok: true })
  const given = await control(sim.url, 'POST', '/emit', { body: { object: 'whatsapp_business_account', entry: [] } })
  t.match(given.body.results, [{ delivered: true, attempts: 1, status: 200 }])
  const raw = '{"object":"whatsapp_business_account","entry":[ ]}'
  await control(sim.url, 'POST', '/emit', { raw, options: { signature: 'invalid' } })
  t.equal(r.received[1]!.raw.toString(), raw, 'raw bytes sent as given')
  t.notOk(signatureOk(r.received[1]!, 'ctl-secret'))
  const gen = await control(sim.url, 'POST', '/emit', { generate: { kind: 'inbound', phoneNumberId: PNID, from: USER, type: 'image', count: 2 }, options: { duplicates: 1 } })
  t.equal(gen.body.bodies.length, 2)
  t.equal(gen.body.results[0].duplicates.length, 1)
  t.equal(r.received.length, 2 + 4)
  t.ok(r.received.slice(2).every((w) => signatureOk(w, 'ctl-secret')))
  t.equal(sim.control.isWindowOpen(PNID, USER), true, 'a generated inbound message opened the window')
  await control(sim.url, 'POST', '/emit', { generate: { kind: 'account_update', wabaId: WABA, event: 'PARTNER_REMOVED', reason: 'PRIMARY_INACTIVITY' } })
  t.match(r.received.at(-1)!.json.entry[0].changes[0].value, { event: 'PARTNER_REMOVED', disconnection_info: { reason: 'PRIMARY_INACTIVITY', initiated_by: 'SYSTEM' } })

  const log = (await control(sim.url, 'GET', '/webhooks?limit=2')).body
  t.equal(log.deliveries.length, 2)
  t.match(log.stats, { emitted: 7, delivered: 7 })

  t.same((await control(sim.url, 'POST', '/reset', { keepNumbers: true })).body, { ok: true })
  t.equal((await control(sim.url, 'GET', '/numbers')).body.data.length, 1)
  t.equal(sim.control.isWindowOpen(PNID, USER), false)
  t.equal((await control(sim.url, 'GET', '/webhooks')).body.deliveries.length, 0)
  await control(sim.url, 'POST', '/reset')
  t.equal((await control(sim.url, 'GET', '/numbers')).body.data.length, 0)
  t.same((await control(sim.url, 'DELETE', '/webhook-target')).body, { ok: true })
})

t.test('scenario over HTTP: starts numbers and traffic; stop returns stats', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t)
  sim.control.setWebhookTarget({ url: r.url, appSecret: 's' })
  const started = await control(sim.url, 'POST', '/scenario', { numbers: 2, inboundRate: 100, tickMs: 10 })
  t.equal(started.status, 202)
  t.equal(started.body.numbers.length, 2)
  await r.waitFor(6)
  const stopped = await control(sim.url, 'DELETE', '/scenario')
  t.ok(stopped.body.stats.inbound > 0)
  t.equal(stopped.body.stats.accountUpdates, 2)
})

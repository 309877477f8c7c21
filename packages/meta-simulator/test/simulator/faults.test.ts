import t from 'tap'
import { request } from 'undici'
import { graph, PNID, startSim, templateTo, TOKEN, USER } from '../helpers.ts'

const send = (url: string) => graph(url, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: templateTo(`+${USER}`) })

t.test('the next N requests answer 5xx with the chosen code, then traffic flows again', async (t) => {
  const { sim } = await startSim(t)
  sim.control.setFaults({ phoneNumberId: PNID, failNext: { count: 2, code: 131016 } })
  const a = await send(sim.graphUrl)
  t.equal(a.status, 500)
  t.match(a.body.error, { code: 131016, message: '(#131016) Service unavailable' })
  t.equal((await send(sim.graphUrl)).status, 500)
  t.equal((await send(sim.graphUrl)).status, 200)

  sim.control.setFaults({ phoneNumberId: PNID, failNext: { count: 1, code: 133004 } })
  t.equal((await send(sim.graphUrl)).status, 503, '133004 is a 503')
  sim.control.setFaults({ phoneNumberId: PNID, failNext: { count: 1, code: 2 } })
  t.equal((await send(sim.graphUrl)).status, 503, '2 is a 503')
  sim.control.setFaults({ phoneNumberId: PNID, failNext: { count: 1 } })
  t.equal((await send(sim.graphUrl)).body.error.code, 131000, 'default 131000')
  t.same(sim.control.sends().rejected.map((r) => [r.code, r.httpStatus]), [[131016, 500], [131016, 500], [133004, 503], [2, 503], [131000, 500]])
  t.equal(sim.control.getNumber(PNID)!.faults.failNext, null)
})

t.test('connection reset: the socket is destroyed without an answer, and recorded', async (t) => {
  const { sim } = await startSim(t)
  sim.control.setFaults({ phoneNumberId: PNID, resetNext: 1 })
  await t.rejects(request(`${sim.graphUrl}/v24.0/${PNID}/messages`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(templateTo(`+${USER}`))
  }), 'the client sees a network error')
  t.equal((await send(sim.graphUrl)).status, 200, 'only the next one')
  t.match(sim.control.sends().rejected, [{ reason: 'reset', code: null, httpStatus: null }])
  t.equal(sim.control.sends().accepted.length, 1, 'a reset send did not go out')
})

t.test('token expiry: 190 with subcode 463 from the given time; clearing restores', async (t) => {
  const { sim, clock } = await startSim(t)
  sim.control.setFaults({ phoneNumberId: PNID, tokenExpiresAt: clock!.now() + 1000 })
  t.equal((await send(sim.graphUrl)).status, 200)
  clock!.advance(1000)
  const r = await send(sim.graphUrl)
  t.equal(r.status, 401)
  t.match(r.body.error, { code: 190, error_subcode: 463, type: 'OAuthException', error_data: { details: /Session has expired/ } })
  t.same(Object.keys(r.body.error), ['message', 'type', 'code', 'error_subcode', 'error_data', 'fbtrace_id'])
  sim.control.setFaults({ phoneNumberId: PNID, tokenExpired: false })
  t.equal((await send(sim.graphUrl)).status, 200)
  sim.control.setFaults({ phoneNumberId: PNID, tokenExpired: true })
  t.equal((await send(sim.graphUrl)).status, 401)
  // A fresh token through reconfiguration: the business re-authorised.
  sim.control.setFaults({ phoneNumberId: PNID, clear: true })
  sim.control.configureNumber({ ...sim.control.getNumber(PNID)!, accessToken: 'new-token', accessTokens: [] })
  t.equal((await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: 'new-token', body: templateTo(`+${USER}`) })).status, 200)
  t.equal((await send(sim.graphUrl)).status, 401, 'the old token is gone')
})

t.test('forced 130429: next N or while on', async (t) => {
  const { sim } = await startSim(t)
  sim.control.setFaults({ phoneNumberId: PNID, throttleNext: 2 })
  t.equal((await send(sim.graphUrl)).body.error?.code, 130429)
  t.equal((await send(sim.graphUrl)).body.error?.code, 130429)
  t.equal((await send(sim.graphUrl)).status, 200)
  sim.control.setFaults({ phoneNumberId: PNID, throttle: true })
  t.equal((await send(sim.graphUrl)).body.error?.code, 130429)
  sim.control.setFaults({ phoneNumberId: PNID, throttle: false })
  t.equal((await send(sim.graphUrl)).status, 200)
})

t.test('added latency delays the answer, not the arrival time', async (t) => {
  const { sim } = await startSim(t, { clock: { now: () => Date.now() } })
  sim.control.setFaults({ phoneNumberId: PNID, latencyMs: 150, jitterMs: 50 })
  const started = Date.now()
  t.equal((await send(sim.graphUrl)).status, 200)
  const answered = Date.now()
  t.ok(answered - started >= 150, `took ${answered - started} ms`)
  const at = sim.control.sends().accepted[0]!.at
  t.ok(answered - at >= 145, 'recorded at arrival, before the added latency')
})

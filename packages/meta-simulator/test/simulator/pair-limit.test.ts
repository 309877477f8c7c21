import t from 'tap'
import { graph, PNID, startSim, textTo, TOKEN } from '../helpers.ts'

t.test('131056 per (number, recipient) past the burst; one message back per interval', async (t) => {
  const { sim, clock } = await startSim(t, { number: { window: 'off', pairLimit: { burst: 2, intervalMs: 6000 } } })
  const send = (to: string) => graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo(to) })
  t.equal((await send('+5511988887777')).status, 200)
  t.equal((await send('+55 11 98888-7777')).status, 200, 'same recipient written differently')
  const third = await send('+5511988887777')
  t.equal(third.status, 400)
  t.match(third.body.error, { code: 131056, message: '(#131056) (Business Account, Consumer Account) pair rate limit hit', error_data: { messaging_product: 'whatsapp' } })
  t.equal((await send('+5511977776666')).status, 200, 'another user is unaffected')
  clock!.advance(5999)
  t.equal((await send('+5511988887777')).body.error?.code, 131056)
  clock!.advance(1)
  t.equal((await send('+5511988887777')).status, 200, 'a token came back after 6 s')
  t.equal((await send('+5511988887777')).body.error?.code, 131056)
  t.same(sim.control.sends().rejected.map((r) => r.code), [131056, 131056, 131056])
})

t.test("Meta's default: a burst of 45, then ~1 per 6 s", async (t) => {
  const { sim } = await startSim(t, { number: { window: 'off', mps: 1000 } })
  const results = await Promise.all(Array.from({ length: 50 }, () => graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo('+5511988887777') })))
  t.equal(results.filter((r) => r.status === 200).length, 45)
  t.equal(results.filter((r) => r.body.error?.code === 131056).length, 5)
})

t.test('pair limit can be disabled', async (t) => {
  const { sim } = await startSim(t, { number: { window: 'off', pairLimit: { enabled: false } } })
  const results = await Promise.all(Array.from({ length: 60 }, () => graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo('+5511988887777') })))
  t.equal(results.filter((r) => r.status === 200).length, 60)
})

import t from 'tap'
import { maxCountInWindow } from '../../src/index.ts'
import { graph, PNID, startSim, textTo, TOKEN } from '../helpers.ts'

const users = (n: number): string[] => Array.from({ length: n }, (_, i) => `+55119${String(70000000 + i)}`)

t.test('a burst over the limit gets 130429 for exactly the excess (fake clock)', async (t) => {
  const { sim, clock } = await startSim(t, { number: { mps: 80, window: 'off' } })
  const results = await Promise.all(users(100).map((to) => graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo(to) })))
  const ok = results.filter((r) => r.status === 200)
  const refused = results.filter((r) => r.status !== 200)
  t.equal(ok.length, 80)
  t.equal(refused.length, 20)
  const e = refused[0]!
  t.equal(e.status, 400, 'HTTP status from the facts file')
  t.same(Object.keys(e.body.error), ['message', 'type', 'code', 'error_data', 'fbtrace_id'], "Meta's key order")
  t.match(e.body, {
    error: {
      message: '(#130429) Rate limit hit',
      type: 'OAuthException',
      code: 130429,
      error_data: { messaging_product: 'whatsapp', details: 'Cloud API message throughput has been reached.' },
      fbtrace_id: String
    }
  })
  t.ok(refused.every((r) => r.body.error.code === 130429))

  clock!.advance(999)
  t.equal((await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo('+5511900000001') })).status, 400, 'still inside the window')
  clock!.advance(1)
  t.equal((await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo('+5511900000001') })).status, 200, 'window moved on')

  const report = sim.control.sends({ phoneNumberId: PNID })
  t.equal(report.accepted.length, 81)
  t.equal(report.rejected.filter((r) => r.code === 130429).length, 21)
  t.ok(maxCountInWindow(report.accepted.map((a) => a.at), 1000) <= 80, 'no 1000 ms window above the limit')
})

t.test('per-number limits: 20 (coexistence default), 5 and 1,000', async (t) => {
  for (const [cfg, limit] of [[{ mode: 'coexistence' as const }, 20], [{ mps: 5 }, 5], [{ mps: 1000 }, 1000]] as const) {
    const { sim } = await startSim(t, { number: { ...cfg, window: 'off', pairLimit: { enabled: false } } })
    const n = limit + 7
    const results = await Promise.all(Array.from({ length: n }, () => graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo('+5511911112222') })))
    t.equal(results.filter((r) => r.status === 200).length, limit, `limit ${limit}`)
    t.equal(results.filter((r) => r.body?.error?.code === 130429).length, 7)
  }
})

t.test('real clock: the recorded timeline has no 1000 ms window above the limit', async (t) => {
  const { sim } = await startSim(t, { clock: { now: () => performance.timeOrigin + performance.now() }, number: { mps: 20, window: 'off', pairLimit: { enabled: false } } })
  let sent = 0
  // Bursts of 15 every 150 ms for ~1.3 s: Meta-side counting must reject whatever overflows any window.
  for (let burst = 0; burst < 9; burst++) {
    await Promise.all(Array.from({ length: 15 }, () => graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo('+5511933334444') })))
    sent += 15
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
  const report = sim.control.sends({ phoneNumberId: PNID, withoutBodies: true })
  t.equal(report.accepted.length + report.rejected.length, sent)
  t.ok(report.accepted.length >= 20, 'the first window filled')
  t.ok(maxCountInWindow(report.accepted.map((a) => a.at), 1000) <= 20)
  t.ok(report.rejected.every((r) => r.code === 130429))
  t.equal(report.accepted[0]!.body, undefined, 'bodies left out on request')
})

t.test('inbound messages the simulator emits count against the number (configurable)', async (t) => {
  const { sim } = await startSim(t, { number: { mps: 5, window: 'off' } })
  for (let i = 0; i < 3; i++) await sim.control.inbound({ phoneNumberId: PNID, from: `55119800000${i}0` })
  await sim.control.echo({ phoneNumberId: PNID, to: '+5511980000099' })
  const results = await Promise.all(users(5).map((to) => graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo(to) })))
  t.equal(results.filter((r) => r.status === 200).length, 1, '3 inbound + 1 echo + 1 send = 5')
  t.equal(sim.control.sends().inbound.length, 4)

  const free = await startSim(t, { number: { mps: 5, window: 'off', inboundCountsTowardsThroughput: false, echoesCountTowardsThroughput: false } })
  for (let i = 0; i < 3; i++) await free.sim.control.inbound({ phoneNumberId: PNID, from: `55119800000${i}0` })
  await free.sim.control.echo({ phoneNumberId: PNID, to: '+5511980000099' })
  const r2 = await Promise.all(users(5).map((to) => graph(free.sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, body: textTo(to) })))
  t.equal(r2.filter((r) => r.status === 200).length, 5)
  t.ok(free.sim.control.sends().inbound.every((u) => !u.counted))
})

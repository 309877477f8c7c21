import t from 'tap'
import { ArrivalWindowGuard } from '../../src/limits/window-guard.ts'
import { maxInWindow, seeded } from './window-helpers.ts'

t.test('limit sends per window; a send counts until its answer plus the window has passed', async (t) => {
  const g = new ArrivalWindowGuard(3)
  t.equal(g.allowance(0), 3)
  const h = [g.record(0), g.record(10), g.record(20)]
  t.equal(g.allowance(500), 0)
  t.equal(g.waitMs(500), Infinity, 'unanswered: it may still arrive any moment')
  t.equal(g.inFlight, 3)
  g.settle(h[0] as number, 4)
  t.equal(g.waitMs(500), 504, 'answered at 4 ms: it arrived by then')
  t.equal(g.allowance(1004), 1)
  g.settle(h[1] as number, 12)
  g.settle(h[2] as number, 22)
  t.equal(g.allowance(1022), 3)
})

t.test('an answer never moves a send before its dispatch; slow answers are capped by maxOneWayMs', async (t) => {
  const g = new ArrivalWindowGuard(1)
  const a = g.record(100)
  g.settle(a, 50)
  t.equal(g.waitMs(100), 1000, 'bounded below by the dispatch')
  g.settle(a, 10_000)
  t.equal(g.waitMs(100), 1000, 'settled once')
  const g2 = new ArrivalWindowGuard(1, { maxOneWayMs: 25 })
  const b = g2.record(100)
  g2.settle(b, 900)
  t.equal(g2.waitMs(100), 1025, 'bounded above by dispatch + maxOneWayMs')
  g2.settle(b + 10, 0)
  t.pass('an unknown handle is ignored')
})

t.test('setLimit changes the cap, keeping what was sent', async (t) => {
  const g = new ArrivalWindowGuard(4)
  for (const x of [0, 100, 200, 300]) g.settle(g.record(x), x)
  g.setLimit(2)
  t.equal(g.allowance(400), 0)
  t.equal(g.waitMs(400), 800, 'two may go once the third-newest send has left: 200 + 1000')
  g.setLimit(5)
  t.equal(g.allowance(400), 1)
  t.throws(() => g.setLimit(0), RangeError)
})

t.test('property: whatever the one-way latencies, arrivals never exceed the limit in any second', async (t) => {
  for (const seed of [1, 2, 3, 4]) {
    const rnd = seeded(seed)
    const limit = 20
    const g = new ArrivalWindowGuard(limit)
    const arrivals: number[] = []
    const answers: Array<{ at: number, handle: number }> = []
    let now = 0
    while (now < 20_000) {
      for (let i = answers.length - 1; i >= 0; i--) if ((answers[i] as { at: number }).at <= now) { g.settle((answers[i] as { handle: number }).handle, (answers[i] as { at: number }).at); answers.splice(i, 1) }
      const n = g.allowance(now)
      for (let i = 0; i < n; i++) {
        // One-way latency 1–200 ms (far beyond the in-flight bound); the answer returns after it.
        const oneWay = 1 + rnd() * (rnd() < 0.1 ? 20 : 199)
        const handle = g.record(now)
        arrivals.push(now + oneWay)
        answers.push({ at: now + oneWay + 1 + rnd() * 20, handle })
      }
      now += Math.max(0.5, Math.min(g.waitMs(now), 5)) + rnd() * 3
    }
    arrivals.sort((a, b) => a - b)
    t.ok(maxInWindow(arrivals, 1000) <= limit, `seed ${seed}: peak ${maxInWindow(arrivals, 1000)} ≤ ${limit}`)
  }
})

t.test('maxOneWayMs: arrivals assumed within it while in flight, answers still lower the bound', async (t) => {
  const g = new ArrivalWindowGuard(1, { maxOneWayMs: 25 })
  const a = g.record(0)
  t.equal(g.waitMs(0), 1025)
  g.settle(a, 5)
  t.equal(g.waitMs(0), 1005)
  const b = new ArrivalWindowGuard(2, { maxOneWayMs: 25 })
  b.settle(b.record(0), 900)
  t.equal(b.allowance(1000), 1, 'a slow answer is capped by the assumption')
  t.equal(b.allowance(1026), 2)
  for (const seed of [5]) {
    const rnd = seeded(seed)
    const g2 = new ArrivalWindowGuard(10, { maxOneWayMs: 30 })
    const arrivals: number[] = []
    let now = 0
    while (now < 10_000) {
      for (let i = g2.allowance(now); i > 0; i--) { const oneWay = rnd() * 30; g2.settle(g2.record(now), now + oneWay + rnd() * 50); arrivals.push(now + oneWay) }
      now += 1 + rnd() * 5
    }
    arrivals.sort((a, b) => a - b)
    t.ok(maxInWindow(arrivals, 1000) <= 10, `seed ${seed}: peak ${maxInWindow(arrivals, 1000)} ≤ 10 with one-way latencies within the assumption`)
  }
})

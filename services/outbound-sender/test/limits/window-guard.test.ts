import t from 'tap'
import { SlidingWindowGuard } from '../../src/limits/window-guard.ts'

t.test('allows limit sends per window, then waits for the oldest to leave', async (t) => {
  const g = new SlidingWindowGuard(3, 1000)
  t.equal(g.allowance(0), 3)
  g.record(0); g.record(10); g.record(20)
  t.equal(g.allowance(500), 0)
  t.equal(g.waitMs(500), 500, 'the send at 0 leaves the window at 1000')
  t.equal(g.allowance(1000), 1)
  t.equal(g.allowance(1020), 3)
  g.record(1000)
  t.equal(g.waitMs(1000), 10)
})

t.test('setLimit keeps the most recent sends', async (t) => {
  const g = new SlidingWindowGuard(4, 1000)
  for (const x of [0, 100, 200, 300]) g.record(x)
  g.setLimit(2)
  t.equal(g.allowance(400), 0)
  t.equal(g.waitMs(400), 800, 'the kept sends are 200 and 300')
  g.setLimit(5)
  t.equal(g.allowance(400), 3)
  t.throws(() => g.setLimit(0), RangeError)
})

t.test('times never go backwards', async (t) => {
  const g = new SlidingWindowGuard(2, 1000)
  g.record(500); g.record(100)
  t.equal(g.waitMs(600), 900, 'the second send is clamped to 500')
})

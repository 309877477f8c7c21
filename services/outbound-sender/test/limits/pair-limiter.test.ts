import t from 'tap'
import { FakeClock } from '../../src/limits/clock.ts'
import { PairLimiter } from '../../src/limits/pair-limiter.ts'

t.test('a burst, then one message per 6 s to the same recipient; others unaffected', async (t) => {
  const clock = new FakeClock()
  const pairs = new PairLimiter({ clock, burst: 3 })
  for (let i = 0; i < 3; i++) { t.equal(pairs.waitMs('a'), 0); pairs.take('a') }
  t.equal(pairs.waitMs('a'), 6000)
  t.equal(pairs.waitMs('b'), 0, 'another recipient is free')
  clock.advance(6000)
  t.equal(pairs.waitMs('a'), 0)
  pairs.take('a')
  t.equal(pairs.waitMs('a'), 6000, 'sustained: one per 6 s')
})

t.test('131056 backs off 4^X s for that recipient, reset by a success', async (t) => {
  const clock = new FakeClock()
  const pairs = new PairLimiter({ clock })
  t.equal(pairs.rejected('a'), 1000)
  t.equal(pairs.rejected('a'), 4000)
  t.equal(pairs.rejected('a'), 16000)
  t.ok(pairs.waitMs('a') >= 16000)
  t.equal(pairs.waitMs('b'), 0)
  pairs.accepted('a')
  t.equal(pairs.rejected('a'), 1000, 'strikes start over after an accepted message')
})

t.test('sweep forgets pairs that are back to a full bucket', async (t) => {
  const clock = new FakeClock()
  const pairs = new PairLimiter({ clock })
  pairs.take('a'); pairs.take('b'); pairs.rejected('c')
  t.equal(pairs.sweep(), 0)
  clock.advance(6000)
  t.equal(pairs.sweep(), 2, 'a and b are idle; c keeps its strike')
  t.equal(pairs.size, 1)
  clock.advance(2_000_000)
  t.equal(pairs.sweep(), 1)
})

import t from 'tap'
import { DEFAULT_PAIR_LIMIT, PairLimiter } from '../../src/limits/pair-limiter.ts'

t.test('burst, then one message per interval', async (t) => {
  const p = new PairLimiter()
  const s = { burst: 3, intervalMs: 6000 }
  t.ok(p.tryTake('a', 0, s)); t.ok(p.tryTake('a', 0, s)); t.ok(p.tryTake('a', 0, s))
  t.notOk(p.tryTake('a', 0, s), 'burst used up')
  t.ok(p.tryTake('b', 0, s), 'another recipient is not affected')
  t.notOk(p.tryTake('a', 5999, s))
  t.ok(p.tryTake('a', 6000, s), 'one token back after the interval')
  t.notOk(p.tryTake('a', 6001, s))
})

t.test("Meta's figures: after a burst of 20, about 2 minutes to get them back", async (t) => {
  const p = new PairLimiter()
  for (let i = 0; i < 20; i++) p.tryTake('u', 0, DEFAULT_PAIR_LIMIT)
  t.equal(Math.round(p.available('u', 0, DEFAULT_PAIR_LIMIT)), 25)
  t.equal(p.available('u', 120_000, DEFAULT_PAIR_LIMIT), 45)
})

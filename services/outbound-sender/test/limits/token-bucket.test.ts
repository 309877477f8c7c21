import t from 'tap'
import { FakeClock } from '../../src/limits/clock.ts'
import { TokenBucket } from '../../src/limits/token-bucket.ts'
import { maxInWindow } from './window-helpers.ts'

t.test('paces one token every 1000/rate ms, never a burst at the top of the second', async (t) => {
  const clock = new FakeClock(1_000)
  const bucket = new TokenBucket({ ratePerSecond: 5, burst: 1, clock })
  const sent: number[] = []
  while (sent.length < 50) {
    if (bucket.tryTake()) sent.push(clock.now())
    else clock.advance(bucket.waitMs())
  }
  const gaps = sent.slice(1).map((s, i) => s - (sent[i] as number))
  t.ok(gaps.every((g) => Math.abs(g - 200) < 1e-6), 'every gap is 200 ms')
  t.equal(maxInWindow(sent, 1000), 5, 'no 1 s window holds more than 5')
})

t.test('a burst only after an idle spell, then the steady rate', async (t) => {
  const clock = new FakeClock()
  const bucket = new TokenBucket({ ratePerSecond: 100, burst: 4, clock })
  t.equal(bucket.available(), 4)
  t.equal(bucket.takeAvailable(10), 4)
  t.equal(bucket.available(), 0)
  t.equal(bucket.waitMs(), 10)
  clock.advance(10)
  t.equal(bucket.available(), 1)
  clock.advance(1000)
  t.equal(bucket.available(), 4, 'never more than the burst')
  t.throws(() => bucket.waitMs(5), RangeError)
})

t.test('debit puts the bucket into debt repaid at the rate', async (t) => {
  const clock = new FakeClock()
  const bucket = new TokenBucket({ ratePerSecond: 10, burst: 1, clock })
  bucket.debit(5)
  t.equal(bucket.available(), 0)
  // tokens at 0, 100, 200, 300, 400 are spent: the next one comes at 500
  t.equal(bucket.waitMs(), 500)
  clock.advance(499)
  t.notOk(bucket.tryTake())
  clock.advance(1)
  t.ok(bucket.tryTake())
  t.notOk(bucket.tryTake())
})

t.test('setRate keeps a debt in tokens', async (t) => {
  const clock = new FakeClock()
  const bucket = new TokenBucket({ ratePerSecond: 10, burst: 1, clock })
  bucket.debit(3) // next token at 300 ms: 3 intervals owed
  bucket.setRate(5) // 3 intervals of 200 ms each
  t.equal(bucket.waitMs(), 600)
  bucket.setRate(5)
  t.equal(bucket.ratePerSecond, 5)
  t.throws(() => bucket.setRate(0), RangeError)
  t.throws(() => new TokenBucket({ ratePerSecond: 1, burst: 0, clock }), RangeError)
})

t.test('slack: late timers do not drift the schedule', async (t) => {
  const clock = new FakeClock()
  const bucket = new TokenBucket({ ratePerSecond: 5, burst: 1, slackMs: 5, clock })
  const sent: number[] = []
  while (sent.length < 51) {
    if (bucket.tryTake()) sent.push(clock.now())
    else clock.advance(bucket.waitMs() + 3) // every wake-up 3 ms late
  }
  const span = (sent[50] as number) - (sent[0] as number)
  t.ok(span <= 50 * 200 + 5, `50 intervals in ${span} ms: no drift from late timers`)
  t.ok(sent.slice(1).every((s, i) => s - (sent[i] as number) >= 200 - 5 - 1e-6), 'never closer than interval - slack')
})

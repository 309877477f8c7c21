import t from 'tap'
import { SlidingWindowCounter, maxCountInWindow } from '../../src/limits/sliding-window.ts'

t.test('accepts up to the limit inside any 1000 ms window', async (t) => {
  const w = new SlidingWindowCounter(1000)
  const accepted: number[] = []
  // 10 attempts every 50 ms for 3 s against a limit of 20: the window, not the second, decides.
  for (let at = 0; at < 3000; at += 50) {
    for (let i = 0; i < 10; i++) if (w.tryAdd(at, 20)) accepted.push(at)
  }
  t.equal(maxCountInWindow(accepted, 1000), 20)
  t.equal(accepted.filter((a) => a < 1000).length, 20, 'first second: exactly the limit')
  t.equal(accepted.length, 60, 'three seconds of a full window')
})

t.test('an event leaves the window exactly 1000 ms later', async (t) => {
  const w = new SlidingWindowCounter(1000)
  t.ok(w.tryAdd(0, 1))
  t.notOk(w.tryAdd(999.9, 1))
  t.ok(w.tryAdd(1000, 1))
})

t.test('maxCountInWindow counts half-open windows [a, a+1000)', async (t) => {
  t.equal(maxCountInWindow([], 1000), 0)
  t.equal(maxCountInWindow([0, 1000, 2000], 1000), 1)
  t.equal(maxCountInWindow([0, 999, 1000], 1000), 2)
  t.equal(maxCountInWindow([5, 1, 3, 2, 4], 1000), 5, 'unsorted input')
})

t.test('compaction keeps counts right over long runs', async (t) => {
  const w = new SlidingWindowCounter(1000)
  for (let at = 0; at < 100_000; at += 1) w.add(at)
  t.equal(w.count(99_999), 1000)
})

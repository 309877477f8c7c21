import t from 'tap'
import { OffsetTracker } from '../src/index.ts'

t.test('the watermark is the lowest unfinished offset', async (t) => {
  const tr = new OffsetTracker()
  t.equal(tr.committable(), undefined)
  for (const o of [10, 11, 12, 13]) tr.add(o)
  t.equal(tr.committable(), 10)
  t.equal(tr.finish(12), false, 'out of order: no move')
  t.equal(tr.committable(), 10)
  t.equal(tr.finish(10), true)
  t.equal(tr.committable(), 11)
  t.equal(tr.finish(11), true)
  t.equal(tr.committable(), 13, 'jumps over the finished 12')
  t.equal(tr.unfinished, 1)
  tr.finish(13)
  t.equal(tr.committable(), 14, 'all finished: one past the highest')
  t.equal(tr.size, 0)
})

t.test('gaps in offsets are committed over', async (t) => {
  const tr = new OffsetTracker()
  tr.add(5); tr.add(9)
  tr.finish(5)
  t.equal(tr.committable(), 9)
  t.equal(tr.nextExpected(), 10)
})

t.test('offsets must increase; finishing twice or unknown offsets is harmless', async (t) => {
  const tr = new OffsetTracker()
  tr.add(1)
  t.throws(() => tr.add(1))
  t.equal(tr.finish(7), false)
  t.equal(tr.finish(1), true)
  t.equal(tr.finish(1), false)
})

t.test('many records finishing in random order end at the right watermark', async (t) => {
  const tr = new OffsetTracker()
  const n = 5000
  for (let i = 0; i < n; i++) tr.add(i)
  const order = [...Array(n).keys()].sort(() => Math.random() - 0.5)
  let lowestUnfinished = 0
  const done = new Set<number>()
  for (const o of order) {
    tr.finish(o)
    done.add(o)
    while (done.has(lowestUnfinished)) lowestUnfinished++
    if (tr.committable() !== lowestUnfinished) { t.fail(`watermark ${tr.committable()} != ${lowestUnfinished}`); return }
  }
  t.equal(tr.committable(), n)
})

import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { create } from '@bufbuild/protobuf'
import { OutboundRequestSchema } from '@coexist/contracts'
import { FakeClock } from '../../src/limits/clock.ts'
import { DEFAULT_THROTTLE_TUNING } from '../../src/limits/number-throttle.ts'
import { Lane, type LaneItem } from '../../src/worker/lane.ts'
import { newLaneItem } from '../../src/worker/send-worker.ts'

function item (i: number): LaneItem {
  const request = create(OutboundRequestSchema, { requestId: `r-${i}`, phoneNumberId: 'pn', recipient: `+5511900${String(i).padStart(5, '0')}`, messageJson: Buffer.from('{"type":"text"}') })
  return newLaneItem({ request, json: undefined, isRead: false, signal: new AbortController().signal, fromDb: false, traceId: undefined, finish: () => {} })
}

t.test('a lane does not keep its finished items alive', async (t) => {
  // A finished item still listed keeps its request (and record bytes) alive: with 500 lanes of
  // ten items, a floor of 64 kept about 16,000 of them, a fifth of the worker's heap.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const lane = new Lane('pn', { clock: new FakeClock(), tuning: DEFAULT_THROTTLE_TUNING, pairs: {}, scanLimit: 100 })
  const refs: Array<WeakRef<object>> = []
  const finish = (n: number, from: number): void => {
    const items = Array.from({ length: n }, (_, i) => item(from + i))
    for (const it of items) { lane.push(it); refs.push(new WeakRef(it.request)) }
    // They finish out of order: every other one first.
    for (const it of [...items.filter((_, i) => i % 2 === 0), ...items.filter((_, i) => i % 2 === 1)]) lane.remove(it)
  }
  finish(10, 0)
  finish(30, 10)
  const kept = [item(1000), item(1001)]
  for (const it of kept) lane.push(it)
  await new Promise((resolve) => setImmediate(resolve))
  for (let i = 0; i < 3; i++) { gc(); await new Promise((resolve) => setImmediate(resolve)) }
  const alive = refs.filter((r) => r.deref() !== undefined).length
  t.ok(alive < 8, `at most 7 of 40 finished requests still alive (${alive})`)
  t.equal(lane.size, 2, 'the unfinished items stay')
  t.same(lane.pick(10).items.map((i) => i.id), ['r-1000', 'r-1001'], 'and are picked in order')
})

import t from 'tap'
import { FakeClock } from '../../src/limits/clock.ts'
import { NumberThrottle } from '../../src/limits/number-throttle.ts'
import { maxInWindow, seeded } from './window-helpers.ts'

interface Run { arrivals: number[], dispatched: number, elapsedMs: number }

/**
 * Drives a throttle the way the worker does, on a fake clock: wake up, dispatch what is
 * available, sleep until `waitMs()`, with late timers, event-loop stalls and network latency that
 * varies by up to `jitterMs` between dispatch and arrival at Meta.
 */
function drive (limit: number, seconds: number, seed: number, opts: { jitterMs?: number, inboundPerSecond?: number } = {}): Run {
  const rnd = seeded(seed)
  const clock = new FakeClock(10_000)
  const throttle = new NumberThrottle(limit, clock)
  const arrivals: number[] = []
  const start = clock.now()
  const end = start + seconds * 1000
  let dispatched = 0
  let nextInbound = start
  let nextStall = start + 300 * rnd()
  const answers: Array<{ at: number, handle: number }> = []
  while (clock.now() < end) {
    for (let i = answers.length - 1; i >= 0; i--) {
      const a = answers[i] as { at: number, handle: number }
      if (a.at <= clock.now()) { throttle.answered(a.handle); answers.splice(i, 1) }
    }
    while (opts.inboundPerSecond !== undefined && nextInbound <= clock.now()) {
      throttle.debit(1)
      nextInbound += 1000 / opts.inboundPerSecond
    }
    const n = throttle.available()
    if (n > 0) {
      const handles = throttle.take(n)
      for (const handle of handles) {
        // One-way latency 1–10 ms, 2 % of sends much slower (a new connection, a stall: up to 60 ms).
        const arrival = clock.now() + 1 + rnd() * (rnd() < 0.02 ? 60 : (opts.jitterMs ?? 9))
        arrivals.push(arrival)
        answers.push({ at: arrival + 1 + rnd() * 3, handle })
      }
      dispatched += n
    }
    // Timers fire up to 2 ms late; about three times a second the event loop stalls for up to 30 ms.
    let wake = clock.now() + Math.min(5, Math.max(0.5, throttle.waitMs())) + 2 * rnd()
    if (wake >= nextStall) { wake = Math.max(wake, nextStall + 30 * rnd()); nextStall += 333 * 2 * rnd() }
    clock.set(wake)
  }
  arrivals.sort((a, b) => a - b)
  return { arrivals, dispatched, elapsedMs: clock.now() - start }
}

for (const limit of [5, 20, 80, 1000]) {
  t.test(`${limit} MPS: no 1 s window above the limit at arrival, at least 97 % of it sent`, async (t) => {
    for (const seed of [1, 2, 3]) {
      const run = drive(limit, limit >= 1000 ? 8 : 30, seed)
      const peak = maxInWindow(run.arrivals, 1000)
      const achieved = run.dispatched / (run.elapsedMs / 1000) / limit
      t.ok(peak <= limit, `seed ${seed}: peak ${peak} ≤ ${limit}`)
      t.ok(achieved >= 0.97, `seed ${seed}: achieved ${(achieved * 100).toFixed(1)} % ≥ 97 %`)
    }
  })
}

t.test('inbound traffic takes tokens from the same bucket', async (t) => {
  const run = drive(20, 30, 7, { inboundPerSecond: 5 })
  const rate = run.dispatched / (run.elapsedMs / 1000)
  t.ok(rate <= 20 * 0.98 - 5 + 0.5, `sends ${rate.toFixed(2)}/s leave room for 5/s inbound`)
  t.ok(rate >= 14, `still sends ${rate.toFixed(2)}/s`)
})

t.test('slow answers cost throughput, never exactness', async (t) => {
  const run = drive(80, 20, 9, { jitterMs: 80 })
  const peak = maxInWindow(run.arrivals, 1000)
  t.ok(peak <= 80, `peak ${peak} ≤ 80 with one-way latencies up to 81 ms`)
})

t.test('a 130429 halves the pace, repeated signals in flight count once, then it recovers', async (t) => {
  const clock = new FakeClock()
  const throttle = new NumberThrottle(80, clock)
  const full = throttle.rate
  t.ok(throttle.throttled())
  t.notOk(throttle.throttled(), 'a second signal within the coalescing time changes nothing')
  t.equal(throttle.rate, full / 2)
  clock.advance(2000)
  t.ok(throttle.rate > full / 2 && throttle.rate < full, 'recovers step by step')
  clock.advance(20_000)
  t.equal(throttle.rate, full)
})

t.test('setLimit: a number upgraded to 1,000 MPS paces at the new limit', async (t) => {
  const clock = new FakeClock()
  const throttle = new NumberThrottle(80, clock)
  throttle.setLimit(1000)
  t.equal(throttle.limit, 1000)
  t.equal(Math.round(throttle.rate), 980)
})

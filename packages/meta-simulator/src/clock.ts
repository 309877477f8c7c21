/**
 * Time source of the simulator. Every rate decision (throughput window, pair limit, customer
 * service window, smb_app_data 24 h rule, media URL expiry) reads `clock.now()`, so tests drive
 * time with a manual clock instead of sleeping. Timers that only pace work (status webhooks,
 * retries, latency faults) use real time.
 */

/** Milliseconds since the Unix epoch; may be fractional. */
export interface Clock {
  now: () => number
}

/**
 * The default clock: epoch milliseconds with sub-millisecond resolution, from the monotonic
 * `performance` timer, so arrival times recorded for a benchmark never step backwards.
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.timeOrigin + performance.now()
})

/** A clock that moves only when told to. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms` (negative values are refused). */
  advance: (ms: number) => number
  /** Sets the absolute time in epoch ms. */
  set: (ms: number) => void
}

/**
 * Creates a manual clock for tests.
 *
 * @example
 * const clock = createManualClock(Date.parse('2026-01-01T00:00:00Z'))
 * const sim = await startSimulator({ port: 0, clock })
 * clock.advance(1000)
 */
export function createManualClock (startMs: number = Date.parse('2026-01-01T00:00:00Z')): ManualClock {
  let t = startMs
  return {
    now: () => t,
    advance (ms: number): number {
      if (!(ms >= 0)) throw new RangeError('a manual clock only moves forward')
      t += ms
      return t
    },
    set (ms: number): void { t = ms }
  }
}

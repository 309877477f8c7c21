import { AdaptiveRate, type AdaptiveRateOptions } from './adaptive-rate.ts'
import type { Clock } from './clock.ts'
import { TokenBucket } from './token-bucket.ts'
import { ArrivalWindowGuard } from './window-guard.ts'

export interface ThrottleTuning {
  /**
   * Share of the limit left unused (0.02 → pace at 98 %): `limit` sends paced evenly span more
   * than a second plus a round trip, so the hard guard rarely has to hold a send back.
   */
  marginRatio: number
  /**
   * Unset (default): the guard bounds each send's arrival at Meta by its answer's time, which is
   * exact whatever the latency. Set it (ms) only far from Meta, to assume arrivals within that
   * much of dispatch and win back throughput (see window-guard.ts).
   */
  maxOneWayMs?: number | undefined
  /**
   * Catch-up after a stall, as milliseconds of the limit (100 → 8 sends at 80 MPS), at least 2:
   * sends a stalled event loop or a slow database let slip are caught up instead of lost, and
   * the guard still caps every window. A new lane starts with one token, so it ramps up evenly.
   */
  burstMs: number
  /** How early a token may be taken to absorb late timers (ms). */
  slackMs: number
  adaptive?: Omit<AdaptiveRateOptions, 'clock'>
}

export const DEFAULT_THROTTLE_TUNING: ThrottleTuning = { marginRatio: 0.02, burstMs: 100, slackMs: 2 }

/**
 * Everything that limits one number's sends: an exact token bucket paced at
 * `limit · (1 - margin) · adaptive factor`, behind a hard guard of `limit` arrivals at Meta per
 * second (window-guard.ts). Inbound traffic Meta counts against the number debits the bucket.
 *
 * Use: `available()` → `take(n)` at the moment they are dispatched (one handle per send), then
 * `answered(handle)` when each answer comes back; or `waitMs()` to know when to come back.
 */
export class NumberThrottle {
  readonly #clock: Clock
  readonly #tuning: ThrottleTuning
  readonly #adaptive: AdaptiveRate
  #limit: number
  #bucket: TokenBucket
  #guard: ArrivalWindowGuard
  #factor = 1

  constructor (limitMps: number, clock: Clock, tuning: ThrottleTuning = DEFAULT_THROTTLE_TUNING) {
    if (!Number.isInteger(limitMps) || limitMps < 1) throw new RangeError('limitMps must be a positive integer')
    this.#clock = clock
    this.#tuning = tuning
    this.#limit = limitMps
    this.#adaptive = new AdaptiveRate({ ...tuning.adaptive, clock })
    this.#bucket = new TokenBucket({ ratePerSecond: this.#pace(1), burst: this.#burstFor(limitMps), slackMs: tuning.slackMs, startWithOne: true, clock })
    this.#guard = new ArrivalWindowGuard(limitMps, { windowMs: 1000, ...(tuning.maxOneWayMs !== undefined ? { maxOneWayMs: tuning.maxOneWayMs } : {}) })
  }

  /** The number's limit, messages per second. */
  get limit (): number { return this.#limit }
  /** The pacing rate now (after margin and adaptive back-off), messages per second. */
  get rate (): number { this.#refreshFactor(); return this.#bucket.ratePerSecond }

  /** Sends that may be dispatched now. */
  available (): number {
    this.#refreshFactor()
    return Math.min(this.#bucket.available(), this.#guard.allowance(this.#clock.now()))
  }

  /** Milliseconds until one send may go (0 = now; Infinity: when an answer comes back). */
  waitMs (): number {
    this.#refreshFactor()
    return Math.max(this.#bucket.waitMs(1), this.#guard.waitMs(this.#clock.now()))
  }

  /** Records `n` sends dispatched now (call only with `n ≤ available()`); one handle per send. */
  take (n = 1): number[] {
    const now = this.#clock.now()
    this.#bucket.debit(n)
    const handles: number[] = []
    for (let i = 0; i < n; i++) handles.push(this.#guard.record(now))
    return handles
  }

  /** The answer to a send came back now: it reached Meta by then. */
  answered (handle: number): void {
    this.#guard.settle(handle, this.#clock.now())
  }

  /** Traffic Meta counts against this number that the sender did not send (inbound, app echoes). */
  debit (n = 1): void { this.#bucket.debit(n) }

  /** Meta said 130429: slow down (coalesced); true when the rate was lowered. */
  throttled (): boolean {
    const lowered = this.#adaptive.signal()
    if (lowered) this.#refreshFactor()
    return lowered
  }

  /** The number's limit changed (e.g. upgraded to 1,000 MPS). */
  setLimit (limitMps: number): void {
    if (limitMps === this.#limit) return
    this.#limit = limitMps
    this.#guard.setLimit(limitMps)
    this.#bucket = new TokenBucket({ ratePerSecond: this.#pace(this.#adaptive.factor()), burst: this.#burstFor(limitMps), slackMs: this.#tuning.slackMs, clock: this.#clock })
    // A fresh bucket starts full; the guard still holds the last second of sends.
    this.#factor = this.#adaptive.factor()
  }

  #pace (factor: number): number {
    return Math.max(0.01, this.#limit * (1 - this.#tuning.marginRatio) * factor)
  }

  #burstFor (limit: number): number {
    return Math.max(2, Math.ceil(limit * this.#tuning.burstMs / 1000))
  }

  #refreshFactor (): void {
    const f = this.#adaptive.factor()
    if (f !== this.#factor) {
      this.#factor = f
      this.#bucket.setRate(this.#pace(f))
    }
  }
}

import { AdaptiveRate, type AdaptiveRateOptions } from './adaptive-rate.ts'
import type { Clock } from './clock.ts'
import { TokenBucket } from './token-bucket.ts'
import { SlidingWindowGuard } from './window-guard.ts'

export interface ThrottleTuning {
  /**
   * Share of the limit left unused (0.025 → pace at 97.5 %). With it, `limit` sends paced evenly
   * span more than a second, so latency that varies by up to ~25 ms cannot squeeze `limit + 1`
   * arrivals into one second at Meta.
   */
  marginRatio: number
  /** Extra window length (ms) of the hard guard: tolerated variation of send-to-arrival latency. */
  jitterMs: number
  /**
   * Burst after an idle spell or a stall, as milliseconds of the limit (30 → 30 sends at 1,000
   * MPS), at least 2: a send a stalled event loop let slip is caught up instead of lost. The
   * guard still caps every window.
   */
  burstMs: number
  /** How early a token may be taken to absorb late timers (ms). */
  slackMs: number
  adaptive?: Omit<AdaptiveRateOptions, 'clock'>
}

export const DEFAULT_THROTTLE_TUNING: ThrottleTuning = { marginRatio: 0.025, jitterMs: 20, burstMs: 30, slackMs: 2 }

/**
 * Everything that limits one number's sends: an exact token bucket paced at
 * `limit · (1 - margin) · adaptive factor`, behind a hard sliding-window guard of `limit` sends
 * per `1000 + jitterMs` ms. Inbound traffic Meta counts against the number debits the bucket.
 *
 * Use: `available()` → take that many with `take(n)` at the moment they are dispatched, or
 * `waitMs()` to know when to come back.
 */
export class NumberThrottle {
  readonly #clock: Clock
  readonly #tuning: ThrottleTuning
  readonly #adaptive: AdaptiveRate
  #limit: number
  #bucket: TokenBucket
  #guard: SlidingWindowGuard
  #factor = 1

  constructor (limitMps: number, clock: Clock, tuning: ThrottleTuning = DEFAULT_THROTTLE_TUNING) {
    if (!Number.isInteger(limitMps) || limitMps < 1) throw new RangeError('limitMps must be a positive integer')
    this.#clock = clock
    this.#tuning = tuning
    this.#limit = limitMps
    this.#adaptive = new AdaptiveRate({ ...tuning.adaptive, clock })
    this.#bucket = new TokenBucket({ ratePerSecond: this.#pace(1), burst: this.#burstFor(limitMps), slackMs: tuning.slackMs, clock })
    this.#guard = new SlidingWindowGuard(limitMps, 1000 + tuning.jitterMs)
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

  /** Milliseconds until one send may go (0 = now). */
  waitMs (): number {
    this.#refreshFactor()
    return Math.max(this.#bucket.waitMs(1), this.#guard.waitMs(this.#clock.now()))
  }

  /** Records `n` sends dispatched now; call only with `n ≤ available()`. */
  take (n = 1): void {
    const now = this.#clock.now()
    this.#bucket.debit(n)
    for (let i = 0; i < n; i++) this.#guard.record(now)
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

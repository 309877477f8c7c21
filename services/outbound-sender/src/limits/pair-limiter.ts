import type { Clock } from './clock.ts'

export interface PairLimiterOptions {
  /** Sustained spacing per (number, recipient) pair: Meta allows one message per 6 s. */
  intervalMs?: number
  /**
   * Messages that may go back to back to one recipient after a quiet spell. Meta tolerates bursts
   * (up to 45 in 6 s) by borrowing future quota: after a burst of `burst` the pair waits
   * `burst × intervalMs` (20 → 2 min, as Meta describes).
   */
  burst?: number
  /** First back-off after a 131056 (ms); the X-th consecutive one waits `base · 4^X`. */
  backoffBaseMs?: number
  /** Upper bound of one back-off (ms). */
  maxBackoffMs?: number
  clock: Clock
}

interface PairState {
  /** GCRA theoretical arrival time of the pair's next message. */
  tat: number
  /** Consecutive 131056 answers (X in 4^X). */
  strikes: number
  /** No send to this pair before this time (back-off after a 131056). */
  blockedUntil: number
}

/**
 * The pair rate limit of one number: an exact token bucket (GCRA) per recipient, plus Meta's
 * 4^X-second back-off after each consecutive 131056 for that recipient only. Idle pairs are
 * forgotten by {@link sweep}: a pair whose bucket is full again behaves exactly like a new one.
 */
export class PairLimiter {
  readonly #clock: Clock
  readonly #interval: number
  readonly #burst: number
  readonly #base: number
  readonly #max: number
  readonly #pairs = new Map<string, PairState>()

  constructor (opts: PairLimiterOptions) {
    this.#clock = opts.clock
    this.#interval = opts.intervalMs ?? 6000
    this.#burst = Math.max(1, opts.burst ?? 20)
    this.#base = opts.backoffBaseMs ?? 1000
    this.#max = opts.maxBackoffMs ?? 1024_000
  }

  /** Milliseconds until a message to `recipient` may go (0 = now). */
  waitMs (recipient: string): number {
    const s = this.#pairs.get(recipient)
    if (s === undefined) return 0
    const now = this.#clock.now()
    const byBucket = s.tat + (1 - this.#burst) * this.#interval - now
    const byBackoff = s.blockedUntil - now
    return Math.max(0, byBucket, byBackoff)
  }

  /** Records a message dispatched to `recipient` now (call only when `waitMs` is 0). */
  take (recipient: string): void {
    const now = this.#clock.now()
    const s = this.#pairs.get(recipient)
    if (s === undefined) this.#pairs.set(recipient, { tat: now + this.#interval, strikes: 0, blockedUntil: 0 })
    else s.tat = Math.max(s.tat, now) + this.#interval
  }

  /** Meta answered 131056 for `recipient`: back off 4^X (X = strikes so far); returns the wait (ms). */
  rejected (recipient: string): number {
    const now = this.#clock.now()
    let s = this.#pairs.get(recipient)
    if (s === undefined) { s = { tat: now, strikes: 0, blockedUntil: 0 }; this.#pairs.set(recipient, s) }
    const wait = Math.min(this.#max, this.#base * 4 ** Math.min(s.strikes, 15))
    s.strikes++
    s.blockedUntil = Math.max(s.blockedUntil, now + wait)
    // Meta's count for this pair is evidently full: do not lean on the local burst right after.
    s.tat = Math.max(s.tat, now + (this.#burst - 1) * this.#interval)
    return wait
  }

  /** Meta accepted a message to `recipient`: the strike count starts over. */
  accepted (recipient: string): void {
    const s = this.#pairs.get(recipient)
    if (s !== undefined) s.strikes = 0
  }

  /** Forgets pairs that are back to a full bucket and not backing off; returns how many. */
  sweep (): number {
    const now = this.#clock.now()
    let n = 0
    for (const [k, s] of this.#pairs) {
      // Strikes are forgotten after a long quiet spell too (the message may have failed for good).
      if (s.tat <= now && s.blockedUntil <= now && (s.strikes === 0 || now - s.blockedUntil > this.#max)) { this.#pairs.delete(k); n++ }
    }
    return n
  }

  /** Pairs currently tracked. */
  get size (): number { return this.#pairs.size }
}

import type { Clock } from './clock.ts'

/** Float slack so that 0.1 + 0.2 style sums never cost a whole token. */
const EPS = 1e-6

export interface TokenBucketOptions {
  /** Steady refill rate, tokens per second (> 0). */
  ratePerSecond: number
  /** Tokens that may be taken back to back after an idle spell (≥ 1). */
  burst: number
  /**
   * How early (ms) a token may be taken before its slot. Timers fire late by a few ms; with this
   * slack a late timer does not push every later slot back (no drift), at the price of sends
   * that are at most `slackMs` closer together than the steady interval.
   */
  slackMs?: number
  /** Start with one token instead of a full burst (a new sender ramps up evenly). Default false. */
  startWithOne?: boolean
  clock: Clock
}

/**
 * An exact token bucket in its GCRA form (virtual scheduling): one number, the theoretical
 * arrival time `tat` of the next token at the steady rate. Taking `n` tokens at `t` is allowed
 * when `max(tat, t) + n·T ≤ t + burst·T + slack` (T = 1000 / rate ms), and moves `tat` on by
 * `n·T`. Tokens therefore come one every T ms, evenly, never in a burst at the top of a second;
 * only after an idle spell may `burst` go at once. No timers: callers ask {@link waitMs} and
 * come back. `debit` takes tokens unconditionally (traffic the bucket did not release, such as
 * inbound messages Meta counts against the same limit); the bucket then owes them.
 */
export class TokenBucket {
  readonly #clock: Clock
  readonly #burst: number
  readonly #slackMs: number
  #rate: number
  #intervalMs: number
  #tat: number

  constructor (opts: TokenBucketOptions) {
    if (!(opts.ratePerSecond > 0) || !Number.isFinite(opts.ratePerSecond)) throw new RangeError('ratePerSecond must be a positive number')
    if (!(opts.burst >= 1) || !Number.isFinite(opts.burst)) throw new RangeError('burst must be at least 1')
    this.#clock = opts.clock
    this.#burst = opts.burst
    this.#slackMs = Math.max(0, opts.slackMs ?? 0)
    this.#rate = opts.ratePerSecond
    this.#intervalMs = 1000 / opts.ratePerSecond
    this.#tat = opts.clock.now() + (opts.startWithOne === true ? (opts.burst - 1) * this.#intervalMs : 0)
  }

  get ratePerSecond (): number { return this.#rate }
  get burst (): number { return this.#burst }
  /** Milliseconds between two tokens at the steady rate. */
  get intervalMs (): number { return this.#intervalMs }

  /** Tokens that can be taken now (0 when the bucket owes). */
  available (): number {
    const now = this.#clock.now()
    const n = Math.floor((now + this.#burst * this.#intervalMs + this.#slackMs - Math.max(this.#tat, now)) / this.#intervalMs + EPS)
    return Math.max(0, Math.min(n, Math.floor(this.#burst + EPS)))
  }

  /** Milliseconds until `n` tokens (≤ burst) can be taken; 0 when they can be taken now. */
  waitMs (n = 1): number {
    if (n > this.#burst + EPS) throw new RangeError(`cannot wait for ${n} tokens: burst is ${this.#burst}`)
    const now = this.#clock.now()
    const at = this.#tat + (n - this.#burst) * this.#intervalMs - this.#slackMs
    return at - now > EPS ? at - now : 0
  }

  /** Takes `n` tokens if they are available now; true when taken. */
  tryTake (n = 1): boolean {
    if (this.available() < n) return false
    this.#advance(n)
    return true
  }

  /** Takes up to `max` tokens available now; returns how many were taken. */
  takeAvailable (max: number): number {
    const n = Math.min(Math.max(0, Math.floor(max)), this.available())
    if (n > 0) this.#advance(n)
    return n
  }

  /** Takes `n` tokens whether or not they are there; the bucket may go into debt. */
  debit (n = 1): void {
    if (n > 0) this.#advance(n)
  }

  /**
   * Changes the steady rate. A debt keeps its size in tokens (it is repaid at the new rate); a
   * full bucket stays full.
   */
  setRate (ratePerSecond: number): void {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new RangeError('ratePerSecond must be a positive number')
    if (ratePerSecond === this.#rate) return
    const now = this.#clock.now()
    const newInterval = 1000 / ratePerSecond
    if (this.#tat > now) this.#tat = now + (this.#tat - now) / this.#intervalMs * newInterval
    this.#rate = ratePerSecond
    this.#intervalMs = newInterval
  }

  #advance (n: number): void {
    this.#tat = Math.max(this.#tat, this.#clock.now()) + n * this.#intervalMs
  }
}

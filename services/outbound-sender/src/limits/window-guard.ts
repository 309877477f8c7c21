/**
 * A hard cap on sends in any sliding window, kept as the times of the last `limit` sends (a ring).
 * A send is allowed at `t` only when fewer than `limit` recorded sends lie in `(t - windowMs, t]`,
 * so any `limit + 1` consecutive sends span at least `windowMs`.
 *
 * The throughput limiter uses it behind the token bucket with `windowMs = 1000 + jitter`: the
 * bucket spreads sends evenly, this guard makes the invariant hold even when something (a slow
 * database round trip, a stalled event loop) bunches sends together, and the extra `jitter` ms
 * keep it true where Meta counts, at arrival, as long as network latency varies by less than that.
 */
export class SlidingWindowGuard {
  #limit: number
  readonly #windowMs: number
  /** Send times, oldest first from `#head`; only the last `#limit` are kept. */
  #ring: Float64Array
  #head = 0
  #count = 0

  constructor (limit: number, windowMs: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer')
    if (!(windowMs > 0)) throw new RangeError('windowMs must be positive')
    this.#limit = limit
    this.#windowMs = windowMs
    this.#ring = new Float64Array(limit)
  }

  get limit (): number { return this.#limit }
  get windowMs (): number { return this.#windowMs }

  /** Sends allowed at `now` without breaking the cap. */
  allowance (now: number): number {
    let free = this.#limit - this.#count
    for (let i = 0; i < this.#count; i++) {
      if (now - this.#at(i) >= this.#windowMs) free++
      else break // the ring is in time order: the rest are younger
    }
    return free
  }

  /** Milliseconds until one more send is allowed (0 = now). */
  waitMs (now: number): number {
    if (this.#count < this.#limit) return 0
    const wait = this.#at(0) + this.#windowMs - now
    return wait > 0 ? wait : 0
  }

  /** Records a send at `t` (times must not go backwards; a smaller one is clamped). */
  record (t: number): void {
    const last = this.#count > 0 ? this.#at(this.#count - 1) : -Infinity
    const at = t < last ? last : t
    if (this.#count < this.#limit) {
      this.#ring[(this.#head + this.#count) % this.#limit] = at
      this.#count++
    } else {
      this.#ring[this.#head] = at
      this.#head = (this.#head + 1) % this.#limit
    }
  }

  /** Changes the cap, keeping the most recent send times. */
  setLimit (limit: number): void {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer')
    if (limit === this.#limit) return
    const keep = Math.min(this.#count, limit)
    const ring = new Float64Array(limit)
    for (let i = 0; i < keep; i++) ring[i] = this.#at(this.#count - keep + i)
    this.#ring = ring
    this.#head = 0
    this.#count = keep
    this.#limit = limit
  }

  /** The i-th recorded send, oldest first. */
  #at (i: number): number {
    return this.#ring[(this.#head + i) % this.#limit] as number
  }
}

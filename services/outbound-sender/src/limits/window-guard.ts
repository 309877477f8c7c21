/**
 * The hard cap behind the token bucket: no `windowMs` window *at Meta's side* may hold more than
 * `limit` sends. Meta counts by arrival time, which we cannot see, but we can bound it: a send
 * arrives no earlier than it was dispatched and no later than its answer came back. So every send
 * is kept with an upper bound `ub` of its arrival, its answer's time (unbounded while in flight),
 * and a new send is allowed at `now` only while fewer than `limit` earlier sends have
 * `ub > now - windowMs`.
 *
 * Why that is exact: take any `limit + 1` sends and let k be the one dispatched last. When k was
 * allowed, at least one of the other `limit` had `ub ≤ d(k) - windowMs`, so it arrived at least
 * `windowMs` before k did: the `limit + 1` arrivals span a full window. Nothing is assumed about
 * latency: a stalled event loop, a slow first connection or a request stuck in a queue only make
 * the guard wait longer.
 *
 * Cost: the effective window is `windowMs + round trip`; the bucket paces below that, so with the
 * short round trips of a sender near Meta the guard only bites when something would have squeezed
 * arrivals together. Far from Meta, `maxOneWayMs` trades this certainty for throughput: arrivals
 * are then assumed to happen within that many ms of dispatch even when the answer is slower.
 */
export class ArrivalWindowGuard {
  #limit: number
  readonly #windowMs: number
  readonly #maxOneWayMs: number
  /** Finite arrival bounds, ascending, from #head. */
  #bounds: number[] = []
  #head = 0
  /** Sends whose bound is not in #bounds yet (in flight, no assumed maximum): handle → dispatch time. */
  readonly #open = new Map<number, number>()
  /** Provisional finite bounds of in-flight sends (with maxOneWayMs): handle → [dispatch, bound]. */
  readonly #provisional = new Map<number, [number, number]>()
  #seq = 0

  constructor (limit: number, opts: { windowMs?: number, maxOneWayMs?: number } = {}) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer')
    this.#limit = limit
    this.#windowMs = opts.windowMs ?? 1000
    this.#maxOneWayMs = opts.maxOneWayMs ?? Infinity
    if (!(this.#windowMs > 0)) throw new RangeError('windowMs must be positive')
    if (!(this.#maxOneWayMs >= 0)) throw new RangeError('maxOneWayMs must be at least 0')
  }

  get limit (): number { return this.#limit }
  get windowMs (): number { return this.#windowMs }
  /** Sends dispatched and not answered yet. */
  get inFlight (): number { return this.#open.size + this.#provisional.size }

  /** Sends allowed at `now` without breaking the cap. */
  allowance (now: number): number {
    return Math.max(0, this.#limit - this.#count(now))
  }

  /**
   * Milliseconds until one more send is allowed (0 = now). Infinity when only answers to sends
   * in flight can free a slot: call again when one comes back.
   */
  waitMs (now: number): number {
    const c = this.#count(now)
    if (c < this.#limit) return 0
    const k = c - this.#limit + 1 // bounds that must leave the window
    const i = this.#head + k - 1
    if (i >= this.#bounds.length) return Infinity
    return Math.max(0, (this.#bounds[i] as number) + this.#windowMs - now)
  }

  /** Records a send dispatched at `d`; returns its handle for {@link settle}. */
  record (d: number): number {
    const handle = this.#seq++
    if (Number.isFinite(this.#maxOneWayMs)) {
      const bound = d + this.#maxOneWayMs
      this.#provisional.set(handle, [d, bound])
      this.#insert(bound)
    } else {
      this.#open.set(handle, d)
    }
    return handle
  }

  /** The send's answer (or its failure) came back at `at`: it arrived by then, if at all. */
  settle (handle: number, at: number): void {
    const d = this.#open.get(handle)
    if (d !== undefined) {
      this.#open.delete(handle)
      this.#insert(Math.max(d, at))
      return
    }
    const p = this.#provisional.get(handle)
    if (p === undefined) return // settled before
    this.#provisional.delete(handle)
    const [dispatched, bound] = p
    const next = Math.max(dispatched, Math.min(bound, at))
    if (next < bound) { this.#remove(bound); this.#insert(next) }
  }

  /** Changes the cap (a number upgraded or lowered); recorded sends are kept. */
  setLimit (limit: number): void {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer')
    this.#limit = limit
  }

  /** Sends whose arrival may lie in the window ending at `now`. */
  #count (now: number): number {
    const cutoff = now - this.#windowMs
    while (this.#head < this.#bounds.length && (this.#bounds[this.#head] as number) <= cutoff) this.#head++
    if (this.#head > 1024 && this.#head * 2 > this.#bounds.length) {
      this.#bounds = this.#bounds.slice(this.#head)
      this.#head = 0
    }
    return this.#open.size + this.#bounds.length - this.#head
  }

  #insert (bound: number): void {
    const b = this.#bounds
    // Answers come back in time order: almost always an append.
    if (b.length === this.#head || (b[b.length - 1] as number) <= bound) { b.push(bound); return }
    let lo = this.#head
    let hi = b.length
    while (lo < hi) { const mid = (lo + hi) >> 1; if ((b[mid] as number) <= bound) lo = mid + 1; else hi = mid }
    b.splice(lo, 0, bound)
  }

  #remove (bound: number): void {
    const b = this.#bounds
    let lo = this.#head
    let hi = b.length
    while (lo < hi) { const mid = (lo + hi) >> 1; if ((b[mid] as number) < bound) lo = mid + 1; else hi = mid }
    if (lo < b.length && b[lo] === bound) b.splice(lo, 1)
  }
}

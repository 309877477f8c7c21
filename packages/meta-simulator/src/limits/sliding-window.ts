/**
 * Throughput accounting the way a benchmark measures it: events are kept by arrival time and a
 * send is accepted only while the half-open window (t − 1000 ms, t] holds fewer than `limit`
 * events. Because every accepted event passes that check, no window [a, a + 1000 ms) anywhere on
 * the recorded timeline holds more than `limit` accepted events.
 */

/** Counts events in a trailing window over a time-ordered queue (amortised O(1) per event). */
export class SlidingWindowCounter {
  readonly windowMs: number
  #times: number[] = []
  #head = 0

  constructor (windowMs = 1000) {
    this.windowMs = windowMs
  }

  /** Events in (now − windowMs, now]. */
  count (now: number): number {
    this.#evict(now)
    return this.#times.length - this.#head
  }

  /** Records an event at `at` (callers pass non-decreasing times). */
  add (at: number): void {
    this.#times.push(at)
  }

  /** Adds the event when fewer than `limit` are in the window; returns whether it was added. */
  tryAdd (at: number, limit: number): boolean {
    if (this.count(at) >= limit) return false
    this.add(at)
    return true
  }

  clear (): void {
    this.#times = []
    this.#head = 0
  }

  #evict (now: number): void {
    const cutoff = now - this.windowMs
    const times = this.#times
    while (this.#head < times.length && (times[this.#head] as number) <= cutoff) this.#head++
    // Compact once the dead prefix dominates, so memory stays proportional to the window.
    if (this.#head > 1024 && this.#head * 2 > times.length) {
      this.#times = times.slice(this.#head)
      this.#head = 0
    }
  }
}

/**
 * The largest number of events inside any half-open window [a, a + windowMs) of the timeline.
 * This is the figure a throughput benchmark compares with the number's limit.
 *
 * @example
 * maxCountInWindow(sends.map((s) => s.at), 1000) <= 80
 */
export function maxCountInWindow (times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b)
  let max = 0
  let lo = 0
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[lo] as number) <= (sorted[hi] as number) - windowMs) lo++
    max = Math.max(max, hi - lo + 1)
  }
  return max
}

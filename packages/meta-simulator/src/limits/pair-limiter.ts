/**
 * Meta's pair rate limit (business number ↔ one user): about one message per 6 s sustained, with a
 * burst that borrows future quota (Meta: up to 45 in a burst, then after a burst of 20 wait about
 * 2 min — exactly a token bucket of 45 refilling one token per 6 s). Over the limit: 131056.
 */

export interface PairLimitSettings {
  /** Bucket size: messages a pair may send at once. */
  burst: number
  /** One token comes back every `intervalMs`. */
  intervalMs: number
}

/** Meta's documented figures (facts §7.1). */
export const DEFAULT_PAIR_LIMIT: Readonly<PairLimitSettings> = Object.freeze({ burst: 45, intervalMs: 6000 })

interface Bucket { tokens: number, at: number }

/** Token buckets keyed by recipient; time comes from the caller (the simulator's clock). */
export class PairLimiter {
  #buckets = new Map<string, Bucket>()

  /** Takes one token for `key` at time `now`; false when the pair is over its limit. */
  tryTake (key: string, now: number, settings: PairLimitSettings): boolean {
    const b = this.#refilled(key, now, settings)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Tokens left for `key` at `now` (fractional). */
  available (key: string, now: number, settings: PairLimitSettings): number {
    return this.#refilled(key, now, settings).tokens
  }

  clear (): void { this.#buckets.clear() }

  #refilled (key: string, now: number, s: PairLimitSettings): Bucket {
    let b = this.#buckets.get(key)
    if (b === undefined) {
      b = { tokens: s.burst, at: now }
      this.#buckets.set(key, b)
      return b
    }
    if (now > b.at) {
      b.tokens = Math.min(s.burst, b.tokens + (now - b.at) / s.intervalMs)
      b.at = now
    }
    return b
  }
}

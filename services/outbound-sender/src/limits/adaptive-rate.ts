import type { Clock } from './clock.ts'

export interface AdaptiveRateOptions {
  /** Factor kept after a throttle signal (0.5 halves the rate). */
  decreaseFactor?: number
  /** The rate never goes below this share of the configured one. */
  minFactor?: number
  /** Share of the configured rate won back per recovery step. */
  recoverStep?: number
  /** Quiet time (ms) between recovery steps; also the time after a decrease before the first. */
  recoverEveryMs?: number
  /**
   * Signals closer together than this (ms) count once: the sends already in flight when Meta
   * first said 130429 will say it too, and must not each halve the rate again.
   */
  coalesceMs?: number
  clock: Clock
}

/**
 * Multiplicative decrease, additive recovery of a rate factor in (0, 1]: a 130429 from Meta
 * halves the number's sending rate; every `recoverEveryMs` without another one wins back
 * `recoverStep` of it. Time is read lazily: no timers.
 */
export class AdaptiveRate {
  readonly #clock: Clock
  readonly #decrease: number
  readonly #min: number
  readonly #step: number
  readonly #every: number
  readonly #coalesce: number
  #base = 1
  #since = -Infinity
  #lastSignal = -Infinity

  constructor (opts: AdaptiveRateOptions) {
    this.#clock = opts.clock
    this.#decrease = opts.decreaseFactor ?? 0.5
    this.#min = opts.minFactor ?? 0.05
    this.#step = opts.recoverStep ?? 0.1
    this.#every = opts.recoverEveryMs ?? 2000
    this.#coalesce = opts.coalesceMs ?? 1000
  }

  /** Current factor, 1 when fully recovered. */
  factor (): number {
    if (this.#base >= 1) return 1
    const steps = Math.floor((this.#clock.now() - this.#since) / this.#every)
    return Math.min(1, this.#base + Math.max(0, steps) * this.#step)
  }

  /** A throttle signal from Meta; returns true when it lowered the factor. */
  signal (): boolean {
    const now = this.#clock.now()
    if (now - this.#lastSignal < this.#coalesce) return false
    this.#lastSignal = now
    this.#base = Math.max(this.#min, this.factor() * this.#decrease)
    this.#since = now
    return true
  }
}

/** Milliseconds, monotonic. Injected everywhere a limit reads time, so tests run on a fake clock. */
export interface Clock {
  now: () => number
}

/** The process's monotonic clock (performance.now, ms); never steps back with NTP. */
export const systemClock: Clock = { now: () => performance.now() }

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  #t: number
  constructor (start = 0) { this.#t = start }
  now (): number { return this.#t }
  advance (ms: number): number { this.#t += ms; return this.#t }
  set (t: number): void { this.#t = t }
}

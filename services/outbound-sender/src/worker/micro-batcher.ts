/**
 * Gathers single calls into one bulk call: items added while a bulk call is running (or within
 * the same tick, or within `lingerMs` of the oldest waiting one) go together in the next one, up
 * to `maxBatch` per call and `concurrency` calls at a time. Each caller gets its own answer. Used
 * for the claim and outcome UPDATEs, so thousands of sends per second cost a few statements per
 * second, not thousands: a statement costs the worker about 0.2 ms of CPU whatever its size (a
 * socket write and a read each way), a row in it a few microseconds.
 */
export class MicroBatcher<I, O> {
  readonly #run: (items: I[]) => Promise<O[]>
  readonly #maxBatch: number
  readonly #concurrency: number
  readonly #lingerMs: number
  #queue: Array<{ item: I, resolve: (o: O) => void, reject: (e: unknown) => void }> = []
  /** When the oldest waiting item was added (performance.now()). */
  #oldestAt = 0
  #running = 0
  #scheduled = false

  /**
   * `run` must answer one output per input, in order. With `lingerMs` (default 0: the next turn
   * of the event loop), a call starts once its oldest item has waited that long or `maxBatch`
   * items wait: at most about `concurrency / lingerMs` calls per millisecond, whatever the load.
   */
  constructor (run: (items: I[]) => Promise<O[]>, opts: { maxBatch?: number, concurrency?: number, lingerMs?: number } = {}) {
    this.#run = run
    this.#maxBatch = opts.maxBatch ?? 500
    this.#concurrency = opts.concurrency ?? 2
    this.#lingerMs = opts.lingerMs ?? 0
  }

  add (item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      if (this.#queue.length === 0) this.#oldestAt = performance.now()
      this.#queue.push({ item, resolve, reject })
      if (this.#queue.length >= this.#maxBatch) this.#drain()
      else this.#schedule(this.#lingerMs)
    })
  }

  /** Items waiting or being written. */
  get pending (): number { return this.#queue.length + this.#running }

  #schedule (delayMs: number): void {
    if (this.#scheduled) return
    this.#scheduled = true
    const go = (): void => { this.#scheduled = false; this.#drain() }
    // setImmediate: everything added in this turn of the event loop travels together.
    if (delayMs > 0) setTimeout(go, delayMs)
    else setImmediate(go)
  }

  #drain (): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0) {
      if (this.#queue.length < this.#maxBatch && this.#lingerMs > 0) {
        const waited = performance.now() - this.#oldestAt
        if (waited < this.#lingerMs) { this.#schedule(this.#lingerMs - waited); return }
      }
      const batch = this.#queue.splice(0, this.#maxBatch)
      this.#oldestAt = performance.now()
      this.#running++
      this.#run(batch.map((b) => b.item)).then((out) => {
        batch.forEach((b, i) => { b.resolve(out[i] as O) })
      }, (err: unknown) => {
        for (const b of batch) b.reject(err)
      }).finally(() => {
        this.#running--
        this.#drain()
      })
    }
  }
}

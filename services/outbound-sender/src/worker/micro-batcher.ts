/**
 * Gathers single calls into one bulk call: items added while a bulk call is running (or within
 * the same tick) go together in the next one, up to `maxBatch` per call and `concurrency` calls
 * at a time. Each caller gets its own answer. Used for the claim and outcome UPDATEs, so
 * thousands of sends per second cost a few statements per second, not thousands.
 */
export class MicroBatcher<I, O> {
  readonly #run: (items: I[]) => Promise<O[]>
  readonly #maxBatch: number
  readonly #concurrency: number
  #queue: Array<{ item: I, resolve: (o: O) => void, reject: (e: unknown) => void }> = []
  #running = 0
  #scheduled = false

  /** `run` must answer one output per input, in order. */
  constructor (run: (items: I[]) => Promise<O[]>, opts: { maxBatch?: number, concurrency?: number } = {}) {
    this.#run = run
    this.#maxBatch = opts.maxBatch ?? 500
    this.#concurrency = opts.concurrency ?? 2
  }

  add (item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        // setImmediate: everything added in this turn of the event loop travels together.
        setImmediate(() => { this.#scheduled = false; this.#drain() })
      }
    })
  }

  /** Items waiting or being written. */
  get pending (): number { return this.#queue.length + this.#running }

  #drain (): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch)
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

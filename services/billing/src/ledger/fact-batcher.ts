// Group commit for the consumers: every record's handler submits its facts and waits; facts that
// arrive while a transaction runs (or within `lingerMs`) go into the next one. A handler resolves
// only after the transaction holding its facts committed, so the bus commits its offset after
// the database (never before). One transaction runs at a time per process: no lock waits between
// our own batches, and a batch is large enough that Postgres work per fact stays small.
import type { Logger } from '@coexist/logger'
import type { Fact } from './facts.ts'

interface Waiter {
  facts: readonly Fact[]
  resolve: () => void
  reject: (err: unknown) => void
}

export interface FactBatcherOptions {
  /** Applies one batch in one transaction. */
  apply: (facts: Fact[]) => Promise<unknown>
  logger: Logger
  /** Most facts per transaction. Default 4000. */
  maxFacts?: number
  /** How long an idle batcher gathers before a transaction, ms. Default 2. */
  lingerMs?: number
  /** Called after each committed batch (e.g. to kick the outbox relay). */
  afterCommit?: () => void
}

export class FactBatcher {
  readonly #opts: Required<Omit<FactBatcherOptions, 'afterCommit'>> & Pick<FactBatcherOptions, 'afterCommit'>
  #queue: Waiter[] = []
  #queued = 0
  #running: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor (opts: FactBatcherOptions) {
    this.#opts = { maxFacts: 4000, lingerMs: 2, ...opts }
  }

  /** Resolves once `facts` are committed; rejects when their transaction failed. */
  submit (facts: readonly Fact[]): Promise<void> {
    if (facts.length === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ facts, resolve, reject })
      this.#queued += facts.length
      this.#schedule()
    })
  }

  /** Resolves when everything submitted so far is committed (or failed). */
  async flush (): Promise<void> {
    while (this.#running !== undefined || this.#queue.length > 0) {
      if (this.#running === undefined) this.#drain()
      await this.#running
    }
  }

  #schedule (): void {
    if (this.#running !== undefined) return // the running batch drains the queue when it ends
    if (this.#queued >= this.#opts.maxFacts) { this.#drain(); return }
    this.#timer ??= setTimeout(() => { this.#timer = undefined; this.#drain() }, this.#opts.lingerMs)
  }

  #drain (): void {
    if (this.#timer !== undefined) { clearTimeout(this.#timer); this.#timer = undefined }
    if (this.#running !== undefined || this.#queue.length === 0) return
    const batch: Waiter[] = []
    let n = 0
    while (this.#queue.length > 0 && (batch.length === 0 || n + this.#queue[0]!.facts.length <= this.#opts.maxFacts)) {
      const w = this.#queue.shift()!
      batch.push(w)
      n += w.facts.length
    }
    this.#queued -= n
    this.#running = this.#run(batch).finally(() => {
      this.#running = undefined
      if (this.#queue.length > 0) this.#drain()
    })
  }

  async #run (batch: Waiter[]): Promise<void> {
    try {
      await this.#opts.apply(batch.flatMap((w) => w.facts))
      this.#opts.afterCommit?.()
      for (const w of batch) w.resolve()
    } catch (err) {
      if (batch.length === 1) { batch[0]!.reject(err); return }
      // One bad record must not fail the others: retry each record's facts on its own.
      this.#opts.logger.warn({ err, records: batch.length }, 'pricing batch failed; applying its records one by one')
      for (const w of batch) {
        try {
          await this.#opts.apply([...w.facts])
          this.#opts.afterCommit?.()
          w.resolve()
        } catch (e) {
          w.reject(e)
        }
      }
    }
  }
}

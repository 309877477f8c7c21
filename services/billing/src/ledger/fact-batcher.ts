// Group commit for the consumers: every record's handler submits its facts and waits; facts that
// arrive while a transaction runs (or within `lingerMs`) go into the next one. A handler resolves
// only after the transaction holding its facts committed, so the bus commits its offset after
// the database (never before). Up to `maxInFlight` transactions run at once (default 2): while
// one waits for Postgres (row locks, commit) the next is prepared; they lock lines in the same
// (wamid) order, so they can wait for each other but not deadlock.
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
  /** Most facts per transaction. Default 5000. */
  maxFacts?: number
  /** How long an idle batcher gathers before a transaction, ms. Default 2. */
  lingerMs?: number
  /** Transactions running at once. Default 2. */
  maxInFlight?: number
  /** Called after each committed batch (e.g. to kick the outbox relay). */
  afterCommit?: () => void
}

export class FactBatcher {
  readonly #opts: Required<Omit<FactBatcherOptions, 'afterCommit'>> & Pick<FactBatcherOptions, 'afterCommit'>
  #queue: Waiter[] = []
  #queued = 0
  readonly #running = new Set<Promise<void>>()
  #timer: NodeJS.Timeout | undefined

  constructor (opts: FactBatcherOptions) {
    this.#opts = { ...opts, maxFacts: opts.maxFacts ?? 5000, lingerMs: opts.lingerMs ?? 2, maxInFlight: Math.max(1, opts.maxInFlight ?? 2) }
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
    while (this.#running.size > 0 || this.#queue.length > 0) {
      if (this.#running.size === 0) this.#drain()
      await Promise.race(this.#running)
    }
  }

  #schedule (): void {
    // A full batch goes at once if a slot is free (a backlog runs transactions side by side);
    // a partial one waits for the running transaction to end, or lingers when none runs.
    if (this.#running.size >= this.#opts.maxInFlight) return
    if (this.#queued >= this.#opts.maxFacts) { this.#drain(); return }
    if (this.#running.size > 0) return
    this.#timer ??= setTimeout(() => { this.#timer = undefined; this.#drain() }, this.#opts.lingerMs)
  }

  #drain (): void {
    if (this.#timer !== undefined) { clearTimeout(this.#timer); this.#timer = undefined }
    if (this.#running.size >= this.#opts.maxInFlight || this.#queue.length === 0) return
    let take = 0
    let n = 0
    while (take < this.#queue.length && (take === 0 || n + this.#queue[take]!.facts.length <= this.#opts.maxFacts)) {
      n += this.#queue[take]!.facts.length
      take++
    }
    const batch = this.#queue.slice(0, take)
    this.#queue = this.#queue.slice(take)
    this.#queued -= n
    const p: Promise<void> = this.#run(batch).finally(() => {
      this.#running.delete(p)
      if (this.#queue.length > 0) this.#drain()
    })
    this.#running.add(p)
  }

  async #run (batch: Waiter[]): Promise<void> {
    try {
      const t0 = performance.now()
      const facts = batch.flatMap((w) => w.facts)
      await this.#opts.apply(facts)
      this.#opts.logger.debug({ records: batch.length, facts: facts.length, ms: Math.round(performance.now() - t0) }, 'pricing batch committed')
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

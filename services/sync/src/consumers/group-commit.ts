/**
 * Group commit for the live webhook topics. A busy number's records all share one key, and one
 * transaction per record would cap it at the commit rate (a few hundred per second at best, with
 * statuses three times the message traffic). Records are gathered for `lingerMs` (or up to
 * `maxBatch`) and written in one transaction; each caller's promise settles when that transaction
 * committed, so the bus commits its offset only after the rows. Safe because every live write
 * commutes (unique keys, monotonic statuses, last-message by (time, wamid), timestamp guards).
 * When a batch fails, its records are retried one transaction each, so one bad record fails
 * alone.
 */
export interface GroupCommitOptions<T> {
  /** Writes a batch in one transaction. */
  runBatch: (items: T[]) => Promise<void>
  /** Writes one item in its own transaction (after a batch failed). */
  runOne: (item: T) => Promise<void>
  maxBatch?: number
  lingerMs?: number
}

export interface GroupCommitter<T> {
  /** Resolves when `item` is committed; rejects with its own error. */
  submit: (item: T) => Promise<void>
}

interface Waiter<T> { item: T, resolve: () => void, reject: (err: unknown) => void }

/** Creates a committer (see the module comment). */
export function createGroupCommitter<T> (opts: GroupCommitOptions<T>): GroupCommitter<T> {
  const maxBatch = opts.maxBatch ?? 500
  const lingerMs = opts.lingerMs ?? 2
  const queue: Waiter<T>[] = []
  let timer: NodeJS.Timeout | undefined
  let running = 0

  async function flush (): Promise<void> {
    clearTimeout(timer)
    timer = undefined
    const batch = queue.splice(0, maxBatch)
    if (batch.length === 0) return
    running++
    try {
      await opts.runBatch(batch.map((w) => w.item))
      for (const w of batch) w.resolve()
    } catch {
      for (const w of batch) {
        try { await opts.runOne(w.item); w.resolve() } catch (err) { w.reject(err) }
      }
    } finally {
      running--
      if (queue.length > 0) schedule()
    }
  }

  function schedule (): void {
    if (queue.length >= maxBatch) { void flush(); return }
    // While a batch is being written, the next one gathers until it is done or full.
    if (timer === undefined && running === 0) timer = setTimeout(() => { void flush() }, lingerMs)
  }

  return {
    submit (item) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ item, resolve, reject })
        schedule()
      })
    }
  }
}

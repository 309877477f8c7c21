/**
 * One number's lane: its queue, its exact throughput limiter and its pair limits. A number's
 * requests are dispatched in the order they were accepted; a recipient that must wait (retry,
 * pair back-off) holds back only later messages to that same recipient, and at most one message
 * per recipient is in flight, so messages reach Meta in order per conversation. Lanes never wait
 * for each other: a slow or throttled number only ever delays itself.
 */
import type { OutboundRequest } from '@coexist/contracts'
import type { Clock } from '../limits/clock.ts'
import { NumberThrottle, type ThrottleTuning } from '../limits/number-throttle.ts'
import { PairLimiter, type PairLimiterOptions } from '../limits/pair-limiter.ts'
import type { NumberInfo } from './number-directory.ts'

type ItemPhase = 'ready' | 'claiming' | 'inflight' | 'settling' | 'done'

/** One request in a lane, from its record until its outcome is recorded and published. */
export interface LaneItem {
  readonly id: string
  readonly request: OutboundRequest
  /**
   * The Graph body as JSON text, sent as is (validated by the API before it was stored); from the
   * record's bytes when undefined.
   */
  json: string | undefined
  /** Window/pair key of the recipient; '' for mark-as-read. */
  readonly customer: string
  readonly isRead: boolean
  readonly signal: AbortSignal
  phase: ItemPhase
  /** Monotonic time before which it must not be dispatched (retries). */
  notBefore: number
  /** Attempt number of the current claim. */
  attempt: number
  /** Failures with ordinary retryable errors, and with 130429/131056. */
  failures: number
  throttledFailures: number
  /** Monotonic time of the first dispatch. */
  firstDispatchAt: number | undefined
  /**
   * Settles when the claim of the current attempt is committed (rejects when it rolled back after
   * the request was dispatched). Outcomes are recorded only after it: before the commit, the
   * row still reads `accepted` to everyone else.
   */
  committed: Promise<void> | undefined
  /** The throughput guard's handle of the current attempt (see NumberThrottle.answered). */
  guardHandle: number | undefined
  /** The current attempt holds one of the worker's in-flight slots. */
  holdsSlot: boolean
  /** Sent in its current claim (a claimed item that was not frees its slot when the claim ends). */
  dispatched: boolean
  /** Settles the consumer's handler: the record is finished (true) or abandoned (false). */
  finish: (finished: boolean) => void
  /** Read back from Postgres (a parked backlog), not handed over by the consumer. */
  fromDb: boolean
  /** The record's trace id (results and dead letters carry it on). */
  traceId: string | undefined
}

export interface LaneDeps {
  clock: Clock
  tuning: ThrottleTuning
  pairs: Omit<PairLimiterOptions, 'clock'>
  /** Items looked at per pump; bounds the work of one pump on a huge backlog. */
  scanLimit: number
}

/** The lane's view of what it may dispatch now. */
export interface Pick {
  items: LaneItem[]
  /** Monotonic time to look again when nothing (more) can go now; Infinity when only an event can help. */
  wakeAt: number
}

/** Finished items a lane may keep listed before it compacts its list (see `remove`). */
const COMPACT_AT = 8

export class Lane {
  readonly phoneNumberId: string
  readonly pairs: PairLimiter
  info: NumberInfo | undefined
  infoLoadedAt = -Infinity
  loading = false
  claiming = false
  /** No dispatch before this (monotonic): set after a partition is (re)assigned. */
  quietUntil = 0
  /** The partition generation (its abort signal) the lane last saw a record from. */
  generation: AbortSignal | undefined
  timer: NodeJS.Timeout | undefined
  timerAt = Infinity
  lastActivity: number
  /** Partition of the requests topic the number's records are on (when known). */
  partition: number | undefined
  /** The backlog beyond what the lane holds waits in Postgres (marker `parkToken`). */
  parked = false
  parkToken: string | undefined
  parkPromise: Promise<boolean> | undefined
  /** Records parked so far (a load that saw fewer rows than asked ends parking only if none came meanwhile). */
  parkSeq = 0
  loadingParked = false
  /** The last load found no more rows and no record was parked since. */
  drained = false
  /** Unfinished items read back from Postgres. */
  dbItems = 0
  /** Virtual time of the lane's in-flight slot grants (SendWorker's weighted fair queueing). */
  slotTime = 0
  /** Acceptance sequence of the last row read back (the next read starts after it). */
  loadCursor = 0
  /** Aborted when the lane's partition is revoked: items read from Postgres stop with it. */
  dbAbort = new AbortController()
  /** Ids of the unfinished items (a record for one of them is a duplicate). */
  readonly ids = new Set<string>()
  /**
   * While a read of the parked backlog is in flight: ids finished meanwhile. The read may have
   * seen their rows still `accepted`; they must not come back as new items (sent and published
   * again otherwise, or found taken by their claim).
   */
  finishedDuringLoad: Set<string> | undefined
  #throttle: NumberThrottle | undefined
  readonly #deps: LaneDeps
  #items: LaneItem[] = []
  /** Index of the first item that may be unfinished (finished ones at the front are skipped). */
  #head = 0
  #doneInList = 0
  #inflightCustomers = new Map<string, number>()

  constructor (phoneNumberId: string, deps: LaneDeps) {
    this.phoneNumberId = phoneNumberId
    this.#deps = deps
    this.pairs = new PairLimiter({ ...deps.pairs, clock: deps.clock })
    this.lastActivity = deps.clock.now()
  }

  /** The throughput limiter, created (or re-limited) from the number's current limit. */
  throttle (limitMps: number): NumberThrottle {
    if (this.#throttle === undefined) this.#throttle = new NumberThrottle(limitMps, this.#deps.clock, this.#deps.tuning)
    else if (this.#throttle.limit !== limitMps) this.#throttle.setLimit(limitMps)
    return this.#throttle
  }

  /** Inbound traffic Meta counts against the number (no-op until the lane knows its limit). */
  debit (n: number): void { this.#throttle?.debit(n) }

  get throttleIfAny (): NumberThrottle | undefined { return this.#throttle }

  push (item: LaneItem): void {
    this.#items.push(item)
    this.ids.add(item.id)
    if (item.fromDb) this.dbItems++
    this.lastActivity = this.#deps.clock.now()
  }

  /** Unfinished items (waiting, in flight, being recorded). */
  get size (): number { return this.#items.length - this.#doneInList }

  get idle (): boolean { return this.size === 0 && !this.claiming && !this.parked }

  /** Items not yet claimed (for draining and revocation). */
  waiting (): LaneItem[] { return this.#items.filter((i) => i.phase === 'ready') }

  /** Every item not finished, whatever its phase. */
  unfinished (): LaneItem[] { return this.#items.filter((i) => i.phase !== 'done') }

  markInflight (item: LaneItem): void {
    item.phase = 'inflight'
    if (item.customer !== '') this.#inflightCustomers.set(item.customer, (this.#inflightCustomers.get(item.customer) ?? 0) + 1)
  }

  /** The Graph call of `item` returned (either way). */
  markReturned (item: LaneItem): void {
    if (item.customer === '') return
    const n = (this.#inflightCustomers.get(item.customer) ?? 1) - 1
    if (n <= 0) this.#inflightCustomers.delete(item.customer); else this.#inflightCustomers.set(item.customer, n)
  }

  /** Removes a finished item. */
  remove (item: LaneItem): void {
    if (item.phase === 'done') return
    item.phase = 'done'
    this.ids.delete(item.id)
    this.finishedDuringLoad?.add(item.id)
    if (item.fromDb) this.dbItems--
    this.#doneInList++
    this.lastActivity = this.#deps.clock.now()
    while (this.#head < this.#items.length && (this.#items[this.#head] as LaneItem).phase === 'done') this.#head++
    // Compact once finished items are a quarter of the list (they finish out of order): a
    // finished item still listed keeps its request, body and record alive. (With a floor of 64
    // and half of the list, 450 lanes of 10 items kept about 16,000 finished ones, about a fifth
    // of the worker's live heap under the mixed bench.) Each compaction drops more than a quarter
    // of the list, so its cost per finished item stays constant.
    if (this.#doneInList >= COMPACT_AT && this.#doneInList * 4 > this.#items.length) {
      this.#items = this.#items.filter((i) => i.phase !== 'done')
      this.#doneInList = 0
      this.#head = 0
    }
  }

  /**
   * Picks up to `max` items to dispatch now, oldest first: an item waits while an earlier message
   * to the same recipient is unfinished or in flight, while its retry time or its pair limit has
   * not come, or while the lane is quiet after a reassignment.
   */
  pick (max: number): Pick {
    const now = this.#deps.clock.now()
    let wakeAt = Infinity
    if (now < this.quietUntil) return { items: [], wakeAt: this.quietUntil }
    const items: LaneItem[] = []
    const blocked = new Set<string>()
    let scanned = 0
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as LaneItem
      if (items.length >= max) break
      // A backlog held back by one recipient: look again soon rather than scan it all each time.
      if (scanned >= this.#deps.scanLimit) { wakeAt = Math.min(wakeAt, now + 20); break }
      if (item.phase === 'done') continue
      scanned++
      const c = item.customer
      if (item.phase !== 'ready') { if (c !== '') blocked.add(c); continue }
      if (c !== '' && (blocked.has(c) || this.#inflightCustomers.has(c))) { blocked.add(c); continue }
      if (item.notBefore > now) { wakeAt = Math.min(wakeAt, item.notBefore); if (c !== '') blocked.add(c); continue }
      if (c !== '') {
        const wait = this.pairs.waitMs(c)
        if (wait > 0) { wakeAt = Math.min(wakeAt, now + wait); blocked.add(c); continue }
        blocked.add(c) // one message per recipient per pick: the next waits for this one's answer
      }
      items.push(item)
    }
    if (items.length >= max && wakeAt === Infinity) wakeAt = now // more may be ready as soon as tokens are
    return { items, wakeAt }
  }
}

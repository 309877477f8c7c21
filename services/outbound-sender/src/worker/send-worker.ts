/**
 * The send worker: takes accepted requests (records of wa.outbound.requests.v1, in partition
 * order), queues them per number (lane.ts), and sends each through the Graph client at that
 * number's exact throughput and within the pair limits. A record's handler settles only when the
 * request's outcome is recorded in Postgres and published on wa.outbound.results.v1 (or the DLQ),
 * so the consumer commits offsets only below finished work.
 *
 * Never twice. The claim accepted → sending is a conditional UPDATE inside a transaction that is
 * committed right after the requests are handed to the network, in the same turn of the event
 * loop: a crash before that rolls the claim back (the request never left and is sent after the
 * restart); a crash after it leaves `sending` (the request may have reached Meta), which the next
 * owner settles by policy (default: `unknown`, not resent). Two processes holding the same request
 * (a replayed record, a zombie after a rebalance) cannot both claim it: the row lock and the
 * `state = 'accepted'` condition let exactly one through. Outcomes apply only to the attempt they
 * belong to.
 */
import { randomUUID } from 'node:crypto'
import TinyQueue from 'tinyqueue'
import { create } from '@bufbuild/protobuf'
import type { MessageInitShape } from '@bufbuild/protobuf'
import {
  MetaErrorSchema, OutboundDeadLetterSchema, OutboundStatus, RecipientType,
  type OutboundDeadLetterSchema as DeadLetterSchemaT, type OutboundRequest, type OutboundResultSchema
} from '@coexist/contracts'
import { sql, type Db, type Database, type Transaction } from '@coexist/db'
import { findMetaApiError, type GraphClient } from '@coexist/meta'
import type { Logger } from '@coexist/logger'
import { Counter, Gauge, Histogram, type Registry } from '@coexist/http'
import { OutErrors } from '../errors.ts'
import { systemClock, type Clock } from '../limits/clock.ts'
import { DEFAULT_THROTTLE_TUNING, type ThrottleTuning } from '../limits/number-throttle.ts'
import { customerKey } from '../domain/send-request.ts'
import {
  claimForSending, finishUnsent, getMessages, recordOutcomes, settleAbandoned, uuidArray,
  type AttemptOutcome, type MessageSummary, type StoredMetaError
} from '../store/messages.ts'
import { loadAccepted, loadAcceptedAfter, parkedOn, parkNumbers, unparkNumbers, type LoadedRequest, type LoadJob, type ParkMarker } from '../store/parked.ts'
import { Lane, type LaneItem } from './lane.ts'
import { MicroBatcher } from './micro-batcher.ts'
import type { NumberInfo } from './number-directory.ts'
import { backoffMs, classifyFailure, DEFAULT_SEND_POLICY, unknownOutcomeAction, type SendPolicy } from './send-policy.ts'

export type OutboundResultInit = MessageInitShape<typeof OutboundResultSchema>
export type OutboundDeadLetterInit = MessageInitShape<typeof DeadLetterSchemaT>

/** Where a result or dead letter came from (its request's trace id, when known). */
interface PublishContext { traceId?: string | undefined }

/** A record handed over by the consumer. */
export interface IncomingRequest {
  request: OutboundRequest
  /** Aborted when the partition is revoked: stop before dispatching. */
  signal: AbortSignal
  /** When this worker was given the record's partition (ms since the epoch); default: when first seen. */
  assignedAt?: number
  /**
   * The record's partition. With it, a lane holds only a few seconds of its number's backlog and
   * parks the rest in Postgres (see `park`); without it, everything is held in memory.
   */
  partition?: number
  /** The record's trace id, carried onto its result and dead letter. */
  traceId?: string
}

export interface NumberSource {
  get: (phoneNumberId: string) => Promise<NumberInfo | undefined>
  invalidate: (phoneNumberId: string) => void
}

export interface SendWorkerOptions {
  db: Db
  graph: Pick<GraphClient, 'sendValidatedMessage' | 'markAsRead'>
  numbers: NumberSource
  publishResult: (result: OutboundResultInit, context: PublishContext) => Promise<void>
  publishDeadLetter: (deadLetter: OutboundDeadLetterInit, context: PublishContext) => Promise<void>
  logger: Logger
  clock?: Clock
  random?: () => number
  policy?: Partial<SendPolicy>
  throttle?: Partial<ThrottleTuning>
  /** Pair limit per (number, recipient); `backoffBaseMs` is the X = 0 wait after a 131056 (Meta: 1 s). */
  pairLimit?: { intervalMs?: number, burst?: number, backoffBaseMs?: number }
  /** After a partition is (re)assigned, its numbers stay silent this long (ms): the previous owner's last sends are still in Meta's window. */
  quietMs?: number
  /**
   * Sends claimed or in flight at once over all numbers (default 1,024): about the total rate
   * times claim plus round trip (4,770 MPS × 200 ms under load). While lanes wait for slots,
   * they are granted in proportion to the numbers' limits (see `#release`), so a 1,000-MPS number
   * is not held to a 5-MPS number's share.
   */
  maxInFlight?: number
  /** How often a lane re-reads its number (status, limit, token), ms. */
  numberRefreshMs?: number
  /** A lane with nothing to do is dropped after this long (ms). */
  laneIdleMs?: number
  /**
   * How much of a number's backlog its lane holds in memory, in seconds of its limit (default 1,
   * at least `laneMinHeld`, default 10); the rest is parked in Postgres. Small: a held record
   * pins its Kafka fetch buffer until it is finished (its bytes are views into it), memory stays
   * flat whatever the backlogs, and a
   * neighbour's backlog in the same partition never holds up the fetch.
   */
  laneHeldSeconds?: number
  laneMinHeld?: number
  /**
   * How much of a parked backlog a lane reads back at a time, in seconds of its limit (default 2,
   * at least 10); the next read starts when half of it is left. Over 500 numbers that is about
   * 2 s of every limit in memory (≈ 10,000 requests at 4,770 MPS in all).
   */
  laneLoadSeconds?: number
  scanLimit?: number
  /**
   * Requests read back from Postgres and finished, remembered so that their Kafka records, read
   * later, finish without a claim (default 20,000). One forgotten costs a claim and a lookup;
   * its result is not published again (`finished_by`).
   */
  recentFinished?: number
  /** How long claims, outcomes and backlog reads wait to travel with others (ms, default 10). */
  batchLingerMs?: number
  metrics?: Registry
}

/** Raised to the consumer for records the worker gives back unfinished (stop, kill): redelivered later. */
const handBack = (): Error => OutErrors.OUT_NOT_DURABLE.create({ message: 'the worker stopped before sending this request; it will be redelivered' })

interface Metrics {
  sends: Counter<'outcome'>
  retries: Counter<'reason'>
  queued: Gauge
  lanes: Gauge
  claim: Histogram
  graph: Histogram
  statements: Counter<'kind'>
  slots: Gauge<'what'>
}

function createMetrics (registry: Registry | undefined): Metrics | undefined {
  if (registry === undefined) return undefined
  // One registry may see several workers (tests): reuse a metric registered before.
  const reuse = <M>(name: string, make: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? make()
  return {
    sends: reuse('coexist_outbound_sends_total', () => new Counter({ name: 'coexist_outbound_sends_total', help: 'Send requests finished, by outcome (sent, failed, unknown, dead_lettered)', labelNames: ['outcome'], registers: [registry] })),
    retries: reuse('coexist_outbound_retries_total', () => new Counter({ name: 'coexist_outbound_retries_total', help: 'Send attempts retried, by reason (throughput, pair_rate, retryable, resend)', labelNames: ['reason'], registers: [registry] })),
    queued: reuse('coexist_outbound_queued', () => new Gauge({ name: 'coexist_outbound_queued', help: 'Requests held by the worker (waiting, in flight, being recorded)', registers: [registry] })),
    lanes: reuse('coexist_outbound_lanes', () => new Gauge({ name: 'coexist_outbound_lanes', help: 'Numbers with a lane in this worker', registers: [registry] })),
    claim: reuse('coexist_outbound_claim_seconds', () => new Histogram({ name: 'coexist_outbound_claim_seconds', help: 'Claim transactions (accepted → sending), from start to commit', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry] })),
    graph: reuse('coexist_outbound_graph_seconds', () => new Histogram({ name: 'coexist_outbound_graph_seconds', help: 'Cloud API send calls, dispatch to answer', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] })),
    slots: reuse('coexist_outbound_slots', () => new Gauge({ name: 'coexist_outbound_slots', help: 'In-flight slots: reserved (claims and sends), sends in flight, lanes waiting for one', labelNames: ['what'], registers: [registry] })),
    statements: reuse('coexist_outbound_db_statements_total', () => new Counter({ name: 'coexist_outbound_db_statements_total', help: 'Postgres statements the send worker issued, by kind (claim counts BEGIN and COMMIT; load: batched backlog reads, scan: a parked number\'s complete scan)', labelNames: ['kind'], registers: [registry] }))
  }
}

function metaErrorOf (err: unknown): StoredMetaError | undefined {
  const m = findMetaApiError(err)
  if (m === undefined) return undefined
  return { code: m.metaCode, title: m.classification.title, message: m.message, details: m.details, fbtrace_id: m.fbtraceId, http_status: m.httpStatus }
}

/** A lane item in its first state: ready, never dispatched, no failures. */
export function newLaneItem (o: Pick<LaneItem, 'request' | 'json' | 'isRead' | 'signal' | 'fromDb' | 'traceId' | 'finish'>): LaneItem {
  const r = o.request
  return {
    id: r.requestId,
    request: r,
    json: o.json,
    customer: o.isRead || r.recipient === '' ? '' : customerKey(r.recipient, r.recipientType === RecipientType.USER_ID ? 'user_id' : 'phone'),
    isRead: o.isRead,
    signal: o.signal,
    phase: 'ready',
    notBefore: 0,
    attempt: 0,
    failures: 0,
    throttledFailures: 0,
    firstDispatchAt: undefined,
    committed: undefined,
    guardHandle: undefined,
    holdsSlot: false,
    dispatched: false,
    fromDb: o.fromDb,
    traceId: o.traceId,
    finish: o.finish
  }
}

/** The Graph body of a request record as JSON text. */
function bodyText (req: OutboundRequest): string {
  const bytes = req.messageJson
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
}

/** A Graph body from its JSON text, or the parse error. */
function parseBody (json: string): Record<string, unknown> | Error {
  try {
    const parsed: unknown = JSON.parse(json)
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return new Error('not an object')
    return parsed as Record<string, unknown>
  } catch (err) {
    return err as Error
  }
}

const errorCodeOf = (err: unknown): string => (err as { code?: unknown } | null)?.code !== undefined ? String((err as { code: unknown }).code) : 'UNCODED'

export class SendWorker {
  readonly #o: SendWorkerOptions
  readonly #clock: Clock
  readonly #random: () => number
  readonly #policy: SendPolicy
  readonly #tuning: ThrottleTuning
  readonly #log: Logger
  readonly #lanes = new Map<string, Lane>()
  readonly #assignedAt = new WeakMap<AbortSignal, number>()
  readonly #watched = new WeakSet<AbortSignal>()
  readonly #claims: MicroBatcher<ClaimJob, void>
  readonly #outcomes: MicroBatcher<AttemptOutcome, boolean>
  readonly #parks: MicroBatcher<ParkMarker, void>
  readonly #loads: MicroBatcher<LoadJob, LoadedRequest[]>
  readonly #unparks: MicroBatcher<{ phoneNumberId: string, token: string }, void>
  /** Records waiting for their number's parked marker to be durable. */
  #parking = 0
  readonly #metrics: Metrics | undefined
  readonly #sweeper: NodeJS.Timeout
  #slotGauges: NodeJS.Timeout | undefined
  #killed = false
  #draining = false
  /** Requests read back from Postgres and finished by this worker, the latest `recentFinished` (≈ 2 MB). */
  readonly #finished: RecentIds
  /** This worker process, as stored with the outcomes it records (`finished_by`). */
  readonly #instance = randomUUID()
  /** Partitions of the requests topic this worker owns (from the consumer; parked lanes resume there). */
  #owned = new Set<number>()
  #inflight = 0
  /** Sends claimed or in flight (the in-flight cap counts claims too). */
  #reserved = 0
  #inflightWaiters: Array<() => void> = []
  /** Lanes waiting for an in-flight slot, each with its entry in `#slotQueue`. */
  readonly #slotWaiters = new Map<Lane, SlotWait>()
  /**
   * The waiting lanes by virtual time, lowest first (ties in arrival order). Entries of lanes that
   * stopped waiting stay until popped or rebuilt away: an entry counts only while
   * `#slotWaiters` maps its lane to it.
   */
  #slotQueue = newSlotQueue()
  #slotSeq = 0
  /** Virtual time of slot grants: the `slotTime` of the lane served last (see `#release`). */
  #slotClock = 0

  constructor (opts: SendWorkerOptions) {
    this.#o = opts
    this.#clock = opts.clock ?? systemClock
    this.#random = opts.random ?? Math.random
    this.#finished = new RecentIds(opts.recentFinished ?? 20_000)
    this.#policy = { ...DEFAULT_SEND_POLICY, ...opts.policy }
    this.#tuning = { ...DEFAULT_THROTTLE_TUNING, ...opts.throttle }
    this.#log = opts.logger.child({ component: 'send-worker' })
    this.#metrics = createMetrics(opts.metrics)
    // Statements gather what many lanes ask for within `batchLingerMs`: a claim is 3 statements,
    // and the worker's CPU goes to statements, not rows. Waiting costs no throughput: a lane's
    // bucket keeps up to `burstMs` of tokens for it, and the guard measures from dispatch.
    const lingerMs = opts.batchLingerMs ?? 10
    this.#claims = new MicroBatcher((jobs) => this.#runClaims(jobs), { maxBatch: 2000, concurrency: 2, lingerMs })
    this.#outcomes = new MicroBatcher(async (outs) => {
      this.#counted('outcome')
      const applied = await recordOutcomes(this.#o.db, outs, this.#instance)
      return outs.map((o) => applied.has(o.id))
    }, { maxBatch: 2000, concurrency: 2, lingerMs })
    this.#parks = new MicroBatcher<ParkMarker, void>(async (markers) => { this.#counted('park'); await parkNumbers(this.#o.db, markers); return markers.map(() => undefined) }, { maxBatch: 500, concurrency: 1, lingerMs })
    this.#loads = new MicroBatcher<LoadJob, LoadedRequest[]>((jobs) => { this.#counted('load'); return loadAcceptedAfter(this.#o.db, jobs) }, { maxBatch: 500, concurrency: 2, lingerMs })
    this.#unparks = new MicroBatcher<{ phoneNumberId: string, token: string }, void>(async (markers) => { this.#counted('unpark'); await unparkNumbers(this.#o.db, markers); return markers.map(() => undefined) }, { maxBatch: 500, concurrency: 1, lingerMs })
    this.#sweeper = setInterval(() => { this.#sweep() }, 5000)
    this.#sweeper.unref()
    if (this.#metrics !== undefined) {
      const slots = this.#metrics.slots
      this.#slotGauges = setInterval(() => {
        slots.set({ what: 'reserved' }, this.#reserved)
        slots.set({ what: 'in_flight' }, this.#inflight)
        slots.set({ what: 'lanes_waiting' }, this.#slotWaiters.size)
      }, 250)
      this.#slotGauges.unref()
    }
  }

  /**
   * Takes one record; resolves when the request is finished (outcome recorded and published),
   * rejects with a retryable error when the worker gives it back unfinished (stop, kill).
   */
  handle (incoming: IncomingRequest): Promise<void> {
    const req = incoming.request
    return new Promise<void>((resolve, reject) => {
      if (this.#killed || this.#draining) { reject(handBack()); return }
      const lane = this.#lane(req.phoneNumberId)
      if (incoming.partition !== undefined) lane.partition = incoming.partition
      // A partition seen for the first time in this generation: the previous owner may have sent
      // from it moments ago, so its numbers keep quiet for one window.
      if (lane.generation !== incoming.signal) {
        lane.generation = incoming.signal
        let at = this.#assignedAt.get(incoming.signal)
        if (at === undefined) {
          // The assignment time on this worker's monotonic clock.
          at = incoming.assignedAt === undefined ? this.#clock.now() : this.#clock.now() - Math.max(0, Date.now() - incoming.assignedAt)
          this.#assignedAt.set(incoming.signal, at)
        }
        lane.quietUntil = Math.max(lane.quietUntil, at + (this.#o.quietMs ?? 1000))
      }
      if (!this.#watched.has(incoming.signal)) {
        // One listener per partition generation (not per record): drop what it holds on revoke.
        this.#watched.add(incoming.signal)
        const signal = incoming.signal
        signal.addEventListener('abort', () => { this.#revokeAll(signal) }, { once: true })
      }
      // Held already (read back from Postgres, or a duplicate record): that item finishes it.
      // Finished here a moment ago (read back from Postgres ahead of its record): its outcome is
      // recorded and published, so the record is done without a claim that would find it taken.
      if (lane.ids.has(req.requestId) || this.#finished.has(req.requestId)) { resolve(); return }
      if (incoming.partition !== undefined && (lane.parked || lane.size >= this.#heldCap(lane))) {
        // Beyond what the lane holds: the row in Postgres is the queue; the record is finished
        // once the number's parked marker is durable.
        lane.parkSeq++
        lane.drained = false
        this.#parking++
        void this.#park(lane, incoming.partition).then((ok) => {
          this.#parking--
          if (ok) { resolve(); this.#pump(lane) } else reject(handBack())
        })
        return
      }
      // Held: checked now, its text taken again when sent (a backlog keeps only the record's
      // bytes). A parked record is not read at all: its row is sent, as Postgres stored it.
      const parsed = parseBody(bodyText(req))
      if (parsed instanceof Error) {
        void this.#deadLetterUnsent(req, 'OUT_REQUEST_INVALID', `message_json is not a JSON object: ${parsed.message}`).then(() => resolve(), reject)
        return
      }
      const item = newLaneItem({
        request: req,
        json: undefined,
        isRead: parsed.status === 'read',
        signal: incoming.signal,
        fromDb: false,
        traceId: incoming.traceId,
        finish: (finished) => { if (finished) resolve(); else reject(handBack()) }
      })
      lane.push(item)
      this.#metrics?.queued.inc()
      this.#pump(lane)
    })
  }

  /**
   * The partitions of the requests topic this worker owns now (the runtime passes the consumer's
   * assignment). Parked backlogs of newly owned partitions are resumed from Postgres; lanes of
   * partitions given away drop what they hold (the new owner reads it from Kafka and Postgres).
   */
  async setAssignment (partitions: readonly number[]): Promise<void> {
    const next = new Set(partitions)
    const added = [...next].filter((p) => !this.#owned.has(p))
    const removed = [...this.#owned].filter((p) => !next.has(p))
    this.#owned = next
    for (const lane of this.#lanes.values()) {
      if (lane.partition === undefined || !removed.includes(lane.partition)) continue
      lane.dbAbort.abort()
      lane.dbAbort = new AbortController()
      lane.parked = false
      lane.parkToken = undefined
      for (const item of lane.waiting()) { lane.remove(item); this.#metrics?.queued.dec(); item.finish(false) }
    }
    if (added.length === 0 || this.#killed || this.#draining) return
    const rows = await this.#retrying(() => { this.#counted('assignment'); return parkedOn(this.#o.db, added) }, 'parked')
    for (const row of rows ?? []) {
      if (!this.#owned.has(row.partition)) continue
      const lane = this.#lane(row.phoneNumberId)
      lane.partition = row.partition
      lane.parked = true
      lane.parkToken = row.token
      lane.drained = false
      lane.loadCursor = 0
      // Its previous owner may have sent moments ago.
      lane.quietUntil = Math.max(lane.quietUntil, this.#clock.now() + (this.#o.quietMs ?? 1000))
      this.#pump(lane)
    }
  }

  /** Requests a lane holds in memory before it parks the rest (a few until its limit is known). */
  #heldCap (lane: Lane): number {
    const min = this.#o.laneMinHeld ?? 10
    if (lane.info === undefined) return min
    return Math.max(min, Math.ceil(lane.info.throughputMps * (this.#o.laneHeldSeconds ?? 1)))
  }

  /** Makes the lane's parked marker durable (once per parking episode); false when killed. */
  #park (lane: Lane, partition: number): Promise<boolean> {
    if (lane.parked && lane.parkPromise !== undefined) return lane.parkPromise
    lane.parked = true
    const token = randomUUID()
    lane.parkToken = token
    lane.parkPromise = this.#retrying(async () => { await this.#parks.add({ phoneNumberId: lane.phoneNumberId, partition, token }); return true }, lane.phoneNumberId)
      .then((ok) => ok === true)
    return lane.parkPromise
  }

  /** Requests a parked lane reads back from Postgres at a time (they are light: no Kafka record behind them). */
  #loadCap (lane: Lane): number {
    return Math.max(10, Math.ceil((lane.info?.throughputMps ?? 5) * (this.#o.laneLoadSeconds ?? 2)))
  }

  /**
   * Reads the next part of a parked backlog into the lane: in acceptance order after the last
   * row read (batched with other lanes); when that finds less than asked, a complete scan (rows a
   * late record put behind the cursor, attempts a dead worker left `sending`) before the lane may
   * stop parking.
   */
  async #loadParked (lane: Lane): Promise<void> {
    lane.loadingParked = true
    const finishedMeanwhile = lane.finishedDuringLoad = new Set()
    const seq = lane.parkSeq
    const want = this.#loadCap(lane) - lane.size
    const signal = lane.dbAbort.signal
    let drained = false
    try {
      const loaded = await this.#retrying(() => this.#loads.add({ phoneNumberId: lane.phoneNumberId, afterSeq: lane.loadCursor, limit: want }), lane.phoneNumberId)
      if (loaded === undefined || signal.aborted || !lane.parked) return
      let added = 0
      for (const { request, seq: rowSeq, json } of loaded) {
        lane.loadCursor = Math.max(lane.loadCursor, rowSeq)
        if (lane.ids.has(request.requestId) || finishedMeanwhile.has(request.requestId)) continue
        lane.push(this.#dbItem(request, signal, json))
        this.#metrics?.queued.inc()
        added++
      }
      if (loaded.length < want) {
        const rest = await this.#retrying(() => { this.#counted('scan'); return loadAccepted(this.#o.db, lane.phoneNumberId, [...lane.ids], want - added) }, lane.phoneNumberId)
        if (rest === undefined || signal.aborted || !lane.parked) return
        for (const { request, json } of rest) {
          if (lane.ids.has(request.requestId) || finishedMeanwhile.has(request.requestId)) continue
          lane.push(this.#dbItem(request, signal, json))
          this.#metrics?.queued.inc()
        }
        drained = rest.length < want - added
      }
      if (drained && seq === lane.parkSeq) lane.drained = true
    } finally {
      lane.loadingParked = false
      lane.finishedDuringLoad = undefined
    }
    this.#maybeUnpark(lane)
    this.#pump(lane)
  }

  /** An item read back from Postgres: the row's body (JSON text) is what is sent. */
  #dbItem (request: OutboundRequest, signal: AbortSignal, json: string): LaneItem {
    // Only a read receipt has no recipient.
    const isRead = request.recipient === '' && (parseBody(json) as { status?: unknown }).status === 'read'
    return newLaneItem({ request, json, isRead, signal, fromDb: true, traceId: undefined, finish: () => {} })
  }

  /** Ends parking once Postgres holds nothing more for the lane and it finished what it read. */
  #maybeUnpark (lane: Lane): void {
    if (!lane.parked || !lane.drained || lane.dbItems > 0 || lane.loadingParked) return
    const token = lane.parkToken
    lane.parked = false
    lane.parkToken = undefined
    lane.parkPromise = undefined
    if (token !== undefined) void this.#retrying(() => this.#unparks.add({ phoneNumberId: lane.phoneNumberId, token }), lane.phoneNumberId)
  }

  /** Traffic Meta counts against a number that the worker did not send (inbound messages, app echoes). */
  trafficSeen (phoneNumberId: string, count = 1): void {
    this.#lanes.get(phoneNumberId)?.debit(count)
  }

  /** Numbers with a lane; requests held (in lanes, or waiting to be parked), of which parking; sends in flight; lanes waiting for an in-flight slot. */
  stats (): { lanes: number, held: number, parking: number, inflight: number, waitingForSlot: number } {
    let held = this.#parking
    for (const l of this.#lanes.values()) held += l.size
    return { lanes: this.#lanes.size, held, parking: this.#parking, inflight: this.#inflight, waitingForSlot: this.#slotWaiters.size }
  }

  /**
   * Graceful stop: dispatch nothing new, let in-flight sends finish and be recorded (up to
   * `timeoutMs`), then give every waiting request back unfinished (the next owner sends it).
   * Call after the consumer's stop() began, so given-back records are not retried here.
   */
  async drain (timeoutMs = 30_000): Promise<void> {
    this.#draining = true
    for (const lane of this.#lanes.values()) this.#clearTimer(lane)
    if (this.#inflight > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        new Promise<void>((resolve) => { this.#inflightWaiters.push(resolve) }),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
      ])
      clearTimeout(timer)
    }
    for (const lane of this.#lanes.values()) {
      for (const item of lane.waiting()) { lane.remove(item); this.#metrics?.queued.dec(); item.finish(false) }
    }
    clearInterval(this.#sweeper)
    clearInterval(this.#slotGauges)
  }

  /**
   * Abrupt stop, as a crash: nothing more is dispatched, recorded or published; claims in flight
   * roll back; requests in flight are left `sending` (their outcome is unknown to the next owner).
   * Waiting records are given back unfinished.
   */
  kill (): void {
    this.#killed = true
    clearInterval(this.#sweeper)
    clearInterval(this.#slotGauges)
    for (const lane of this.#lanes.values()) {
      this.#clearTimer(lane)
      // Everything still held, in flight included, is given back unfinished: its offset is not
      // committed, and what it did (or not) is in Postgres for the next owner.
      for (const item of lane.unfinished()) { lane.remove(item); item.finish(false) }
    }
  }

  // ---- lanes ----------------------------------------------------------------------------------

  #lane (phoneNumberId: string): Lane {
    let lane = this.#lanes.get(phoneNumberId)
    if (lane === undefined) {
      lane = new Lane(phoneNumberId, {
        clock: this.#clock,
        tuning: this.#tuning,
        pairs: { intervalMs: this.#o.pairLimit?.intervalMs, burst: this.#o.pairLimit?.burst, backoffBaseMs: this.#o.pairLimit?.backoffBaseMs },
        scanLimit: this.#o.scanLimit ?? 2000
      })
      this.#lanes.set(phoneNumberId, lane)
      this.#metrics?.lanes.set(this.#lanes.size)
    }
    return lane
  }

  #clearTimer (lane: Lane): void {
    if (lane.timer !== undefined) clearTimeout(lane.timer)
    lane.timer = undefined
    lane.timerAt = Infinity
  }

  #wakeAt (lane: Lane, at: number): void {
    if (!Number.isFinite(at) || this.#killed || this.#draining) return
    if (lane.timer !== undefined && lane.timerAt <= at) return
    this.#clearTimer(lane)
    lane.timerAt = at
    lane.timer = setTimeout(() => { lane.timer = undefined; lane.timerAt = Infinity; this.#pump(lane) }, Math.max(0, at - this.#clock.now()))
  }

  /** Drops lanes that have been idle for a while (their limiter state is stale by then). */
  #sweep (): void {
    const now = this.#clock.now()
    const idleMs = this.#o.laneIdleMs ?? 120_000
    for (const [id, lane] of this.#lanes) {
      lane.pairs.sweep()
      if (lane.idle && now - lane.lastActivity > idleMs) { this.#clearTimer(lane); this.#lanes.delete(id); this.#slotWaiters.delete(lane) }
    }
    this.#metrics?.lanes.set(this.#lanes.size)
  }

  /** Dispatches what the lane may send now, or sets its timer for when it may. */
  #pump (lane: Lane): void {
    if (this.#killed || this.#draining || lane.claiming) return
    const now = this.#clock.now()
    const refreshMs = this.#o.numberRefreshMs ?? 10_000
    if (!lane.loading && now - lane.infoLoadedAt > refreshMs) {
      // Read (or refresh) the number; until the first read, the lane waits.
      lane.loading = true
      this.#o.numbers.get(lane.phoneNumberId).then((info) => {
        lane.info = info
        lane.infoLoadedAt = this.#clock.now()
      }, (err: unknown) => {
        this.#log.error({ err, phoneNumberId: lane.phoneNumberId }, 'cannot read the number; retrying in 1 s')
        if (lane.infoLoadedAt > -Infinity) lane.infoLoadedAt = this.#clock.now() - refreshMs + 1000
        else this.#wakeAt(lane, this.#clock.now() + 1000)
      }).finally(() => {
        lane.loading = false
        if (lane.infoLoadedAt > -Infinity) this.#pump(lane)
      })
    }
    if (lane.infoLoadedAt === -Infinity) return
    const info = lane.info
    if (lane.parked && !lane.loadingParked && !lane.drained && lane.size < this.#loadCap(lane) / 2) void this.#loadParked(lane)
    if (info === undefined || info.status !== 'active' || info.token === undefined) { this.#refuseAll(lane, info); return }
    const throttle = lane.throttle(info.throughputMps)
    const tokens = throttle.available()
    if (tokens <= 0) { if (lane.size > 0) this.#wakeAt(lane, now + Math.max(0.5, throttle.waitMs())); return }
    const slots = this.#maxInFlight - this.#reserved
    if (slots <= 0) {
      if (lane.size > 0) {
        // No credit for time spent without waiting: it starts from the clock of the last grant.
        if (!this.#slotWaiters.has(lane)) {
          lane.slotTime = Math.max(lane.slotTime, this.#slotClock)
          const wait = { lane, time: lane.slotTime, seq: this.#slotSeq++ }
          this.#slotWaiters.set(lane, wait)
          this.#slotQueue.push(wait)
        }
      }
      return
    }
    const pick = lane.pick(Math.min(tokens, slots))
    if (pick.items.length === 0) { this.#wakeAt(lane, pick.wakeAt); return }
    this.#reserved += pick.items.length
    this.#slotWaiters.delete(lane)
    // Each slot costs the lane 1 / limit of virtual time (see #release).
    lane.slotTime = Math.max(lane.slotTime, this.#slotClock) + pick.items.length / Math.max(1, info.throughputMps)
    lane.claiming = true
    for (const item of pick.items) { item.phase = 'claiming'; item.dispatched = false }
    const token = info.token
    const committed: Promise<void> = this.#claims.add({
      ids: pick.items.map((i) => i.id),
      // Runs inside the claim transaction, synchronously, before it commits.
      onClaimed: (claimed) => this.#dispatchClaimed(lane, pick.items, claimed, token, committed)
    })
    committed.then(() => {
      this.#afterClaim(lane, pick.items)
      this.#pump(lane)
    }, (err: unknown) => {
      this.#afterClaim(lane, pick.items)
      if (this.#killed) return
      this.#log.error({ err, phoneNumberId: lane.phoneNumberId }, 'claim failed; retrying')
      this.#wakeAt(lane, this.#clock.now() + 500)
    })
  }

  /** Items of a claim that were neither sent nor handed on go back to waiting (or away, if revoked). */
  #afterClaim (lane: Lane, items: LaneItem[]): void {
    lane.claiming = false
    for (const item of items) {
      // Items that were not sent free their in-flight slot here; sent ones when they return.
      if (!item.dispatched) this.#release()
      if (item.phase !== 'claiming') continue
      item.phase = 'ready'
      if (item.signal.aborted && !this.#killed) { lane.remove(item); this.#metrics?.queued.dec(); item.finish(false) }
    }
  }

  /**
   * Sends the claimed items now; returns the ids claimed but not sent (revoked or killed meanwhile),
   * whose claim is undone in the same transaction.
   */
  #dispatchClaimed (lane: Lane, items: LaneItem[], claimed: Map<string, number>, token: string, committed: Promise<void>): string[] {
    const undo: string[] = []
    const toSend: LaneItem[] = []
    const unclaimed: LaneItem[] = []
    for (const item of items) {
      const attempt = claimed.get(item.id)
      if (attempt === undefined) { item.phase = 'settling'; unclaimed.push(item); continue }
      if (this.#killed || this.#draining || item.signal.aborted) { undo.push(item.id); continue }
      item.attempt = attempt
      item.committed = committed
      toSend.push(item)
    }
    if (toSend.length > 0) {
      const throttle = lane.throttle(lane.info?.throughputMps ?? 1)
      const handles = throttle.take(toSend.length)
      toSend.forEach((item, i) => { item.guardHandle = handles[i]; this.#send(lane, item, token) })
    }
    if (unclaimed.length > 0) queueMicrotask(() => { void this.#resolveUnclaimed(lane, unclaimed) })
    return undo
  }

  #send (lane: Lane, item: LaneItem, token: string): void {
    const now = this.#clock.now()
    item.holdsSlot = true
    item.dispatched = true
    item.firstDispatchAt ??= now
    lane.markInflight(item)
    if (item.customer !== '') lane.pairs.take(item.customer)
    this.#inflight++
    const endGraph = this.#metrics?.graph.startTimer()
    const graph = this.#o.graph
    const json = item.json ?? bodyText(item.request)
    let call: Promise<string | undefined>
    if (item.isRead) {
      const body = parseBody(json) as Record<string, unknown>
      call = graph.markAsRead(lane.phoneNumberId, token, String(body.message_id), { typingIndicator: body.typing_indicator !== undefined }).then(() => undefined)
    } else {
      // Validated by the API before it was stored: sent as is.
      call = graph.sendValidatedMessage(lane.phoneNumberId, token, json).then((r) => r.messages[0]?.id)
    }
    call.then((wamid) => {
      endGraph?.()
      this.#returned(lane, item)
      if (this.#killed) return
      if (item.customer !== '') lane.pairs.accepted(item.customer)
      void this.#settle(lane, item, { id: item.id, attempt: item.attempt, state: 'sent', wamid }, 'sent')
    }, (err: unknown) => {
      endGraph?.()
      this.#returned(lane, item)
      if (this.#killed) return
      this.#onFailed(lane, item, err)
    })
  }

  /** Counts Postgres statements issued (metric `coexist_outbound_db_statements_total`). */
  #counted (kind: 'claim' | 'outcome' | 'load' | 'scan' | 'park' | 'unpark' | 'assignment' | 'unclaimed' | 'unsent', n = 1): void {
    this.#metrics?.statements.inc({ kind }, n)
  }

  get #maxInFlight (): number { return this.#o.maxInFlight ?? 1024 }

  /**
   * Frees one in-flight slot. While slots are short, freed ones go to the waiting lanes by
   * weighted fair queueing: the lane with the lowest virtual time `slotTime` goes first, and each
   * slot a lane takes moves its time on by 1 / its limit. Over time each number is granted slots
   * in proportion to its limit: a 1,000-MPS number gets 200 for a 5-MPS number's one. (Taking
   * turns per lane instead held a 1,000-MPS number to a 5-MPS number's slots: with 500 numbers
   * waiting, it got one slot in 500.) The waiting lanes are kept in a binary heap by virtual time,
   * so a grant costs O(log n) however many lanes wait (a scan of them all cost ~n per freed slot).
   */
  #release (): void {
    this.#reserved--
    if (this.#killed || this.#draining) return
    const max = this.#maxInFlight
    // A lane waits for a slot only between claims (#pump returns at once while it is claiming, and
    // a lane that picks stops waiting before it claims), so every waiting lane can take one.
    while (this.#reserved < max) {
      let next: SlotWait | undefined
      while ((next = this.#slotQueue.pop()) !== undefined && this.#slotWaiters.get(next.lane) !== next) { /* no longer waiting */ }
      if (next === undefined) break
      const lane = next.lane
      this.#slotWaiters.delete(lane)
      this.#slotClock = Math.max(this.#slotClock, lane.slotTime)
      this.#pump(lane)
    }
    // Entries of lanes that were served by their own pump or dropped: rebuilt away once they
    // outnumber the waiting lanes.
    if (this.#slotQueue.length > 2 * this.#slotWaiters.size + 64) this.#slotQueue = newSlotQueue([...this.#slotWaiters.values()])
  }

  #returned (lane: Lane, item: LaneItem): void {
    if (item.holdsSlot) { item.holdsSlot = false; this.#release() }
    // The request reached Meta by now, if at all: the throughput guard may count it as arrived.
    if (item.guardHandle !== undefined) lane.throttleIfAny?.answered(item.guardHandle)
    lane.markReturned(item)
    item.phase = 'settling'
    if (--this.#inflight === 0) for (const f of this.#inflightWaiters.splice(0)) f()
    if (!this.#killed) this.#pump(lane)
  }

  #onFailed (lane: Lane, item: LaneItem, err: unknown): void {
    const f = classifyFailure(err)
    const now = this.#clock.now()
    const metaError = metaErrorOf(err)
    const errorMessage = (err as Error)?.message ?? String(err)
    const outcome = (state: AttemptOutcome['state'], errorCode: string): AttemptOutcome =>
      ({ id: item.id, attempt: item.attempt, state, errorCode, errorMessage, metaError })
    const retry = (delayMs: number, reason: string): void => {
      this.#metrics?.retries.inc({ reason })
      void this.#settle(lane, item, outcome('accepted', errorCodeOf(err)), 'retry', now + delayMs)
    }
    const deadLetter = (reason: string, detail: string): void => {
      void this.#settle(lane, item, { ...outcome('dead_lettered', reason), errorMessage: detail }, 'dead_lettered')
    }
    const withinWindow = (delayMs: number): boolean => now + delayMs - (item.firstDispatchAt ?? now) <= this.#policy.retryWindowMs
    switch (f.kind) {
      case 'throughput': {
        if (lane.throttleIfAny?.throttled() === true) this.#log.warn({ phoneNumberId: lane.phoneNumberId }, 'Meta said 130429: lowering the send rate')
        item.throttledFailures++
        const delay = backoffMs({ ...this.#policy, baseBackoffMs: 1000 }, item.throttledFailures, undefined, this.#random)
        if (item.throttledFailures > this.#policy.maxThrottledAttempts || !withinWindow(delay)) { deadLetter('OUT_RETRY_BUDGET_EXHAUSTED', `still throttled (130429) after ${item.throttledFailures} attempts`); return }
        retry(delay, 'throughput')
        return
      }
      case 'pair_rate': {
        item.throttledFailures++
        const delay = lane.pairs.rejected(item.customer) + Math.round(this.#random() * 250)
        if (item.throttledFailures > this.#policy.maxThrottledAttempts || !withinWindow(delay)) { deadLetter('OUT_RETRY_BUDGET_EXHAUSTED', `pair rate limit (131056) after ${item.throttledFailures} attempts`); return }
        retry(delay, 'pair_rate')
        return
      }
      case 'retryable': {
        item.failures++
        const delay = backoffMs(this.#policy, item.failures, f.hintMs, this.#random)
        if (f.hintMs !== undefined && f.hintMs > this.#policy.retryWindowMs) { deadLetter('OUT_RETRY_TOO_LATE', `Meta asks to wait ${Math.round(f.hintMs / 60_000)} min (code ${f.meta?.code ?? f.code})`); return }
        if (item.failures >= this.#policy.maxAttempts || !withinWindow(delay)) { deadLetter('OUT_RETRY_BUDGET_EXHAUSTED', `${item.failures} attempts failed; last: ${errorMessage}`); return }
        retry(delay, 'retryable')
        return
      }
      case 'permanent':
        void this.#settle(lane, item, outcome('failed', f.code), 'failed')
        return
      case 'unknown_outcome': {
        if (unknownOutcomeAction(this.#policy, f.cause) === 'resend') {
          item.failures++
          const delay = backoffMs(this.#policy, item.failures, undefined, this.#random)
          if (item.failures >= this.#policy.maxAttempts || !withinWindow(delay)) { deadLetter('OUT_RETRY_BUDGET_EXHAUSTED', `${item.failures} attempts failed; last: ${errorMessage}`); return }
          retry(delay, 'resend')
          return
        }
        this.#log.warn({ requestId: item.id, phoneNumberId: lane.phoneNumberId, cause: f.cause }, 'send outcome unknown; not resent (policy)')
        void this.#settle(lane, item, { ...outcome('unknown', 'OUT_OUTCOME_UNKNOWN'), errorMessage: `${f.cause}: ${errorMessage}` }, 'unknown')
      }
    }
  }

  /**
   * Records an attempt's outcome; then either publishes the result and finishes the record, or
   * (retry) puts the item back in its lane. An outcome that no longer applies (someone else moved
   * the row on) finishes the record without publishing: the row's owner does that.
   */
  async #settle (lane: Lane, item: LaneItem, outcome: AttemptOutcome, kind: 'sent' | 'failed' | 'unknown' | 'dead_lettered' | 'retry', retryAt?: number): Promise<void> {
    let applied: boolean
    // The claim's commit first: until then the row reads `accepted` and the outcome would miss it.
    let commitLost = false
    await item.committed?.catch(() => { commitLost = true })
    if (commitLost) this.#log.error({ requestId: item.id, attempt: item.attempt }, 'the claim rolled back after the request was dispatched; recording the outcome anyway')
    for (let n = 1; ; n++) {
      if (this.#killed) return
      try {
        applied = await this.#outcomes.add({ ...outcome, commitLost })
        break
      } catch (err) {
        this.#log.error({ err, requestId: item.id }, 'cannot record the outcome; retrying')
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** n)))
      }
    }
    if (this.#killed) return
    if (!applied) {
      this.#log.warn({ requestId: item.id, attempt: item.attempt }, 'outcome not recorded: the request moved on elsewhere')
      this.#done(lane, item, true)
      return
    }
    if (kind === 'retry') {
      item.phase = 'ready'
      item.notBefore = retryAt ?? this.#clock.now()
      if (item.signal.aborted) { this.#done(lane, item, false); return }
      this.#pump(lane)
      return
    }
    await this.#publishOutcome(item, {
      status: kind === 'sent' ? OutboundStatus.SENT : kind === 'unknown' ? OutboundStatus.UNKNOWN : OutboundStatus.FAILED,
      wamid: outcome.wamid,
      metaError: outcome.metaError,
      attempts: item.attempt,
      deadLetter: kind === 'dead_lettered' ? { reason: outcome.errorCode ?? 'OUT_RETRY_BUDGET_EXHAUSTED', detail: outcome.errorMessage ?? '' } : undefined
    })
    if (this.#killed) return
    this.#metrics?.sends.inc({ outcome: kind })
    this.#done(lane, item, true)
  }

  #done (lane: Lane, item: LaneItem, finished: boolean): void {
    if (item.phase === 'done') return
    lane.remove(item)
    this.#metrics?.queued.dec()
    item.finish(finished)
    if (finished && item.fromDb) this.#finished.add(item.id)
    if (item.fromDb) this.#maybeUnpark(lane)
    if (!this.#killed) this.#pump(lane)
  }

  /**
   * Publishes the result (and the dead letter), retrying until Kafka takes them. `of`: the lane
   * item (or just the request of a record never queued); an item read back from Postgres carries
   * its body as text (`json`), which the dead letter's request gets back as bytes.
   */
  async #publishOutcome (of: Pick<LaneItem, 'request'> & Partial<Pick<LaneItem, 'json' | 'traceId'>>, o: { status: OutboundStatus, wamid?: string | undefined, metaError?: StoredMetaError | undefined, attempts: number, deadLetter?: { reason: string, detail: string } | undefined }): Promise<void> {
    const req = of.request
    const context: PublishContext = { traceId: of.traceId }
    const now = BigInt(Date.now())
    const metaError = o.metaError === undefined
      ? undefined
      : create(MetaErrorSchema, {
        code: o.metaError.code,
        title: o.metaError.title ?? '',
        message: o.metaError.message ?? '',
        details: o.metaError.details ?? '',
        fbtraceId: o.metaError.fbtrace_id ?? '',
        httpStatus: o.metaError.http_status ?? 0
      })
    const result: OutboundResultInit = {
      requestId: req.requestId,
      tenantId: req.tenantId,
      phoneNumberId: req.phoneNumberId,
      recipient: req.recipient,
      recipientType: req.recipientType,
      status: o.status,
      wamid: o.wamid ?? '',
      ...(metaError !== undefined ? { error: metaError } : {}),
      attempts: o.attempts,
      sentAt: o.status === OutboundStatus.SENT ? now : 0n,
      completedAt: now,
      billableHint: req.isTemplate,
      category: req.categoryHint,
      idempotencyKey: req.idempotencyKey
    }
    for (let n = 1; ; n++) {
      if (this.#killed) return
      try {
        if (o.deadLetter !== undefined) {
          await this.#o.publishDeadLetter(create(OutboundDeadLetterSchema, {
            request: req.messageJson.length === 0 && of.json !== undefined ? { ...req, messageJson: Buffer.from(of.json) } : req,
            reason: o.deadLetter.reason,
            ...(metaError !== undefined ? { lastError: metaError } : {}),
            detail: o.deadLetter.detail.slice(0, 2000),
            deadAt: now
          }), context)
        }
        await this.#o.publishResult(result, context)
        return
      } catch (err) {
        this.#log.error({ err, requestId: req.requestId }, 'cannot publish the result; retrying')
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** n)))
      }
    }
  }

  /** The number cannot send (gone, not active, no token): every waiting request goes to the DLQ. */
  #refuseAll (lane: Lane, info: NumberInfo | undefined): void {
    const reason = info === undefined
      ? 'OUT_NUMBER_NOT_FOUND'
      : info.status !== 'active'
        ? (info.status === 'disconnected' ? 'OUT_NUMBER_DISCONNECTED' : info.status === 'suspended' ? 'OUT_NUMBER_SUSPENDED' : info.status === 'pending' ? 'OUT_NUMBER_PENDING' : 'OUT_NUMBER_NOT_ACTIVE')
        : 'OUT_NO_ACCESS_TOKEN'
    for (const item of lane.waiting()) {
      item.phase = 'settling'
      void (async () => {
        const applied = await this.#retrying(() => { this.#counted('unsent'); return finishUnsent(this.#o.db, item.id, 'dead_lettered', reason, `the number cannot send (${info?.status ?? 'unknown number'})`) }, item.id)
        if (applied === undefined) return
        if (applied) {
          await this.#publishOutcome(item, { status: OutboundStatus.FAILED, attempts: 0, deadLetter: { reason, detail: `phone number ${lane.phoneNumberId}: ${info?.status ?? 'not found'}` } })
          this.#metrics?.sends.inc({ outcome: 'dead_lettered' })
          this.#done(lane, item, true)
        } else {
          item.phase = 'ready'
          await this.#resolveUnclaimed(lane, [item])
        }
      })()
    }
    // Look again later: the number may come back (reconnected, token stored).
    if (lane.size > 0) this.#wakeAt(lane, this.#clock.now() + (this.#o.numberRefreshMs ?? 10_000))
  }

  /** Runs `fn` until it succeeds (database hiccups); undefined when killed meanwhile. */
  async #retrying<T> (fn: () => Promise<T>, requestId: string): Promise<T | undefined> {
    for (let n = 1; ; n++) {
      if (this.#killed) return undefined
      try { return await fn() } catch (err) {
        this.#log.error({ err, requestId }, 'database call failed; retrying')
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** n)))
      }
    }
  }

  /**
   * Items whose claim found no `accepted` row: finished before (a replayed record: publish its
   * result again, consumers dedupe), left `sending` by a process that stopped (settle by policy),
   * or unknown (dead-letter the record).
   */
  async #resolveUnclaimed (lane: Lane, items: LaneItem[]): Promise<void> {
    const rows = await this.#retrying(() => { this.#counted('unclaimed'); return getMessages(this.#o.db, items.map((i) => i.id)) }, items[0]?.id ?? '')
    if (rows === undefined) return
    const byId = new Map(rows.map((r) => [r.id, r]))
    for (const item of items) {
      if (this.#killed) return
      const row = byId.get(item.id)
      if (row === undefined) {
        item.phase = 'settling'
        await this.#publishOutcome(item, { status: OutboundStatus.FAILED, attempts: 0, deadLetter: { reason: 'OUT_REQUEST_UNKNOWN', detail: 'no accepted request row for this record' } })
        this.#done(lane, item, true)
        continue
      }
      await this.#resolveRow(lane, item, row)
    }
  }

  async #resolveRow (lane: Lane, item: LaneItem, row: MessageSummary): Promise<void> {
    switch (row.state) {
      case 'accepted': // claimed by nobody yet (e.g. revived meanwhile): try again
        item.phase = 'ready'
        item.notBefore = this.#clock.now() + 50
        this.#pump(lane)
        return
      case 'sending': {
        item.phase = 'settling'
        // Another worker may still be sending it (a rebalance, not a crash): give it the grace
        // period to record its outcome before deciding.
        const resend = this.#policy.onAbandoned === 'resend'
        const settled = await this.#retrying(() => { this.#counted('unclaimed'); return settleAbandoned(this.#o.db, row.id, row.attempts, resend ? 'accepted' : 'unknown', this.#policy.abandonedGraceMs) }, row.id)
        if (settled === undefined) return
        if (resend || !settled) {
          const age = Date.now() - new Date(row.sending_at ?? Date.now()).getTime()
          item.phase = 'ready'
          item.notBefore = this.#clock.now() + (settled ? 0 : Math.max(50, this.#policy.abandonedGraceMs - age))
          this.#pump(lane)
          return
        }
        this.#log.warn({ requestId: row.id, phoneNumberId: row.phone_number_id, attempt: row.attempts }, 'a previous worker stopped while sending this request: outcome unknown, not resent (policy)')
        await this.#publishOutcome(item, { status: OutboundStatus.UNKNOWN, attempts: row.attempts })
        this.#metrics?.sends.inc({ outcome: 'unknown' })
        this.#done(lane, item, true)
        return
      }
      default: {
        // Finished before: a replay after a crash or rebalance. Publish the result again (the
        // first publish may not have happened); never for requests that were never acknowledged.
        // Not when this process recorded the outcome (a record read after its row was sent from
        // a parked backlog): it published the result, or is publishing it, itself.
        item.phase = 'settling'
        if (row.error_code !== 'OUT_NOT_ACCEPTED' && row.finished_by !== this.#instance) {
          const meta = row.meta_error as StoredMetaError | null
          await this.#publishOutcome(item, {
            status: row.state === 'sent' ? OutboundStatus.SENT : row.state === 'unknown' ? OutboundStatus.UNKNOWN : OutboundStatus.FAILED,
            wamid: row.wamid ?? undefined,
            metaError: meta ?? undefined,
            attempts: row.attempts,
            deadLetter: row.state === 'dead_lettered' ? { reason: row.error_code ?? 'OUT_RETRY_BUDGET_EXHAUSTED', detail: row.error_message ?? '' } : undefined
          })
        }
        this.#done(lane, item, true)
      }
    }
  }

  /** A record that cannot be a request: dead-letter it (and its row, if any). */
  async #deadLetterUnsent (req: OutboundRequest, reason: string, detail: string): Promise<void> {
    await this.#retrying(() => { this.#counted('unsent'); return finishUnsent(this.#o.db, req.requestId, 'dead_lettered', reason, detail) }, req.requestId)
    await this.#publishOutcome({ request: req }, { status: OutboundStatus.FAILED, attempts: 0, deadLetter: { reason, detail } })
  }

  /** A partition was revoked: drop its records that are not in flight (the new owner sends them). */
  #revokeAll (signal: AbortSignal): void {
    for (const lane of this.#lanes.values()) {
      if (lane.generation === signal) {
        // What it read back from Postgres goes too: the new owner resumes the parked backlog.
        lane.dbAbort.abort()
        lane.dbAbort = new AbortController()
        lane.parked = false
        lane.parkToken = undefined
        lane.parkPromise = undefined
        for (const item of lane.waiting()) if (item.fromDb) { lane.remove(item); this.#metrics?.queued.dec() }
      }
      for (const item of lane.waiting()) if (item.signal === signal) { lane.remove(item); this.#metrics?.queued.dec(); item.finish(false) }
    }
  }

  // ---- claims -----------------------------------------------------------------------------------

  /**
   * One transaction for the claims of many lanes: claim, let each lane dispatch synchronously,
   * undo the claims of items that were not sent, commit. The commit is issued in the same turn
   * of the event loop as the dispatches.
   */
  async #runClaims (jobs: ClaimJob[]): Promise<void[]> {
    const ids = jobs.flatMap((j) => j.ids)
    const end = this.#metrics?.claim.startTimer()
    this.#counted('claim', 3) // BEGIN, the claim, COMMIT
    await this.#o.db.transaction().execute(async (trx) => {
      const claimed = await claimForSending(trx, ids)
      if (this.#killed) throw OutErrors.OUT_NOT_DURABLE.create({ message: 'worker killed: claim rolled back' })
      const undo: string[] = []
      for (const job of jobs) {
        const mine = new Map<string, number>()
        for (const id of job.ids) { const a = claimed.get(id); if (a !== undefined) mine.set(id, a) }
        try { undo.push(...job.onClaimed(mine)) } catch (err) { this.#log.error({ err }, 'dispatch failed') }
      }
      if (undo.length > 0) { this.#counted('claim'); await undoClaims(trx, undo) }
    })
    end?.()
    return jobs.map(() => undefined)
  }
}

/** A lane waiting for an in-flight slot: its virtual time when it began to wait, and its turn among equals. */
interface SlotWait { lane: Lane, time: number, seq: number }

function newSlotQueue (items: SlotWait[] = []): TinyQueue<SlotWait> {
  return new TinyQueue(items, (a, b) => a.time - b.time || a.seq - b.seq)
}

/** A set of the latest `capacity` ids (the oldest is forgotten first). */
class RecentIds {
  readonly #ids = new Set<string>()
  /**
   * The ids in insertion order, a ring. (Deleting a Set's first element instead leaves a deleted
   * slot that every later `values().next()` walks past until the Set is rehashed: quadratic.)
   */
  readonly #ring: Array<string | undefined>
  #next = 0
  constructor (capacity: number) { this.#ring = new Array<string | undefined>(Math.max(1, capacity)).fill(undefined) }
  has (id: string): boolean { return this.#ids.has(id) }
  add (id: string): void {
    if (this.#ids.has(id)) return
    const old = this.#ring[this.#next]
    if (old !== undefined) this.#ids.delete(old)
    this.#ring[this.#next] = id
    this.#next = (this.#next + 1) % this.#ring.length
    this.#ids.add(id)
  }
}

interface ClaimJob {
  ids: string[]
  onClaimed: (claimed: Map<string, number>) => string[]
}

/** Reverts claims (sending → accepted, attempt count restored) inside the claim's transaction. */
async function undoClaims (trx: Transaction<Database>, ids: string[]): Promise<void> {
  await sql`UPDATE outbound_messages SET state = 'accepted', attempts = attempts - 1, sending_at = NULL
    WHERE id = ANY(${uuidArray(ids)}::uuid[]) AND state::text = 'sending'`.execute(trx) // on the primary key (see claimForSending)
}

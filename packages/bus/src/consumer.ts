/**
 * The bus consumer: a typed table of handlers (topic → handle + retry policy), records decoded
 * with the topic's contract before a handler sees them, invalid records dead-lettered with the
 * issue in headers (never dropped silently), and offsets committed only below finished work.
 *
 * How it runs. kafkajs's `eachBatch` only hands records over: each goes into a lane of its
 * partition (one lane per partition with `ordering: 'partition'`, the default; one lane per key
 * with `ordering: 'key'`, up to `maxConcurrency` lanes running at once; one lane per record with
 * `ordering: 'none'`, for handlers whose effects commute, e.g. a group-commit batcher) and its offset is
 * tracked. Lanes run outside `eachBatch`, so a slow key never holds the fetch loop. A record is
 * "finished" when its handler succeeded or it went to the dead-letter topic; each partition
 * commits its watermark: the lowest unfinished offset (see offset-tracker.ts).
 *
 * Rebalances. kafkajs has no revoke callback. On REBALANCING the consumer stops starting records
 * and commits the watermarks at once (still in the old generation); on GROUP_JOIN it drops the
 * partitions it no longer owns (queued records discarded, in-flight ones signalled through
 * `record.signal` and never committed) and carries on with the ones it kept. kafkajs refetches
 * kept partitions from the committed offset; records already held are skipped, not run twice.
 * A crash of the kafkajs consumer (it leaves the group) drops every partition.
 *
 * Back-pressure. A partition holding `maxPendingPerPartition` unfinished records is paused in
 * kafkajs and resumed when half of them finished; `pause(topics)`/`resume(topics)` let the
 * service stop fetching (e.g. its database pool is saturated).
 *
 * @example
 * const consumer = createBusConsumer({
 *   kafka, registry, producer, logger, groupId: 'sync',
 *   handlers: {
 *     'webhook.messages': { ordering: 'key', handle: async (r) => { await store(r.value) } },
 *     'outbound.results': { handle: async (r) => { … }, retry: { maxAttempts: 10 } }
 *   }
 * })
 * await consumer.start()
 * …
 * await consumer.stop()
 */
import { fromBinary } from '@bufbuild/protobuf'
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs'
import type { Logger } from '@coexist/logger'
import { findCode, findCoexistError } from '@coexist/errors'
import { channels } from './diagnostics.ts'
import { BusErrors } from './errors.ts'
import { DEAD_LETTER_HEADER, HEADER, PROTOBUF_CONTENT_TYPE, decodeHeaders } from './headers.ts'
import { OffsetTracker } from './offset-tracker.ts'
import { createBusProducer, type BusProducer } from './producer.ts'
import type { TopicContracts, TopicKey, TopicRegistry, TopicSpec, ValueOf } from './topics.ts'

/** One decoded record, as a handler receives it. */
export interface BusRecord<V> {
  topic: string
  topicKey: TopicKey
  partition: number
  offset: string
  /** The record key as UTF-8 text (ids), or null. */
  key: string | null
  /** The decoded message (or bytes, for topics without a contract). */
  value: V
  /** Headers as UTF-8 text. */
  headers: Readonly<Record<string, string>>
  /** Record timestamp, ms since the Unix epoch. */
  timestamp: number
  /** The `trace-id` header, when present. */
  traceId: string | undefined
  /** 1 for the first attempt. */
  attempt: number
  /**
   * When this member was given the record's partition (ms since the Unix epoch): the group join
   * that assigned it. A partition kept across rebalances keeps its first time. Work that must
   * not overlap with the previous owner (rate limits) can wait from here.
   */
  assignedAt: number
  /** Aborted when the partition is revoked or a stop runs out of time: stop work, don't commit side effects. */
  signal: AbortSignal
  /** Child logger bound to `{ topic, partition, offset }`. */
  log: Logger
}

export interface RetryPolicy {
  /** Attempts before a failing record is dead-lettered. Default 5. */
  maxAttempts: number
  /** First back-off, ms; doubles each attempt (with jitter) up to maxBackoffMs. Default 200. */
  initialBackoffMs: number
  maxBackoffMs: number
  /**
   * After the last attempt: `dead-letter` the record and go on (default), or `retry-forever`
   * (the record's lane waits; use it where skipping is worse than stalling). Errors coded as
   * not retryable (a CoexistError with `retryable: false`) are dead-lettered at once either way.
   */
  exhausted: 'dead-letter' | 'retry-forever'
}

export interface TopicHandler<K extends TopicKey> {
  /**
   * The topic's contract. Optional: the registry already knows it (and types `record.value`);
   * when given it must be the registry's, which makes the table self-describing.
   */
  schema?: TopicContracts[K]
  handle: (record: BusRecord<ValueOf<K>>) => Promise<void> | void
  retry?: Partial<RetryPolicy>
  /**
   * `partition` (default): in offset order, one at a time. `key`: per-key order, keys in parallel.
   * `none`: no order at all, records in parallel (up to `maxConcurrency`), for handlers whose
   * effects commute (idempotent merges, batched writes); offsets still commit only below
   * finished records.
   */
  ordering?: 'partition' | 'key' | 'none'
  /** Lanes (keys, or records with `ordering: 'none'`) running at once per partition. Default 16. */
  maxConcurrency?: number
  /**
   * With `ordering: 'none'`: the records ready in a partition (up to `maxConcurrency`) in one call,
   * e.g. one group-commit submit for all of them instead of a promise per record. Resolving
   * finishes them all. When it throws, each record goes through `handle` on its own (retries and
   * dead letters as usual), so one bad record cannot hold back the others.
   */
  handleBatch?: (records: Array<BusRecord<ValueOf<K>>>) => Promise<void>
}

/** The typed handler table: topic key → handler. The contract comes from the registry. */
export type TopicHandlers = { [K in TopicKey]?: TopicHandler<K> }

export interface BusConsumerOptions {
  kafka: Kafka
  registry: TopicRegistry
  groupId: string
  logger: Logger
  handlers: TopicHandlers
  /** Producer for dead letters; when absent the consumer creates and owns one. */
  producer?: BusProducer
  /** Where a new group starts: the earliest record (default) or only new ones. */
  fromBeginning?: boolean
  sessionTimeoutMs?: number
  heartbeatIntervalMs?: number
  rebalanceTimeoutMs?: number
  /** Longest a fetch waits for data, ms. Default 1000. */
  maxWaitTimeMs?: number
  /** Fetch size per partition; a larger first record is still returned. Default 1 MiB. */
  maxBytesPerPartition?: number
  /** How often finished offsets are committed, ms. Default 500. */
  commitIntervalMs?: number
  /** Unfinished records per partition before it is paused. Default 1000. */
  maxPendingPerPartition?: number
  /** How long stop() waits for in-flight handlers before aborting them, ms. Default 30000. */
  stopTimeoutMs?: number
  /** start() waits this long for the first group join, ms (0: do not wait). Default 30000. */
  joinTimeoutMs?: number
  /** Partitions whose batches kafkajs hands over concurrently. Default 4. */
  partitionsConsumedConcurrently?: number
  /** Called when the consumer crashed for good (kafkajs will not restart it). */
  onFatal?: (err: Error) => void
}

export interface PartitionAssignment { topic: string, partitions: number[] }

export interface BusConsumer {
  /** Connects, subscribes to the handlers' topics, runs; resolves after the first group join. */
  start: () => Promise<void>
  /** Stops fetching, lets in-flight handlers finish (up to stopTimeoutMs), commits, leaves the group. */
  stop: () => Promise<void>
  /** Stops fetching the given topics (default all) until resume(); in-flight work goes on. */
  pause: (topics?: TopicKey[]) => void
  resume: (topics?: TopicKey[]) => void
  /** Commits finished offsets now. */
  commit: () => Promise<void>
  /** Partitions this member owns. */
  assignments: () => PartitionAssignment[]
}

interface Work {
  readonly topic: string
  readonly partition: number
  readonly spec: TopicSpec
  readonly handler: TopicHandler<TopicKey>
  readonly policy: RetryPolicy
  readonly maxConcurrency: number
  readonly byKey: boolean
  /** Bytes the records of one fetch may share (detachMessages); 0: an allocation per record. */
  readonly shareBytes: number
  readonly tracker: OffsetTracker
  readonly lanes: Map<string, KafkaMessage[]>
  readonly ready: string[]
  readonly abort: AbortController
  running: number
  lastCommitted: number
  kafkaPaused: boolean
  /** Another member may own it now: never commit for it again. */
  revoked: boolean
}

const DEFAULT_POLICY: RetryPolicy = { maxAttempts: 5, initialBackoffMs: 200, maxBackoffMs: 10_000, exhausted: 'dead-letter' }
/**
 * Most bytes the records of one fetch share in one allocation where records finish together
 * (ordering 'none' with handleBatch; see detachMessages). `pnpm bench billing`: see the README.
 */
const SHARED_DETACH_BYTES = 16 * 1024
const NULL_KEY = '\u0000'

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) { resolve(); return }
    const onAbort = (): void => { clearTimeout(timer); resolve() }
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

function backoff (policy: RetryPolicy, attempt: number): number {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1))
  return Math.round(base * (0.75 + Math.random() * 0.5))
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 1000)

/** Bytes of a record that detaching copies: key, value and header values given as bytes. */
function ownBytes (m: KafkaMessage): number {
  const src = m.headers ?? {}
  let size = (m.key?.length ?? 0) + (m.value?.length ?? 0)
  for (const k in src) {
    const v = src[k]
    if (Array.isArray(v)) { for (const x of v) if (typeof x !== 'string') size += x.length } else if (v !== undefined && typeof v !== 'string') size += v.length
  }
  return size
}

/** The record with its bytes copied into `own` from `at` on (ownBytes(m) bytes of room). */
function detachInto (m: KafkaMessage, own: Buffer, at: number): KafkaMessage {
  const src = m.headers ?? {}
  const copy = (b: Buffer): Buffer => { const view = own.subarray(at, at + b.length); b.copy(own, at); at += b.length; return view }
  const headers: IHeaders = {}
  for (const k in src) {
    const v = src[k]
    headers[k] = Array.isArray(v) ? v.map((x) => typeof x === 'string' ? x : copy(x)) : v === undefined || typeof v === 'string' ? v : copy(v)
  }
  return { ...m, key: m.key == null ? m.key : copy(m.key), value: m.value == null ? m.value : copy(m.value), headers } as KafkaMessage
}

/**
 * The record with bytes of its own. kafkajs hands out views into the whole fetch response, so
 * one record still held (queued behind its key, or its decoded value's bytes fields) would keep
 * every megabyte of the fetch it came in alive. Key, value and header bytes are copied into one
 * exact-size allocation outside Node's buffer pool: records finish out of order, and a pooled
 * copy would let one record still held keep its whole 64 KiB slab (and the other records' bytes
 * in it) alive.
 */
export function detachMessage (m: KafkaMessage): KafkaMessage {
  return detachInto(m, Buffer.allocUnsafeSlow(ownBytes(m)), 0)
}

/**
 * Records of one fetch detached together: consecutive records share an exact-size allocation of
 * up to `shareBytes` (a larger record gets its own), since an allocation outside the heap costs
 * about 2 µs, several times the copy. Only for records that finish together (a handler that takes
 * a partition's ready records in one handleBatch call): one record held keeps at most
 * `shareBytes` alive. `shareBytes` 0: one allocation per record (detachMessage).
 */
export function detachMessages (ms: readonly KafkaMessage[], shareBytes: number): KafkaMessage[] {
  if (shareBytes <= 0) return ms.map(detachMessage)
  const out: KafkaMessage[] = new Array<KafkaMessage>(ms.length)
  const sizes = ms.map(ownBytes)
  for (let i = 0; i < ms.length;) {
    let j = i
    let bytes = 0
    while (j < ms.length && (j === i || bytes + sizes[j]! <= shareBytes)) bytes += sizes[j++]!
    const own = Buffer.allocUnsafeSlow(bytes)
    for (let at = 0; i < j; at += sizes[i]!, i++) out[i] = detachInto(ms[i]!, own, at)
  }
  return out
}

/**
 * A record as handlers see it. A class, not an object literal: a literal with a `log` accessor
 * (a getter closing over the record) is built by V8's slow path, about ten times the cost of an
 * instance (3.3 against 0.3 µs per record), for every record a consumer runs. The logger is made
 * on first use: most records never log, and a child logger per record is a real cost.
 */
class DecodedRecord implements BusRecord<unknown> {
  readonly topic: string
  readonly topicKey: TopicKey
  readonly partition: number
  readonly offset: string
  readonly key: string | null
  readonly value: unknown
  readonly headers: Readonly<Record<string, string>>
  readonly timestamp: number
  readonly traceId: string | undefined
  readonly attempt: number
  readonly assignedAt: number
  readonly signal: AbortSignal
  readonly #root: Logger
  readonly #makeLog: (() => Logger) | undefined
  #log: Logger | undefined

  constructor (w: Work, m: KafkaMessage, headers: Record<string, string>, value: unknown, attempt: number, assignedAt: number, root: Logger, makeLog?: () => Logger) {
    this.topic = w.topic
    this.topicKey = w.spec.key
    this.partition = w.partition
    this.offset = m.offset
    this.key = m.key === null || m.key === undefined ? null : m.key.toString('utf8')
    this.value = value
    this.headers = headers
    this.timestamp = Number(m.timestamp)
    this.traceId = headers[HEADER.traceId]
    this.attempt = attempt
    this.assignedAt = assignedAt
    this.signal = w.abort.signal
    this.#root = root
    this.#makeLog = makeLog
  }

  /** Child logger bound to `{ topic, partition, offset }`, made on first use. */
  get log (): Logger {
    return (this.#log ??= this.#makeLog?.() ?? this.#root.child({ topic: this.topic, partition: this.partition, offset: this.offset }))
  }
}

/** Creates the consumer (not started). See the module comment. */
export function createBusConsumer (opts: BusConsumerOptions): BusConsumer {
  const { kafka, registry, groupId } = opts
  const logger = opts.logger.child({ component: 'bus-consumer', groupId })
  const maxPending = opts.maxPendingPerPartition ?? 1000
  const commitIntervalMs = opts.commitIntervalMs ?? 500
  const stopTimeoutMs = opts.stopTimeoutMs ?? 30_000
  const joinTimeoutMs = opts.joinTimeoutMs ?? 30_000

  const specs = new Map<string, { spec: TopicSpec, handler: TopicHandler<TopicKey> }>()
  for (const [key, handler] of Object.entries(opts.handlers) as [TopicKey, TopicHandler<TopicKey> | undefined][]) {
    if (handler === undefined) continue
    const spec = registry.topic(key)
    if (handler.schema !== undefined && handler.schema !== spec.schema) {
      throw BusErrors.BUS_INVALID_OPTIONS.create({ message: `the handler for ${key} names another schema than the topic's contract` })
    }
    specs.set(spec.name, { spec, handler })
  }
  if (specs.size === 0) throw BusErrors.BUS_INVALID_OPTIONS.create({ message: 'a consumer needs at least one handler' })

  const ownsProducer = opts.producer === undefined
  const producer = opts.producer ?? createBusProducer({ kafka, registry, logger: opts.logger })
  const consumer: Consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: opts.heartbeatIntervalMs ?? 3000,
    rebalanceTimeout: opts.rebalanceTimeoutMs ?? 60_000,
    maxWaitTimeInMs: opts.maxWaitTimeMs ?? 1000,
    maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024
  })

  const works = new Map<string, Work>()
  /** Partitions of the current generation (from GROUP_JOIN); only these are worked on and committed. */
  let owned = new Set<string>()
  /** When each owned partition was assigned to this member (ms since the epoch). */
  const assignedAt = new Map<string, number>()
  const userPaused = new Set<string>()
  let rebalancing = false
  let stopping = false
  let started = false
  /** consumer.run() has been called (kafkajs pause/resume need it). */
  let running = false
  let stopped: Promise<void> | undefined
  let commitTimer: NodeJS.Timeout | undefined
  let commitChain: Promise<void> = Promise.resolve()
  const stopSignal = new AbortController()
  let drainWaiters: (() => void)[] = []

  function newWork (topic: string, partition: number): Work {
    const entry = specs.get(topic)
    if (entry === undefined) throw BusErrors.BUS_UNKNOWN_TOPIC.create({ detail: { topic } })
    const byKey = entry.handler.ordering === 'key' || entry.handler.ordering === 'none'
    return {
      topic,
      partition,
      spec: entry.spec,
      handler: entry.handler,
      policy: { ...DEFAULT_POLICY, ...entry.handler.retry },
      maxConcurrency: byKey ? Math.max(1, entry.handler.maxConcurrency ?? 16) : 1,
      byKey,
      shareBytes: entry.handler.ordering === 'none' && entry.handler.handleBatch !== undefined ? SHARED_DETACH_BYTES : 0,
      tracker: new OffsetTracker(),
      lanes: new Map(),
      ready: [],
      abort: new AbortController(),
      running: 0,
      lastCommitted: -1,
      kafkaPaused: false,
      revoked: false
    }
  }

  function totalRunning (): number {
    let n = 0
    for (const w of works.values()) n += w.running
    return n
  }

  function notifyDrain (): void {
    if (drainWaiters.length > 0 && totalRunning() === 0) for (const f of drainWaiters.splice(0)) f()
  }

  // ---- back-pressure -------------------------------------------------------------------------

  function pausePartition (w: Work): void {
    if (w.kafkaPaused) return
    w.kafkaPaused = true
    // A user-paused topic is paused as a whole; pausing one partition would un-pause the rest.
    if (!userPaused.has(w.topic)) consumer.pause([{ topic: w.topic, partitions: [w.partition] }])
  }

  function maybeResumePartition (w: Work): void {
    if (!w.kafkaPaused || w.tracker.unfinished > maxPending / 2 || w.tracker.size >= maxPending * 10) return
    w.kafkaPaused = false
    if (!userPaused.has(w.topic) && !stopping) consumer.resume([{ topic: w.topic, partitions: [w.partition] }])
  }

  // ---- running records ----------------------------------------------------------------------

  function laneOf (w: Work, m: KafkaMessage): string {
    if (!w.byKey) return ''
    if (w.handler.ordering === 'none') return m.offset // offsets are unique in a partition: one lane each
    return m.key === null || m.key === undefined ? NULL_KEY : m.key.toString('latin1')
  }

  function accept (w: Work, m: KafkaMessage): void {
    w.tracker.add(Number(m.offset))
    const lane = laneOf(w, m)
    const q = w.lanes.get(lane)
    if (q !== undefined) { q.push(m); return } // queued or running: runs after the ones before it
    w.lanes.set(lane, [m])
    w.ready.push(lane)
  }

  function pump (w: Work): void {
    if (w.handler.handleBatch !== undefined && w.handler.ordering === 'none') { pumpBatch(w); return }
    // A handler runs synchronously up to its first await and may stop the consumer meanwhile.
    // eslint-disable-next-line no-unmodified-loop-condition
    while (!rebalancing && !stopping && !w.abort.signal.aborted && w.running < w.maxConcurrency && w.ready.length > 0) {
      const lane = w.ready.shift()!
      const q = w.lanes.get(lane)!
      const m = q.shift()!
      w.running++
      void run(w, m).catch((err: unknown) => {
        // run() handles handler errors itself; anything else is a bug: keep the record unfinished.
        logger.error({ err, topic: w.topic, partition: w.partition, offset: m.offset }, 'unexpected error running a record')
        return false
      }).then((finished) => {
        w.running--
        if (q.length > 0) w.ready.push(lane); else w.lanes.delete(lane)
        if (finished && !w.revoked && owned.has(tpKey(w.topic, w.partition))) {
          if (w.tracker.finish(Number(m.offset))) scheduleCommit()
          maybeResumePartition(w)
        }
        pump(w)
        notifyDrain()
      })
    }
  }

  /** `ordering: 'none'` with handleBatch: the ready records (one per lane) go out together. */
  function pumpBatch (w: Work): void {
    // A handler runs synchronously up to its first await and may stop the consumer meanwhile.
    // eslint-disable-next-line no-unmodified-loop-condition
    while (!rebalancing && !stopping && !w.abort.signal.aborted && w.running < w.maxConcurrency && w.ready.length > 0) {
      const lanes = w.ready.splice(0, w.maxConcurrency - w.running)
      const ms = lanes.map((lane) => { const m = w.lanes.get(lane)![0]!; w.lanes.delete(lane); return m })
      w.running += ms.length
      void runBatch(w, ms).catch((err: unknown) => {
        logger.error({ err, topic: w.topic, partition: w.partition }, 'unexpected error running a batch of records')
        return ms.map(() => false)
      }).then((finished) => {
        w.running -= ms.length
        if (!w.revoked && owned.has(tpKey(w.topic, w.partition))) {
          let moved = false
          for (let i = 0; i < ms.length; i++) if (finished[i] === true && w.tracker.finish(Number(ms[i]!.offset))) moved = true
          if (moved) scheduleCommit()
          maybeResumePartition(w)
        }
        pump(w)
        notifyDrain()
      })
    }
  }

  /** Runs records through handleBatch; records that do not decode, or a failed batch, run one by one. */
  async function runBatch (w: Work, ms: KafkaMessage[]): Promise<boolean[]> {
    const out: boolean[] = new Array<boolean>(ms.length).fill(false)
    let records: BusRecord<unknown>[] = []
    const at: number[] = []
    const alone: Promise<void>[] = []
    const assigned = assignedAt.get(tpKey(w.topic, w.partition)) ?? Date.now()
    // Decoded in a function of its own: this async frame keeps no variable pointing at the last
    // decoded value while the handler waits.
    const decodeAll = (): void => {
      for (let i = 0; i < ms.length; i++) {
        const m = ms[i]!
        const d = decode(w, m)
        // Not decodable: run() dead-letters it with the issue.
        if (!d.ok) { alone.push(run(w, m).then((f) => { out[i] = f })); continue }
        records.push(busRecord(w, m, d.headers, d.value, 1, assigned))
        at.push(i)
      }
    }
    decodeAll()
    if (records.length > 0) {
      const count = records.length
      const started = performance.now()
      try {
        const handled = w.handler.handleBatch!(records as never)
        // The handler keeps what it needs; the decoded records are not held here while it waits
        // (a group-commit batch waits for its transaction, and records in flight are most of
        // what a consumer's heap holds). A retry decodes the kept raw record again.
        records = []
        await handled
        if (channels.handle.hasSubscribers) {
          const durationMs = performance.now() - started
          for (let i = 0; i < count; i++) channels.handle.publish({ topic: w.topic, partition: w.partition, groupId, durationMs, attempt: 1, outcome: 'ok' })
        }
        for (const i of at) out[i] = true
      } catch (err) {
        if (w.abort.signal.aborted || stopping) { await Promise.all(alone); return out }
        logger.warn({ err, topic: w.topic, partition: w.partition, records: records.length }, 'batch handler failed; running its records one by one')
        await Promise.all(at.map(async (i) => { out[i] = await run(w, ms[i]!) }))
      }
    }
    await Promise.all(alone)
    return out
  }

  /**
   * Headers and decoded value of a record, or why it does not match its topic's contract (the
   * dead-letter reason and error).
   */
  function decode (w: Work, m: KafkaMessage):
  | { ok: true, headers: Record<string, string>, value: unknown }
  | { ok: false, reason: 'schema-mismatch' | 'decode', err: Error } {
    const headers = decodeHeaders(m.headers)
    const bytes = m.value ?? Buffer.alloc(0)
    const schema = w.spec.schema
    if (schema === null) return { ok: true, headers, value: bytes }
    const named = headers[HEADER.schema]
    const ct = headers[HEADER.contentType]
    if ((named !== undefined && named !== schema.typeName) || (ct !== undefined && ct !== PROTOBUF_CONTENT_TYPE)) {
      return {
        ok: false,
        reason: 'schema-mismatch',
        err: BusErrors.BUS_SCHEMA_MISMATCH.create({
          message: `expected ${schema.typeName} (${PROTOBUF_CONTENT_TYPE}), got schema=${named ?? '-'} content-type=${ct ?? '-'}`
        })
      }
    }
    try {
      return { ok: true, headers, value: fromBinary(schema, bytes) }
    } catch (cause) {
      return { ok: false, reason: 'decode', err: BusErrors.BUS_DECODE_FAILED.create({ message: `not a valid ${schema.typeName}: ${errorText(cause)}`, cause }) }
    }
  }

  function busRecord (w: Work, m: KafkaMessage, headers: Record<string, string>, value: unknown, attempt: number, assigned: number, log?: () => Logger): BusRecord<unknown> {
    return new DecodedRecord(w, m, headers, value, attempt, assigned, logger, log)
  }

  /** Processes one record; true when it is finished (handled or dead-lettered). */
  async function run (w: Work, m: KafkaMessage): Promise<boolean> {
    // Created on first use: most records never log, and a child logger per record is a real
    // cost (allocation, GC) for a consumer running thousands of records at once.
    let child: Logger | undefined
    const log = (): Logger => (child ??= logger.child({ topic: w.topic, partition: w.partition, offset: m.offset }))
    const d = decode(w, m)
    if (!d.ok) return await deadLetter(w, m, d.reason, d.err, 0, log())
    const { headers, value } = d
    for (let attempt = 1; ; attempt++) {
      if (w.abort.signal.aborted) return false
      const started = performance.now()
      try {
        await w.handler.handle(busRecord(w, m, headers, value, attempt, assignedAt.get(tpKey(w.topic, w.partition)) ?? Date.now(), log) as never)
        channels.handle.publish({ topic: w.topic, partition: w.partition, groupId, durationMs: performance.now() - started, attempt, outcome: 'ok' })
        return true
      } catch (err) {
        const durationMs = performance.now() - started
        // Revoked, or the consumer is stopping (a handler may give its record back then): the
        // record stays unfinished for the next owner, with no retry, dead letter or warning.
        if (w.abort.signal.aborted || stopping) return false
        const coded = findCoexistError(err)
        const permanent = coded !== undefined && !coded.retryable
        const exhausted = attempt >= w.policy.maxAttempts && w.policy.exhausted === 'dead-letter'
        if (permanent || exhausted) {
          channels.handle.publish({ topic: w.topic, partition: w.partition, groupId, durationMs, attempt, outcome: 'dead-letter' })
          log().error({ err, attempt }, 'handler failed; dead-lettering the record')
          return await deadLetter(w, m, 'handler', err, attempt, log())
        }
        channels.handle.publish({ topic: w.topic, partition: w.partition, groupId, durationMs, attempt, outcome: 'retry' })
        log().warn({ err, attempt }, 'handler failed; retrying')
        // A stop interrupts the back-off: the record stays unfinished and is redelivered.
        await sleep(backoff(w.policy, attempt), AbortSignal.any([w.abort.signal, stopSignal.signal]))
        if (stopping) return false
      }
    }
  }

  /** Copies the record to the dead-letter topic with the issue in headers; retries until Kafka takes it. */
  async function deadLetter (w: Work, m: KafkaMessage, reason: string, err: unknown, attempts: number, log: Logger): Promise<boolean> {
    const headers: Record<string, string | Uint8Array> = {}
    for (const [k, v] of Object.entries(m.headers ?? {})) {
      const first = Array.isArray(v) ? v[0] : v
      if (first !== undefined) headers[k] = first
    }
    Object.assign(headers, {
      [DEAD_LETTER_HEADER.reason]: reason,
      [DEAD_LETTER_HEADER.errorCode]: findCode(err) ?? 'UNCODED',
      [DEAD_LETTER_HEADER.error]: errorText(err),
      [DEAD_LETTER_HEADER.sourceTopic]: w.topic,
      [DEAD_LETTER_HEADER.sourcePartition]: String(w.partition),
      [DEAD_LETTER_HEADER.sourceOffset]: m.offset,
      [DEAD_LETTER_HEADER.groupId]: groupId,
      [DEAD_LETTER_HEADER.attempts]: String(attempts),
      [DEAD_LETTER_HEADER.at]: String(Date.now())
    })
    for (let attempt = 1; ; attempt++) {
      if (w.abort.signal.aborted) return false
      try {
        await producer.publishRaw('deadletter', { key: m.key ?? null, value: m.value ?? Buffer.alloc(0), headers })
        channels.deadLetter.publish({ topic: w.topic, partition: w.partition, groupId, reason })
        log.warn({ reason, code: headers[DEAD_LETTER_HEADER.errorCode] }, 'record dead-lettered')
        return true
      } catch (e) {
        log.error({ err: e, attempt }, 'cannot write the dead letter; retrying')
        await sleep(backoff(DEFAULT_POLICY, attempt), AbortSignal.any([w.abort.signal, stopSignal.signal]))
        if (stopping) return false
      }
    }
  }

  // ---- commits ------------------------------------------------------------------------------

  /** Offsets to commit now, for owned partitions whose watermark moved. Synchronous on purpose. */
  function pendingCommits (): { topic: string, partition: number, offset: string, w: Work, c: number }[] {
    const out = []
    for (const w of works.values()) {
      if (!owned.has(tpKey(w.topic, w.partition)) || w.revoked) continue
      const c = w.tracker.committable()
      if (c !== undefined && c > w.lastCommitted) out.push({ topic: w.topic, partition: w.partition, offset: String(c), w, c })
    }
    return out
  }

  /**
   * Sends a commit. `consumer.commitOffsets` binds the group generation synchronously, so a call
   * made before a rejoin completes can only commit in the generation that owned the partitions.
   */
  async function sendCommit (list: ReturnType<typeof pendingCommits>): Promise<void> {
    if (list.length === 0) return
    try {
      await consumer.commitOffsets(list.map(({ topic, partition, offset }) => ({ topic, partition, offset })))
      for (const { w, c, topic, partition, offset } of list) {
        if (c > w.lastCommitted) w.lastCommitted = c
        channels.commit.publish({ groupId, topic, partition, offset })
      }
    } catch (err) {
      // Not fatal: the next commit carries the same or a higher watermark; a lost commit only
      // means redelivery of finished records, which idempotent handlers absorb.
      logger.warn({ err }, 'offset commit failed')
    }
  }

  function commitNow (): Promise<void> {
    commitChain = commitChain.then(() => rebalancing ? undefined : sendCommit(pendingCommits()))
    return commitChain
  }

  function scheduleCommit (): void {
    if (commitTimer !== undefined || stopping) return
    commitTimer = setTimeout(() => { commitTimer = undefined; void commitNow() }, commitIntervalMs)
  }

  // ---- group membership ---------------------------------------------------------------------

  function revoke (w: Work): void {
    w.revoked = true
    w.abort.abort(BusErrors.BUS_CONSUMER_CRASHED.create({ message: `partition ${w.topic}[${w.partition}] revoked` }))
    w.lanes.clear()
    w.ready.length = 0
    if (w.kafkaPaused && !userPaused.has(w.topic)) {
      // kafkajs keeps pause state per topic across generations: leave none behind.
      try { consumer.resume([{ topic: w.topic, partitions: [w.partition] }]) } catch { /* not running */ }
    }
    works.delete(tpKey(w.topic, w.partition))
  }

  consumer.on(consumer.events.REBALANCING, () => {
    rebalancing = true
    channels.rebalance.publish({ groupId, kind: 'rebalancing', assigned: owned.size })
    // Commit while this member still belongs to the old generation (the group accepts commits
    // from it until the rebalance completes): the next owner then starts after our finished work.
    void sendCommit(pendingCommits())
  })

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const next = new Set<string>()
    for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
      for (const p of partitions) next.add(tpKey(topic, p))
    }
    for (const [k, w] of works) if (!next.has(k)) revoke(w)
    const joinedAt = Date.now()
    for (const k of next) if (!owned.has(k) || !assignedAt.has(k)) assignedAt.set(k, joinedAt)
    for (const k of [...assignedAt.keys()]) if (!next.has(k)) assignedAt.delete(k)
    owned = next
    rebalancing = false
    channels.rebalance.publish({ groupId, kind: 'joined', assigned: owned.size })
    logger.info({ assigned: owned.size }, 'joined the consumer group')
    for (const w of works.values()) pump(w)
  })

  consumer.on(consumer.events.CRASH, (e) => {
    // kafkajs left the group before emitting this: every partition may be someone else's now.
    rebalancing = true
    for (const w of [...works.values()]) revoke(w)
    owned = new Set()
    channels.rebalance.publish({ groupId, kind: 'crash', assigned: 0 })
    const err = e.payload.error
    if (e.payload.restart) {
      // A retriable broker answer (a coordinator still loading, a leader moving) needs no stack.
      const retriable = (err as { retriable?: boolean }).retriable === true
      logger.warn(retriable ? { err: { type: err.name, message: err.message } } : { err }, 'Kafka consumer crashed; kafkajs restarts it')
    } else if (!stopping) {
      logger.error({ err }, 'Kafka consumer crashed for good')
      opts.onFatal?.(BusErrors.BUS_CONSUMER_CRASHED.create({ cause: err }))
    }
  })

  async function eachBatch ({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const k = tpKey(batch.topic, batch.partition)
    if (stopping || !owned.has(k)) return
    let w = works.get(k)
    if (w === undefined) { w = newWork(batch.topic, batch.partition); works.set(k, w) }
    // After a rejoin kafkajs refetches kept partitions from the committed offset: records we
    // already hold are resolved, not run twice. Offsets increase within a batch.
    const next = w.tracker.nextExpected()
    const fresh: KafkaMessage[] = []
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || stopping || w.abort.signal.aborted) break
      if (Number(m.offset) >= next) fresh.push(m)
      resolveOffset(m.offset)
    }
    for (const m of detachMessages(fresh, w.shareBytes)) accept(w, m)
    if (w.tracker.unfinished >= maxPending || w.tracker.size >= maxPending * 10) pausePartition(w)
    pump(w)
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  function topicNames (topics?: TopicKey[]): string[] {
    if (topics === undefined) return [...specs.keys()]
    return topics.map((t) => registry.topic(t).name).filter((n) => specs.has(n))
  }

  return {
    async start (): Promise<void> {
      if (started) throw BusErrors.BUS_INVALID_OPTIONS.create({ message: 'consumer already started' })
      started = true
      if (ownsProducer) await producer.connect()
      await consumer.connect()
      await consumer.subscribe({ topics: [...specs.keys()], fromBeginning: opts.fromBeginning ?? true })
      let onJoin!: () => void
      const joined = new Promise<void>((resolve) => { onJoin = resolve })
      const off = consumer.on(consumer.events.GROUP_JOIN, () => onJoin())
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 4,
        eachBatch
      })
      running = true
      if (userPaused.size > 0) consumer.pause([...userPaused].map((topic) => ({ topic })))
      if (joinTimeoutMs > 0) {
        let timer: NodeJS.Timeout | undefined
        const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), joinTimeoutMs) })
        const r = await Promise.race([joined, timedOut])
        clearTimeout(timer)
        off()
        if (r === 'timeout') throw BusErrors.BUS_CONSUMER_JOIN_TIMEOUT.create({ detail: { groupId, joinTimeoutMs } })
      } else {
        off()
      }
    },

    stop (): Promise<void> {
      stopped ??= (async () => {
        stopping = true
        clearTimeout(commitTimer)
        if (running) {
          try { consumer.pause([...specs.keys()].map((topic) => ({ topic }))) } catch { /* not running */ }
        }
        stopSignal.abort()
        if (totalRunning() > 0) {
          let timer: NodeJS.Timeout | undefined
          await Promise.race([
            new Promise<void>((resolve) => { drainWaiters.push(resolve) }),
            new Promise<void>((resolve) => { timer = setTimeout(resolve, stopTimeoutMs) })
          ])
          clearTimeout(timer)
          if (totalRunning() > 0) {
            logger.warn({ running: totalRunning() }, 'stop: handlers still running after stopTimeoutMs; aborting them')
            for (const w of works.values()) w.abort.abort(BusErrors.BUS_CONSUMER_CRASHED.create({ message: 'consumer stopped' }))
          }
        }
        drainWaiters = []
        await commitChain
        if (!rebalancing) await sendCommit(pendingCommits())
        await consumer.disconnect()
        if (ownsProducer) await producer.disconnect()
        works.clear()
        owned = new Set()
      })()
      return stopped
    },

    pause (topics?: TopicKey[]): void {
      const names = topicNames(topics)
      for (const n of names) userPaused.add(n)
      if (running && !stopping) consumer.pause(names.map((topic) => ({ topic })))
    },

    resume (topics?: TopicKey[]): void {
      const names = topicNames(topics)
      for (const n of names) userPaused.delete(n)
      if (!running || stopping) return
      consumer.resume(names.map((topic) => ({ topic })))
      // Partitions held back by back-pressure stay paused.
      for (const w of works.values()) {
        if (names.includes(w.topic) && w.kafkaPaused) consumer.pause([{ topic: w.topic, partitions: [w.partition] }])
      }
    },

    commit: () => commitNow(),

    assignments (): PartitionAssignment[] {
      const byTopic = new Map<string, number[]>()
      for (const k of owned) {
        const [topic, p] = k.split('\u0000') as [string, string]
        byTopic.set(topic, [...byTopic.get(topic) ?? [], Number(p)])
      }
      return [...byTopic].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }))
    }
  }
}

/**
 * The bus producer: idempotent (acks=all, one request in flight), with a group-commit batcher.
 *
 * kafkajs's idempotent producer allows one in-flight request per broker, so per-call `send()`s
 * from many HTTP handlers would queue behind each other. Instead, publish() calls that arrive
 * while the batcher lingers (default 1 ms) or while the previous batch is in flight are gathered
 * into ONE `sendBatch`, and every caller's promise settles with that batch's outcome. Batches
 * are capped by records and bytes (a record larger than the byte cap travels alone).
 *
 * Each publish has a deadline: if Kafka has not acknowledged in time it rejects with the
 * retryable BUS_PUBLISH_TIMEOUT. A record still waiting in the batcher is then withdrawn (it
 * will not be sent: `detail.inFlight === false`); one already in a sent batch may still land
 * (`detail.inFlight === true`), which at-least-once consumers absorb.
 *
 * After a failed batch the kafkajs producer is replaced (a new producer id), so a batch whose
 * outcome is unknown can never make the next batch's sequence numbers collide with it.
 *
 * @example
 * const producer = createBusProducer({ kafka, registry, logger })
 * await producer.connect()
 * await producer.publish('outbound.requests', { key: phoneNumberId, value: create(OutboundRequestSchema, {...}) })
 */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf'
import kafkajs, { type ICustomPartitioner, type Kafka, type Message, type Producer, type RetryOptions } from 'kafkajs'
import type { Logger } from '@coexist/logger'
import { channels, type BatchDiagnostic } from './diagnostics.ts'
import { BusErrors } from './errors.ts'
import { HEADER, PROTOBUF_CONTENT_TYPE, newTraceId } from './headers.ts'
import type { ContractTopicKey, TopicContracts, TopicKey, TopicRegistry, TopicSpec } from './topics.ts'

/** A record for a topic with a contract; the value is encoded with the topic's schema. */
export interface PublishRecord<K extends ContractTopicKey> {
  /** Partition key (see the topic's key meaning); null spreads records over partitions. */
  key: string | Uint8Array | null
  /** The message, or its init shape (`create(schema, value)` is applied). */
  value: MessageInitShape<TopicContracts[K]>
  /** `tenant-id` header; default: the message's `tenantId` field when it has a non-empty one. */
  tenantId?: string
  /** `trace-id` header; default: a new id. */
  traceId?: string
  /** `event-type` header; default: the topic's event type for this value. */
  eventType?: string
  /** Extra headers (the standard ones above win). */
  headers?: Record<string, string | Uint8Array>
  /** Record timestamp, ms since the epoch; default: now (set by Kafka client). */
  timestamp?: number
}

/** A record of pre-encoded bytes (e.g. a dead letter, or a replayed record). */
export interface RawPublishRecord {
  key: string | Uint8Array | null
  value: Uint8Array
  /** Headers as given; `trace-id` is added when missing. */
  headers?: Record<string, string | Uint8Array>
  timestamp?: number
}

export interface PublishOptions {
  /** This publish's deadline, ms (default: the producer's publishTimeoutMs). */
  timeoutMs?: number
}

export interface BusProducerOptions {
  kafka: Kafka
  registry: TopicRegistry
  logger: Logger
  /** How long the batcher gathers records before a send when idle, ms. Default 1. */
  lingerMs?: number
  /** Most records per batch. Default 2000. */
  maxBatchRecords?: number
  /** Most key+value bytes per batch (a bigger single record travels alone). Default 1 MiB. */
  maxBatchBytes?: number
  /** Default deadline of a publish, ms. Default 5000. */
  publishTimeoutMs?: number
  /**
   * A batch is gzip-compressed when its record batches (one per topic partition) average at
   * least this many bytes. Default 16 KiB; Infinity: never.
   */
  compressMinBytes?: number
  /** kafkajs retry for a batch (bounded: see the module comment). Default 5 retries, 100 ms → 1 s. */
  retry?: RetryOptions
}

export interface BusProducer {
  /** Connects (also done lazily by the first publish). Rejects with BUS_NOT_READY when Kafka cannot be reached. */
  connect: () => Promise<void>
  /** Encodes and publishes one record with the standard headers; resolves once Kafka acknowledged it (acks=all). */
  publish: <K extends ContractTopicKey>(topic: K, record: PublishRecord<K>, opts?: PublishOptions) => Promise<void>
  /** Publishes pre-encoded bytes to a registry topic. */
  publishRaw: (topic: TopicKey, record: RawPublishRecord, opts?: PublishOptions) => Promise<void>
  /** Resolves when everything published so far has settled. */
  flush: () => Promise<void>
  /** Refuses new publishes, waits (up to `timeoutMs`, default 10 s) for queued ones, disconnects. */
  disconnect: (opts?: { timeoutMs?: number }) => Promise<void>
}

interface Pending {
  topic: string
  /** The topic's partition count in the registry (for the compression estimate). */
  partitions: number
  message: Message
  bytes: number
  enqueuedAt: number
  /** `enqueuedAt + timeoutMs`: past it, the publish rejects (see armDeadline). */
  deadline: number
  state: 'queued' | 'in-flight' | 'settled'
  timeoutMs: number
  resolve: () => void
  reject: (err: unknown) => void
}

const toBuffer = (v: string | Uint8Array): Buffer | string =>
  typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)

const byteLength = (v: string | Uint8Array | null | undefined): number =>
  v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.byteLength

/** kafkajs error `type`s in an error, its causes and aggregated errors (kafkajs wraps them). */
function kafkaErrorTypes (err: unknown, depth = 0, out: string[] = []): string[] {
  if (err === null || typeof err !== 'object' || depth > 8) return out
  const e = err as { type?: unknown, cause?: unknown, errors?: unknown }
  if (typeof e.type === 'string') out.push(e.type)
  kafkaErrorTypes(e.cause, depth + 1, out)
  if (Array.isArray(e.errors)) for (const x of e.errors) kafkaErrorTypes(x, depth + 1, out)
  return out
}

/**
 * Whether gzip pays for a batch. kafkajs compresses each partition's record batch on its own,
 * so what counts is the bytes per partition, not the batch's total: many small records spread
 * over many partitions (ingress's webhooks) compress poorly, each in its own zlib call, at a
 * CPU cost higher than the rest of their send. Partitions touched are estimated from the
 * distinct keys per topic, at most the topic's partitions (a null key may go anywhere).
 */
export function worthCompressing (records: readonly { topic: string, partitions: number, bytes: number, message: Pick<Message, 'key'> }[], minBytes: number): boolean {
  let bytes = 0
  const keys = new Map<string, { partitions: number, keys: Set<unknown>, nulls: number }>()
  for (const r of records) {
    bytes += r.bytes
    let t = keys.get(r.topic)
    if (t === undefined) { t = { partitions: r.partitions, keys: new Set(), nulls: 0 }; keys.set(r.topic, t) }
    const key = r.message.key
    if (key === null || key === undefined) t.nulls++
    else t.keys.add(typeof key === 'string' ? key : key.toString('latin1'))
  }
  if (bytes < minBytes) return false
  let touched = 0
  for (const t of keys.values()) touched += Math.min(t.keys.size + t.nulls, t.partitions)
  return bytes / Math.max(1, touched) >= minBytes
}

/** Most keys whose partition the memoising partitioner remembers (then it starts over). */
const PARTITION_MEMO_KEYS = 50_000

/**
 * kafkajs's Java-compatible murmur2 partitioner, remembering each string key's partition per
 * partition count: the same few thousand keys (phone number and WABA ids) come back in every
 * batch, and hashing them again was a measurable part of ingress's time per request.
 */
export const memoisingDefaultPartitioner: ICustomPartitioner = () => {
  const partitioner = kafkajs.Partitioners.DefaultPartitioner()
  const memo = new Map<string, number>()
  return (args) => {
    const key = args.message.key
    if (typeof key !== 'string' || args.message.partition !== undefined) return partitioner(args)
    const id = `${args.partitionMetadata.length}:${key}`
    let partition = memo.get(id)
    if (partition === undefined) {
      partition = partitioner(args)
      if (memo.size >= PARTITION_MEMO_KEYS) memo.clear()
      memo.set(id, partition)
    }
    return partition
  }
}

/** Creates the producer (not yet connected). See the module comment. */
export function createBusProducer (opts: BusProducerOptions): BusProducer {
  const { kafka, registry } = opts
  const logger = opts.logger.child({ component: 'bus-producer' })
  const lingerMs = opts.lingerMs ?? 1
  const maxBatchRecords = opts.maxBatchRecords ?? 2000
  const maxBatchBytes = opts.maxBatchBytes ?? 1024 * 1024
  const defaultTimeoutMs = opts.publishTimeoutMs ?? 5000
  const compressMinBytes = opts.compressMinBytes ?? 16 * 1024
  const retry: RetryOptions = { retries: 5, initialRetryTime: 100, maxRetryTime: 1000, ...opts.retry }

  let producer: Producer | undefined
  let connecting: Promise<Producer> | undefined
  let closed = false
  const queue: Pending[] = []
  let queuedBytes = 0
  let inFlight: Promise<void> | undefined
  /** The records of the batch in flight (for their deadlines). */
  let sending: Pending[] = []
  let lingerTimer: NodeJS.Timeout | undefined
  /** One timer for every pending record's deadline, armed for the earliest one it knew of. */
  let deadlineTimer: NodeJS.Timeout | undefined
  let deadlineAt = Infinity
  const idle: (() => void)[] = []

  const newProducer = (): Producer => kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Java-compatible murmur2 partitioning: the same key lands on the same partition as with
    // any other Kafka client (ops tools, replays).
    createPartitioner: memoisingDefaultPartitioner,
    retry
  })

  function connected (): Promise<Producer> {
    if (producer !== undefined) return Promise.resolve(producer)
    connecting ??= (async () => {
      const p = newProducer()
      try {
        await p.connect()
      } catch (err) {
        await p.disconnect().catch(() => {})
        throw err
      }
      if (closed) {
        // disconnect() ran while this connect was pending and did not wait for it.
        await p.disconnect().catch(() => {})
        throw BusErrors.BUS_PRODUCER_CLOSED.create()
      }
      producer = p
      return p
    })().finally(() => { connecting = undefined })
    return connecting
  }

  /** Drops the current kafkajs producer after a failed batch (a fresh producer id next time). */
  function replaceProducer (): void {
    const old = producer
    producer = undefined
    if (old !== undefined) old.disconnect().catch((err: unknown) => logger.debug({ err }, 'disconnecting a failed producer'))
  }

  function settle (p: Pending, err?: unknown): void {
    if (p.state === 'settled') return
    p.state = 'settled'
    if (err === undefined) p.resolve(); else p.reject(err)
  }

  // Deadlines: a timer per record cost an allocation-heavy Timeout and a timer-list insert and
  // removal for each of ingress's ~7,000 records a second, and they almost never fire. Instead one
  // timer is armed for the earliest deadline known; when it fires it fails what is due among the
  // queued and in-flight records and re-arms for the next. A record settled in time costs nothing.
  function armDeadline (at: number): void {
    if (at >= deadlineAt) return
    clearTimeout(deadlineTimer)
    deadlineAt = at
    deadlineTimer = setTimeout(onDeadlines, Math.max(0, at - Date.now()))
  }

  function onDeadlines (): void {
    deadlineTimer = undefined
    deadlineAt = Infinity
    const now = Date.now()
    let next = Infinity
    for (const list of [sending, queue]) {
      for (const p of [...list]) {
        if (p.state === 'settled') continue
        if (p.deadline <= now) onDeadline(p)
        else if (p.deadline < next) next = p.deadline
      }
    }
    if (next !== Infinity) armDeadline(next)
  }

  function onDeadline (p: Pending): void {
    if (p.state === 'settled') return
    const inFlightNow = p.state === 'in-flight'
    if (!inFlightNow) {
      // Withdraw it: it will never be sent.
      const i = queue.indexOf(p)
      if (i >= 0) { queue.splice(i, 1); queuedBytes -= p.bytes }
    }
    channels.publishTimeout.publish({ topic: p.topic, inFlight: inFlightNow, timeoutMs: p.timeoutMs })
    settle(p, BusErrors.BUS_PUBLISH_TIMEOUT.create({
      message: `Kafka did not acknowledge a record for ${p.topic} within ${p.timeoutMs} ms`,
      detail: { topic: p.topic, inFlight: inFlightNow, timeoutMs: p.timeoutMs }
    }))
    notifyIdle()
  }

  function notifyIdle (): void {
    if (queue.length > 0 || inFlight !== undefined) return
    // Nothing pending: no deadline to watch (and no timer keeping the process alive).
    clearTimeout(deadlineTimer); deadlineTimer = undefined; deadlineAt = Infinity
    for (const f of idle.splice(0)) f()
  }

  function schedule (): void {
    if (inFlight !== undefined) return // the in-flight batch's completion sends what gathered meanwhile
    if (queue.length >= maxBatchRecords || queuedBytes >= maxBatchBytes) {
      clearTimeout(lingerTimer); lingerTimer = undefined
      void sendNext()
      return
    }
    lingerTimer ??= setTimeout(() => { lingerTimer = undefined; void sendNext() }, lingerMs)
  }

  function takeBatch (): Pending[] {
    const batch: Pending[] = []
    let bytes = 0
    while (queue.length > 0 && batch.length < maxBatchRecords) {
      const p = queue[0]!
      if (batch.length > 0 && bytes + p.bytes > maxBatchBytes) break
      queue.shift()
      queuedBytes -= p.bytes
      bytes += p.bytes
      batch.push(p)
    }
    return batch
  }

  async function sendNext (): Promise<void> {
    if (inFlight !== undefined || queue.length === 0) { notifyIdle(); return }
    let release!: () => void
    inFlight = new Promise<void>((resolve) => { release = resolve })
    try {
      let p: Producer
      try {
        p = await connected()
      } catch (err) {
        // Not connected: fail what is waiting now (callers answer 5xx at once); the next
        // publish tries to connect again.
        const failed = queue.splice(0)
        queuedBytes = 0
        const e = BusErrors.BUS_PUBLISH_FAILED.create({ message: 'cannot connect to Kafka', cause: err })
        for (const f of failed) settle(f, e)
        logger.warn({ err, records: failed.length }, 'Kafka producer cannot connect')
        return
      }
      const batch = takeBatch()
      if (batch.length === 0) return
      sending = batch
      const started = Date.now()
      const byTopic = new Map<string, Message[]>()
      let bytes = 0
      for (const r of batch) {
        r.state = 'in-flight'
        bytes += r.bytes
        let list = byTopic.get(r.topic)
        if (list === undefined) { list = []; byTopic.set(r.topic, list) }
        list.push(r.message)
      }
      const compressed = compressMinBytes !== Number.POSITIVE_INFINITY && worthCompressing(batch, compressMinBytes)
      const diag: BatchDiagnostic = {
        size: batch.length, bytes, topics: byTopic.size, compressed, latencyMs: 0, waitMs: started - batch[0]!.enqueuedAt, ok: true
      }
      try {
        await p.sendBatch({
          acks: -1,
          timeout: Math.max(...batch.map((r) => r.timeoutMs)),
          ...(compressed ? { compression: kafkajs.CompressionTypes.GZIP } : {}),
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages }))
        })
        diag.latencyMs = Date.now() - started
        for (const r of batch) settle(r)
      } catch (err) {
        diag.latencyMs = Date.now() - started
        diag.ok = false
        diag.error = (err as { type?: string }).type ?? (err as Error).name
        replaceProducer()
        const tooLarge = kafkaErrorTypes(err).includes('MESSAGE_TOO_LARGE')
        const e = tooLarge
          ? BusErrors.BUS_RECORD_TOO_LARGE.create({ cause: err })
          : BusErrors.BUS_PUBLISH_FAILED.create({ cause: err, detail: { topics: [...byTopic.keys()] } })
        for (const r of batch) settle(r, e)
        logger.warn({ err, records: batch.length, topics: [...byTopic.keys()] }, 'Kafka batch failed')
      }
      channels.batch.publish(diag)
    } finally {
      inFlight = undefined
      sending = []
      release()
      if (queue.length > 0) {
        // Group commit: everything that gathered during the send goes now, as one batch.
        void sendNext()
      } else {
        notifyIdle()
      }
    }
  }

  function enqueue (spec: TopicSpec, message: Message, timeoutMs: number): Promise<void> {
    if (closed) return Promise.reject(BusErrors.BUS_PRODUCER_CLOSED.create({ detail: { topic: spec.name } }))
    const bytes = byteLength(message.key as Buffer | string | null | undefined) + byteLength(message.value as Buffer | null)
    if (bytes > spec.maxMessageBytes) {
      return Promise.reject(BusErrors.BUS_RECORD_TOO_LARGE.create({
        message: `a ${bytes}-byte record exceeds ${spec.name}'s max.message.bytes (${spec.maxMessageBytes})`,
        detail: { topic: spec.name, bytes, max: spec.maxMessageBytes }
      }))
    }
    return new Promise<void>((resolve, reject) => {
      const now = Date.now()
      const p: Pending = { topic: spec.name, partitions: spec.partitions, message, bytes, enqueuedAt: now, deadline: now + timeoutMs, state: 'queued', timeoutMs, resolve, reject }
      queue.push(p)
      queuedBytes += bytes
      armDeadline(p.deadline)
      schedule()
    })
  }

  function headersOf (given: Record<string, string | Uint8Array> | undefined, standard: Record<string, string>): Record<string, Buffer | string> {
    const out: Record<string, Buffer | string> = {}
    if (given !== undefined) for (const [k, v] of Object.entries(given)) out[k] = toBuffer(v)
    Object.assign(out, standard)
    return out
  }

  return {
    async connect (): Promise<void> {
      try {
        await connected()
      } catch (err) {
        if (BusErrors.BUS_PRODUCER_CLOSED.is(err)) throw err
        throw BusErrors.BUS_NOT_READY.create({ message: 'cannot connect the Kafka producer', cause: err })
      }
    },

    publish<K extends ContractTopicKey> (key: K, record: PublishRecord<K>, o?: PublishOptions): Promise<void> {
      let spec: TopicSpec<K>
      let value: Uint8Array
      let standard: Record<string, string>
      try {
        spec = registry.topic(key)
        const schema = spec.schema
        if (schema === null) throw BusErrors.BUS_UNKNOWN_TOPIC.create({ message: `${key} has no contract: use publishRaw` })
        const msg = create(schema, record.value as never)
        value = toBinary(schema, msg)
        const tenant = record.tenantId ?? (msg as { tenantId?: unknown }).tenantId
        standard = {
          [HEADER.eventType]: record.eventType ?? spec.eventType(msg as never),
          [HEADER.schema]: schema.typeName,
          [HEADER.contentType]: PROTOBUF_CONTENT_TYPE,
          [HEADER.traceId]: record.traceId ?? newTraceId(),
          ...(typeof tenant === 'string' && tenant !== '' ? { [HEADER.tenantId]: tenant } : {})
        }
      } catch (err) {
        return Promise.reject(err)
      }
      return enqueue(spec, {
        key: record.key === null ? null : toBuffer(record.key),
        value: toBuffer(value) as Buffer,
        headers: headersOf(record.headers, standard),
        ...(record.timestamp !== undefined ? { timestamp: String(record.timestamp) } : {})
      }, o?.timeoutMs ?? defaultTimeoutMs)
    },

    publishRaw (key: TopicKey, record: RawPublishRecord, o?: PublishOptions): Promise<void> {
      let spec: TopicSpec
      try { spec = registry.topic(key) } catch (err) { return Promise.reject(err) }
      const headers = headersOf(record.headers, {})
      headers[HEADER.traceId] ??= newTraceId()
      return enqueue(spec, {
        key: record.key === null ? null : toBuffer(record.key),
        value: toBuffer(record.value) as Buffer,
        headers,
        ...(record.timestamp !== undefined ? { timestamp: String(record.timestamp) } : {})
      }, o?.timeoutMs ?? defaultTimeoutMs)
    },

    flush: () => new Promise<void>((resolve) => {
      idle.push(resolve)
      notifyIdle()
    }),

    async disconnect (o?: { timeoutMs?: number }): Promise<void> {
      closed = true
      const timeoutMs = o?.timeoutMs ?? 10_000
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        new Promise<void>((resolve) => { idle.push(resolve); notifyIdle() }),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
      ])
      clearTimeout(timer)
      clearTimeout(lingerTimer)
      clearTimeout(deadlineTimer); deadlineTimer = undefined; deadlineAt = Infinity
      const e = BusErrors.BUS_PRODUCER_CLOSED.create()
      for (const p of queue.splice(0)) settle(p, e)
      queuedBytes = 0
      // A connect still pending disconnects itself when it ends (see connected()).
      const p = producer
      producer = undefined
      if (p !== undefined) await p.disconnect()
    }
  }
}

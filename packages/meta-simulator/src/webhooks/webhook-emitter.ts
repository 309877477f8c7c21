/**
 * Posts signed webhooks to a target the way Meta does: `Content-Type: application/json`,
 * `X-Hub-Signature-256: sha256=<hex HMAC of the exact bytes>`, only HTTP 200 counts as delivered,
 * anything else (or a network failure) is retried with exponential back-off. On demand it also
 * sends duplicates, reorders a list, and batches several entries and changes into one POST.
 */
import { Agent, request } from 'undici'
import type { Logger } from '@coexist/logger'
import { serializeLikeMeta, signBody } from '@coexist/meta'
import { seededRandom, shuffle } from '../random.ts'

/** Where webhooks go and the app secret that signs them. */
export interface WebhookTarget {
  url: string
  appSecret: string
  /** The Meta app id (informational; the simulator signs with one secret per target). */
  appId?: string
}

/** Retry schedule for non-200 answers and network errors. */
export interface RetryPolicy {
  /** Total attempts including the first. */
  maxAttempts: number
  initialDelayMs: number
  factor: number
  maxDelayMs: number
}

/** Meta retries for hours; the simulator's default is a compressed version of that curve. */
export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({ maxAttempts: 8, initialDelayMs: 500, factor: 2, maxDelayMs: 30_000 })

export interface EmitOptions {
  /** Overrides the emitter's target for this webhook. */
  target?: WebhookTarget
  /** Extra copies of the same bytes to deliver (each retried on its own), as Meta may. */
  duplicates?: number
  /** Wait before the first attempt (ms, real time). */
  delayMs?: number
  /** `invalid` signs with a wrong secret, `missing` leaves the header out. */
  signature?: 'valid' | 'invalid' | 'missing'
  retry?: Partial<RetryPolicy>
}

export interface EmitManyOptions extends EmitOptions {
  /** POSTs in flight at once (Meta delivers concurrently). Default 8. */
  concurrency?: number
  /** Delivery order of the list: as given (default), shuffled (seeded) or reversed. */
  order?: 'as-given' | 'shuffled' | 'reversed'
  seed?: number
  /** Merge bodies into POSTs of at most this many changes (Meta: ≤ 1000 updates per POST). */
  batch?: number
  /** Fraction (0–1) of POSTs that get one duplicate delivery. */
  duplicateRatio?: number
}

/** One HTTP attempt. */
export interface DeliveryAttempt {
  /** Epoch ms (real time) the attempt started. */
  at: number
  /** HTTP status, or 0 when the request failed at the network level. */
  status: number
  error?: string
  durationMs: number
}

/** Outcome of delivering one body (and its duplicates). */
export interface DeliveryResult {
  id: number
  delivered: boolean
  attempts: number
  /** Status of the last attempt (0: network error or no target). */
  status: number
  error?: string
  bytes: number
  duplicates?: DeliveryResult[]
}

/** A delivery kept for inspection (tests, `GET /_sim/webhooks`). */
export interface DeliveryRecord {
  id: number
  fields: string[]
  body: string
  signature: string | undefined
  delivered: boolean
  attempts: DeliveryAttempt[]
  duplicateOf?: number
}

export interface EmitterStats {
  /** POST bodies handed to the emitter (duplicates included). */
  emitted: number
  delivered: number
  /** Attempts after the first (non-200 or network error before). */
  retried: number
  /** Bodies given up after the last attempt, or with no target. */
  failed: number
  /** Bodies not yet delivered or given up (in flight or waiting for a retry). */
  pending: number
  attempts: number
}

export interface WebhookEmitterOptions {
  target?: WebhookTarget
  retry?: Partial<RetryPolicy>
  /** Request timeout per attempt (ms). Default 10 s. */
  timeoutMs?: number
  /** Connections per origin. Default 32. */
  connections?: number
  /** How many delivery records to keep (oldest dropped). Default 10,000. */
  keepRecords?: number
  logger?: Logger
}

/** A body for the emitter: an object (encoded with Meta's escapes) or exact bytes. */
export type WebhookBody = object | string | Buffer

class EmitterClosedError extends Error {
  readonly code = 'SIM_EMITTER_CLOSED'
}

/**
 * Signed webhook delivery with retries, duplicates, reordering and batching.
 *
 * @example
 * const emitter = new WebhookEmitter({ target: { url, appSecret: 's3cret' }, retry: { initialDelayMs: 5 } })
 * const result = await emitter.emit(buildInboundText({ ... }))
 * result.delivered // true once the target answered 200
 */
export class WebhookEmitter {
  #target: WebhookTarget | undefined
  #retry: RetryPolicy
  #agent: Agent
  #timeoutMs: number
  #keep: number
  #log: Logger | undefined
  #nextId = 1
  #records: DeliveryRecord[] = []
  #timers = new Set<{ timer: NodeJS.Timeout, reject: (e: Error) => void }>()
  #closed = false
  #stats: EmitterStats = { emitted: 0, delivered: 0, retried: 0, failed: 0, pending: 0, attempts: 0 }

  constructor (opts: WebhookEmitterOptions = {}) {
    this.#target = opts.target
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry }
    this.#timeoutMs = opts.timeoutMs ?? 10_000
    this.#agent = new Agent({ connections: opts.connections ?? 32, headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs })
    this.#keep = opts.keepRecords ?? 10_000
    this.#log = opts.logger
  }

  get target (): WebhookTarget | undefined { return this.#target }

  /** Sets (or clears) the default target and, optionally, the retry policy. */
  setTarget (target: WebhookTarget | undefined, retry?: Partial<RetryPolicy>): void {
    this.#target = target
    if (retry !== undefined) this.#retry = { ...this.#retry, ...retry }
  }

  setRetry (retry: Partial<RetryPolicy>): void {
    this.#retry = { ...this.#retry, ...retry }
  }

  /** Delivers one body (and `duplicates` copies); resolves when each is delivered or given up. */
  async emit (body: WebhookBody, opts: EmitOptions = {}): Promise<DeliveryResult> {
    const bytes = toBytes(body)
    const copies = Math.max(0, Math.floor(opts.duplicates ?? 0))
    const main = this.#deliver(bytes, opts)
    if (copies === 0) return await main
    const dups = Array.from({ length: copies }, () => this.#deliver(bytes, opts))
    const [first, ...rest] = await Promise.all([main, ...dups])
    return { ...(first as DeliveryResult), duplicates: rest }
  }

  /**
   * Delivers many bodies with bounded concurrency, optionally batched, reordered and duplicated.
   * Results follow the delivery order (after batching and reordering).
   */
  async emitMany (bodies: readonly WebhookBody[], opts: EmitManyOptions = {}): Promise<DeliveryResult[]> {
    let list: WebhookBody[] = opts.batch !== undefined ? batchWebhooks(bodies.map(toObject), opts.batch) : [...bodies]
    if (opts.order === 'reversed') list.reverse()
    if (opts.order === 'shuffled') list = shuffle(list, opts.seed ?? 1)
    const rnd = seededRandom((opts.seed ?? 1) + 7)
    const ratio = opts.duplicateRatio ?? 0
    const results: DeliveryResult[] = new Array(list.length)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < list.length) {
        const i = next++
        const dup = ratio > 0 && rnd() < ratio ? 1 : 0
        results[i] = await this.emit(list[i] as WebhookBody, { ...opts, duplicates: (opts.duplicates ?? 0) + dup })
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 8, list.length)) }, worker))
    return results
  }

  stats (): EmitterStats {
    return { ...this.#stats }
  }

  /** Kept deliveries, oldest first. */
  records (): readonly DeliveryRecord[] {
    return this.#records
  }

  /** Forgets records and counters (not the target). */
  clear (): void {
    this.#records = []
    this.#stats = { emitted: 0, delivered: 0, retried: 0, failed: 0, pending: this.#stats.pending, attempts: 0 }
  }

  /** Cancels pending retries and closes connections. */
  async close (): Promise<void> {
    this.#closed = true
    for (const t of this.#timers) { clearTimeout(t.timer); t.reject(new EmitterClosedError('emitter closed')) }
    this.#timers.clear()
    await this.#agent.close()
  }

  async #deliver (bytes: Buffer, opts: EmitOptions): Promise<DeliveryResult> {
    const id = this.#nextId++
    const target = opts.target ?? this.#target
    const policy = { ...this.#retry, ...opts.retry }
    const signature = target === undefined || opts.signature === 'missing'
      ? undefined
      : signBody(bytes, opts.signature === 'invalid' ? target.appSecret + '-wrong' : target.appSecret)
    const record: DeliveryRecord = { id, fields: fieldsOf(bytes), body: bytes.toString('utf8'), signature, delivered: false, attempts: [] }
    this.#remember(record)
    this.#stats.emitted++
    if (target === undefined) {
      this.#stats.failed++
      return { id, delivered: false, attempts: 0, status: 0, error: 'no webhook target configured', bytes: bytes.length }
    }
    this.#stats.pending++
    try {
      if (opts.delayMs !== undefined && opts.delayMs > 0) await this.#sleep(opts.delayMs)
      let delay = policy.initialDelayMs
      for (let attempt = 1; ; attempt++) {
        if (attempt > 1) this.#stats.retried++
        const a = await this.#attempt(target, bytes, signature)
        record.attempts.push(a)
        this.#stats.attempts++
        if (a.status === 200) {
          record.delivered = true
          this.#stats.delivered++
          return { id, delivered: true, attempts: attempt, status: 200, bytes: bytes.length }
        }
        if (attempt >= policy.maxAttempts || this.#closed) {
          this.#stats.failed++
          this.#log?.warn({ deliveryId: id, status: a.status, error: a.error, attempts: attempt }, 'webhook given up')
          return { id, delivered: false, attempts: attempt, status: a.status, ...(a.error !== undefined ? { error: a.error } : {}), bytes: bytes.length }
        }
        await this.#sleep(delay)
        delay = Math.min(policy.maxDelayMs, delay * policy.factor)
      }
    } catch (err) {
      this.#stats.failed++
      return { id, delivered: false, attempts: record.attempts.length, status: 0, error: (err as Error).message, bytes: bytes.length }
    } finally {
      this.#stats.pending--
    }
  }

  async #attempt (target: WebhookTarget, bytes: Buffer, signature: string | undefined): Promise<DeliveryAttempt> {
    const at = Date.now()
    const started = performance.now()
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'facebookexternalua' }
    if (signature !== undefined) headers['x-hub-signature-256'] = signature
    try {
      const res = await request(target.url, { method: 'POST', headers, body: bytes, dispatcher: this.#agent })
      await res.body.dump()
      return { at, status: res.statusCode, durationMs: performance.now() - started }
    } catch (err) {
      return { at, status: 0, error: (err as Error).message, durationMs: performance.now() - started }
    }
  }

  #sleep (ms: number): Promise<void> {
    if (this.#closed) return Promise.reject(new EmitterClosedError('emitter closed'))
    return new Promise((resolve, reject) => {
      const entry = {
        timer: setTimeout(() => { this.#timers.delete(entry); resolve() }, ms),
        reject
      }
      this.#timers.add(entry)
    })
  }

  #remember (record: DeliveryRecord): void {
    this.#records.push(record)
    if (this.#records.length > this.#keep) this.#records.splice(0, this.#records.length - this.#keep)
  }
}

function toBytes (body: WebhookBody): Buffer {
  if (Buffer.isBuffer(body)) return body
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  return Buffer.from(serializeLikeMeta(body), 'utf8')
}

function toObject (body: WebhookBody): WebhookEnvelopeLike {
  if (Buffer.isBuffer(body) || typeof body === 'string') return JSON.parse(body.toString()) as WebhookEnvelopeLike
  return body as WebhookEnvelopeLike
}

function fieldsOf (bytes: Buffer): string[] {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as WebhookEnvelopeLike
    return [...new Set((v.entry ?? []).flatMap((e) => (e.changes ?? []).map((c) => String(c.field))))]
  } catch {
    return []
  }
}

/** The envelope as far as batching needs it. */
interface WebhookEnvelopeLike {
  object?: string
  entry?: Array<{ id?: string, time?: number, changes?: Array<{ field?: unknown, value?: unknown }> }>
}

/**
 * Merges webhook bodies into as few POST bodies as possible, each with at most `maxChanges`
 * changes; consecutive entries of the same WABA (and time) share one entry, as Meta's batches do.
 */
export function batchWebhooks (bodies: readonly object[], maxChanges = 1000): object[] {
  const out: WebhookEnvelopeLike[] = []
  let cur: WebhookEnvelopeLike | undefined
  let count = 0
  for (const b of bodies as WebhookEnvelopeLike[]) {
    for (const entry of b.entry ?? []) {
      for (const change of entry.changes ?? []) {
        if (cur === undefined || count >= maxChanges) {
          cur = { object: b.object ?? 'whatsapp_business_account', entry: [] }
          out.push(cur)
          count = 0
        }
        const entries = cur.entry as NonNullable<WebhookEnvelopeLike['entry']>
        const last = entries[entries.length - 1]
        if (last !== undefined && last.id === entry.id && last.time === entry.time) (last.changes ??= []).push(change)
        else entries.push({ ...entry, changes: [change] })
        count++
      }
    }
  }
  return out
}

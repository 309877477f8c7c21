/**
 * The simulator's state and decisions, apart from HTTP: numbers, throughput and pair limits,
 * customer service windows, faults, coexistence syncs, records of every send, and the webhook
 * emitter. Graph routes call the `handle…` methods; tests and the control API call the
 * {@link SimulatorControl} methods.
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from '@coexist/logger'
import { systemClock, type Clock } from './clock.ts'
import {
  FaultsSchema, GenerateSchema, NumberConfigSchema, ResetSchema, WebhookTargetSchema, WindowSchema,
  type FaultsInput, type GenerateInput, type NumberConfig, type NumberConfigInput, type ResetInput,
  type WebhookTargetInput, type WindowInput
} from './control/control-schemas.ts'
import { graphError, type GraphErrorAnswer } from './graph/graph-error.ts'
import { DEFAULT_RATES, parsePricingAnalyticsField, pricingAnalytics } from './graph/pricing-analytics.ts'
import type { SendMessageType, SyncType } from '@coexist/meta'
import { validateMarkAsRead, validateSendBody, validateSmbAppData, waIdOf } from './graph/send-validation.ts'
import { PairLimiter } from './limits/pair-limiter.ts'
import { SlidingWindowCounter } from './limits/sliding-window.ts'
import { MediaStore, type StoredMedia } from './media-store.ts'
import { randomDigits, seededRandom } from './random.ts'
import {
  buildAccountUpdateWebhook, buildEchoesWebhook, buildHistoryDeclinedWebhook, buildInboundMessage,
  buildMessagesErrorWebhook, buildMessagesWebhook, buildStateSyncWebhook, buildStatusesWebhook, MEDIA_TYPES,
  pricingFor, type AccountUpdateSpec, type InboundMessageSpec, type InboundType, type MediaType, type NumberRef,
  type Pricing, type PricingCategory, type StatusSpec, type StatusValue, type WebhookEnvelope
} from './webhooks/builders.ts'
import { generateContactsSync, generateHistory } from './webhooks/history-generator.ts'
import {
  WebhookEmitter, type DeliveryRecord, type DeliveryResult, type EmitManyOptions, type EmitOptions,
  type EmitterStats, type WebhookBody, type WebhookEmitterOptions, type WebhookTarget
} from './webhooks/webhook-emitter.ts'

const DAY = 86_400_000
/** The customer service window (facts §6.1). */
export const SERVICE_WINDOW_MS = DAY
/** smb_app_data is accepted within 24 h of onboarding (facts §5.4). */
export const SYNC_WINDOW_MS = DAY
export const DEFAULT_GRAPH_VERSION = 'v24.0'

/** A send Meta accepted. `at` is the arrival time in ms on the simulator's clock. */
export interface SendRecord {
  seq: number
  at: number
  phoneNumberId: string
  wamid: string
  to: string
  waId: string
  type: SendMessageType
  templateName?: string
  pricing: Pricing
  graphVersion: string
  body: unknown
}

/** A send Meta refused (or whose connection was reset). */
export interface RejectionRecord {
  seq: number
  at: number
  phoneNumberId: string
  to?: string
  /** Meta code; null for a connection reset. */
  code: number | null
  httpStatus: number | null
  reason: 'error' | 'reset'
  body?: unknown
}

/** Inbound traffic (user messages, app echoes) the simulator emitted for a number. */
export interface UsageRecord {
  seq: number
  at: number
  phoneNumberId: string
  kind: 'inbound' | 'echo'
  id: string
  /** Whether it was counted against the number's throughput. */
  counted: boolean
}

export interface ReadRecord { seq: number, at: number, phoneNumberId: string, messageId: string }

export interface SyncRequestRecord {
  at: number
  phoneNumberId: string
  syncType: SyncType
  requestId?: string
  /** Meta code when refused. */
  code?: number
  /** Webhooks the sync emitted (filled in as it plays). */
  webhooks: number
  done: boolean
}

export interface SendsFilter {
  phoneNumberId?: string
  /** Only records with `seq` greater than this. */
  since?: number
  /** Leave request bodies out (smaller answers for benchmarks). */
  withoutBodies?: boolean
}

/** Everything recorded about sends: `GET /_sim/sends`. */
export interface SendsReport {
  accepted: SendRecord[]
  rejected: RejectionRecord[]
  inbound: UsageRecord[]
  reads: ReadRecord[]
  /** Highest `seq` handed out so far (pass as `since` to poll). */
  lastSeq: number
}

export interface FaultsView {
  phoneNumberId: string
  latencyMs: number
  jitterMs: number
  failNext: { count: number, code: number } | null
  throttleNext: number
  throttle: boolean
  resetNext: number
  tokenExpiresAt: number | null
}

/** A configured number as the control API shows it. */
export interface NumberView extends NumberConfig {
  mps: number
  onboardedAt: number
  accessTokens: string[]
  faults: FaultsView
  syncs: SyncRequestRecord[]
}

/** `control.inbound(...)`: a user message to a number. */
export interface InboundInput {
  phoneNumberId: string
  /** The user's phone number (ignored with `withoutPhone`). */
  from: string
  /** Business-scoped user id: adds `contacts[].user_id` and `from_user_id`. */
  userId?: string
  /** A user known only by `userId`: `from` and `wa_id` are empty strings (facts §3.1). */
  withoutPhone?: boolean
  name?: string
  type?: InboundType
  text?: string
  refId?: string
  interactiveType?: 'button_reply' | 'list_reply'
  referral?: Record<string, unknown>
  forwarded?: boolean
}

export interface InboundResult {
  wamid: string
  mediaId?: string
  body: WebhookEnvelope
  delivery: DeliveryResult
}

/** Answer of a Graph handler: JSON, raw bytes, or a destroyed connection. */
export type GraphAnswer =
  | { kind: 'json', status: number, body: unknown, delayMs: number }
  | { kind: 'bytes', status: number, contentType: string, body: Buffer, delayMs: number }
  | { kind: 'reset' }

/**
 * The in-process control API (same operations as the HTTP API under `/_sim/`).
 *
 * @example
 * const sim = await startSimulator({ port: 0, clock })
 * sim.control.configureNumber({ phoneNumberId: '620000000000001', wabaId: '310000000000001', displayPhoneNumber: '5511999990000' })
 * await sim.control.inbound({ phoneNumberId: '620000000000001', from: '5511988887777', text: 'hi' })
 */
export interface SimulatorControl {
  readonly clock: Clock
  readonly graphVersion: string
  /** Creates or replaces a number (validated with zod; throws a ZodError on bad input). */
  configureNumber: (input: NumberConfigInput) => NumberView
  removeNumber: (phoneNumberId: string) => boolean
  listNumbers: () => NumberView[]
  getNumber: (phoneNumberId: string) => NumberView | undefined
  /** Accepted sends with arrival times, rejections with codes, inbound usage, reads. */
  sends: (filter?: SendsFilter) => SendsReport
  setFaults: (input: FaultsInput) => FaultsView
  /** Sets the webhook target (null clears it). */
  setWebhookTarget: (input: WebhookTargetInput | null) => void
  openWindow: (input: WindowInput) => void
  isWindowOpen: (phoneNumberId: string, waId: string) => boolean
  reset: (input?: ResetInput) => void
  /** Emits a webhook body (object → Meta's escaped JSON; string/Buffer → exact bytes). */
  emit: (body: WebhookBody, opts?: EmitOptions) => Promise<DeliveryResult>
  emitMany: (bodies: readonly WebhookBody[], opts?: EmitManyOptions) => Promise<DeliveryResult[]>
  /** Builds webhook bodies for a generated event (does not emit). */
  generate: (input: GenerateInput) => WebhookEnvelope[]
  /** Emits a user message to a number (opens the customer service window). */
  inbound: (input: InboundInput, opts?: EmitOptions) => Promise<InboundResult>
  /** Emits an app echo (a message the business sent from the Business App). */
  echo: (input: { phoneNumberId: string, to: string, text?: string }, opts?: EmitOptions) => Promise<DeliveryResult>
  /** Emits a contact add/edit/remove from the Business App address book. */
  contactChange: (input: { phoneNumberId: string, phone: string, action?: 'add' | 'remove', fullName?: string }, opts?: EmitOptions) => Promise<DeliveryResult>
  /** Emits an account_update (PARTNER_ADDED, PARTNER_REMOVED, ACCOUNT_OFFBOARDED, …). */
  accountUpdate: (input: Omit<AccountUpdateSpec, 'at'> & { at?: number }, opts?: EmitOptions) => Promise<DeliveryResult>
  deliveries: () => readonly DeliveryRecord[]
  stats: () => EmitterStats
  syncRequests: () => SyncRequestRecord[]
  /** Resolves once no status timer, sync or emission started by the simulator is pending. */
  whenIdle: () => Promise<void>
}

interface FaultState {
  latencyMs: number
  jitterMs: number
  failNext: { count: number, code: number } | undefined
  throttleNext: number
  throttle: boolean
  resetNext: number
  tokenExpiresAt: number | undefined
}

interface NumberState {
  config: NumberConfig
  ref: NumberRef
  tokens: Set<string>
  mps: number
  onboardedAt: number
  window: SlidingWindowCounter
  pairs: PairLimiter
  /** waId → time of the user's last message. */
  csw: Map<string, number>
  faults: FaultState
  syncs: Map<SyncType, SyncRequestRecord>
}

const noFaults = (): FaultState => ({ latencyMs: 0, jitterMs: 0, failNext: undefined, throttleNext: 0, throttle: false, resetNext: 0, tokenExpiresAt: undefined })

export interface SimulatorOptions {
  clock?: Clock
  /** Version used in generated URLs and the default for status shapes. Default v24.0. */
  graphVersion?: string
  logger?: Logger
  webhookTarget?: WebhookTarget
  emitter?: Omit<WebhookEmitterOptions, 'target' | 'logger'>
  /** Public base URL (for media URLs); set by startSimulator once listening. */
  baseUrl?: string
  /** USD per message by category for `pricing_analytics` costs (illustrative defaults). */
  rates?: Partial<Record<PricingCategory, number>>
  /** Keep request bodies in send records (default true; turn off for long benchmarks). */
  recordBodies?: boolean
}

/** The simulator core; see {@link SimulatorControl} for the control surface. */
export class Simulator implements SimulatorControl {
  readonly clock: Clock
  readonly graphVersion: string
  readonly emitter: WebhookEmitter
  readonly media = new MediaStore()
  baseUrl: string
  #log: Logger | undefined
  #numbers = new Map<string, NumberState>()
  #seq = 0
  #accepted: SendRecord[] = []
  #rejected: RejectionRecord[] = []
  #usage: UsageRecord[] = []
  #reads: ReadRecord[] = []
  #syncRequests: SyncRequestRecord[] = []
  #subscriptions = new Map<string, { at: number, overrideCallbackUri?: string }>()
  #tasks = new Set<Promise<unknown>>()
  #timers = new Map<NodeJS.Timeout, () => void>()
  #closed = false
  #rnd = seededRandom(Date.now() % 1_000_000)
  #rates: Record<PricingCategory, number>
  #recordBodies: boolean
  /** Statuses waiting for a batched webhook, per phone number. */
  #statusBatches = new Map<string, StatusSpec[]>()

  constructor (opts: SimulatorOptions = {}) {
    this.clock = opts.clock ?? systemClock
    this.graphVersion = opts.graphVersion ?? DEFAULT_GRAPH_VERSION
    this.#log = opts.logger
    this.baseUrl = opts.baseUrl ?? 'http://127.0.0.1:8090'
    this.#rates = { ...DEFAULT_RATES, ...opts.rates }
    this.#recordBodies = opts.recordBodies ?? true
    this.emitter = new WebhookEmitter({ ...opts.emitter, ...(opts.webhookTarget !== undefined ? { target: opts.webhookTarget } : {}), ...(opts.logger !== undefined ? { logger: opts.logger } : {}) })
  }

  // ---------------------------------------------------------------------------------------------
  // Control: numbers, faults, windows, target, records

  configureNumber (input: NumberConfigInput): NumberView {
    const config = NumberConfigSchema.parse(input)
    const prev = this.#numbers.get(config.phoneNumberId)
    const tokens = new Set([...(config.accessToken !== undefined ? [config.accessToken] : []), ...(config.accessTokens ?? [])])
    if (tokens.size === 0) tokens.add(`sim-token-${config.phoneNumberId}`)
    const state: NumberState = {
      config,
      ref: { phoneNumberId: config.phoneNumberId, displayPhoneNumber: config.displayPhoneNumber, wabaId: config.wabaId },
      tokens,
      mps: config.mps ?? (config.mode === 'coexistence' ? 20 : 80),
      onboardedAt: config.onboardedAt ?? prev?.onboardedAt ?? this.clock.now(),
      // Reconfiguring keeps the counters: a benchmark may lower a limit mid-run.
      window: prev?.window ?? new SlidingWindowCounter(1000),
      pairs: prev?.pairs ?? new PairLimiter(),
      csw: prev?.csw ?? new Map(),
      faults: prev?.faults ?? noFaults(),
      syncs: config.onboardedAt !== undefined && config.onboardedAt !== prev?.onboardedAt ? new Map() : prev?.syncs ?? new Map()
    }
    this.#numbers.set(config.phoneNumberId, state)
    return this.#view(state)
  }

  removeNumber (phoneNumberId: string): boolean {
    return this.#numbers.delete(phoneNumberId)
  }

  listNumbers (): NumberView[] {
    return [...this.#numbers.values()].map((n) => this.#view(n))
  }

  getNumber (phoneNumberId: string): NumberView | undefined {
    const n = this.#numbers.get(phoneNumberId)
    return n === undefined ? undefined : this.#view(n)
  }

  sends (filter: SendsFilter = {}): SendsReport {
    const since = filter.since ?? 0
    const pnid = filter.phoneNumberId
    // Records are kept in `seq` order: a poll with `since` reads only what came after it.
    const pick = <T extends { seq: number, phoneNumberId: string }>(records: readonly T[]): T[] => {
      const newer = records.slice(firstAfter(records, since))
      return pnid === undefined ? newer : newer.filter((r) => r.phoneNumberId === pnid)
    }
    const strip = <T extends { body?: unknown }>(r: T): T => {
      const { body: _body, ...rest } = r
      return rest as T
    }
    const bodies = filter.withoutBodies !== true
    return {
      accepted: bodies ? pick(this.#accepted) : pick(this.#accepted).map(strip),
      rejected: bodies ? pick(this.#rejected) : pick(this.#rejected).map(strip),
      inbound: pick(this.#usage),
      reads: pick(this.#reads),
      lastSeq: this.#seq
    }
  }

  setFaults (input: FaultsInput): FaultsView {
    const f = FaultsSchema.parse(input)
    const n = this.#requireNumber(f.phoneNumberId)
    if (f.clear) n.faults = noFaults()
    const s = n.faults
    if (f.latencyMs !== undefined) s.latencyMs = f.latencyMs
    if (f.jitterMs !== undefined) s.jitterMs = f.jitterMs
    if (f.failNext !== undefined) s.failNext = f.failNext.count > 0 ? { count: f.failNext.count, code: f.failNext.code } : undefined
    if (f.throttleNext !== undefined) s.throttleNext = f.throttleNext
    if (f.throttle !== undefined) s.throttle = f.throttle
    if (f.resetNext !== undefined) s.resetNext = f.resetNext
    if (f.tokenExpiresAt !== undefined) s.tokenExpiresAt = f.tokenExpiresAt
    if (f.tokenExpired === true && f.tokenExpiresAt === undefined) s.tokenExpiresAt = this.clock.now()
    if (f.tokenExpired === false) s.tokenExpiresAt = undefined
    return faultsView(f.phoneNumberId, s)
  }

  setWebhookTarget (input: WebhookTargetInput | null): void {
    if (input === null) { this.emitter.setTarget(undefined); return }
    const t = WebhookTargetSchema.parse(input)
    const target: WebhookTarget = { url: t.url, appSecret: t.appSecret, ...(t.appId !== undefined ? { appId: t.appId } : {}) }
    const retry = t.retry === undefined ? undefined : Object.fromEntries(Object.entries(t.retry).filter(([, v]) => v !== undefined))
    this.emitter.setTarget(target, retry)
  }

  openWindow (input: WindowInput): void {
    const w = WindowSchema.parse(input)
    const n = this.#requireNumber(w.phoneNumberId)
    if (w.open) n.csw.set(w.waId, w.at ?? this.clock.now())
    else n.csw.delete(w.waId)
  }

  isWindowOpen (phoneNumberId: string, waId: string): boolean {
    const n = this.#numbers.get(phoneNumberId)
    return n !== undefined && this.#windowOpen(n, waIdOf(waId), this.clock.now())
  }

  reset (input: ResetInput = {}): void {
    const r = ResetSchema.parse(input)
    this.#cancelTimers()
    this.#statusBatches.clear()
    if (r.keepNumbers) {
      for (const n of this.#numbers.values()) {
        n.window.clear(); n.pairs.clear(); n.csw.clear(); n.faults = noFaults(); n.syncs.clear()
      }
    } else {
      this.#numbers.clear()
    }
    if (!r.keepTarget) this.emitter.setTarget(undefined)
    this.#accepted = []; this.#rejected = []; this.#usage = []; this.#reads = []; this.#syncRequests = []
    this.#subscriptions.clear()
    this.media.clear()
    this.emitter.clear()
  }

  deliveries (): readonly DeliveryRecord[] { return this.emitter.records() }
  stats (): EmitterStats { return this.emitter.stats() }
  syncRequests (): SyncRequestRecord[] { return [...this.#syncRequests] }

  async whenIdle (): Promise<void> {
    while (this.#tasks.size > 0 || this.#timers.size > 0) {
      await Promise.race([...this.#tasks, new Promise((resolve) => setTimeout(resolve, 5))])
    }
  }

  /** Cancels timers and pending retries and closes the emitter's connections. */
  async close (): Promise<void> {
    this.#closed = true
    this.#cancelTimers()
    await this.emitter.close()
    await Promise.allSettled([...this.#tasks])
  }

  // ---------------------------------------------------------------------------------------------
  // Webhooks

  async emit (body: WebhookBody, opts: EmitOptions = {}): Promise<DeliveryResult> {
    this.#observe(body)
    return await this.#track(this.emitter.emit(body, opts))
  }

  async emitMany (bodies: readonly WebhookBody[], opts: EmitManyOptions = {}): Promise<DeliveryResult[]> {
    for (const b of bodies) this.#observe(b)
    return await this.#track(this.emitter.emitMany(bodies, opts))
  }

  generate (input: GenerateInput): WebhookEnvelope[] {
    const g = GenerateSchema.parse(input)
    const now = this.clock.now()
    switch (g.kind) {
      case 'inbound': {
        const n = this.#requireNumber(g.phoneNumberId)
        return Array.from({ length: g.count }, () => this.#inboundBody(n, {
          phoneNumberId: g.phoneNumberId,
          from: g.from,
          type: g.type,
          ...(g.name !== undefined ? { name: g.name } : {}),
          ...(g.text !== undefined ? { text: g.text } : {}),
          ...(g.refId !== undefined ? { refId: g.refId } : {})
        }).body)
      }
      case 'echo': {
        const n = this.#requireNumber(g.phoneNumberId)
        return [buildEchoesWebhook(n.ref, [{ to: g.to, id: newWamid(waIdOf(g.to)), at: now, type: 'text', payload: { body: g.text } }])]
      }
      case 'contact': {
        const n = this.#requireNumber(g.phoneNumberId)
        return [buildStateSyncWebhook(n.ref, [{ phoneNumber: waIdOf(g.phone), action: g.action, at: now, ...(g.fullName !== undefined ? { fullName: g.fullName } : {}) }])]
      }
      case 'status': {
        const n = this.#requireNumber(g.phoneNumberId)
        const spec: StatusSpec = { id: g.wamid, status: g.status, at: now, recipientId: waIdOf(g.recipientId) }
        if (g.status === 'failed') spec.errors = [{ code: g.errorCode ?? 131026 }]
        return [buildStatusesWebhook(n.ref, [spec])]
      }
      case 'account_update':
        return [buildAccountUpdateWebhook({
          event: g.event,
          wabaId: g.wabaId,
          at: now,
          ...(g.partnerBusinessId !== undefined ? { partnerBusinessId: g.partnerBusinessId } : {}),
          ...(g.phoneNumber !== undefined ? { phoneNumber: g.phoneNumber } : {}),
          ...(g.reason !== undefined ? { disconnection: { reason: g.reason, initiatedBy: g.initiatedBy } } : {})
        })]
      case 'error': {
        const n = this.#requireNumber(g.phoneNumberId)
        return [buildMessagesErrorWebhook(n.ref, g.code)]
      }
    }
  }

  async inbound (input: InboundInput, opts: EmitOptions = {}): Promise<InboundResult> {
    const n = this.#requireNumber(input.phoneNumberId)
    const { body, wamid, mediaId } = this.#inboundBody(n, input)
    const delivery = await this.emit(body, opts)
    return { wamid, ...(mediaId !== undefined ? { mediaId } : {}), body, delivery }
  }

  async echo (input: { phoneNumberId: string, to: string, text?: string }, opts: EmitOptions = {}): Promise<DeliveryResult> {
    const [body] = this.generate({ kind: 'echo', ...input })
    return await this.emit(body as WebhookEnvelope, opts)
  }

  async contactChange (input: { phoneNumberId: string, phone: string, action?: 'add' | 'remove', fullName?: string }, opts: EmitOptions = {}): Promise<DeliveryResult> {
    const [body] = this.generate({ kind: 'contact', ...input })
    return await this.emit(body as WebhookEnvelope, opts)
  }

  async accountUpdate (input: Omit<AccountUpdateSpec, 'at'> & { at?: number }, opts: EmitOptions = {}): Promise<DeliveryResult> {
    return await this.emit(buildAccountUpdateWebhook({ ...input, at: input.at ?? this.clock.now() }), opts)
  }

  // ---------------------------------------------------------------------------------------------
  // Graph API

  /** `POST /{version}/{phone-number-id}/messages`: a send or a mark-as-read. */
  handleMessages (phoneNumberId: string, version: string, token: string | undefined, body: unknown): GraphAnswer {
    const arrival = this.clock.now()
    const pre = this.#preflight(phoneNumberId, token, arrival)
    if ('answer' in pre) {
      this.#reject(phoneNumberId, arrival, pre.answer, body)
      return pre.answer
    }
    const { n, delayMs } = pre
    const json = (a: GraphErrorAnswer): GraphAnswer => {
      this.#reject(phoneNumberId, arrival, { kind: 'json', status: a.status, body: a.body, delayMs }, body)
      return { kind: 'json', status: a.status, body: a.body, delayMs }
    }
    if (body === INVALID_JSON || body === undefined) return json(graphError(100, { details: 'The request body could not be parsed as JSON.' }))
    if (typeof body === 'object' && body !== null && (body as { status?: unknown }).status !== undefined) {
      const r = validateMarkAsRead(body)
      if (!r.ok) return json(r.answer)
      this.#reads.push({ seq: ++this.#seq, at: arrival, phoneNumberId, messageId: r.value.message_id })
      return { kind: 'json', status: 200, body: { success: true }, delayMs }
    }
    if (n.faults.throttle || n.faults.throttleNext > 0) {
      if (n.faults.throttleNext > 0) n.faults.throttleNext--
      return json(graphError(130429))
    }
    const v = validateSendBody(body)
    if (!v.ok) return json(v.answer)
    const req = v.value
    // A business-scoped user id is its own key; a phone number is keyed by its digits (wa_id).
    const waId = req.bsuid ? req.to : waIdOf(req.to)
    if (waId === n.config.displayPhoneNumber) return json(graphError(131021))
    if (n.window.count(arrival) >= n.mps) return json(graphError(130429))
    const windowOpen = this.#windowOpen(n, waId, arrival)
    const freeForm = req.type !== 'template'
    if (freeForm && !windowOpen && n.config.window === 'sync') return json(graphError(131047))
    if (n.config.pairLimit.enabled && !n.pairs.tryTake(waId, arrival, n.config.pairLimit)) return json(graphError(131056))
    n.window.add(arrival)

    const category: PricingCategory = req.type === 'template'
      ? n.config.templates[req.templateName as string] ?? n.config.defaultTemplateCategory
      : 'service'
    const wamid = newWamid(waId)
    const record: SendRecord = {
      seq: ++this.#seq,
      at: arrival,
      phoneNumberId,
      wamid,
      to: req.to,
      waId,
      type: req.type,
      ...(req.templateName !== undefined ? { templateName: req.templateName } : {}),
      pricing: pricingFor(category, windowOpen),
      graphVersion: version,
      body: this.#recordBodies ? body : undefined
    }
    this.#accepted.push(record)
    this.#scheduleStatuses(n, record, freeForm && !windowOpen && n.config.window === 'async', req.bizOpaqueCallbackData)
    const message: Record<string, unknown> = { id: wamid }
    if (req.type === 'template') message.message_status = 'accepted'
    return {
      kind: 'json',
      status: 200,
      body: { messaging_product: 'whatsapp', contacts: [req.bsuid ? { input: req.to, user_id: req.to } : { input: req.to, wa_id: waId }], messages: [message] },
      delayMs
    }
  }

  /** `POST /{version}/{phone-number-id}/smb_app_data`: start the contacts or history sync. */
  handleSmbAppData (phoneNumberId: string, token: string | undefined, body: unknown): GraphAnswer {
    const now = this.clock.now()
    const pre = this.#preflight(phoneNumberId, token, now)
    if ('answer' in pre) return pre.answer
    const { n, delayMs } = pre
    const answer = (a: GraphErrorAnswer): GraphAnswer => ({ kind: 'json', status: a.status, body: a.body, delayMs })
    const v = validateSmbAppData(body === INVALID_JSON ? undefined : body)
    if (!v.ok) return answer(v.answer)
    const syncType: SyncType = v.value.sync_type
    if (n.config.mode !== 'coexistence') {
      return answer(graphError(100, { details: 'This phone number was not onboarded from the WhatsApp Business app.' }))
    }
    const rec: SyncRequestRecord = { at: now, phoneNumberId, syncType, webhooks: 0, done: true }
    let refused: number | undefined
    if (now - n.onboardedAt > SYNC_WINDOW_MS) refused = 2593108
    else if (n.syncs.has(syncType)) refused = 2593107
    if (refused !== undefined) {
      rec.code = refused
      this.#syncRequests.push(rec)
      return answer(graphError(refused))
    }
    rec.requestId = randomDigits(16)
    rec.done = false
    n.syncs.set(syncType, rec)
    this.#syncRequests.push(rec)
    // Answer first, then play the sync, as Meta does ("can take several minutes").
    this.#later(0, () => { this.#track(this.#playSync(n, syncType, rec)) })
    return { kind: 'json', status: 200, body: { messaging_product: 'whatsapp', request_id: rec.requestId }, delayMs }
  }

  /** `GET /{version}/{id}`: a phone number's fields, or a media object's URL. */
  handleGetNode (id: string, token: string | undefined, query: { fields?: string, phone_number_id?: string }): GraphAnswer {
    const now = this.clock.now()
    const media = this.media.get(id)
    if (media !== undefined && !this.#numbers.has(id)) return this.#mediaInfo(media, token, query.phone_number_id, now)
    if (!this.#numbers.has(id)) {
      const waba = [...this.#numbers.values()].filter((n) => n.config.wabaId === id)
      if (waba.length > 0) return this.#wabaNode(id, waba, token, query.fields)
    }
    const pre = this.#preflight(id, token, now)
    if ('answer' in pre) return pre.answer
    const { n, delayMs } = pre
    const all = phoneNumberFields(n)
    const asked = query.fields?.split(',').map((f) => f.trim()).filter((f) => f.length > 0)
    if (asked === undefined || asked.length === 0) {
      const { verified_name, code_verification_status, display_phone_number, quality_rating, platform_type, throughput, id: nid } = all
      return { kind: 'json', status: 200, body: { verified_name, code_verification_status, display_phone_number, quality_rating, platform_type, throughput, id: nid }, delayMs }
    }
    const out: Record<string, unknown> = {}
    for (const f of asked) {
      if (!(f in all)) {
        const e = graphError(100, { message: `(#100) Tried accessing nonexisting field (${f}) on node type (WhatsAppBusinessPhoneNumber)` })
        return { kind: 'json', status: e.status, body: e.body, delayMs }
      }
      out[f] = all[f]
    }
    out.id = n.config.phoneNumberId
    return { kind: 'json', status: 200, body: out, delayMs }
  }

  /** `GET /{version}/{waba-id}/phone_numbers`. */
  handleWabaPhoneNumbers (wabaId: string, token: string | undefined): GraphAnswer {
    const numbers = [...this.#numbers.values()].filter((n) => n.config.wabaId === wabaId)
    const authorised = numbers.some((n) => token !== undefined && n.tokens.has(token))
    if (!authorised) return this.#nodeAuthError(wabaId, token)
    const data = numbers.map((n) => {
      const f = phoneNumberFields(n)
      return { verified_name: f.verified_name, code_verification_status: f.code_verification_status, display_phone_number: f.display_phone_number, quality_rating: f.quality_rating, platform_type: f.platform_type, throughput: f.throughput, id: f.id }
    })
    return { kind: 'json', status: 200, body: { data, paging: { cursors: { before: 'QVFIU0', after: 'QVFIU0' } } }, delayMs: 0 }
  }

  /** `POST /{version}/{waba-id}/subscribed_apps` (optionally with an override callback). */
  handleSubscribe (wabaId: string, token: string | undefined, body: unknown): GraphAnswer {
    const authorised = [...this.#numbers.values()].some((n) => n.config.wabaId === wabaId && token !== undefined && n.tokens.has(token))
    if (!authorised) return this.#nodeAuthError(wabaId, token)
    const uri = (body as { override_callback_uri?: unknown } | undefined)?.override_callback_uri
    this.#subscriptions.set(wabaId, { at: this.clock.now(), ...(typeof uri === 'string' ? { overrideCallbackUri: uri } : {}) })
    return { kind: 'json', status: 200, body: { success: true }, delayMs: 0 }
  }

  /** `GET /{version}/{waba-id}/subscribed_apps`. */
  handleGetSubscriptions (wabaId: string, token: string | undefined): GraphAnswer {
    const authorised = [...this.#numbers.values()].some((n) => n.config.wabaId === wabaId && token !== undefined && n.tokens.has(token))
    if (!authorised) return this.#nodeAuthError(wabaId, token)
    const sub = this.#subscriptions.get(wabaId)
    const appId = this.emitter.target?.appId ?? '1000000000000001'
    const data = sub === undefined
      ? []
      : [{ whatsapp_business_api_data: { id: appId, link: `https://www.facebook.com/games/?app_id=${appId}`, name: 'Coexist' }, ...(sub.overrideCallbackUri !== undefined ? { override_callback_uri: sub.overrideCallbackUri } : {}) }]
    return { kind: 'json', status: 200, body: { data }, delayMs: 0 }
  }

  /** WABAs the app subscribed to (with any override callback URL). */
  subscriptions (): Array<{ wabaId: string, at: number, overrideCallbackUri?: string }> {
    return [...this.#subscriptions].map(([wabaId, s]) => ({ wabaId, ...s }))
  }

  /** `POST /{version}/{phone-number-id}/media`: stores the uploaded file. */
  handleUpload (phoneNumberId: string, token: string | undefined, file: { bytes: Buffer, mimeType: string } | undefined): GraphAnswer {
    const now = this.clock.now()
    const pre = this.#preflight(phoneNumberId, token, now)
    if ('answer' in pre) return pre.answer
    if (file === undefined) {
      const e = graphError(131008, { details: 'The parameter file is required.' })
      return { kind: 'json', status: e.status, body: e.body, delayMs: pre.delayMs }
    }
    const m = this.media.put(phoneNumberId, file.bytes, file.mimeType, now)
    return { kind: 'json', status: 200, body: { id: m.id }, delayMs: pre.delayMs }
  }

  /** `DELETE /{version}/{media-id}`. */
  handleDeleteMedia (mediaId: string, token: string | undefined): GraphAnswer {
    const m = this.media.get(mediaId)
    if (m === undefined) return this.#nodeAuthError(mediaId, token)
    const owner = this.#numbers.get(m.phoneNumberId)
    if (owner === undefined || token === undefined || !owner.tokens.has(token)) return this.#nodeAuthError(mediaId, token)
    return { kind: 'json', status: 200, body: { success: true }, delayMs: 0 }
  }

  /** The media download URL: bytes with the Bearer token, 404 once the URL expired. */
  handleMediaDownload (query: { mid?: string, exp?: string, hash?: string }, token: string | undefined): GraphAnswer {
    const r = this.media.resolve(query, this.clock.now())
    if (r === 'not_found' || r === 'expired') return { kind: 'json', status: 404, body: { error: 'media url not found or expired' }, delayMs: 0 }
    const owner = this.#numbers.get(r.phoneNumberId)
    if (owner === undefined || token === undefined || !owner.tokens.has(token)) {
      const e = graphError(190, { details: 'Invalid OAuth access token - Cannot parse access token' })
      return { kind: 'json', status: e.status, body: e.body, delayMs: 0 }
    }
    return { kind: 'bytes', status: 200, contentType: r.mimeType, body: r.bytes, delayMs: 0 }
  }

  /** Unknown Graph path or object (Meta: code 100, subcode 33). */
  unknownObject (id: string, method = 'get'): GraphAnswer {
    const e = graphError(100, {
      subcode: 33,
      message: `Unsupported ${method} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`
    })
    return { kind: 'json', status: e.status, body: e.body, delayMs: 0 }
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  #preflight (phoneNumberId: string, token: string | undefined, now: number): { n: NumberState, delayMs: number } | { answer: GraphAnswer } {
    const n = this.#numbers.get(phoneNumberId)
    if (n === undefined) return { answer: this.#nodeAuthError(phoneNumberId, token) }
    const f = n.faults
    const delayMs = f.latencyMs + (f.jitterMs > 0 ? Math.floor(this.#rnd() * f.jitterMs) : 0)
    if (f.resetNext > 0) { f.resetNext--; return { answer: { kind: 'reset' } } }
    if (f.failNext !== undefined && f.failNext.count > 0) {
      const code = f.failNext.code
      if (--f.failNext.count === 0) f.failNext = undefined
      const e = graphError(code)
      return { answer: { kind: 'json', status: e.status, body: e.body, delayMs } }
    }
    // The number's own tokens first: the scan over every number is for the error case only.
    if (token === undefined || (!n.tokens.has(token) && !this.#tokenKnown(token))) {
      const e = graphError(190, { details: 'Invalid OAuth access token - Cannot parse access token' })
      return { answer: { kind: 'json', status: e.status, body: e.body, delayMs } }
    }
    if (!n.tokens.has(token)) return { answer: { ...this.unknownObject(phoneNumberId, 'post'), delayMs } as GraphAnswer }
    if (f.tokenExpiresAt !== undefined && now >= f.tokenExpiresAt) {
      const when = new Date(f.tokenExpiresAt).toUTCString()
      const e = graphError(190, { subcode: 463, details: `Error validating access token: Session has expired on ${when}. The current time is ${new Date(now).toUTCString()}.` })
      return { answer: { kind: 'json', status: e.status, body: e.body, delayMs } }
    }
    return { n, delayMs }
  }

  #nodeAuthError (id: string, token: string | undefined): GraphAnswer {
    if (token === undefined || !this.#tokenKnown(token)) {
      const e = graphError(190, { details: 'Invalid OAuth access token - Cannot parse access token' })
      return { kind: 'json', status: e.status, body: e.body, delayMs: 0 }
    }
    return this.unknownObject(id)
  }

  #tokenKnown (token: string): boolean {
    for (const n of this.#numbers.values()) if (n.tokens.has(token)) return true
    return false
  }

  #mediaInfo (m: StoredMedia, token: string | undefined, phoneNumberId: string | undefined, now: number): GraphAnswer {
    const owner = this.#numbers.get(m.phoneNumberId)
    if (owner === undefined || token === undefined || !owner.tokens.has(token) || (phoneNumberId !== undefined && phoneNumberId !== m.phoneNumberId)) {
      return this.#nodeAuthError(m.id, token)
    }
    return {
      kind: 'json',
      status: 200,
      body: { messaging_product: 'whatsapp', url: this.media.url(this.baseUrl, m, now), mime_type: m.mimeType, sha256: m.sha256, file_size: String(m.bytes.length), id: m.id },
      delayMs: 0
    }
  }

  /** `GET /{waba-id}`: a few WABA fields, or `pricing_analytics` over the accepted sends. */
  #wabaNode (wabaId: string, numbers: NumberState[], token: string | undefined, fields: string | undefined): GraphAnswer {
    if (token === undefined || !numbers.some((n) => n.tokens.has(token))) return this.#nodeAuthError(wabaId, token)
    if (fields !== undefined && fields.startsWith('pricing_analytics')) {
      const q = parsePricingAnalyticsField(fields)
      if (q === undefined) {
        const e = graphError(100, { details: 'pricing_analytics needs start, end and granularity (HALF_HOUR, DAILY, MONTHLY).' })
        return { kind: 'json', status: e.status, body: e.body, delayMs: 0 }
      }
      const display = new Map(numbers.map((n) => [n.config.phoneNumberId, n.config.displayPhoneNumber]))
      const sends = this.#accepted
        .filter((a) => display.has(a.phoneNumberId))
        .map((a) => ({ at: a.at, waId: a.waId, displayPhoneNumber: display.get(a.phoneNumberId) as string, category: a.pricing.category, type: a.pricing.type }))
      return { kind: 'json', status: 200, body: { ...pricingAnalytics(sends, q, this.#rates), id: wabaId }, delayMs: 0 }
    }
    return { kind: 'json', status: 200, body: { id: wabaId, name: `${numbers[0]?.config.verifiedName ?? 'Coexist'} WABA`, currency: 'USD', timezone_id: '1', message_template_namespace: `sim_${wabaId}` }, delayMs: 0 }
  }

  #reject (phoneNumberId: string, at: number, a: GraphAnswer, body: unknown): void {
    const to = typeof body === 'object' && body !== null && typeof (body as { to?: unknown }).to === 'string' ? (body as { to: string }).to : undefined
    const code = a.kind === 'json' ? ((a.body as { error?: { code?: number } }).error?.code ?? null) : null
    this.#rejected.push({
      seq: ++this.#seq,
      at,
      phoneNumberId,
      ...(to !== undefined ? { to } : {}),
      code,
      httpStatus: a.kind === 'reset' ? null : a.status,
      reason: a.kind === 'reset' ? 'reset' : 'error',
      ...(body !== INVALID_JSON && body !== undefined && this.#recordBodies ? { body } : {})
    })
  }

  #windowOpen (n: NumberState, waId: string, now: number): boolean {
    const last = n.csw.get(waId)
    return last !== undefined && now - last < SERVICE_WINDOW_MS
  }

  #requireNumber (phoneNumberId: string): NumberState {
    const n = this.#numbers.get(phoneNumberId)
    if (n === undefined) throw Object.assign(new Error(`unknown phone number ${phoneNumberId}: configure it first`), { code: 'SIM_UNKNOWN_NUMBER', statusCode: 404 })
    return n
  }

  #inboundBody (n: NumberState, input: InboundInput): { body: WebhookEnvelope, wamid: string, mediaId?: string } {
    const type = input.type ?? 'text'
    const from = input.withoutPhone === true && input.userId !== undefined ? '' : waIdOf(input.from)
    const wamid = newWamid(from === '' ? input.userId as string : from)
    const spec: InboundMessageSpec = { type, from, id: wamid, at: this.clock.now(), businessNumber: n.config.displayPhoneNumber }
    if (input.userId !== undefined) spec.fromUserId = input.userId
    if (input.text !== undefined) spec.text = input.text
    if (input.refId !== undefined) spec.refId = input.refId
    if (input.interactiveType !== undefined) spec.interactiveType = input.interactiveType
    if (input.referral !== undefined) spec.referral = input.referral
    if (input.forwarded !== undefined) spec.forwarded = input.forwarded
    let mediaId: string | undefined
    if ((MEDIA_TYPES as readonly string[]).includes(type)) {
      const ref = this.media.create(n.config.phoneNumberId, type as MediaType, spec.at)
      const stored = this.media.get(ref.id) as StoredMedia
      spec.media = { ...ref, url: this.media.url(this.baseUrl, stored, spec.at) }
      if (type === 'document') spec.filename = 'invoice.pdf'
      mediaId = ref.id
    }
    const body = buildMessagesWebhook(n.ref, [{ message: buildInboundMessage(spec), waId: from, name: input.name ?? 'Customer', ...(input.userId !== undefined ? { userId: input.userId } : {}) }])
    return { body, wamid, ...(mediaId !== undefined ? { mediaId } : {}) }
  }

  /**
   * Side effects of emitting a webhook, at emission time: user messages open the sender's
   * window and, like app echoes, use the number's throughput (when configured to).
   */
  #observe (body: WebhookBody): void {
    let v: { entry?: Array<{ changes?: Array<{ field?: string, value?: Record<string, unknown> }> }> }
    try {
      v = (Buffer.isBuffer(body) || typeof body === 'string' ? JSON.parse(body.toString()) : body) as typeof v
    } catch {
      return
    }
    const now = this.clock.now()
    for (const entry of v.entry ?? []) {
      for (const change of entry.changes ?? []) {
        const value = change.value ?? {}
        const pnid = (value.metadata as { phone_number_id?: string } | undefined)?.phone_number_id
        const n = pnid === undefined ? undefined : this.#numbers.get(pnid)
        if (n === undefined) continue
        if (change.field === 'messages' && Array.isArray(value.messages)) {
          for (const m of value.messages as Array<{ from?: string, from_user_id?: string, id?: string, type?: string }>) {
            const counted = n.config.inboundCountsTowardsThroughput
            if (counted) n.window.add(now)
            this.#usage.push({ seq: ++this.#seq, at: now, phoneNumberId: n.config.phoneNumberId, kind: 'inbound', id: String(m.id), counted })
            // Any user message opens or refreshes the 24 h window; a number change notice does not.
            // A user without a phone number is keyed by the BSUID (what a send's `recipient` carries).
            const key = typeof m.from === 'string' && m.from !== '' ? m.from : m.from_user_id
            if (key !== undefined && key !== '' && m.type !== 'system') n.csw.set(key, now)
          }
        } else if (change.field === 'smb_message_echoes' && Array.isArray(value.message_echoes)) {
          for (const e of value.message_echoes as Array<{ id?: string }>) {
            const counted = n.config.echoesCountTowardsThroughput
            if (counted) n.window.add(now)
            this.#usage.push({ seq: ++this.#seq, at: now, phoneNumberId: n.config.phoneNumberId, kind: 'echo', id: String(e.id), counted })
          }
        }
      }
    }
  }

  #scheduleStatuses (n: NumberState, rec: SendRecord, windowFailure: boolean, bizOpaque: string | undefined): void {
    const s = n.config.statuses
    if (s.upTo === 'none' || this.emitter.target === undefined) return
    const major = Number(/^v(\d+)/.exec(rec.graphVersion)?.[1] ?? 24)
    const conversationId = randomBytes(16).toString('hex')
    const emit = (status: StatusValue, withPricing: boolean): void => {
      const at = this.clock.now()
      const spec: StatusSpec = { id: rec.wamid, status, at, recipientId: rec.waId }
      if (bizOpaque !== undefined) spec.bizOpaqueCallbackData = bizOpaque
      if (status === 'failed') spec.errors = [{ code: 131047 }]
      else {
        // v23 and older still carry conversation{}; expiration_timestamp only on `sent` (facts §3.6).
        if (major < 24) spec.conversation = { id: conversationId, originType: rec.pricing.category, ...(status === 'sent' ? { expirationTimestamp: String(Math.floor((at + DAY) / 1000)) } : {}) }
        if (withPricing) spec.pricing = rec.pricing
      }
      if (s.batchMs === 0) { void this.emit(buildStatusesWebhook(n.ref, [spec])); return }
      const key = n.config.phoneNumberId
      const batch = this.#statusBatches.get(key)
      if (batch !== undefined && batch.length < 1000) { batch.push(spec); return }
      if (batch !== undefined) void this.emit(buildStatusesWebhook(n.ref, batch))
      this.#statusBatches.set(key, [spec])
      this.#later(s.batchMs, () => {
        const due = this.#statusBatches.get(key)
        if (due === undefined) return
        this.#statusBatches.delete(key)
        void this.emit(buildStatusesWebhook(n.ref, due))
      })
    }
    if (windowFailure) { this.#later(s.sentAfterMs, () => { emit('failed', false) }); return }
    this.#later(s.sentAfterMs, () => { emit('sent', true) })
    // A reaction only ever gets `sent` (facts §6.2).
    if (rec.type === 'reaction' || s.upTo === 'sent') return
    // Pricing rides on `sent` and on one of delivered/read, not both (facts §3.5).
    this.#later(s.deliveredAfterMs, () => { emit('delivered', true) })
    if (s.upTo === 'read') this.#later(s.readAfterMs, () => { emit('read', false) })
  }

  async #playSync (n: NumberState, type: SyncType, rec: SyncRequestRecord): Promise<void> {
    try {
      if (this.emitter.target === undefined) return
      const now = this.clock.now()
      if (type === 'smb_app_state_sync') {
        const bodies = generateContactsSync(n.ref, n.config.sync.contacts, now)
        rec.webhooks = bodies.length
        await this.emitMany(bodies, { concurrency: 2 })
        return
      }
      const h = n.config.sync.history
      if (h.declined) {
        rec.webhooks = 1
        await this.emit(buildHistoryDeclinedWebhook(n.ref))
        return
      }
      const history = generateHistory(n.ref, h, n.onboardedAt, (mt) => this.media.create(n.config.phoneNumberId, mt, now))
      rec.webhooks = history.chunks.length + history.media.length
      await this.emitMany(history.chunks, { concurrency: h.concurrency, order: h.order, seed: h.seed })
      if (history.media.length > 0) {
        if (h.mediaDelayMs > 0) await new Promise((resolve) => { this.#later(h.mediaDelayMs, () => { resolve(undefined) }) })
        await this.emitMany(history.media, { concurrency: h.concurrency })
      }
    } catch (err) {
      this.#log?.warn({ err, phoneNumberId: n.config.phoneNumberId, syncType: type }, 'sync emission failed')
    } finally {
      rec.done = true
    }
  }

  #later (ms: number, fn: () => void): void {
    if (this.#closed) return
    const timer = setTimeout(() => { this.#timers.delete(timer); fn() }, ms)
    this.#timers.set(timer, fn)
  }

  #cancelTimers (): void {
    for (const t of this.#timers.keys()) clearTimeout(t)
    this.#timers.clear()
  }

  #track<T> (p: Promise<T>): Promise<T> {
    this.#tasks.add(p)
    void p.finally(() => this.#tasks.delete(p)).catch(() => {})
    return p
  }

  #view (n: NumberState): NumberView {
    return {
      ...n.config,
      mps: n.mps,
      onboardedAt: n.onboardedAt,
      accessTokens: [...n.tokens],
      faults: faultsView(n.config.phoneNumberId, n.faults),
      syncs: [...n.syncs.values()]
    }
  }
}

/** Index of the first record with `seq` above `since` in records kept in `seq` order. */
function firstAfter (records: ReadonlyArray<{ seq: number }>, since: number): number {
  let lo = 0
  let hi = records.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    // Written as "not after" so a NaN `since` keeps nothing, as a scan comparing `seq > since` does.
    if (!((records[mid] as { seq: number }).seq > since)) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Marker the Graph JSON parser hands over for a body that is not JSON. */
export const INVALID_JSON: unique symbol = Symbol('invalid json')

function faultsView (phoneNumberId: string, f: FaultState): FaultsView {
  return {
    phoneNumberId,
    latencyMs: f.latencyMs,
    jitterMs: f.jitterMs,
    failNext: f.failNext === undefined ? null : { ...f.failNext },
    throttleNext: f.throttleNext,
    throttle: f.throttle,
    resetNext: f.resetNext,
    tokenExpiresAt: f.tokenExpiresAt ?? null
  }
}

/** Meta's `throughput.level` for a limit (STANDARD = 80 mps, HIGH = 1,000 mps). */
function throughputLevel (mps: number): string {
  return mps >= 1000 ? 'HIGH' : 'STANDARD'
}

function phoneNumberFields (n: NumberState): Record<string, unknown> {
  const c = n.config
  return {
    verified_name: c.verifiedName,
    code_verification_status: 'VERIFIED',
    display_phone_number: '+' + c.displayPhoneNumber,
    quality_rating: 'GREEN',
    platform_type: 'CLOUD_API',
    throughput: { level: throughputLevel(n.mps) },
    is_on_biz_app: c.mode === 'coexistence',
    name_status: 'APPROVED',
    status: 'CONNECTED',
    messaging_limit_tier: 'TIER_2K',
    whatsapp_business_manager_messaging_limit: 'TIER_2K',
    is_official_business_account: false,
    id: c.phoneNumberId
  }
}

let wamidSeq = 0
/** Random bytes for wamids, drawn 4 KiB at a time (one small randomBytes call per send is a costly syscall). */
let randomPool = Buffer.alloc(0)
let randomAt = 0
/** Bytes around the recipient in a wamid's payload. */
const WAMID_HEAD = [0x1c, 0x18]
const WAMID_MIDDLE = [0x15, 0x02, 0x00, 0x11, 0x18, 0x12]

/**
 * A new wamid shaped like Meta's: `wamid.` + standard base64 (which can contain `+`, `/` and `=`,
 * so receivers meet `\/` in webhook bytes). The payload is `1c 18 <length> <wa_id> 15 02 00 11 18
 * 12`, 9 random bytes and a sequence number in ASCII digits, written into one buffer.
 */
export function newWamid (waId: string): string {
  const seq = String(++wamidSeq)
  const payload = Buffer.allocUnsafe(3 + Buffer.byteLength(waId) + WAMID_MIDDLE.length + 9 + seq.length)
  if (randomAt + 9 > randomPool.length) { randomPool = randomBytes(4096); randomAt = 0 }
  let at = 0
  payload[at++] = WAMID_HEAD[0] as number
  payload[at++] = WAMID_HEAD[1] as number
  payload[at++] = waId.length & 0xff
  at += payload.write(waId, at)
  for (const b of WAMID_MIDDLE) payload[at++] = b
  at += randomPool.copy(payload, at, randomAt, randomAt + 9)
  randomAt += 9
  payload.write(seq, at, 'latin1')
  return 'wamid.' + payload.toString('base64')
}

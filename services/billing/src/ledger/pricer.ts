// The ledger engine: one transaction per batch of facts. Invariant 6 ("charged exactly once")
// rests on three things here:
//   - one line per wamid (primary key): existing lines are locked (FOR UPDATE, in wamid order)
//     before anything reads or changes them; new ones are inserted, and a line another
//     transaction inserted meanwhile fails the insert on the primary key and retries the batch;
//   - facts merge monotonically into the line (earliest send time, highest delivery rank, Meta's
//     pricing from the highest status), so a duplicate or a late, older record changes nothing;
//   - the verdict and price are recomputed from the merged facts and only the *difference* to what
//     the line already billed moves the tenant's balance, in the same transaction.
// A replay of the topics into an empty database gives the same ledger, except that which message
// is the N-th of a month at a volume-tier boundary follows processing order (see tierPosition).
import { sql, type Db } from '@coexist/db'
import type { Logger } from '@coexist/logger'
import { hash } from 'node:crypto'
import { utcMonth } from '../domain/balance.ts'
import { normalizeCategory, tierCounterCategory, type Category, type FreeReason, type PricingType } from '../domain/categories.ts'
import { marketOf } from '../domain/markets.ts'
import { billedPrice, type Markup } from '../domain/money.ts'
import {
  CSW_MS, FEP_MS, cardFor, classifyOwn, settle, unitPrice, windowsAt,
  type Delivery, type InboundFact, type LineState, type MetaPricing, type Origin, type OwnClassification
} from '../domain/pricing.ts'
import { localDate, localMonth } from '../domain/zoned-time.ts'
import type { AccountCache, Account } from './accounts.ts'
import { applyBalanceDeltas, frameEvents, insertOutbox, type BalanceDelta, type OutboxRow, type Tx } from './balances.ts'
import { deliveryOf, normalizeRecipient, pricingRank, type Fact, type InboundMessageFact, type MessageFact, type TierFact } from './facts.ts'
import type { RateBook } from './rate-book.ts'
import { PgArrayValueError, PgArrayWriter, type PgArrayType } from './pg-array.ts'
import { encodeUsageRecord } from './usage-record.ts'

interface Clock { now: () => number }

export interface PricerDeps {
  db: Db
  rateBook: RateBook
  accounts: AccountCache
  clock: Clock
  logger: Logger
}

export interface ApplyResult {
  /** Ledger lines looked at (batch lines and lines a window or tier change touched). */
  lines: number
  /** Lines whose verdict or price changed. */
  changed: number
  /** Events written to the outbox. */
  events: number
}

const USAGE_EVENT_TYPE = 'billing.usage_recorded'
const USAGE_SCHEMA = 'coexist.billing.v1.UsageRecord'

const DELIVERY_RANK: Record<Delivery, number> = { pending: 0, failed: 1, delivered: 2 }

/** A ledger line in memory. */
interface Line {
  wamid: string
  tenantId: string | null
  wabaId: string | null
  phoneNumberId: string
  recipient: string
  market: string | null
  country: string | null
  currency: string | null
  timezone: string | null
  origin: Origin
  isTemplate: boolean | null
  categoryHint: Category | null
  sentAt: number
  delivery: Delivery
  deliveredAt: number | null
  metaRank: number
  meta: MetaPricing | null
  own: OwnClassification
  state: LineState
  category: Category | null
  freeReason: FreeReason | null
  pricingType: PricingType | null
  decidedBy: 'meta' | 'own' | 'none'
  rateCardId: string | null
  rateCardVersion: string | null
  tierMonth: string | null
  tierPosition: number | null
  tier: string | null
  unitPriceMicros: number
  billedPriceMicros: number
  revision: number
  settledAt: number | null
}

interface LineRow {
  wamid: string
  tenant_id: string | null
  waba_id: string | null
  phone_number_id: string
  recipient: string
  market: string | null
  country: string | null
  currency: string | null
  timezone: string | null
  origin: string
  is_template: boolean | null
  category_hint: string | null
  sent_at: Date
  delivery: string
  delivered_at: Date | null
  meta_rank: number
  meta_pricing_model: string | null
  meta_pricing_type: string | null
  meta_category: string | null
  meta_billable: boolean | null
  own_category: string | null
  own_billable: boolean | null
  own_free_reason: string | null
  state: string
  category: string | null
  free_reason: string | null
  pricing_type: string | null
  decided_by: string
  rate_card_id: string | null
  rate_card_version: string | null
  tier_month: string | null
  tier_position: number | null
  tier: string | null
  unit_price_micros: number | string
  billed_price_micros: number | string
  revision: number
  settled_at: Date | null
}

const cat = (s: string | null): Category | null => normalizeCategory(s) ?? null

function fromRow (r: LineRow): Line {
  const hasMeta = r.meta_rank > 0
  return {
    wamid: r.wamid,
    tenantId: r.tenant_id,
    wabaId: r.waba_id,
    phoneNumberId: r.phone_number_id,
    recipient: r.recipient,
    market: r.market,
    country: r.country,
    currency: r.currency,
    timezone: r.timezone,
    origin: r.origin as Origin,
    isTemplate: r.is_template,
    categoryHint: cat(r.category_hint),
    sentAt: r.sent_at.getTime(),
    delivery: r.delivery as Delivery,
    deliveredAt: r.delivered_at?.getTime() ?? null,
    metaRank: r.meta_rank,
    meta: hasMeta ? { model: r.meta_pricing_model, type: r.meta_pricing_type as PricingType | null, category: cat(r.meta_category), billable: r.meta_billable } : null,
    own: { category: cat(r.own_category), billable: r.own_billable, freeReason: r.own_free_reason as FreeReason | null },
    state: r.state as LineState,
    category: cat(r.category),
    freeReason: r.free_reason as FreeReason | null,
    pricingType: r.pricing_type as PricingType | null,
    decidedBy: r.decided_by as Line['decidedBy'],
    rateCardId: r.rate_card_id,
    rateCardVersion: r.rate_card_version,
    tierMonth: r.tier_month,
    tierPosition: r.tier_position,
    tier: r.tier,
    unitPriceMicros: Number(r.unit_price_micros),
    billedPriceMicros: Number(r.billed_price_micros),
    revision: r.revision,
    settledAt: r.settled_at?.getTime() ?? null
  }
}

const isPhone = (r: string): boolean => /^\d{6,16}$/.test(r)

/** Folds one fact into a line. Every rule is commutative and idempotent. */
function merge (line: Line, f: MessageFact): void {
  const recipient = normalizeRecipient(f.recipient)
  if (recipient !== '' && (line.recipient === '' || (!isPhone(line.recipient) && isPhone(recipient)))) line.recipient = recipient
  switch (f.kind) {
    case 'send':
      if (line.origin === 'unknown') line.origin = 'api'
      line.tenantId ??= f.tenantId
      line.isTemplate ??= f.isTemplate
      line.categoryHint ??= f.categoryHint
      line.sentAt = Math.min(line.sentAt, f.sentAt)
      break
    case 'echo':
      line.origin = 'business_app'
      line.wabaId ??= f.wabaId
      line.sentAt = Math.min(line.sentAt, f.ts)
      break
    case 'status': {
      line.wabaId ??= f.wabaId
      line.sentAt = Math.min(line.sentAt, f.ts)
      const d = deliveryOf(f.status)
      if (d !== undefined) {
        if (DELIVERY_RANK[d.delivery] > DELIVERY_RANK[line.delivery]) line.delivery = d.delivery
        if (d.delivery === 'delivered') line.deliveredAt = Math.min(line.deliveredAt ?? Infinity, f.ts)
      }
      const rank = pricingRank(f.status)
      if (f.pricing !== null && rank > line.metaRank) { line.meta = f.pricing; line.metaRank = rank }
      break
    }
  }
}

/** Deterministic usage id of a message: a replay gives the same id. */
export function usageIdOf (wamid: string): string {
  return hash('sha256', wamid, 'hex').slice(0, 32)
}

const iso = (ms: number): string => new Date(ms).toISOString()
const byWamid = (a: { wamid: string }, b: { wamid: string }): number => a.wamid < b.wamid ? -1 : a.wamid > b.wamid ? 1 : 0

function retryable (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === '40P01' || code === '40001' // deadlock, serialization failure
}

/**
 * Applies a batch of facts to the ledger in one transaction (retried on a deadlock) and returns
 * what moved. Events for downstream systems are in the outbox when it resolves.
 */
export async function applyFacts (deps: PricerDeps, facts: readonly Fact[], opts: { recompute?: readonly string[] } = {}): Promise<ApplyResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.db.transaction().execute((tx) => run(deps, tx, facts, opts.recompute ?? []))
    } catch (err) {
      if (!retryable(err) || attempt >= 5) throw err
      deps.logger.warn({ err, attempt }, 'pricing batch retried after a deadlock')
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt + Math.random() * 20))
    }
  }
}

async function run (deps: PricerDeps, tx: Tx, facts: readonly Fact[], recompute: readonly string[]): Promise<ApplyResult> {
  const now = deps.clock.now()
  const timing: Record<string, number> = {}
  let mark = performance.now()
  const lap = (name: string): void => { const t = performance.now(); timing[name] = Math.round((t - mark) * 10) / 10; mark = t }
  const inbound: InboundMessageFact[] = []
  const tiers: TierFact[] = []
  const byLine = new Map<string, MessageFact[]>()
  for (const f of facts) {
    if (f.kind === 'inbound') inbound.push(f)
    else if (f.kind === 'tier') tiers.push(f)
    else { const l = byLine.get(f.wamid); if (l === undefined) byLine.set(f.wamid, [f]); else l.push(f) }
  }

  const touched = new Set<string>(recompute)
  for (const w of byLine.keys()) touched.add(w)
  for (const w of await insertInbound(tx, inbound)) touched.add(w)
  for (const w of await upsertTiers(tx, deps, tiers, now)) touched.add(w)
  for (const w of await repliesOpeningFep(tx, byLine)) touched.add(w)
  if (touched.size === 0) return { lines: 0, changed: 0, events: 0 }

  // Existing lines are locked (in wamid order) before anything reads them. Lines seen for the
  // first time are built here and inserted at the end: if another transaction inserted one
  // meanwhile, the insert fails on the primary key and this one is retried and finds it
  // (optimistic insert).
  const wamids = new PgArrayWriter('text', touched.size)
  for (const w of touched) wamids.push(w)
  const { rows } = await sql<LineRow>`SELECT * FROM billing_ledger WHERE wamid = ANY(${wamids.finish()}::text[]) ORDER BY wamid FOR UPDATE`.execute(tx)
  lap('lock')
  const before = new Map(rows.map((r) => [r.wamid, fromRow(r)]))
  const lines = rows.map(fromRow)
  const fresh = new Set<string>()
  for (const [wamid, fs] of byLine) {
    if (before.has(wamid)) continue
    const line = newLine(wamid, fs)
    before.set(wamid, { ...line, own: { ...line.own } })
    lines.push(line)
    fresh.add(wamid)
  }
  for (const line of lines) for (const f of byLine.get(line.wamid) ?? []) merge(line, f)

  // Who pays, in which currency and timezone.
  const accounts = await deps.accounts.get(tx, lines.map((l) => l.phoneNumberId), now)
  for (const line of lines) {
    const a = accounts.get(line.phoneNumberId)
    if (a !== undefined) {
      line.tenantId ??= a.tenantId
      line.wabaId ??= a.wabaId
      line.currency = a.currency
      line.timezone = a.timezone
    }
    const m = marketOf(line.recipient)
    line.market = m?.market ?? null
    line.country = m?.country ?? null
  }

  // Our own classification needs the windows of each business number × user.
  const windows = await loadWindows(tx, lines)
  for (const line of lines) {
    const w = windows.get(`${line.phoneNumberId}|${line.recipient}`)
    line.own = classifyOwn(line.origin, line.categoryHint, line.isTemplate,
      w === undefined ? { csw: false, fep: false } : windowsAt(w.inbound, w.replies, line.sentAt))
    const s = settle(line.origin, line.delivery, line.own, line.meta)
    line.state = s.state
    line.category = s.category
    line.freeReason = s.freeReason
    line.pricingType = s.pricingType
    line.decidedBy = s.source
  }

  lap('classify')
  await price(tx, deps, lines, before, accounts)
  lap('price')

  // What changed, what moves balances, what to publish.
  const outbox: OutboxRow[] = []
  const usage: { key: string, payload: Uint8Array }[] = []
  const deltas = new Map<string, BalanceDelta>()
  const changed: Line[] = []
  const plans = await loadPlans(tx, lines)
  for (const line of lines) {
    const old = before.get(line.wamid)!
    const markup = line.tenantId !== null ? plans.get(line.tenantId) ?? NO_MARKUP : NO_MARKUP
    line.billedPriceMicros = billedPrice(line.unitPriceMicros, line.state === 'charged', markup)
    const settled = line.state === 'charged' || line.state === 'free'
    if (settled && verdictChanged(old, line)) {
      line.revision = old.revision + 1
      line.settledAt ??= now
      if (line.tenantId !== null) usage.push({ key: line.tenantId, payload: usageEvent(line, now) })
    }
    if (lineChanged(old, line)) changed.push(line)
    addDelta(deltas, old, -1)
    addDelta(deltas, line, +1)
  }

  lap('verdicts')
  await writeLines(tx, changed.filter((l) => !fresh.has(l.wamid)))
  const created = lines.filter((l) => fresh.has(l.wamid))
  await insertLines(tx, created)
  lap('write')
  await applyBalanceDeltas(tx, [...deltas.values()].filter((d) => d.balanceMicros !== 0 || [...d.spend.values()].some((v) => v !== 0)), now, outbox)
  lap('balances')
  // Usage records go out as batched outbox rows (one per ≤1,000 events): writing and deleting a
  // row per message would cost the database as much as the ledger itself.
  for (let i = 0; i < usage.length; i += 1000) {
    const chunk = usage.slice(i, i + 1000)
    outbox.push({ topic: 'billing.usage', key: '', keys: chunk.map((u) => u.key), eventType: USAGE_EVENT_TYPE, schema: USAGE_SCHEMA, tenantId: null, payload: frameEvents(chunk.map((u) => u.payload)) })
  }
  await insertOutbox(tx, outbox)
  lap('outbox')
  deps.logger.debug({ facts: facts.length, lines: lines.length, changed: changed.length, timing }, 'pricing transaction')
  return { lines: lines.length, changed: changed.length, events: usage.length + outbox.filter((o) => o.keys === undefined).length }
}

const NO_MARKUP: Markup = { percentBps: 0, perMessageMicros: 0 }

function addDelta (deltas: Map<string, BalanceDelta>, line: Line, sign: 1 | -1): void {
  if (line.state !== 'charged' || line.tenantId === null || line.currency === null || line.billedPriceMicros === 0) return
  const k = `${line.tenantId}|${line.currency}`
  let d = deltas.get(k)
  if (d === undefined) { d = { tenantId: line.tenantId, currency: line.currency, balanceMicros: 0, spend: new Map() }; deltas.set(k, d) }
  d.balanceMicros -= sign * line.billedPriceMicros
  const month = utcMonth(line.sentAt)
  d.spend.set(month, (d.spend.get(month) ?? 0) + sign * line.billedPriceMicros)
}

/** What a UsageRecord says changed (a new revision). */
function verdictChanged (a: Line, b: Line): boolean {
  return a.state !== b.state || a.category !== b.category || a.freeReason !== b.freeReason || a.unitPriceMicros !== b.unitPriceMicros ||
    a.billedPriceMicros !== b.billedPriceMicros || a.rateCardVersion !== b.rateCardVersion || a.tier !== b.tier || a.currency !== b.currency ||
    a.pricingType !== b.pricingType || a.market !== b.market || a.tenantId !== b.tenantId || a.origin !== b.origin ||
    a.country !== b.country || a.wabaId !== b.wabaId
}

function lineChanged (a: Line, b: Line): boolean {
  return verdictChanged(a, b) || a.revision !== b.revision || a.sentAt !== b.sentAt || a.delivery !== b.delivery || a.deliveredAt !== b.deliveredAt ||
    a.metaRank !== b.metaRank || a.origin !== b.origin || a.isTemplate !== b.isTemplate || a.categoryHint !== b.categoryHint ||
    a.recipient !== b.recipient || a.wabaId !== b.wabaId || a.timezone !== b.timezone || a.country !== b.country ||
    a.own.category !== b.own.category || a.own.billable !== b.own.billable || a.own.freeReason !== b.own.freeReason ||
    a.decidedBy !== b.decidedBy || a.tierPosition !== b.tierPosition || a.tierMonth !== b.tierMonth || a.rateCardId !== b.rateCardId ||
    a.meta?.type !== b.meta?.type || a.meta?.category !== b.meta?.category || a.meta?.billable !== b.meta?.billable || a.meta?.model !== b.meta?.model
}

function usageEvent (line: Line, now: number): Uint8Array {
  const charged = line.state === 'charged'
  return encodeUsageRecord({
    usageId: usageIdOf(line.wamid),
    tenantId: line.tenantId ?? '',
    phoneNumberId: line.phoneNumberId,
    wamid: line.wamid,
    category: line.category ?? '',
    market: line.market ?? '',
    pricingType: line.pricingType ?? '',
    billable: charged,
    freeReason: line.freeReason ?? '',
    currency: line.currency ?? '',
    metaCostMicros: line.unitPriceMicros,
    billedPriceMicros: line.billedPriceMicros,
    rateCardVersion: line.rateCardVersion ?? '',
    pricedAt: now,
    wabaId: line.wabaId ?? '',
    messageSentAt: line.sentAt,
    revision: line.revision,
    tier: line.tier ?? '',
    origin: line.origin,
    country: line.country ?? ''
  })
}

// ---------------------------------------------------------------------------------------------
// Prices and volume tiers

/**
 * Sets rate card, tier position and unit price of every charged line. A charged line that cannot
 * be priced (no card for its currency and date, no market, no rate for its category) becomes
 * `unpriced` until a card is loaded and the line repriced.
 *
 * Tier position: the N-th charged message of its market × counter category × month (WABA
 * timezone) in its pricing scope, never lower than the tier Meta announced for that time
 * (VOLUME_BASED_PRICING_TIER_UPDATE, the authority). A line keeps the position it was given while
 * its key stays the same; a new one takes the next count, in (send time, wamid) order within the
 * batch. Meta counts across the whole portfolio and every BSP, so our count is a lower bound.
 */
async function price (tx: Tx, deps: PricerDeps, lines: Line[], before: Map<string, Line>, accounts: Map<string, Account>): Promise<void> {
  const cards = lines.some((l) => l.state === 'charged') ? await deps.rateBook.cards(tx) : []
  interface Need { line: Line, key: string | null, month: string, card: NonNullable<ReturnType<typeof cardFor>> }
  const needs: Need[] = []
  for (const line of lines) {
    if (line.state !== 'charged') {
      Object.assign(line, { rateCardId: null, rateCardVersion: null, tier: null, tierMonth: null, tierPosition: null, unitPriceMicros: 0 })
      continue
    }
    const tz = line.timezone ?? 'UTC'
    const card = line.currency !== null ? cardFor(cards, line.currency, localDate(line.sentAt, tz)) : undefined
    if (card === undefined || line.market === null || line.category === null) {
      Object.assign(line, { state: 'unpriced', rateCardId: null, rateCardVersion: null, tier: null, tierMonth: null, tierPosition: null, unitPriceMicros: 0 })
      continue
    }
    const counter = tierCounterCategory(line.category)
    const scope = accounts.get(line.phoneNumberId)?.scope ?? line.wabaId
    const month = localMonth(line.sentAt, tz)
    needs.push({ line, key: counter !== undefined && scope !== null ? `${scope}|${line.market}|${counter}|${month}` : null, month, card })
  }

  const keys = [...new Set(needs.map((n) => n.key).filter((k): k is string => k !== null))].sort()
  const counts = new Map<string, number>()
  const floors = new Map<string, { lower: number, at: number }[]>()
  if (keys.length > 0) {
    const parts = keys.map((k) => k.split('|') as [string, string, string, string])
    const cols = [parts.map((p) => p[0]), parts.map((p) => p[1]), parts.map((p) => p[2]), parts.map((p) => p[3])]
    await sql`
      INSERT INTO billing_volume_counters (scope, market, category, month, count)
      SELECT s, m, c, mo, 0 FROM unnest(${cols[0]}::text[], ${cols[1]}::text[], ${cols[2]}::text[], ${cols[3]}::text[]) AS v(s, m, c, mo) ORDER BY 1, 2, 3, 4
      ON CONFLICT DO NOTHING`.execute(tx)
    const { rows } = await sql<{ scope: string, market: string, category: string, month: string, count: number }>`
      SELECT c.scope, c.market, c.category, c.month, c.count FROM billing_volume_counters c
      JOIN unnest(${cols[0]}::text[], ${cols[1]}::text[], ${cols[2]}::text[], ${cols[3]}::text[]) AS v(s, m, ca, mo)
        ON c.scope = v.s AND c.market = v.m AND c.category = v.ca AND c.month = v.mo
      ORDER BY 1, 2, 3, 4 FOR UPDATE OF c`.execute(tx)
    for (const r of rows) counts.set(`${r.scope}|${r.market}|${r.category}|${r.month}`, r.count)
    const t = await sql<{ scope: string, market: string, category: string, month: string, tier_lower: number, at: Date }>`
      SELECT t.scope, t.market, t.category, t.month, t.tier_lower, t.tier_update_time AS at FROM billing_volume_tiers t
      JOIN unnest(${cols[0]}::text[], ${cols[1]}::text[], ${cols[2]}::text[], ${cols[3]}::text[]) AS v(s, m, ca, mo)
        ON t.scope = v.s AND t.market = v.m AND t.category = v.ca AND t.month = v.mo`.execute(tx)
    for (const r of t.rows) {
      const k = `${r.scope}|${r.market}|${r.category}|${r.month}`
      floors.set(k, [...(floors.get(k) ?? []), { lower: r.tier_lower, at: r.at.getTime() }])
    }
  }

  const start = new Map(counts)
  needs.sort((a, b) => a.line.sentAt - b.line.sentAt || byWamid(a.line, b.line))
  for (const n of needs) {
    const { line, key, card } = n
    let position = 1
    if (key !== null) {
      const old = before.get(line.wamid)!
      const oldKey = old.state === 'charged' && old.category !== null && old.market !== null && old.tierMonth !== null
        ? `${key.split('|')[0]}|${old.market}|${tierCounterCategory(old.category) ?? ''}|${old.tierMonth}`
        : null
      if (old.tierPosition !== null && oldKey === key) {
        position = old.tierPosition
      } else {
        position = (counts.get(key) ?? 0) + 1
        counts.set(key, position)
      }
      line.tierPosition = position
      line.tierMonth = n.month
      for (const f of floors.get(key) ?? []) if (f.at <= line.sentAt && f.lower > position) position = f.lower
    } else {
      line.tierPosition = null
      line.tierMonth = null
    }
    const p = unitPrice(card, line.market!, line.category!, position)
    if (p === undefined) {
      Object.assign(line, { state: 'unpriced', rateCardId: null, rateCardVersion: null, tier: null, tierMonth: null, tierPosition: null, unitPriceMicros: 0 })
      continue
    }
    line.rateCardId = card.id
    line.rateCardVersion = card.version
    line.tier = p.tier === '' ? null : p.tier
    line.unitPriceMicros = p.unitPriceMicros
  }

  const bumped = [...counts].filter(([k, v]) => start.get(k) !== v)
  if (bumped.length > 0) {
    const parts = bumped.map(([k, v]) => [...k.split('|'), v] as [string, string, string, string, number])
    await sql`
      UPDATE billing_volume_counters c SET count = v.n
      FROM unnest(${parts.map((p) => p[0])}::text[], ${parts.map((p) => p[1])}::text[], ${parts.map((p) => p[2])}::text[], ${parts.map((p) => p[3])}::text[], ${parts.map((p) => p[4])}::int[]) AS v(s, m, ca, mo, n)
      WHERE c.scope = v.s AND c.market = v.m AND c.category = v.ca AND c.month = v.mo`.execute(tx)
  }
}

async function loadPlans (tx: Tx, lines: readonly Line[]): Promise<Map<string, Markup>> {
  const tenants = [...new Set(lines.filter((l) => l.state === 'charged' && l.tenantId !== null).map((l) => l.tenantId!))]
  if (tenants.length === 0) return new Map()
  const rows = await tx.selectFrom('billing_tenant_plans').select(['tenant_id', 'markup_percent_bps', 'markup_per_message_micros'])
    .where('tenant_id', 'in', tenants).execute()
  return new Map(rows.map((r) => [r.tenant_id, { percentBps: r.markup_percent_bps, perMessageMicros: Number(r.markup_per_message_micros) }]))
}

// ---------------------------------------------------------------------------------------------
// Facts that reach beyond one line: user messages (windows), Meta's tier updates

/** Stores new user messages; returns the lines whose windows they may change. */
async function insertInbound (tx: Tx, facts: readonly InboundMessageFact[]): Promise<string[]> {
  if (facts.length === 0) return []
  const uniq = [...new Map(facts.map((f) => [f.wamid, f])).values()]
  const { rows } = await sql<{ phone_number_id: string, wa_id: string, sent_at: Date, entry_point: boolean }>`
    INSERT INTO billing_inbound_messages (wamid, phone_number_id, wa_id, sent_at, entry_point)
    SELECT * FROM unnest(${uniq.map((f) => f.wamid)}::text[], ${uniq.map((f) => f.phoneNumberId)}::text[], ${uniq.map((f) => normalizeRecipient(f.waId))}::text[],
      ${uniq.map((f) => iso(f.ts))}::timestamptz[], ${uniq.map((f) => f.entryPoint)}::bool[])
    ON CONFLICT (wamid) DO NOTHING
    RETURNING phone_number_id, wa_id, sent_at, entry_point`.execute(tx)
  if (rows.length === 0) return []
  // A user message at u opens the window [u, u + 24 h); one from an entry point can make any
  // business message up to u + 24 h + 72 h free.
  const { rows: hit } = await sql<{ wamid: string }>`
    SELECT DISTINCT l.wamid FROM unnest(${rows.map((r) => r.phone_number_id)}::text[], ${rows.map((r) => r.wa_id)}::text[],
      ${rows.map((r) => r.sent_at.toISOString())}::timestamptz[], ${rows.map((r) => new Date(r.sent_at.getTime() + CSW_MS + (r.entry_point ? FEP_MS : 0)).toISOString())}::timestamptz[]) AS v(pn, wa, f, t)
    JOIN billing_ledger l ON l.phone_number_id = v.pn AND l.recipient = v.wa AND l.sent_at >= v.f AND l.sent_at < v.t
    WHERE l.origin <> 'business_app'`.execute(tx)
  return hit.map((r) => r.wamid)
}

/**
 * A business message sent within 24 h of a user's entry-point message may be the reply that
 * opens a free entry point window; the lines it then makes free are recomputed.
 */
async function repliesOpeningFep (tx: Tx, byLine: Map<string, MessageFact[]>): Promise<string[]> {
  const sends = [...byLine.values()].flat().filter((f) => f.kind === 'send')
  if (sends.length === 0) return []
  const { rows } = await sql<{ wamid: string }>`
    SELECT DISTINCT l.wamid
    FROM unnest(${sends.map((f) => f.phoneNumberId)}::text[], ${sends.map((f) => normalizeRecipient(f.recipient))}::text[], ${sends.map((f) => iso(f.sentAt))}::timestamptz[]) AS v(pn, wa, s)
    JOIN billing_inbound_messages i ON i.phone_number_id = v.pn AND i.wa_id = v.wa AND i.entry_point
      AND i.sent_at <= v.s AND i.sent_at > v.s - interval '24 hours'
    JOIN billing_ledger l ON l.phone_number_id = v.pn AND l.recipient = v.wa AND l.sent_at > v.s AND l.sent_at < v.s + interval '72 hours'
    WHERE l.origin <> 'business_app'`.execute(tx)
  return rows.map((r) => r.wamid)
}

/** Stores Meta's tier updates (the earliest time of each); returns the charged lines they reprice. */
async function upsertTiers (tx: Tx, deps: PricerDeps, facts: readonly TierFact[], now: number): Promise<string[]> {
  if (facts.length === 0) return []
  const wabas = [...new Set(facts.map((f) => f.wabaId))]
  const settings = await tx.selectFrom('billing_waba_settings').select(['waba_id', 'business_portfolio_id']).where('waba_id', 'in', wabas).execute()
  const scopeOf = new Map(settings.map((s) => [s.waba_id, s.business_portfolio_id ?? s.waba_id]))
  const uniq = new Map<string, TierFact & { scope: string }>()
  for (const f of facts) {
    const scope = scopeOf.get(f.wabaId) ?? f.wabaId
    const k = `${scope}|${f.market}|${f.category}|${f.month}|${f.lower}`
    const prev = uniq.get(k)
    if (prev === undefined || f.updateTime < prev.updateTime) uniq.set(k, { ...f, scope })
  }
  const list = [...uniq.values()]
  const { rows } = await sql<{ scope: string, market: string, category: string, month: string, at: Date }>`
    INSERT INTO billing_volume_tiers (scope, market, category, month, tier_lower, tier_upper, tier_update_time, received_at)
    SELECT *, ${iso(now)}::timestamptz FROM unnest(${list.map((f) => f.scope)}::text[], ${list.map((f) => f.market)}::text[], ${list.map((f) => f.category)}::text[],
      ${list.map((f) => f.month)}::text[], ${list.map((f) => f.lower)}::int[], ${list.map((f) => f.upper)}::int[], ${list.map((f) => iso(f.updateTime))}::timestamptz[])
    ON CONFLICT (scope, market, category, month, tier_lower) DO UPDATE SET tier_update_time = excluded.tier_update_time
      WHERE excluded.tier_update_time < billing_volume_tiers.tier_update_time
    RETURNING scope, market, category, month, tier_update_time AS at`.execute(tx)
  const out: string[] = []
  for (const r of rows) {
    const members = await tx.selectFrom('billing_waba_settings').select('waba_id').where('business_portfolio_id', '=', r.scope).execute()
    const scopeWabas = [r.scope, ...members.map((m) => m.waba_id)]
    const tenants = (await tx.selectFrom('wabas').select('tenant_id').where('id', 'in', scopeWabas).execute()).map((w) => w.tenant_id)
    if (tenants.length === 0) continue
    const cats = r.category === 'authentication' ? ['authentication', 'authentication_international'] : [r.category]
    const hit = await tx.selectFrom('billing_ledger').select('wamid')
      .where('tenant_id', 'in', tenants).where('waba_id', 'in', scopeWabas).where('market', '=', r.market).where('category', 'in', cats)
      .where('tier_month', '=', r.month).where('state', '=', 'charged').where('sent_at', '>=', r.at).execute()
    out.push(...hit.map((h) => h.wamid))
  }
  deps.logger.info({ tiers: rows.length, repriced: out.length }, 'volume tier updates from Meta applied')
  return out
}

/** A line not in the ledger yet: unknown origin, pending, from the earliest of its facts. */
function newLine (wamid: string, fs: readonly MessageFact[]): Line {
  const first = fs[0]!
  return {
    wamid,
    tenantId: null,
    wabaId: null,
    phoneNumberId: first.phoneNumberId,
    recipient: '',
    market: null,
    country: null,
    currency: null,
    timezone: null,
    origin: 'unknown',
    isTemplate: null,
    categoryHint: null,
    sentAt: Math.min(...fs.map((f) => f.kind === 'send' ? f.sentAt : f.ts)),
    delivery: 'pending',
    deliveredAt: null,
    metaRank: 0,
    meta: null,
    own: { category: null, billable: null, freeReason: null },
    state: 'pending',
    category: null,
    freeReason: null,
    pricingType: null,
    decidedBy: 'none',
    rateCardId: null,
    rateCardVersion: null,
    tierMonth: null,
    tierPosition: null,
    tier: null,
    unitPriceMicros: 0,
    billedPriceMicros: 0,
    revision: 0,
    settledAt: null
  }
}

interface PairWindows { inbound: InboundFact[], replies: number[] }

/** User messages and API replies around each line's send time, per business number × user. */
async function loadWindows (tx: Tx, lines: readonly Line[]): Promise<Map<string, PairWindows>> {
  const ranges = new Map<string, { pn: string, wa: string, from: number, to: number }>()
  for (const l of lines) {
    if (l.origin !== 'api' || l.isTemplate === null) continue
    const k = `${l.phoneNumberId}|${l.recipient}`
    const r = ranges.get(k)
    const from = l.sentAt - CSW_MS - FEP_MS
    if (r === undefined) ranges.set(k, { pn: l.phoneNumberId, wa: l.recipient, from, to: l.sentAt })
    else { r.from = Math.min(r.from, from); r.to = Math.max(r.to, l.sentAt) }
  }
  const out = new Map<string, PairWindows>()
  if (ranges.size === 0) return out
  const rs = [...ranges.values()]
  const cols = [rs.map((r) => r.pn), rs.map((r) => r.wa), rs.map((r) => iso(r.from)), rs.map((r) => iso(r.to))]
  const { rows } = await sql<{ pn: string, wa: string, sent_at: Date, entry_point: boolean }>`
    SELECT i.phone_number_id AS pn, i.wa_id AS wa, i.sent_at, i.entry_point
    FROM unnest(${cols[0]}::text[], ${cols[1]}::text[], ${cols[2]}::timestamptz[], ${cols[3]}::timestamptz[]) AS v(pn, wa, f, t)
    JOIN billing_inbound_messages i ON i.phone_number_id = v.pn AND i.wa_id = v.wa AND i.sent_at >= v.f AND i.sent_at <= v.t`.execute(tx)
  const withEntry = new Set<string>()
  for (const r of rows) {
    const k = `${r.pn}|${r.wa}`
    let w = out.get(k)
    if (w === undefined) { w = { inbound: [], replies: [] }; out.set(k, w) }
    w.inbound.push({ ts: r.sent_at.getTime(), entryPoint: r.entry_point })
    if (r.entry_point) withEntry.add(k)
  }
  if (withEntry.size > 0) {
    // Replies matter only where a user came through an entry point. Lines of this batch count
    // with their merged send time; the others as stored.
    const inBatch = new Set(lines.map((l) => l.wamid))
    const sel = rs.filter((r) => withEntry.has(`${r.pn}|${r.wa}`))
    const { rows: sent } = await sql<{ wamid: string, pn: string, wa: string, sent_at: Date }>`
      SELECT l.wamid, l.phone_number_id AS pn, l.recipient AS wa, l.sent_at
      FROM unnest(${sel.map((r) => r.pn)}::text[], ${sel.map((r) => r.wa)}::text[], ${sel.map((r) => iso(r.from))}::timestamptz[], ${sel.map((r) => iso(r.to))}::timestamptz[]) AS v(pn, wa, f, t)
      JOIN billing_ledger l ON l.phone_number_id = v.pn AND l.recipient = v.wa AND l.sent_at >= v.f AND l.sent_at <= v.t
      WHERE l.origin = 'api'`.execute(tx)
    for (const r of sent) if (!inBatch.has(r.wamid)) out.get(`${r.pn}|${r.wa}`)?.replies.push(r.sent_at.getTime())
    for (const l of lines) if (l.origin === 'api') out.get(`${l.phoneNumberId}|${l.recipient}`)?.replies.push(l.sentAt)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Writing lines back

// Lines travel to Postgres as one binary array parameter per column (pg-array.ts; unnest gives
// the rows): no text is built in JavaScript or parsed by Postgres. The JSON form (one parameter,
// json_to_recordset, keys of one or two letters mapped to columns by LINE_FIELDS, times as epoch
// milliseconds) remains for lines with a value the binary form cannot carry exactly.
const LINE_FIELDS: ReadonlyArray<readonly [column: string, key: string, type: string]> = [
  ['wamid', 'a', 'text'], ['tenant_id', 'b', 'uuid'], ['waba_id', 'c', 'text'], ['phone_number_id', 'd', 'text'], ['recipient', 'e', 'text'],
  ['market', 'f', 'text'], ['country', 'g', 'text'], ['currency', 'h', 'text'], ['timezone', 'i', 'text'], ['origin', 'j', 'text'],
  ['is_template', 'k', 'bool'], ['category_hint', 'l', 'text'], ['sent_at', 'm', 'ms'], ['delivery', 'n', 'text'], ['delivered_at', 'o', 'ms'],
  ['meta_rank', 'p', 'smallint'], ['meta_pricing_model', 'q', 'text'], ['meta_pricing_type', 'r', 'text'], ['meta_category', 's', 'text'],
  ['meta_billable', 't', 'bool'], ['own_category', 'u', 'text'], ['own_billable', 'v', 'bool'], ['own_free_reason', 'w', 'text'],
  ['state', 'x', 'text'], ['category', 'y', 'text'], ['free_reason', 'z', 'text'], ['pricing_type', 'za', 'text'], ['decided_by', 'zb', 'text'],
  ['rate_card_id', 'zc', 'uuid'], ['rate_card_version', 'zd', 'text'], ['tier_month', 'ze', 'text'], ['tier_position', 'zf', 'int'],
  ['tier', 'zg', 'text'], ['unit_price_micros', 'zh', 'bigint'], ['billed_price_micros', 'zi', 'bigint'], ['revision', 'zj', 'int'], ['settled_at', 'zk', 'ms']
]
const COLUMNS = sql.raw(LINE_FIELDS.map(([c]) => c).join(', '))
const RECORD_DEFS = sql.raw(LINE_FIELDS.map(([, k, type]) => `${k} ${type === 'ms' ? 'float8' : type}`).join(', '))
const RECORD_SELECT = sql.raw(LINE_FIELDS.map(([, k, type]) => type === 'ms' ? `to_timestamp(j.${k} / 1000)` : `j.${k}`).join(', '))

/** A line as LINE_FIELDS's keys (an object literal: one hidden class, no per-key lookups). */
function lineRecord (l: Line) {
  return {
    a: l.wamid,
    b: l.tenantId,
    c: l.wabaId,
    d: l.phoneNumberId,
    e: l.recipient,
    f: l.market,
    g: l.country,
    h: l.currency,
    i: l.timezone,
    j: l.origin,
    k: l.isTemplate,
    l: l.categoryHint,
    m: l.sentAt,
    n: l.delivery,
    o: l.deliveredAt,
    p: l.metaRank,
    q: l.meta?.model ?? null,
    r: l.meta?.type ?? null,
    s: l.meta?.category ?? null,
    t: l.meta?.billable ?? null,
    u: l.own.category,
    v: l.own.billable,
    w: l.own.freeReason,
    x: l.state,
    y: l.category,
    z: l.freeReason,
    za: l.pricingType,
    zb: l.decidedBy,
    zc: l.rateCardId,
    zd: l.rateCardVersion,
    ze: l.tierMonth,
    zf: l.tierPosition,
    zg: l.tier,
    zh: l.unitPriceMicros,
    zi: l.billedPriceMicros,
    zj: l.revision,
    zk: l.settledAt
  }
}

// The literal above and LINE_FIELDS must name the same keys in the same order (a key missing
// on either side would write NULL into its column): checked once, at load.
{
  const keys = Object.keys(lineRecord(newLine('', [{ kind: 'echo', wamid: '', phoneNumberId: '', wabaId: null, recipient: '', ts: 0 }]))).join(',')
  if (keys !== LINE_FIELDS.map(([, k]) => k).join(',')) throw new Error(`pricer: lineRecord keys ${keys} do not match LINE_FIELDS`)
}

function linesJson (lines: readonly Line[]): string {
  return JSON.stringify(lines.map(lineRecord))
}

const ARRAY_TYPE: Record<string, PgArrayType> = { text: 'text', uuid: 'uuid', bool: 'bool', smallint: 'int2', int: 'int4', bigint: 'int8', ms: 'timestamptz' }
const COLUMN_TYPES = LINE_FIELDS.map(([, , type]) => ARRAY_TYPE[type]!)
const COLUMN_CASTS = COLUMN_TYPES.map((t) => sql.raw(`::${t}[]`))

/**
 * The lines as one binary array per column (see pg-array.ts), in LINE_FIELDS order; undefined
 * when a value has no exact binary form (a tenant id that is not a uuid, say): those lines go as
 * JSON, and Postgres rejects the value as it always did.
 */
function lineColumns (lines: readonly Line[]): Buffer[] | undefined {
  const w = COLUMN_TYPES.map((t) => new PgArrayWriter(t, lines.length))
  try {
    for (const l of lines) {
      const r = lineRecord(l) // LINE_FIELDS order, checked at load
      w[0]!.push(r.a); w[1]!.push(r.b); w[2]!.push(r.c); w[3]!.push(r.d); w[4]!.push(r.e); w[5]!.push(r.f); w[6]!.push(r.g)
      w[7]!.push(r.h); w[8]!.push(r.i); w[9]!.push(r.j); w[10]!.push(r.k); w[11]!.push(r.l); w[12]!.push(r.m); w[13]!.push(r.n)
      w[14]!.push(r.o); w[15]!.push(r.p); w[16]!.push(r.q); w[17]!.push(r.r); w[18]!.push(r.s); w[19]!.push(r.t); w[20]!.push(r.u)
      w[21]!.push(r.v); w[22]!.push(r.w); w[23]!.push(r.x); w[24]!.push(r.y); w[25]!.push(r.z); w[26]!.push(r.za); w[27]!.push(r.zb)
      w[28]!.push(r.zc); w[29]!.push(r.zd); w[30]!.push(r.ze); w[31]!.push(r.zf); w[32]!.push(r.zg); w[33]!.push(r.zh); w[34]!.push(r.zi)
      w[35]!.push(r.zj); w[36]!.push(r.zk)
    }
  } catch (err) {
    if (err instanceof PgArrayValueError) return undefined
    throw err
  }
  return w.map((x) => x.finish())
}

/** Every column of the lines as rows, in COLUMNS order. */
function lineRows (lines: readonly Line[]) {
  const cols = lineColumns(lines)
  if (cols === undefined) return sql`(SELECT ${RECORD_SELECT} FROM json_to_recordset(${linesJson(lines)}::json) AS j(${RECORD_DEFS})) AS v(${COLUMNS})`
  return sql`(SELECT * FROM unnest(${sql.join(cols.map((c, i) => sql`${c}${COLUMN_CASTS[i]!}`))})) AS v(${COLUMNS})`
}

/**
 * Inserts new lines. A plain INSERT, not ON CONFLICT DO NOTHING: the lines were looked up in this
 * transaction, so a conflict means another transaction inserted one meanwhile, which fails this
 * insert (retried as a serialization failure: the retry finds and locks the line). Speculative
 * insertion (ON CONFLICT) cost Postgres about a tenth of the insert for every line.
 */
async function insertLines (tx: Tx, lines: readonly Line[]): Promise<void> {
  if (lines.length === 0) return
  const sorted = [...lines].sort(byWamid)
  try {
    await sql`
      INSERT INTO billing_ledger (${COLUMNS}, updated_at)
      SELECT v.*, clock_timestamp() FROM ${lineRows(sorted)}`.execute(tx)
  } catch (err) {
    const e = err as { code?: unknown, constraint?: unknown } | null
    if (e?.code === '23505' && e.constraint === 'billing_ledger_pkey') {
      throw Object.assign(new Error('a ledger line was created by a concurrent transaction; retrying', { cause: err }), { code: '40001' })
    }
    throw err
  }
}

async function writeLines (tx: Tx, lines: readonly Line[]): Promise<void> {
  if (lines.length === 0) return
  await sql`
    UPDATE billing_ledger AS l SET
      tenant_id = v.tenant_id, waba_id = v.waba_id, recipient = v.recipient, market = v.market, country = v.country,
      currency = v.currency, timezone = v.timezone, origin = v.origin, is_template = v.is_template, category_hint = v.category_hint,
      sent_at = v.sent_at, delivery = v.delivery, delivered_at = v.delivered_at, meta_rank = v.meta_rank,
      meta_pricing_model = v.meta_pricing_model, meta_pricing_type = v.meta_pricing_type, meta_category = v.meta_category, meta_billable = v.meta_billable,
      own_category = v.own_category, own_billable = v.own_billable, own_free_reason = v.own_free_reason,
      state = v.state, category = v.category, free_reason = v.free_reason, pricing_type = v.pricing_type, decided_by = v.decided_by,
      rate_card_id = v.rate_card_id, rate_card_version = v.rate_card_version, tier_month = v.tier_month, tier_position = v.tier_position, tier = v.tier,
      unit_price_micros = v.unit_price_micros, billed_price_micros = v.billed_price_micros, revision = v.revision, settled_at = v.settled_at, updated_at = clock_timestamp()
    FROM ${lineRows(lines)}
    WHERE l.wamid = v.wamid`.execute(tx)
}

/**
 * Recomputes lines still open (`pending`, `unpriced`), e.g. after a rate card was loaded or a
 * number registered; in chunks, each its own transaction. Returns how many lines changed.
 */
export async function repriceOpenLines (deps: PricerDeps, opts: { chunk?: number } = {}): Promise<number> {
  const chunk = opts.chunk ?? 2000
  let after = ''
  let changed = 0
  for (;;) {
    const rows = await deps.db.selectFrom('billing_ledger').select('wamid')
      .where('state', 'in', ['pending', 'unpriced']).where('wamid', '>', after).orderBy('wamid').limit(chunk).execute()
    if (rows.length === 0) return changed
    changed += (await applyFacts(deps, [], { recompute: rows.map((r) => r.wamid) })).changed
    after = rows.at(-1)!.wamid
  }
}

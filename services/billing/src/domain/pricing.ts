// How one message is priced, as pure functions over what we know about it. Facts (facts file
// §8.1, Meta's pricing page): Meta charges only *delivered template* messages, at the template
// category's rate for the recipient's market; non-template messages are free (and only possible
// inside the 24 h customer service window); utility templates inside that window are free;
// everything inside a 72 h free entry point window is free; Business App messages are free.
import type { Category, FreeReason, PricingType } from './categories.ts'
import { TEMPLATE_CATEGORIES } from './categories.ts'

export const HOUR_MS = 3_600_000
export const CSW_MS = 24 * HOUR_MS
export const FEP_MS = 72 * HOUR_MS

export type Origin = 'api' | 'business_app' | 'unknown'
export type Delivery = 'pending' | 'delivered' | 'failed'
export type LineState = 'pending' | 'charged' | 'free' | 'unpriced'

/** Meta's `pricing` object from a status webhook, normalised. */
export interface MetaPricing {
  model: string | null
  type: PricingType | null
  category: Category | null
  billable: boolean | null
}

/** A user's message to the business number: opens (or extends) the 24 h window. */
export interface InboundFact {
  /** ms since epoch */
  ts: number
  /** Came through a Click-to-WhatsApp ad or Page CTA (`referral` present). */
  entryPoint: boolean
}

export interface Windows {
  /** Customer service window open when the message was sent. */
  csw: boolean
  /** Free entry point window open, or this message is the reply that opens it. */
  fep: boolean
}

/**
 * Which windows were open at `sentAt` for one business number × user, given the user's messages
 * and the times of the business's API messages to that user. A free entry point window opens
 * with the business's first reply within 24 h of an entry-point message and lasts 72 h from
 * that reply (the reply itself is free).
 */
export function windowsAt (inbound: readonly InboundFact[], replies: readonly number[], sentAt: number): Windows {
  let csw = false
  let fep = false
  for (const u of inbound) {
    if (u.ts <= sentAt && sentAt < u.ts + CSW_MS) csw = true
    if (u.entryPoint && !fep) {
      let first = Infinity
      for (const r of replies) if (r >= u.ts && r < u.ts + CSW_MS && r < first) first = r
      if (first <= sentAt && sentAt < first + FEP_MS) fep = true
    }
  }
  return { csw, fep }
}

/** Our own reading of a message: category, whether it is billable, why not. Nulls = cannot tell. */
export interface OwnClassification {
  category: Category | null
  billable: boolean | null
  freeReason: FreeReason | null
}

/**
 * Classifies a message from what we sent (category hint, template or not) and the windows.
 * `isTemplate` null means we do not know what was sent (a status for a message we never saw
 * leave): only Meta's pricing object can classify it.
 */
export function classifyOwn (origin: Origin, categoryHint: Category | null, isTemplate: boolean | null, w: Windows): OwnClassification {
  if (origin === 'business_app') return { category: 'service', billable: false, freeReason: 'business_app' }
  if (isTemplate === null) return { category: null, billable: null, freeReason: null }
  if (w.fep) return { category: 'referral_conversion', billable: false, freeReason: 'free_entry_point' }
  if (!isTemplate) return { category: 'service', billable: false, freeReason: w.csw ? 'service_window' : 'non_template' }
  const category = categoryHint !== null && TEMPLATE_CATEGORIES.has(categoryHint) ? categoryHint : null
  if (category === null) return { category: null, billable: null, freeReason: null }
  if (category === 'utility' && w.csw) return { category, billable: false, freeReason: 'utility_in_window' }
  return { category, billable: true, freeReason: null }
}

export interface Settlement {
  state: Exclude<LineState, 'unpriced'>
  category: Category | null
  freeReason: FreeReason | null
  pricingType: PricingType | null
  /** Whose classification decided: Meta's pricing object, ours, or neither yet. */
  source: 'meta' | 'own' | 'none'
}

/** Meta's billable verdict: `type` first (Meta's advice, `billable` is being deprecated), then `billable`. */
function metaBillable (m: MetaPricing): boolean | null {
  if (m.type !== null) return m.type === 'regular'
  return m.billable
}

function metaFreeReason (m: MetaPricing): FreeReason {
  if (m.type === 'free_entry_point' || m.category === 'referral_conversion') return 'free_entry_point'
  if (m.type === 'free_customer_service') return m.category === 'utility' ? 'utility_in_window' : 'service_window'
  return 'meta_free'
}

function typeOf (reason: FreeReason | null, charged: boolean): PricingType | null {
  if (charged) return 'regular'
  if (reason === 'service_window' || reason === 'utility_in_window') return 'free_customer_service'
  if (reason === 'free_entry_point') return 'free_entry_point'
  return null
}

/**
 * The ledger verdict for one message. Business App messages are always free. Otherwise Meta's
 * per-message `pricing` object decides when we have one (it is what Meta bills; `CBP` objects
 * from before July 2025 are ignored), else our own classification. A billable message is
 * charged only once delivered, free (`not_delivered`) when it failed, pending until then.
 */
export function settle (origin: Origin, delivery: Delivery, own: OwnClassification, meta: MetaPricing | null): Settlement {
  if (origin === 'business_app') {
    return { state: 'free', category: own.category ?? 'service', freeReason: 'business_app', pricingType: meta?.type ?? null, source: 'own' }
  }
  const usable = meta !== null && meta.model !== 'CBP' && metaBillable(meta) !== null
  const billable = usable ? metaBillable(meta) : own.billable
  const category = usable ? (meta.category ?? own.category) : own.category
  const source = usable ? 'meta' : own.billable !== null ? 'own' : 'none'
  const type = usable ? meta.type : null
  if (billable === null) {
    return delivery === 'failed'
      ? { state: 'free', category, freeReason: 'not_delivered', pricingType: type, source }
      : { state: 'pending', category, freeReason: null, pricingType: type, source }
  }
  if (!billable) {
    const freeReason = usable ? metaFreeReason(meta) : own.freeReason ?? 'meta_free'
    return { state: 'free', category, freeReason, pricingType: type ?? typeOf(freeReason, false), source }
  }
  if (delivery === 'delivered') return { state: 'charged', category, freeReason: null, pricingType: type ?? 'regular', source }
  if (delivery === 'failed') return { state: 'free', category, freeReason: 'not_delivered', pricingType: type ?? 'regular', source }
  return { state: 'pending', category, freeReason: null, pricingType: type ?? 'regular', source }
}

/** A loaded rate card: prices by market × category, with volume bands where the card has them. */
export interface RateCard {
  id: string
  version: string
  currency: string
  /** Local date ("2026-01-01") in the WABA's timezone from which the card applies. */
  effectiveFrom: string
  /** Later load of the same currency and date wins; ties broken by this sequence. */
  seq: number
  rates: ReadonlyMap<string, readonly { tierFrom: number, tierTo: number | null, unitPriceMicros: number }[]>
}

export const rateKey = (market: string, category: Category): string => `${market}|${category}`

/**
 * The card in force on `localDate` for `currency`: the latest effective date not after it (and
 * of those, the last loaded). `cards` must be sorted by (effectiveFrom, seq) ascending.
 */
export function cardFor (cards: readonly RateCard[], currency: string, localDate: string): RateCard | undefined {
  let hit: RateCard | undefined
  for (const c of cards) if (c.currency === currency && c.effectiveFrom <= localDate) hit = c
  return hit
}

/**
 * Unit price of the `position`-th charged message of the month (1-based) in a market × category
 * on a card: the band that holds the position. Undefined when the card has no such rate.
 */
export function unitPrice (card: RateCard, market: string, category: Category, position: number): { unitPriceMicros: number, tier: string } | undefined {
  const bands = card.rates.get(rateKey(market, category))
  if (bands === undefined || bands.length === 0) return undefined
  let hit = bands[0]!
  for (const b of bands) if (b.tierFrom <= position) hit = b
  const tier = bands.length > 1 || hit.tierTo !== null ? `${hit.tierFrom}:${hit.tierTo ?? 'MAX'}` : ''
  return { unitPriceMicros: hit.unitPriceMicros, tier }
}

/** Parses Meta's tier notation ("25000001:50000000", "250001:MAX") into bounds. */
export function parseTier (tier: string): { lower: number, upper: number | null } | undefined {
  const m = /^(\d+):(\d+|MAX)$/i.exec(tier.trim())
  if (m === null) return undefined
  const lower = Number(m[1])
  const upper = m[2]!.toUpperCase() === 'MAX' ? null : Number(m[2])
  if (!Number.isSafeInteger(lower) || (upper !== null && (!Number.isSafeInteger(upper) || upper < lower))) return undefined
  return { lower: Math.max(1, lower), upper }
}

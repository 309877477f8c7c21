// Rate card versions: immutable once stored. Loading the same card again (same currency,
// effective date, version and rates) is a no-op; the same version with other rates is refused
// (load it under a new version: the later load of a date wins for new pricing).
import { createHash } from 'node:crypto'
import { sql, type DbExecutor } from '@coexist/db'
import { BillErrors } from '../errors.ts'
import { CATEGORIES } from '../domain/categories.ts'
import { normalizeMarket } from '../domain/markets.ts'
import { checkBands, type RateRow } from '../domain/rate-card-csv.ts'

export interface RateCardInput {
  version: string
  currency: string
  /** "2026-01-01": the local date (WABA timezone) from which the card applies. */
  effectiveFrom: string
  isSample: boolean
  source?: string | null
  rates: readonly RateRow[]
}

export interface RateCardSummary {
  id: string
  version: string
  currency: string
  effectiveFrom: string
  isSample: boolean
  source: string | null
  rates: number
  createdAt: string
}

function invalid (reason: string): Error {
  return BillErrors.BILL_RATE_CARD_INVALID.create({ message: `rate card is invalid: ${reason}`, detail: { reason } })
}

/** Warnings worth showing the loader (not errors): e.g. a date that is not a quarter start. */
export function rateCardWarnings (input: RateCardInput): string[] {
  const w: string[] = []
  if (!/^\d{4}-(01|04|07|10)-01$/.test(input.effectiveFrom)) w.push(`${input.effectiveFrom} is not a quarter start; Meta changes prices only on 1 Jan, 1 Apr, 1 Jul and 1 Oct`)
  const cats = new Set(input.rates.map((r) => r.category))
  for (const c of ['marketing', 'utility', 'authentication'] as const) if (!cats.has(c)) w.push(`no ${c} rates`)
  return w
}

/** Stores a rate card version; returns it and whether it was new. */
export async function saveRateCard (db: DbExecutor, input: RateCardInput): Promise<{ card: RateCardSummary, created: boolean }> {
  const version = input.version.trim()
  if (version === '' || version.length > 100) throw invalid('version must be 1 to 100 characters')
  if (!/^[A-Z]{3}$/.test(input.currency)) throw invalid(`currency "${input.currency}" is not ISO 4217`)
  if (!/^\d{4}-\d{2}-\d{2}$/.test(input.effectiveFrom) || Number.isNaN(Date.parse(input.effectiveFrom))) throw invalid(`effective date "${input.effectiveFrom}" is not YYYY-MM-DD`)
  if (input.rates.length === 0) throw invalid('no rates')
  const rates = input.rates.map((r) => {
    const market = normalizeMarket(r.market)
    if (market === undefined) throw invalid(`unknown market "${r.market}"`)
    if (!(CATEGORIES as readonly string[]).includes(r.category)) throw invalid(`unknown category "${r.category}"`)
    if (!Number.isSafeInteger(r.unitPriceMicros) || r.unitPriceMicros < 0) throw invalid(`${market} ${r.category}: price must be non-negative integer micros`)
    if (!Number.isSafeInteger(r.tierFrom) || r.tierFrom < 1 || (r.tierTo !== null && (!Number.isSafeInteger(r.tierTo) || r.tierTo < r.tierFrom))) throw invalid(`${market} ${r.category}: bad volume band`)
    return { ...r, market }
  }).sort((a, b) => a.market.localeCompare(b.market) || a.category.localeCompare(b.category) || a.tierFrom - b.tierFrom)
  for (let i = 1; i < rates.length; i++) {
    const a = rates[i - 1]!
    const b = rates[i]!
    if (a.market === b.market && a.category === b.category && a.tierFrom === b.tierFrom) throw invalid(`${b.market} ${b.category} is priced twice`)
  }
  checkBands(rates)
  const digest = createHash('sha256').update(JSON.stringify([input.currency, input.effectiveFrom, rates.map((r) => [r.market, r.category, r.tierFrom, r.tierTo, r.unitPriceMicros])])).digest('hex')

  return await db.transaction().execute(async (tx) => {
    const inserted = await tx.insertInto('billing_rate_cards')
      .values({ version, currency: input.currency, effective_from: input.effectiveFrom, is_sample: input.isSample, source: input.source ?? null, digest })
      .onConflict((oc) => oc.constraint('billing_rate_cards_version_key').doNothing())
      .returning('id').executeTakeFirst()
    if (inserted === undefined) {
      const existing = await tx.selectFrom('billing_rate_cards').select(['id', 'digest'])
        .where('currency', '=', input.currency).where('effective_from', '=', input.effectiveFrom as never).where('version', '=', version).executeTakeFirstOrThrow()
      if (existing.digest !== digest) throw BillErrors.BILL_RATE_CARD_CONFLICT.create({ detail: { currency: input.currency, effectiveFrom: input.effectiveFrom, version } })
      return { card: (await getRateCard(tx, existing.id))!, created: false }
    }
    for (let i = 0; i < rates.length; i += 5000) {
      const chunk = rates.slice(i, i + 5000)
      await sql`
        INSERT INTO billing_rates (rate_card_id, market, category, tier_from, tier_to, unit_price_micros)
        SELECT ${inserted.id}::uuid, * FROM unnest(${chunk.map((r) => r.market)}::text[], ${chunk.map((r) => r.category)}::text[],
          ${chunk.map((r) => r.tierFrom)}::int[], ${chunk.map((r) => r.tierTo)}::int[], ${chunk.map((r) => r.unitPriceMicros)}::bigint[])`.execute(tx)
    }
    return { card: (await getRateCard(tx, inserted.id))!, created: true }
  })
}

const summary = sql<string>`to_char(c.effective_from, 'YYYY-MM-DD')`

/** Every card version, newest effective date first. */
export async function listRateCards (db: DbExecutor, opts: { currency?: string } = {}): Promise<RateCardSummary[]> {
  const { rows } = await sql<{ id: string, version: string, currency: string, effective_from: string, is_sample: boolean, source: string | null, rates: number, created_at: Date }>`
    SELECT c.id, c.version, c.currency, ${summary} AS effective_from, c.is_sample, c.source, c.created_at,
      (SELECT count(*)::int FROM billing_rates r WHERE r.rate_card_id = c.id) AS rates
    FROM billing_rate_cards c
    WHERE ${opts.currency === undefined ? sql`true` : sql`c.currency = ${opts.currency}`}
    ORDER BY c.effective_from DESC, c.seq DESC`.execute(db)
  return rows.map(toSummary)
}

/** One card version, or undefined. */
export async function getRateCard (db: DbExecutor, id: string): Promise<RateCardSummary | undefined> {
  const { rows } = await sql<{ id: string, version: string, currency: string, effective_from: string, is_sample: boolean, source: string | null, rates: number, created_at: Date }>`
    SELECT c.id, c.version, c.currency, ${summary} AS effective_from, c.is_sample, c.source, c.created_at,
      (SELECT count(*)::int FROM billing_rates r WHERE r.rate_card_id = c.id) AS rates
    FROM billing_rate_cards c WHERE c.id = ${id}::uuid`.execute(db)
  return rows[0] === undefined ? undefined : toSummary(rows[0])
}

/** The prices of a card version. */
export async function getRates (db: DbExecutor, id: string): Promise<RateRow[]> {
  const rows = await db.selectFrom('billing_rates').select(['market', 'category', 'tier_from', 'tier_to', 'unit_price_micros'])
    .where('rate_card_id', '=', id).orderBy('market').orderBy('category').orderBy('tier_from').execute()
  return rows.map((r) => ({ market: r.market, category: r.category as RateRow['category'], tierFrom: r.tier_from, tierTo: r.tier_to, unitPriceMicros: Number(r.unit_price_micros) }))
}

function toSummary (r: { id: string, version: string, currency: string, effective_from: string, is_sample: boolean, source: string | null, rates: number, created_at: Date }): RateCardSummary {
  return { id: r.id, version: r.version, currency: r.currency, effectiveFrom: r.effective_from, isSample: r.is_sample, source: r.source, rates: r.rates, createdAt: r.created_at.toISOString() }
}

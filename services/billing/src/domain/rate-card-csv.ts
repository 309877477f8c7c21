// Rate cards in the layout of Meta's published CSVs (one file per currency; pricing.mdx "Rate
// cards and volume tiers"). Meta's own files could not be read here; the layout below is the one
// public parsers of those files expect [3P], and matching is tolerant of case, spacing, line
// breaks inside header cells and extra notes around the table:
//
//   rates:  a preamble, then  Market,Currency,Marketing,Utility,Authentication,"Authentication-
//           International",Service  and one row per market; "n/a" where a rate does not exist.
//   tiers:  a group row naming Utility / Authentication / Authentication-International above
//           column blocks of  From,To,Rate type,Rate,vs. List rate ; the first row of a market
//           carries its name, the next rows (its higher tiers) leave it empty; "--" = no upper bound.
import { parse } from 'csv-parse/sync'
import { BillErrors } from '../errors.ts'
import { normalizeCategory, type Category } from './categories.ts'
import { normalizeMarket } from './markets.ts'
import { parseDecimalMicros } from './money.ts'

/** One price: a market × category × volume band. Non-tiered prices have tierFrom 1, tierTo null. */
export interface RateRow {
  market: string
  category: Category
  /** First message count (1-based within the month) this price applies to. */
  tierFrom: number
  /** Last message count, inclusive; null = no upper bound. */
  tierTo: number | null
  unitPriceMicros: number
}

export interface ParsedCard {
  currency: string
  rates: RateRow[]
  /** Things worth a look that did not stop the load (e.g. a tier's first rate ≠ the list rate). */
  warnings: string[]
}

const key = (s: string): string => s.toLowerCase().replace(/[^a-z]/g, '')
const NOT_OFFERED = new Set(['', 'na', 'n/a', '-', '--', 'none', 'notavailable'])
const SYMBOLS = new Map([['$us', 'USD'], ['us$', 'USD'], ['usd$', 'USD'], ['€', 'EUR'], ['£', 'GBP'], ['₹', 'INR'], ['rp', 'IDR'], ['a$', 'AUD'], ['mx$', 'MXN']])

function invalid (reason: string, line?: number): Error {
  return BillErrors.BILL_RATE_CARD_INVALID.create({ message: `rate card is invalid: ${reason}${line !== undefined ? ` (line ${line})` : ''}`, detail: { reason, line } })
}

function rows (text: string): { cells: string[], line: number }[] {
  try {
    const out = parse(text, { bom: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: true, trim: true, info: true }) as unknown as { record: string[], info: { lines: number } }[]
    return out.map((r) => ({ cells: r.record, line: r.info.lines }))
  } catch (err) {
    throw BillErrors.BILL_RATE_CARD_INVALID.create({ message: `rate card is not readable CSV: ${(err as Error).message}`, cause: err })
  }
}

/** ISO 4217 code from a currency cell ("USD", "$US", "€"); undefined when unknown. */
function normalizeCurrency (raw: string): string | undefined {
  const t = raw.trim()
  if (/^[A-Za-z]{3}$/.test(t)) return t.toUpperCase()
  return SYMBOLS.get(t.toLowerCase().replace(/\s/g, ''))
}

function price (cell: string | undefined, line: number, what: string): number | undefined {
  const c = (cell ?? '').trim()
  if (NOT_OFFERED.has(c.toLowerCase())) return undefined
  if (c.toLowerCase() === 'free') return 0
  const v = parseDecimalMicros(c.replace(/^[^\d-]+/, ''))
  if (v === undefined || v < 0) throw invalid(`${what}: "${c}" is not a price`, line)
  return v
}

function count (cell: string | undefined, line: number, what: string): number | null {
  const c = (cell ?? '').trim()
  if (NOT_OFFERED.has(c.toLowerCase()) || /^(max|∞|unlimited|\+)$/i.test(c)) return null
  const v = Number(c.replace(/[,\s]/g, ''))
  if (!Number.isSafeInteger(v) || v < 0) throw invalid(`${what}: "${c}" is not a message count`, line)
  return v
}

function checkCurrency (cell: string | undefined, expected: string | undefined, line: number): string {
  const cur = normalizeCurrency(cell ?? '')
  if (cur === undefined) throw invalid(`unknown currency "${cell ?? ''}"`, line)
  if (expected !== undefined && cur !== expected) throw invalid(`currency ${cur} in a ${expected} card`, line)
  return cur
}

const RATE_COLUMNS: readonly (readonly [string, Category])[] = [
  ['marketing', 'marketing'], ['marketinglite', 'marketing_lite'], ['marketingmessageslite', 'marketing_lite'],
  ['utility', 'utility'], ['authentication', 'authentication'], ['authenticationinternational', 'authentication_international'],
  ['international', 'authentication_international'], ['service', 'service'], ['referralconversion', 'referral_conversion']
]

/**
 * Parses a rate card CSV in Meta's layout into list rates (one per market × category). The
 * currency comes from the Currency column; `expectedCurrency` makes a mismatch an error.
 * `marketing_lite` takes the marketing rate when the card has no column of its own, and
 * `service` / `referral_conversion` are 0 (free) unless the card prices them [I].
 */
export function parseRateCardCsv (text: string, expectedCurrency?: string): ParsedCard {
  const all = rows(text)
  const headerAt = all.findIndex((r) => key(r.cells[0] ?? '') === 'market' && r.cells.some((c) => key(c) === 'currency'))
  if (headerAt < 0) throw invalid('no header row starting with Market,Currency')
  const header = all[headerAt]!.cells.map(key)
  const col = (name: string): number => header.indexOf(name)
  const currencyCol = col('currency')
  const columns = RATE_COLUMNS.map(([name, cat]) => [col(name), cat] as const).filter(([i]) => i >= 0)
  if (!columns.some(([, c]) => c === 'marketing') || !columns.some(([, c]) => c === 'utility')) throw invalid('header lacks Marketing or Utility', all[headerAt]!.line)

  let currency = expectedCurrency
  const rates: RateRow[] = []
  const seen = new Set<string>()
  for (const { cells, line } of all.slice(headerAt + 1)) {
    const name = cells[0] ?? ''
    const rest = cells.slice(1).filter((c) => c.trim() !== '')
    if (name === '' || rest.length === 0) continue // blank row or footnote
    const market = normalizeMarket(name)
    if (market === undefined) {
      if (rest.length <= 1) continue // a note spilling into a second cell
      throw invalid(`unknown market "${name}"`, line)
    }
    if (seen.has(market)) throw invalid(`market "${market}" appears twice`, line)
    seen.add(market)
    currency = checkCurrency(cells[currencyCol], currency, line)
    const byCat = new Map<Category, number>()
    for (const [i, cat] of columns) {
      const p = price(cells[i], line, `${market} ${cat}`)
      if (p !== undefined && !byCat.has(cat)) byCat.set(cat, p)
    }
    const marketing = byCat.get('marketing')
    if (!byCat.has('marketing_lite') && marketing !== undefined) byCat.set('marketing_lite', marketing)
    if (!byCat.has('service')) byCat.set('service', 0)
    if (!byCat.has('referral_conversion')) byCat.set('referral_conversion', 0)
    for (const [category, unitPriceMicros] of byCat) rates.push({ market, category, tierFrom: 1, tierTo: null, unitPriceMicros })
  }
  if (rates.length === 0 || currency === undefined) throw invalid('no market rows under the header')
  return { currency, rates, warnings: [] }
}

/**
 * Parses a volume-tiers CSV in Meta's layout into tiered rates for utility, authentication and
 * authentication-international.
 */
export function parseVolumeTiersCsv (text: string, expectedCurrency?: string): ParsedCard {
  const all = rows(text)
  const groupAt = all.findIndex((r) => r.cells.some((c) => key(c) === 'utility') && r.cells.some((c) => key(c) === 'authentication'))
  if (groupAt < 0) throw invalid('no row naming the Utility and Authentication column groups')
  const groups = all[groupAt]!.cells
    .map((c, i) => [normalizeCategory(c.replace(/\s+/g, '')), i] as const)
    .filter((g): g is readonly [Category, number] => g[0] === 'utility' || g[0] === 'authentication' || g[0] === 'authentication_international')
    .sort((a, b) => a[1] - b[1])
  const fieldsAt = all.findIndex((r, i) => i > groupAt && r.cells.some((c) => key(c) === 'from') && r.cells.some((c) => key(c) === 'rate'))
  if (fieldsAt < 0) throw invalid('no header row with From, To and Rate')
  const fields = all[fieldsAt]!.cells.map(key)
  const currencyCol = fields.indexOf('currency') >= 0 ? fields.indexOf('currency') : 1
  const blocks = groups.map(([category, start], gi) => {
    const end = groups[gi + 1]?.[1] ?? fields.length
    const find = (name: string): number => { for (let i = start; i < end; i++) if (fields[i] === name) return i; return -1 }
    const b = { category, from: find('from'), to: find('to'), rate: find('rate') }
    if (b.from < 0 || b.to < 0 || b.rate < 0) throw invalid(`the ${category} group lacks From, To or Rate`, all[fieldsAt]!.line)
    return b
  })

  let currency = expectedCurrency
  let market: string | undefined
  const rates: RateRow[] = []
  for (const { cells, line } of all.slice(fieldsAt + 1)) {
    const name = (cells[0] ?? '').trim()
    if (cells.slice(1).every((c) => c.trim() === '')) continue
    if (name !== '') {
      market = normalizeMarket(name)
      if (market === undefined) throw invalid(`unknown market "${name}"`, line)
    }
    if (market === undefined) throw invalid('tier row before any market', line)
    currency = checkCurrency(cells[currencyCol], currency, line)
    for (const b of blocks) {
      const p = price(cells[b.rate], line, `${market} ${b.category} rate`)
      if (p === undefined) continue
      const from = count(cells[b.from], line, `${market} ${b.category} from`) ?? 0
      const to = count(cells[b.to], line, `${market} ${b.category} to`)
      rates.push({ market, category: b.category, tierFrom: Math.max(1, from), tierTo: to, unitPriceMicros: p })
    }
  }
  if (rates.length === 0 || currency === undefined) throw invalid('no tier rows under the header')
  checkBands(rates)
  return { currency, rates, warnings: [] }
}

/** Bands of one market × category must not overlap; throws BILL_RATE_CARD_INVALID when they do. */
export function checkBands (rates: RateRow[]): void {
  const by = new Map<string, RateRow[]>()
  for (const r of rates) {
    const k = `${r.market}|${r.category}`
    by.set(k, [...(by.get(k) ?? []), r])
  }
  for (const [k, list] of by) {
    list.sort((a, b) => a.tierFrom - b.tierFrom)
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!
      if (prev.tierTo === null || prev.tierTo >= list[i]!.tierFrom) throw invalid(`overlapping volume tiers for ${k.replace('|', ' ')}`)
    }
  }
}

/**
 * A card's list rates with the tier bands put in place of the list rate of each market ×
 * category they cover. Warns where a first band's rate differs from the list rate.
 */
export function mergeTiers (card: ParsedCard, tiers: ParsedCard | undefined): ParsedCard {
  if (tiers === undefined) return card
  if (tiers.currency !== card.currency) throw invalid(`tiers are in ${tiers.currency}, rates in ${card.currency}`)
  const tiered = new Set(tiers.rates.map((r) => `${r.market}|${r.category}`))
  const warnings = [...card.warnings, ...tiers.warnings]
  for (const r of card.rates) {
    if (!tiered.has(`${r.market}|${r.category}`)) continue
    const first = tiers.rates.find((t) => t.market === r.market && t.category === r.category && t.tierFrom === 1)
    if (first !== undefined && first.unitPriceMicros !== r.unitPriceMicros) warnings.push(`${r.market} ${r.category}: first tier rate differs from the list rate`)
  }
  return { currency: card.currency, rates: [...card.rates.filter((r) => !tiered.has(`${r.market}|${r.category}`)), ...tiers.rates], warnings }
}

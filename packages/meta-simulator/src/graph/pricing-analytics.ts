/**
 * `GET /{waba-id}?fields=pricing_analytics.start(…).end(…).granularity(…)…` over the sends the
 * simulator accepted, so billing can reconcile its ledger against "Meta's" numbers (facts §8.4).
 * Every accepted send counts as delivered. Costs use an illustrative USD rate table, not Meta's
 * rate card.
 */
import type { PricingCategory } from '../webhooks/builders.ts'

/** Illustrative per-message rates in USD (roughly Brazil's 2025 card); free types cost 0. */
export const DEFAULT_RATES: Readonly<Record<PricingCategory, number>> = Object.freeze({
  marketing: 0.0625,
  marketing_lite: 0.0625,
  utility: 0.0068,
  authentication: 0.0315,
  authentication_international: 0.0315,
  service: 0,
  referral_conversion: 0
})

/** Calling code → ISO 3166 alpha-2, for the COUNTRY dimension (longest prefix wins). */
const COUNTRY_CODES: ReadonlyArray<readonly [string, string]> = [
  ['351', 'PT'], ['234', 'NG'], ['971', 'AE'], ['966', 'SA'], ['55', 'BR'], ['52', 'MX'], ['54', 'AR'], ['57', 'CO'],
  ['56', 'CL'], ['51', 'PE'], ['91', 'IN'], ['62', 'ID'], ['44', 'GB'], ['49', 'DE'], ['34', 'ES'], ['33', 'FR'],
  ['39', 'IT'], ['27', 'ZA'], ['20', 'EG'], ['60', 'MY'], ['65', 'SG'], ['1', 'US']
]

/** ISO country of a wa_id by its calling code (`XX` when unknown). */
export function countryOf (waId: string): string {
  for (const [prefix, iso] of COUNTRY_CODES) if (waId.startsWith(prefix)) return iso
  return 'XX'
}

export interface PricedSend {
  /** Epoch ms. */
  at: number
  waId: string
  displayPhoneNumber: string
  category: PricingCategory
  type: string
}

export interface PricingAnalyticsQuery {
  start: number
  end: number
  granularity: 'HALF_HOUR' | 'DAILY' | 'MONTHLY'
  dimensions: string[]
  countryCodes?: string[]
  phoneNumbers?: string[]
  pricingTypes?: string[]
  pricingCategories?: string[]
}

/**
 * Parses the `fields` value `pricing_analytics.start(1).end(2).granularity(DAILY)…`; undefined
 * when it is not a pricing_analytics field or lacks start, end or granularity.
 */
export function parsePricingAnalyticsField (fields: string): PricingAnalyticsQuery | undefined {
  const m = /^pricing_analytics((?:\.[a-z_]+\([^()]*\))*)$/.exec(fields.trim())
  if (m === null) return undefined
  const args = new Map<string, string[]>()
  for (const part of (m[1] ?? '').matchAll(/\.([a-z_]+)\(([^()]*)\)/g)) {
    args.set(part[1] as string, (part[2] as string).split(',').map((s) => s.trim().replace(/^"|"$/g, '')).filter((s) => s !== ''))
  }
  const start = Number(args.get('start')?.[0])
  const end = Number(args.get('end')?.[0])
  const granularity = args.get('granularity')?.[0]
  if (!Number.isFinite(start) || !Number.isFinite(end) || (granularity !== 'HALF_HOUR' && granularity !== 'DAILY' && granularity !== 'MONTHLY')) return undefined
  const q: PricingAnalyticsQuery = { start, end, granularity, dimensions: args.get('dimensions') ?? [] }
  const opt = (k: string): string[] | undefined => args.get(k)
  if (opt('country_codes') !== undefined) q.countryCodes = opt('country_codes') as string[]
  if (opt('phone_numbers') !== undefined) q.phoneNumbers = opt('phone_numbers') as string[]
  if (opt('pricing_types') !== undefined) q.pricingTypes = opt('pricing_types') as string[]
  if (opt('pricing_categories') !== undefined) q.pricingCategories = opt('pricing_categories') as string[]
  return q
}

function bucketStart (sec: number, g: PricingAnalyticsQuery['granularity']): [number, number] {
  if (g === 'HALF_HOUR') { const s = sec - (sec % 1800); return [s, s + 1800] }
  if (g === 'DAILY') { const s = sec - (sec % 86_400); return [s, s + 86_400] }
  const d = new Date(sec * 1000)
  const s = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000
  return [s, Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000]
}

/** Aggregates priced sends into Meta's `pricing_analytics` answer. */
export function pricingAnalytics (sends: readonly PricedSend[], q: PricingAnalyticsQuery, rates: Readonly<Record<PricingCategory, number>> = DEFAULT_RATES): Record<string, unknown> {
  const dims = new Set(q.dimensions.map((d) => d.toUpperCase()))
  const points = new Map<string, Record<string, unknown> & { volume: number, cost: number }>()
  for (const s of sends) {
    const sec = Math.floor(s.at / 1000)
    if (sec < q.start || sec >= q.end) continue
    const pricingType = s.type.toUpperCase()
    const pricingCategory = s.category.toUpperCase()
    const country = countryOf(s.waId)
    if (q.countryCodes !== undefined && !q.countryCodes.includes(country)) continue
    if (q.phoneNumbers !== undefined && !q.phoneNumbers.includes(s.displayPhoneNumber)) continue
    if (q.pricingTypes !== undefined && !q.pricingTypes.includes(pricingType)) continue
    if (q.pricingCategories !== undefined && !q.pricingCategories.includes(pricingCategory)) continue
    const [start, end] = bucketStart(sec, q.granularity)
    const free = s.type !== 'regular'
    const point: Record<string, unknown> = { start, end }
    if (dims.has('COUNTRY')) point.country = country
    if (dims.has('PHONE')) point.phone_number = s.displayPhoneNumber
    // [I] Marketing has no volume tiers ("0:MAX"); free messages carry no tier.
    if (dims.has('TIER') && !free) point.tier = s.category.startsWith('marketing') ? '0:MAX' : '0:100000'
    if (dims.has('PRICING_TYPE')) point.pricing_type = pricingType
    if (dims.has('PRICING_CATEGORY')) point.pricing_category = pricingCategory
    const key = JSON.stringify(point)
    const acc = points.get(key) ?? { ...point, volume: 0, cost: 0 }
    acc.volume++
    acc.cost = Math.round((acc.cost + (free ? 0 : rates[s.category])) * 1e6) / 1e6
    points.set(key, acc)
  }
  const dataPoints = [...points.values()].sort((a, b) => (a.start as number) - (b.start as number))
  return dataPoints.length === 0 ? {} : { pricing_analytics: { data: [{ data_points: dataPoints }] } }
}

// Reconciliation in totals with Meta's pricing_analytics: for a WABA and a period, Meta's volume
// and (approximate) cost by pricing type and category beside the same figures from our ledger.
// Meta counts delivered messages; so do we here (charged lines, and free lines that were
// delivered). Meta files every free message under its pricing type (its category may read
// SERVICE or UTILITY), so free messages are compared by type only, charged ones by category.
import { getAccessToken, sql, type Db, type TokenCipher } from '@coexist/db'
import type { GraphClient, PricingAnalyticsPoint } from '@coexist/meta'
import { BillErrors } from '../errors.ts'
import { normalizeCategory } from '../domain/categories.ts'
import { formatMicros } from '../domain/money.ts'
import type { TenantScope } from './usage.ts'

interface AnalyticsFigures { volume: number, cost_micros: number, cost: string }
interface AnalyticsRow {
  pricing_type: string
  /** The category for charged (regular) messages; `*` for free ones. */
  category: string
  meta: AnalyticsFigures
  ours: AnalyticsFigures
  diff: { volume: number, cost_micros: number, cost: string }
}
export interface AnalyticsComparison {
  id: string
  waba_id: string
  currency: string | null
  from: string
  to: string
  granularity: string
  rows: AnalyticsRow[]
  totals: { meta: AnalyticsFigures, ours: AnalyticsFigures, diff: { volume: number, cost_micros: number, cost: string } }
  /** Rows whose volume differs, or whose cost differs by more than 1 % (Meta's cost is approximate). */
  mismatches: number
  note: string
}

const figures = (volume: number, costMicros: number): AnalyticsFigures => ({ volume, cost_micros: costMicros, cost: formatMicros(costMicros) })

function keyOf (pricingType: string | undefined, category: string | undefined): { type: string, category: string } {
  const type = (pricingType ?? 'unknown').toLowerCase()
  if (type !== 'regular') return { type, category: '*' }
  return { type, category: normalizeCategory(category) ?? (category ?? 'unknown').toLowerCase() }
}

/** Adds Meta's points up by (pricing type, category). Costs are floats in currency units. */
function aggregateMetaPoints (points: readonly PricingAnalyticsPoint[]): Map<string, { volume: number, costMicros: number }> {
  const out = new Map<string, { volume: number, costMicros: number }>()
  for (const p of points) {
    const k = keyOf(p.pricing_type, p.pricing_category)
    const key = `${k.type}|${k.category}`
    const cur = out.get(key) ?? { volume: 0, costMicros: 0 }
    cur.volume += p.volume ?? 0
    cur.costMicros += Math.round((p.cost ?? 0) * 1_000_000)
    out.set(key, cur)
  }
  return out
}

export interface CompareInput {
  scope: TenantScope
  wabaId: string
  from: Date
  to: Date
  granularity: 'HALF_HOUR' | 'DAILY' | 'MONTHLY'
}

/**
 * Fetches Meta's pricing analytics for a WABA (with the access token stored for one of its
 * numbers) and compares them with the ledger. The run is stored. A WABA of another tenant is
 * not found; a WABA without a stored token, or one whose token Meta refuses for analytics
 * (cost is hidden from businesses billed through a partner), is a coded error.
 */
export async function compareAnalytics (db: Db, graph: Pick<GraphClient, 'getPricingAnalytics'>, cipher: TokenCipher, input: CompareInput): Promise<AnalyticsComparison> {
  const waba = await db.selectFrom('wabas').select(['id', 'tenant_id', 'currency']).where('id', '=', input.wabaId).executeTakeFirst()
  if (waba === undefined || (input.scope !== null && waba.tenant_id !== input.scope)) throw BillErrors.BILL_WABA_NOT_FOUND.create()
  const numbers = await db.selectFrom('phone_numbers').select('id').where('waba_id', '=', waba.id).where('access_token_enc', 'is not', null).orderBy('id').execute()
  let token: string | undefined
  for (const n of numbers) { token = await getAccessToken(db, cipher, n.id); if (token !== undefined) break }
  if (token === undefined) throw BillErrors.BILL_NO_TOKEN.create({ detail: { wabaId: waba.id } })

  let points: PricingAnalyticsPoint[]
  try {
    const r = await graph.getPricingAnalytics(waba.id, token, {
      start: Math.floor(input.from.getTime() / 1000),
      end: Math.floor(input.to.getTime() / 1000),
      granularity: input.granularity,
      dimensions: ['PRICING_CATEGORY', 'PRICING_TYPE']
    })
    points = r.pricing_analytics?.data.flatMap((d) => d.data_points) ?? []
  } catch (err) {
    throw BillErrors.BILL_ANALYTICS_FAILED.create({ cause: err, detail: { wabaId: waba.id } })
  }
  const meta = aggregateMetaPoints(points)

  const { rows } = await sql<{ pricing_type: string | null, category: string | null, volume: number, cost: string }>`
    SELECT l.pricing_type, l.category, count(*)::int AS volume, coalesce(sum(l.unit_price_micros), 0)::text AS cost
    FROM billing_ledger l
    WHERE l.tenant_id = ${waba.tenant_id}::uuid AND l.waba_id = ${waba.id} AND l.sent_at >= ${input.from} AND l.sent_at < ${input.to}
      AND l.origin <> 'business_app' AND l.delivery = 'delivered' AND l.state IN ('charged', 'free')
    GROUP BY 1, 2`.execute(db)
  const ours = new Map<string, { volume: number, costMicros: number }>()
  for (const r of rows) {
    const k = keyOf(r.pricing_type ?? undefined, r.category ?? undefined)
    const key = `${k.type}|${k.category}`
    const cur = ours.get(key) ?? { volume: 0, costMicros: 0 }
    cur.volume += r.volume
    cur.costMicros += Number(r.cost)
    ours.set(key, cur)
  }

  const keys = [...new Set([...meta.keys(), ...ours.keys()])].sort()
  let mismatches = 0
  const out: AnalyticsRow[] = keys.map((key) => {
    const [type, category] = key.split('|') as [string, string]
    const m = meta.get(key) ?? { volume: 0, costMicros: 0 }
    const o = ours.get(key) ?? { volume: 0, costMicros: 0 }
    const costDiff = o.costMicros - m.costMicros
    if (m.volume !== o.volume || Math.abs(costDiff) > Math.max(m.costMicros, o.costMicros) * 0.01) mismatches++
    return { pricing_type: type, category, meta: figures(m.volume, m.costMicros), ours: figures(o.volume, o.costMicros), diff: { volume: o.volume - m.volume, cost_micros: costDiff, cost: formatMicros(costDiff) } }
  })
  const sum = (f: (r: AnalyticsRow) => AnalyticsFigures): { volume: number, costMicros: number } =>
    out.reduce((a, r) => ({ volume: a.volume + f(r).volume, costMicros: a.costMicros + f(r).cost_micros }), { volume: 0, costMicros: 0 })
  const tm = sum((r) => r.meta)
  const to = sum((r) => r.ours)
  const comparison = {
    waba_id: waba.id,
    currency: waba.currency,
    from: input.from.toISOString(),
    to: input.to.toISOString(),
    granularity: input.granularity,
    rows: out,
    totals: { meta: figures(tm.volume, tm.costMicros), ours: figures(to.volume, to.costMicros), diff: { volume: to.volume - tm.volume, cost_micros: to.costMicros - tm.costMicros, cost: formatMicros(to.costMicros - tm.costMicros) } },
    mismatches,
    note: 'Meta says its analytics are approximate and that it alone decides volume tiers; compare at day level or coarser.'
  }
  const run = await db.insertInto('billing_analytics_runs').values({
    tenant_id: waba.tenant_id,
    waba_id: waba.id,
    start_at: input.from,
    end_at: input.to,
    granularity: input.granularity,
    meta_points: JSON.stringify(points),
    comparison: JSON.stringify(comparison)
  }).returning('id').executeTakeFirstOrThrow()
  return { id: run.id, ...comparison }
}

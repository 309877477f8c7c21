// Read side of the ledger: usage totals, ledger lines, invoices, and the reconciliation of our
// verdicts with Meta's pricing objects. Every query takes a tenant scope: a tenant id, or null
// for an admin looking across tenants. Periods are half-open [from, to) on the send time.
import { sql, type Db, type DbExecutor } from '@coexist/db'
import { formatMicros } from '../domain/money.ts'

export type TenantScope = string | null

const scopeSql = (scope: TenantScope) => scope === null ? sql`true` : sql`l.tenant_id = ${scope}::uuid`

export const GROUP_BY = ['tenant', 'phone_number', 'category', 'market', 'country', 'day', 'month', 'state', 'free_reason'] as const
type GroupBy = typeof GROUP_BY[number]

const GROUP_SQL: Record<GroupBy, ReturnType<typeof sql>> = {
  tenant: sql`l.tenant_id::text`,
  phone_number: sql`l.phone_number_id`,
  category: sql`l.category`,
  market: sql`l.market`,
  country: sql`l.country`,
  day: sql`to_char(l.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  month: sql`to_char(l.sent_at AT TIME ZONE 'UTC', 'YYYY-MM')`,
  state: sql`l.state`,
  free_reason: sql`l.free_reason`
}

export interface UsageQuery {
  scope: TenantScope
  from: Date
  to: Date
  groupBy: readonly GroupBy[]
  phoneNumberId?: string
  category?: string
  market?: string
}

export interface UsageRow {
  group: Partial<Record<GroupBy, string | null>>
  currency: string | null
  messages: number
  charged: number
  free: number
  pending: number
  unpriced: number
  metaCostMicros: number
  billedMicros: number
}

/** Message counts and money by the requested breakdown (always also by currency). */
export async function usage (db: DbExecutor, q: UsageQuery): Promise<UsageRow[]> {
  const groups = [...new Set(q.groupBy)]
  const cols = groups.map((g) => sql`${GROUP_SQL[g]} AS ${sql.ref(`g_${g}`)}`)
  const by = groups.map((g) => GROUP_SQL[g])
  const { rows } = await sql<Record<string, unknown> & { currency: string | null, messages: number, charged: number, free: number, pending: number, unpriced: number, meta_cost: string, billed: string }>`
    SELECT ${sql.join([...cols, sql`l.currency`])},
      count(*)::int AS messages,
      count(*) FILTER (WHERE l.state = 'charged')::int AS charged,
      count(*) FILTER (WHERE l.state = 'free')::int AS free,
      count(*) FILTER (WHERE l.state = 'pending')::int AS pending,
      count(*) FILTER (WHERE l.state = 'unpriced')::int AS unpriced,
      coalesce(sum(l.unit_price_micros), 0)::text AS meta_cost,
      coalesce(sum(l.billed_price_micros), 0)::text AS billed
    FROM billing_ledger l
    WHERE ${scopeSql(q.scope)} AND l.sent_at >= ${q.from} AND l.sent_at < ${q.to}
      ${q.phoneNumberId !== undefined ? sql`AND l.phone_number_id = ${q.phoneNumberId}` : sql``}
      ${q.category !== undefined ? sql`AND l.category = ${q.category}` : sql``}
      ${q.market !== undefined ? sql`AND l.market = ${q.market}` : sql``}
    GROUP BY ${sql.join([...by, sql`l.currency`])}
    ORDER BY ${sql.join([...by.map((b) => sql`${b} NULLS LAST`), sql`l.currency NULLS LAST`])}`.execute(db)
  return rows.map((r) => ({
    group: Object.fromEntries(groups.map((g) => [g, (r[`g_${g}`] as string | null) ?? null])),
    currency: r.currency,
    messages: r.messages,
    charged: r.charged,
    free: r.free,
    pending: r.pending,
    unpriced: r.unpriced,
    metaCostMicros: Number(r.meta_cost),
    billedMicros: Number(r.billed)
  }))
}

/** A ledger line as the API shows it. */
export interface LedgerLineView {
  wamid: string
  tenant_id: string | null
  waba_id: string | null
  phone_number_id: string
  recipient: string
  market: string | null
  country: string | null
  origin: string
  sent_at: string
  delivered_at: string | null
  delivery: string
  state: string
  category: string | null
  free_reason: string | null
  pricing_type: string | null
  decided_by: string
  currency: string | null
  rate_card_version: string | null
  tier: string | null
  unit_price_micros: number
  billed_price_micros: number
  unit_price: string
  billed_price: string
  revision: number
  ours: { category: string | null, billable: boolean | null, free_reason: string | null }
  meta: { pricing_model: string | null, pricing_type: string | null, category: string | null, billable: boolean | null } | null
}

type LineRow = {
  wamid: string,
  tenant_id: string | null,
  waba_id: string | null,
  phone_number_id: string,
  recipient: string,
  market: string | null,
  country: string | null,
  origin: string,
  sent_at: Date,
  delivered_at: Date | null,
  delivery: string,
  state: string,
  category: string | null,
  free_reason: string | null,
  pricing_type: string | null,
  decided_by: string,
  currency: string | null,
  rate_card_version: string | null,
  tier: string | null,
  unit_price_micros: number | string,
  billed_price_micros: number | string,
  revision: number,
  own_category: string | null,
  own_billable: boolean | null,
  own_free_reason: string | null,
  meta_rank: number,
  meta_pricing_model: string | null,
  meta_pricing_type: string | null,
  meta_category: string | null,
  meta_billable: boolean | null
}

const LINE_COLUMNS = sql`l.wamid, l.tenant_id, l.waba_id, l.phone_number_id, l.recipient, l.market, l.country, l.origin, l.sent_at, l.delivered_at,
  l.delivery, l.state, l.category, l.free_reason, l.pricing_type, l.decided_by, l.currency, l.rate_card_version, l.tier, l.unit_price_micros,
  l.billed_price_micros, l.revision, l.own_category, l.own_billable, l.own_free_reason, l.meta_rank, l.meta_pricing_model, l.meta_pricing_type,
  l.meta_category, l.meta_billable`

function view (r: LineRow): LedgerLineView {
  return {
    wamid: r.wamid,
    tenant_id: r.tenant_id,
    waba_id: r.waba_id,
    phone_number_id: r.phone_number_id,
    recipient: r.recipient,
    market: r.market,
    country: r.country,
    origin: r.origin,
    sent_at: r.sent_at.toISOString(),
    delivered_at: r.delivered_at?.toISOString() ?? null,
    delivery: r.delivery,
    state: r.state,
    category: r.category,
    free_reason: r.free_reason,
    pricing_type: r.pricing_type,
    decided_by: r.decided_by,
    currency: r.currency,
    rate_card_version: r.rate_card_version,
    tier: r.tier,
    unit_price_micros: Number(r.unit_price_micros),
    billed_price_micros: Number(r.billed_price_micros),
    unit_price: formatMicros(Number(r.unit_price_micros)),
    billed_price: formatMicros(Number(r.billed_price_micros)),
    revision: r.revision,
    ours: { category: r.own_category, billable: r.own_billable, free_reason: r.own_free_reason },
    meta: r.meta_rank > 0 ? { pricing_model: r.meta_pricing_model, pricing_type: r.meta_pricing_type, category: r.meta_category, billable: r.meta_billable } : null
  }
}

/** One ledger line in scope, or undefined (another tenant's line is not found). */
export async function getLine (db: DbExecutor, scope: TenantScope, wamid: string): Promise<LedgerLineView | undefined> {
  const { rows } = await sql<LineRow>`SELECT ${LINE_COLUMNS} FROM billing_ledger l WHERE l.wamid = ${wamid} AND ${scopeSql(scope)}`.execute(db)
  return rows[0] === undefined ? undefined : view(rows[0])
}

export interface LinesQuery {
  scope: TenantScope
  from: Date
  to: Date
  phoneNumberId?: string
  state?: string
  /** Lines after this (sent_at, wamid) cursor. */
  after?: { sentAt: Date, wamid: string }
  limit: number
}

/** Ledger lines in send-time order, keyset-paginated. */
export async function listLines (db: DbExecutor, q: LinesQuery): Promise<LedgerLineView[]> {
  const { rows } = await sql<LineRow>`
    SELECT ${LINE_COLUMNS} FROM billing_ledger l
    WHERE ${scopeSql(q.scope)} AND l.sent_at >= ${q.from} AND l.sent_at < ${q.to}
      ${q.phoneNumberId !== undefined ? sql`AND l.phone_number_id = ${q.phoneNumberId}` : sql``}
      ${q.state !== undefined ? sql`AND l.state = ${q.state}` : sql``}
      ${q.after !== undefined ? sql`AND (l.sent_at, l.wamid) > (${q.after.sentAt}, ${q.after.wamid})` : sql``}
    ORDER BY l.sent_at, l.wamid LIMIT ${q.limit}`.execute(db)
  return rows.map(view)
}

/** Meta's billable verdict in SQL: `type` first, then the (deprecated) flag. */
const META_BILLABLE = sql`coalesce(l.meta_pricing_type = 'regular', l.meta_billable)`

/**
 * Lines where our classification and Meta's pricing object disagree on billable or category
 * (both known; Meta's CBP objects are not comparable). Business App messages Meta marks billable
 * are listed too.
 */
export async function disagreements (db: DbExecutor, scope: TenantScope, from: Date, to: Date, limit: number): Promise<LedgerLineView[]> {
  const { rows } = await sql<LineRow>`
    SELECT ${LINE_COLUMNS} FROM billing_ledger l
    WHERE ${scopeSql(scope)} AND l.sent_at >= ${from} AND l.sent_at < ${to}
      AND l.meta_rank > 0 AND coalesce(l.meta_pricing_model, 'PMP') <> 'CBP' AND l.own_billable IS NOT NULL AND ${META_BILLABLE} IS NOT NULL
      AND (l.own_billable IS DISTINCT FROM ${META_BILLABLE}
        OR (l.meta_category IS NOT NULL AND l.own_category IS DISTINCT FROM replace(l.meta_category, '-', '_')))
    ORDER BY l.sent_at, l.wamid LIMIT ${limit}`.execute(db)
  return rows.map(view)
}

/** One invoice line: a number × category × market × currency. */
interface InvoiceLine {
  phone_number_id: string
  category: string | null
  market: string | null
  currency: string | null
  messages: number
  charged: number
  free: number
  meta_cost_micros: number
  billed_micros: number
}

export interface Invoice {
  tenant_id: string
  period: string
  from: string
  to: string
  lines: InvoiceLine[]
  totals: { currency: string | null, messages: number, charged: number, free: number, meta_cost_micros: number, billed_micros: number, meta_cost: string, billed: string }[]
  /** Messages of the period not settled yet (awaiting delivery or Meta's pricing) or without a rate. */
  pending: number
  unpriced: number
  generated_at: string
}

/** The invoice of a tenant for a calendar month (UTC): settled lines only, by number × category × market. */
export async function invoice (db: Db, tenantId: string, period: string, now: number): Promise<Invoice> {
  const from = new Date(`${period}-01T00:00:00Z`)
  const to = new Date(from)
  to.setUTCMonth(to.getUTCMonth() + 1)
  const rows = await usage(db, { scope: tenantId, from, to, groupBy: ['phone_number', 'category', 'market'] })
  const lines: InvoiceLine[] = []
  const totals = new Map<string | null, Invoice['totals'][number]>()
  let pending = 0
  let unpriced = 0
  for (const r of rows) {
    pending += r.pending
    unpriced += r.unpriced
    const settled = r.charged + r.free
    if (settled === 0) continue
    lines.push({
      phone_number_id: r.group.phone_number ?? '',
      category: r.group.category ?? null,
      market: r.group.market ?? null,
      currency: r.currency,
      messages: settled,
      charged: r.charged,
      free: r.free,
      meta_cost_micros: r.metaCostMicros,
      billed_micros: r.billedMicros
    })
    const t = totals.get(r.currency) ?? { currency: r.currency, messages: 0, charged: 0, free: 0, meta_cost_micros: 0, billed_micros: 0, meta_cost: '', billed: '' }
    t.messages += settled
    t.charged += r.charged
    t.free += r.free
    t.meta_cost_micros += r.metaCostMicros
    t.billed_micros += r.billedMicros
    totals.set(r.currency, t)
  }
  for (const t of totals.values()) { t.meta_cost = formatMicros(t.meta_cost_micros); t.billed = formatMicros(t.billed_micros) }
  return { tenant_id: tenantId, period, from: from.toISOString(), to: to.toISOString(), lines, totals: [...totals.values()], pending, unpriced, generated_at: new Date(now).toISOString() }
}
